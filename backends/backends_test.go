package backends_test

import (
	"strings"
	"testing"

	"github.com/mayflyhq/mayfly/backends"
)

func TestValidKey(t *testing.T) {
	tests := []struct {
		name string
		key  string
		ok   bool
	}{
		{"simple", "github.com/alice", true},
		{"unicode", "ключ/秘密/🔑", true},
		{"one byte", "k", true},
		{"max length", strings.Repeat("k", backends.MaxKeyLen), true},
		{"max length multibyte", strings.Repeat("é", backends.MaxKeyLen/2), true},
		{"empty", "", false},
		{"too long", strings.Repeat("k", backends.MaxKeyLen+1), false},
		{"NUL", "a\x00b", false},
		{"trailing NUL", "ab\x00", false},
		{"invalid UTF-8", "a\xffb", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := backends.ValidKey(tt.key)
			if tt.ok && err != nil {
				t.Fatalf("ValidKey: %v, want nil", err)
			}
			if !tt.ok {
				if err == nil {
					t.Fatal("ValidKey: nil, want an error")
				}
				if !strings.HasPrefix(err.Error(), "backends: invalid key") {
					t.Errorf("ValidKey: error %q lacks the %q prefix", err, "backends: invalid key")
				}
			}
		})
	}
}

func TestProtectionString(t *testing.T) {
	tests := []struct {
		p    backends.Protection
		want string
	}{
		{backends.ProtectionMemory, "memory"},
		{backends.ProtectionOSUser, "OS user store"},
		{backends.ProtectionHardware, "hardware-bound"},
		{backends.Protection(42), "Protection(42)"},
	}
	for _, tt := range tests {
		if got := tt.p.String(); got != tt.want {
			t.Errorf("Protection(%d).String() = %q, want %q", int(tt.p), got, tt.want)
		}
	}
}
