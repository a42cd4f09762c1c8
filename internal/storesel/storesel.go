// Package storesel chooses the secret store that holds refresh tokens, and
// reports on every store this machine could use, for the agent and for
// `mayfly doctor`.
//
// `store = "auto"` takes the first usable store in order of protection: on
// Linux the TPM-sealed store, then the operating system's store (Secret
// Service, Keychain, Credential Manager), then the Linux kernel keyring.
// There is no plaintext store, not even as a fallback: when nothing works,
// Open fails and says what to install or unlock.
//
// The TPM-sealed store ([github.com/mayflyhq/mayfly/backends/tpm]) is
// usable when the TPM that the configuration's tpm key names (by default
// /dev/tpmrm0) opens and answers within the probe's time, and lets Mayfly
// create its storage key. When it is not (no TPM, or a user outside the tss
// group), "auto" falls back to the next store, and the report says why and
// what to do. Its outcomes at run time: a value whose TPM was cleared or
// replaced is removed and reported as [backends.ErrKeyLost] ("sign in
// again"); a TPM in dictionary-attack lockout gives [backends.ErrLocked]
// (retry later, nothing removed).
//
// Windows lists the store but "auto" skips it: TBS blocks the commands that
// create TPM objects for standard users, so only `store = "tpm"` run as an
// administrator could use it. macOS has no TPM.
package storesel

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/mayflyhq/mayfly/attest/tpm"
	"github.com/mayflyhq/mayfly/backends"
	"github.com/mayflyhq/mayfly/backends/memory"
	backendtpm "github.com/mayflyhq/mayfly/backends/tpm"
	"github.com/mayflyhq/mayfly/internal/paths"
)

// Options carry the settings that choosing a store depends on.
type Options struct {
	// TPM is the configuration's tpm key: "" for this machine's TPM, else
	// a device path or an emulator address (see [tpm.Open]).
	TPM string
	// Device, if not nil, is a TPM the caller already opened, used instead
	// of opening TPM: a process keeps one connection to its TPM (an
	// emulator serves one client at a time), which the agent shares
	// between the store and its device key. storesel never closes it.
	Device *tpm.TPM
}

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
	available func(ctx context.Context, e *env) error
	open      func(e *env) (Store, error)
	// fix says what to do when available fails.
	fix string
}

// env is the state of one Probe or Open: the options, and the TPM the tpm
// candidate opened.
type env struct {
	opt Options
	tpm *tpm.TPM
}

// release closes the TPM the probe opened, unless the caller owns it.
func (e *env) release() {
	if e.tpm != nil && e.tpm != e.opt.Device {
		e.tpm.Close()
	}
	e.tpm = nil
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
	c := append([]candidate{tpmCandidate()}, platform()...)
	return append(c, candidate{
		name: "memory", protection: backends.ProtectionMemory,
		available: func(context.Context, *env) error { return nil },
		open:      func(*env) (Store, error) { return memory.New(), nil },
	})
}

// tpmCandidate is the TPM-sealed store, first: hardware binding protects
// more than any store that every process of the user can read.
func tpmCandidate() candidate {
	return candidate{
		name: "tpm", protection: backends.ProtectionHardware, auto: tpmAuto,
		available: func(ctx context.Context, e *env) error { return e.probeTPM(ctx) },
		open: func(e *env) (Store, error) {
			dir, err := paths.TPMStore()
			if err != nil {
				return nil, err
			}
			s, err := backendtpm.Open(e.tpm, dir)
			if err != nil {
				return nil, err
			}
			return &tpmStore{Store: s, dev: e.tpm}, nil
		},
		fix: tpmFix,
	}
}

// probeTPM opens the TPM (unless the caller gave one) and checks it
// answers and lets Mayfly create its storage key, within ctx.
func (e *env) probeTPM(ctx context.Context) error {
	dev := e.opt.Device
	if dev == nil {
		var err error
		if dev, err = openTPM(ctx, e.opt.TPM); err != nil {
			return err
		}
	}
	if _, err := dev.Probe(ctx); err != nil {
		if dev != e.opt.Device {
			dev.Close()
		}
		return err
	}
	e.tpm = dev
	return nil
}

// openTPM opens the TPM at spec, giving up when ctx ends. Opening is
// quick for a device; an emulator's address may take up to tpm.Open's
// dial timeout, after which a late connection is closed.
func openTPM(ctx context.Context, spec string) (*tpm.TPM, error) {
	type result struct {
		t   *tpm.TPM
		err error
	}
	done := make(chan result, 1)
	go func() {
		t, err := tpm.Open(spec)
		done <- result{t, err}
	}()
	select {
	case r := <-done:
		return r.t, r.err
	case <-ctx.Done():
		go func() {
			if r := <-done; r.t != nil {
				r.t.Close()
			}
		}()
		return nil, ctx.Err()
	}
}

// tpmStore is the TPM-sealed store, with the TPM connection it uses.
type tpmStore struct {
	*backendtpm.Store
	dev *tpm.TPM
}

// TPMOf returns the TPM connection that s, a store Open returned, seals
// with, or nil if s is not the TPM-sealed store. The agent gives it to the
// device key, so that the process keeps a single connection to its TPM.
func TPMOf(s Store) *tpm.TPM {
	if ts, ok := s.(*tpmStore); ok {
		return ts.dev
	}
	return nil
}

// Names lists the stores this OS offers.
func Names() []string {
	var out []string
	for _, c := range all() {
		out = append(out, c.name)
	}
	return out
}

// Probe checks every store. It leaves no TPM connection open, except the
// caller's own opt.Device.
func Probe(ctx context.Context, opt Options) []Report {
	var out []Report
	for _, c := range all() {
		r := Report{Name: c.name, Protection: c.protection.String(), Auto: c.auto}
		e := &env{opt: opt}
		if err := probe(ctx, c, e); err != nil {
			r.Reason, r.Fix = err.Error(), c.fix
		} else {
			r.Available = true
		}
		e.release()
		out = append(out, r)
	}
	return out
}

func probe(ctx context.Context, c candidate, e *env) error {
	ctx, cancel := context.WithTimeout(ctx, probeTimeout)
	defer cancel()
	return c.available(ctx, e)
}

// Open opens the store called name, or for "auto" (or "") the first usable
// one. The error of a failed "auto" names every store tried, why it failed,
// and what to do. If it picks the TPM-sealed store, [TPMOf] returns the
// TPM connection the store keeps open.
func Open(ctx context.Context, name string, opt Options) (Store, error) {
	if name == "" {
		name = "auto"
	}
	var tried []string
	for _, c := range all() {
		if name == "auto" && !c.auto || name != "auto" && name != c.name {
			continue
		}
		e := &env{opt: opt}
		err := probe(ctx, c, e)
		if err == nil {
			s, err := c.open(e)
			if err != nil {
				e.release()
				return nil, fmt.Errorf("store %q: %w", c.name, err)
			}
			return s, nil
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
