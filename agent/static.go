package agent

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode"

	"github.com/mayflyhq/mayfly/agent/wire"
	"github.com/mayflyhq/mayfly/backends"
	"github.com/mayflyhq/mayfly/internal/auditlog"
)

// Static credentials are the long-lived secrets a consumer hands Mayfly for
// servers no profile manages: a registry password from `docker login`,
// say. Keeping them in the secret store, behind the same socket and uid
// check as tokens, is strictly better than the plaintext file the consumer
// would otherwise write, and `mayfly status` lists them as keys to replace.

const (
	staticPrefix    = "static/"
	maxStaticName   = 512
	maxStaticUser   = 512
	maxStaticSecret = 16 << 10 // a large registry identity token fits
)

type staticRecord struct {
	V        int       `json:"v"`
	Username string    `json:"username"`
	Secret   string    `json:"secret"`
	Saved    time.Time `json:"saved"`
}

// lister is implemented by stores that can enumerate their keys; every
// store Mayfly ships does.
type lister interface {
	List(ctx context.Context) ([]string, error)
}

func staticKey(namespace, name string) string {
	return staticPrefix + namespace + "/" + name
}

// checkStatic validates the namespace and name of a static request.
func checkStatic(req wire.Request) error {
	if req.Namespace == "" || strings.IndexFunc(req.Namespace, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-')
	}) >= 0 || len(req.Namespace) > 32 {
		return fmt.Errorf("bad namespace %q", req.Namespace)
	}
	if req.Op == wire.OpStaticList {
		return nil
	}
	if err := printable("name", req.Name, maxStaticName); err != nil {
		return err
	}
	if req.Op == wire.OpStaticSet {
		if err := printable("username", req.Username, maxStaticUser); err != nil {
			return err
		}
		if req.Secret == "" || len(req.Secret) > maxStaticSecret {
			return fmt.Errorf("secret must be 1 to %d bytes", maxStaticSecret)
		}
	}
	return nil
}

func printable(what, s string, max int) error {
	switch {
	case s == "":
		return fmt.Errorf("empty %s", what)
	case len(s) > max:
		return fmt.Errorf("%s longer than %d bytes", what, max)
	case strings.IndexFunc(s, unicode.IsControl) >= 0:
		return fmt.Errorf("%s contains control characters", what)
	}
	return nil
}

// static answers the OpStatic* requests.
func (a *Agent) static(ctx context.Context, c caller, req wire.Request) wire.Response {
	if err := checkStatic(req); err != nil {
		return errResp(wire.CodeBadRequest, err.Error())
	}
	store := a.opt.Store
	key := staticKey(req.Namespace, req.Name)
	switch req.Op {
	case wire.OpStaticGet:
		rec, err := a.loadStatic(ctx, key)
		if errors.Is(err, backends.ErrNotFound) {
			return errResp(wire.CodeNotFound, fmt.Sprintf("no %s credential for %s", req.Namespace, req.Name))
		}
		if err != nil {
			return errResp(wire.CodeInternal, err.Error())
		}
		a.log.Info("static credential issued", "namespace", req.Namespace, "name", req.Name, "consumer", c.consumer, "pid", c.PID)
		a.record(auditlog.Event{Event: auditlog.StaticIssued, Namespace: req.Namespace, Name: req.Name, Consumer: c.consumer, Peer: c.peer(), TokenSHA256: auditlog.TokenHash(rec.Secret)})
		return wire.Response{Username: rec.Username, Token: rec.Secret}
	case wire.OpStaticSet:
		b, err := json.Marshal(staticRecord{V: 1, Username: req.Username, Secret: req.Secret, Saved: a.now().UTC()})
		if err != nil {
			return errResp(wire.CodeInternal, err.Error())
		}
		if err := store.Set(ctx, key, b); err != nil {
			return errResp(wire.CodeInternal, "saving to the secret store: "+err.Error())
		}
		a.log.Info("static credential stored", "namespace", req.Namespace, "name", req.Name, "consumer", c.consumer, "pid", c.PID)
		a.record(auditlog.Event{Event: auditlog.StaticStored, Namespace: req.Namespace, Name: req.Name, Consumer: c.consumer, Peer: c.peer(), TokenSHA256: auditlog.TokenHash(req.Secret)})
		return wire.Response{}
	case wire.OpStaticErase:
		err := store.Delete(ctx, key)
		if errors.Is(err, backends.ErrNotFound) {
			return errResp(wire.CodeNotFound, fmt.Sprintf("no %s credential for %s", req.Namespace, req.Name))
		}
		if err != nil {
			return errResp(wire.CodeInternal, "deleting from the secret store: "+err.Error())
		}
		a.log.Info("static credential erased", "namespace", req.Namespace, "name", req.Name, "consumer", c.consumer, "pid", c.PID)
		a.record(auditlog.Event{Event: auditlog.StaticErased, Namespace: req.Namespace, Name: req.Name, Consumer: c.consumer, Peer: c.peer()})
		return wire.Response{}
	case wire.OpStaticList:
		entries, err := a.listStatic(ctx, req.Namespace)
		if err != nil {
			return errResp(wire.CodeInternal, err.Error())
		}
		return wire.Response{Static: entries}
	}
	return errResp(wire.CodeBadRequest, fmt.Sprintf("unknown op %q", req.Op))
}

func (a *Agent) loadStatic(ctx context.Context, key string) (staticRecord, error) {
	b, err := a.opt.Store.Get(ctx, key)
	if err != nil {
		return staticRecord{}, err
	}
	var rec staticRecord
	if err := json.Unmarshal(b, &rec); err != nil || rec.V != 1 {
		// Not our format: never hand out what we cannot vouch for.
		return staticRecord{}, fmt.Errorf("the store entry %s is damaged; erase it and store the credential again", key)
	}
	return rec, nil
}

// listStatic lists the static credentials of namespace, or of every
// namespace when it is "". It never returns secrets.
func (a *Agent) listStatic(ctx context.Context, namespace string) ([]wire.StaticEntry, error) {
	l, ok := a.opt.Store.(lister)
	if !ok {
		return nil, fmt.Errorf("the %s store cannot list its entries", a.opt.Store.Describe().Name)
	}
	keys, err := l.List(ctx)
	if err != nil {
		return nil, fmt.Errorf("listing the secret store: %w", err)
	}
	slices.Sort(keys)
	var out []wire.StaticEntry
	for _, k := range keys {
		rest, ok := strings.CutPrefix(k, staticPrefix)
		if !ok {
			continue
		}
		ns, name, ok := strings.Cut(rest, "/")
		if !ok || (namespace != "" && ns != namespace) {
			continue
		}
		rec, err := a.loadStatic(ctx, k)
		if err != nil {
			continue
		}
		out = append(out, wire.StaticEntry{Namespace: ns, Name: name, Username: rec.Username, Saved: rec.Saved})
	}
	return out, nil
}
