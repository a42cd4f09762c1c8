package storesel

import (
	"context"
	"errors"
	"strings"
	"testing"
)

func TestOpenNamesWhatExists(t *testing.T) {
	_, err := Open(context.Background(), "plaintext-file", Options{})
	if err == nil || !strings.Contains(err.Error(), "does not exist on this system") || !strings.Contains(err.Error(), "memory") {
		t.Fatalf("Open(plaintext-file) = %v", err)
	}
}

func TestProbeListsEveryStore(t *testing.T) {
	reports := Probe(context.Background(), Options{})
	if len(reports) != len(Names()) {
		t.Fatalf("%d reports for %d stores", len(reports), len(Names()))
	}
	for _, r := range reports {
		if !r.Available && r.Reason == "" {
			t.Errorf("%s unavailable without a reason", r.Name)
		}
		if r.Name == "memory" && r.Auto {
			t.Error(`"auto" must never pick the memory store`)
		}
	}
}

// Whatever "auto" picks, it is one of the stores it may pick, and when it
// picks none the error says that nothing is written in plaintext instead.
func TestOpenAuto(t *testing.T) {
	s, err := Open(context.Background(), "auto", Options{})
	if err != nil {
		if !strings.Contains(err.Error(), "never falls back to a plaintext file") {
			t.Fatalf("Open(auto) = %v", err)
		}
		return
	}
	name := s.Describe().Name
	for _, c := range all() {
		if c.name == name && !c.auto {
			t.Fatalf("auto picked %s", name)
		}
	}
}

func TestUnavailable(t *testing.T) {
	why := errors.New("no D-Bus session bus")
	u := &Unavailable{Err: why}
	if _, err := u.Get(context.Background(), "k"); !errors.Is(err, why) {
		t.Errorf("Get = %v", err)
	}
	if err := u.Set(context.Background(), "k", []byte("v")); !errors.Is(err, why) {
		t.Errorf("Set = %v", err)
	}
	if u.Describe().Name != "none" || !errors.Is(u.Unusable(), why) {
		t.Errorf("Describe = %+v", u.Describe())
	}
}
