package paths

import (
	"path/filepath"
	"testing"
)

func TestTPMStore(t *testing.T) {
	state := t.TempDir()
	t.Setenv("XDG_STATE_HOME", state)
	got, err := TPMStore()
	if err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join(state, "mayfly", "tpm"); got != want {
		t.Errorf("TPMStore() = %q, want %q", got, want)
	}
}
