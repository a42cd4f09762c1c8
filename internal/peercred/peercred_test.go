package peercred

import (
	"net"
	"testing"
)

func TestUser(t *testing.T) {
	for _, tt := range []struct {
		c    Cred
		want string
	}{
		{Cred{UID: 1000}, "uid 1000"},
		{Cred{UID: -1, SID: "S-1-5-21-1-2-3-1001"}, "user S-1-5-21-1-2-3-1001"},
	} {
		if got := tt.c.User(); got != tt.want {
			t.Errorf("%+v.User() = %q, want %q", tt.c, got, tt.want)
		}
	}
}

func TestSelf(t *testing.T) {
	me := Self()
	if !me.SameUser() {
		t.Errorf("Self() = %+v is not SameUser", me)
	}
	for _, other := range []Cred{
		{UID: me.UID + 1},
		{UID: -1, SID: "S-1-5-18"}, // LocalSystem
		{UID: -1},
	} {
		if other.SameUser() {
			t.Errorf("%+v is SameUser as %+v", other, me)
		}
	}
}

func TestGetNotASocket(t *testing.T) {
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	if _, err := Get(a); err == nil {
		t.Error("Get on an in-memory pipe succeeded")
	}
}
