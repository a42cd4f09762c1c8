//go:build darwin && cgo && keychaintest

package keychain_test

// These tests write to the login keychain of the user running them, under a
// service of their own that they empty again. They run only with
// -tags keychaintest (CI's macOS runner sets it):
//
//	go test -tags keychaintest ./backends/keychain/...

import (
	"context"
	"crypto/rand"
	"testing"

	gokeychain "github.com/keybase/go-keychain"

	"github.com/mayflyhq/mayfly/backends/backendtest"
	"github.com/mayflyhq/mayfly/backends/keychain"
)

// testService returns a service no other run uses, and checks when the
// test ends that it holds no item.
func testService(t *testing.T) string {
	t.Helper()
	if err := keychain.Available(); err != nil {
		t.Fatalf("the Keychain does not answer this process: %v", err)
	}
	service := "mayfly-test-" + rand.Text()[:12]
	t.Cleanup(func() {
		keys, err := keychain.New(service).List(context.Background())
		if err != nil {
			t.Errorf("List after the test: %v", err)
		}
		if len(keys) > 0 {
			t.Errorf("test left items under service %q: %q", service, keys)
			for _, k := range keys {
				_ = keychain.New(service).Delete(context.Background(), k)
			}
		}
	})
	return service
}

func TestConformance(t *testing.T) {
	service := testService(t)
	backendtest.Run(t, func(t *testing.T) backendtest.Store { return keychain.New(service) })
}

// TestItemAttributes checks the item as other programs (Keychain Access,
// security(1)) see it.
func TestItemAttributes(t *testing.T) {
	ctx := context.Background()
	service := testService(t)
	s := keychain.New(service)
	if err := s.Set(ctx, "session/work/ab", []byte("v1")); err != nil {
		t.Fatal(err)
	}
	defer s.Delete(ctx, "session/work/ab")
	// Set again: the update path must keep the item's attributes.
	if err := s.Set(ctx, "session/work/ab", []byte("v2")); err != nil {
		t.Fatal(err)
	}

	q := gokeychain.NewItem()
	q.SetSecClass(gokeychain.SecClassGenericPassword)
	q.SetService(service)
	q.SetMatchLimit(gokeychain.MatchLimitAll)
	q.SetReturnAttributes(true)
	results, err := gokeychain.QueryItem(q)
	if err != nil {
		t.Fatal(err)
	}
	if len(results) != 1 {
		t.Fatalf("%d items under service %q, want 1", len(results), service)
	}
	r := results[0]
	if r.Service != service || r.Account != "session/work/ab" {
		t.Errorf("item service %q account %q", r.Service, r.Account)
	}
	if want := service + ": session/work/ab"; r.Label != want {
		t.Errorf("item label %q, want %q", r.Label, want)
	}
	if r.Description != "Mayfly secret store entry" {
		t.Errorf("item description %q", r.Description)
	}
	if got, err := s.Get(ctx, "session/work/ab"); err != nil || string(got) != "v2" {
		t.Errorf("Get = %q, %v; want v2", got, err)
	}
}

func TestDescribe(t *testing.T) {
	d := keychain.New(keychain.DefaultService).Describe()
	if d.Name != "keychain" || d.Detail == "" {
		t.Errorf("Describe = %+v", d)
	}
}
