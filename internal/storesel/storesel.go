// Package storesel chooses the secret store that holds refresh tokens, and
// reports on every store this machine could use, for the agent and for
// `mayfly doctor`.
//
// `store = "auto"` takes the first usable store in order of protection: the
// TPM-sealed store (when the TPM issue lands), then the operating system's
// store (Secret Service, Keychain, Credential Manager), then the Linux
// kernel keyring. There is no plaintext store, not even as a fallback: when
// nothing works, Open fails and says what to install or unlock.
package storesel

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/mayflyhq/mayfly/backends"
	"github.com/mayflyhq/mayfly/backends/memory"
)

// Store is what the agent needs of a store.
type Store interface {
	Get(ctx context.Context, key string) ([]byte, error)
	Set(ctx context.Context, key string, value []byte) error
	Delete(ctx context.Context, key string) error
	Describe() backends.Description
}

// candidate is one store this OS may offer.
type candidate struct {
	name       string
	protection backends.Protection
	auto       bool // considered by "auto"
	// available reports why the store cannot be used here, or nil.
	available func(ctx context.Context) error
	open      func() (Store, error)
	// fix says what to do when available fails.
	fix string
}

// Report describes one store.
type Report struct {
	Name       string `json:"name"`
	Protection string `json:"protection"`
	Available  bool   `json:"available"`
	Reason     string `json:"reason,omitempty"` // why not
	Fix        string `json:"fix,omitempty"`    // what to do about it
	Auto       bool   `json:"auto"`             // considered by store = "auto"
}

// probeTimeout bounds each store's availability check, so a hung D-Bus
// or keychain never hangs the agent or doctor.
const probeTimeout = 5 * time.Second

// all lists this OS's stores in the order "auto" tries them.
func all() []candidate {
	return append(platform(), candidate{
		name: "memory", protection: backends.ProtectionMemory,
		available: func(context.Context) error { return nil },
		open:      func() (Store, error) { return memory.New(), nil },
	})
}

// Names lists the stores this OS offers.
func Names() []string {
	var out []string
	for _, c := range all() {
		out = append(out, c.name)
	}
	return out
}

// Probe checks every store.
func Probe(ctx context.Context) []Report {
	var out []Report
	for _, c := range all() {
		r := Report{Name: c.name, Protection: c.protection.String(), Auto: c.auto}
		if err := probe(ctx, c); err != nil {
			r.Reason, r.Fix = err.Error(), c.fix
		} else {
			r.Available = true
		}
		out = append(out, r)
	}
	return out
}

func probe(ctx context.Context, c candidate) error {
	ctx, cancel := context.WithTimeout(ctx, probeTimeout)
	defer cancel()
	return c.available(ctx)
}

// Open opens the store called name, or for "auto" (or "") the first usable
// one. The error of a failed "auto" names every store tried, why it failed,
// and what to do.
func Open(ctx context.Context, name string) (Store, error) {
	if name == "" {
		name = "auto"
	}
	var tried []string
	for _, c := range all() {
		if name == "auto" && !c.auto || name != "auto" && name != c.name {
			continue
		}
		err := probe(ctx, c)
		if err == nil {
			return c.open()
		}
		msg := fmt.Sprintf("%s: %v", c.name, err)
		if c.fix != "" {
			msg += " (" + c.fix + ")"
		}
		if name != "auto" {
			return nil, fmt.Errorf("store %q is not usable: %s", name, msg)
		}
		tried = append(tried, msg)
	}
	if name != "auto" {
		return nil, fmt.Errorf("store %q does not exist on this system (stores here: %s)", name, strings.Join(Names(), ", "))
	}
	if len(tried) == 0 {
		return nil, errors.New("no secret store is supported on this system; Mayfly never falls back to a plaintext file")
	}
	return nil, fmt.Errorf("no secret store is usable; Mayfly never falls back to a plaintext file. Tried %s", strings.Join(tried, "; "))
}

// Unavailable is the store of an agent that found none: every operation
// fails with why, so helpers and `mayfly login` say what to do instead of
// timing out on an agent that would not start.
type Unavailable struct{ Err error }

func (u *Unavailable) Get(context.Context, string) ([]byte, error) { return nil, u.Err }
func (u *Unavailable) Set(context.Context, string, []byte) error   { return u.Err }
func (u *Unavailable) Delete(context.Context, string) error        { return u.Err }

// Describe implements Store.
func (u *Unavailable) Describe() backends.Description {
	return backends.Description{Name: "none", Protection: backends.ProtectionMemory, Detail: u.Err.Error()}
}

// Unusable reports why no store is usable; the agent refuses sign-ins with it.
func (u *Unavailable) Unusable() error { return u.Err }
