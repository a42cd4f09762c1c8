package agent

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/mayflyhq/mayfly/agent/wire"
	"github.com/mayflyhq/mayfly/attest/devicekey"
	"github.com/mayflyhq/mayfly/attest/dpop"
	"github.com/mayflyhq/mayfly/internal/auditlog"
	"github.com/mayflyhq/mayfly/internal/config"
	"github.com/mayflyhq/mayfly/tokensource"
)

// softwareKeyMaxSession caps a session bound to a software device key: such
// a key can be copied with the store that holds it, so what it protects is
// made to expire sooner than a TPM-bound session, which lasts as long as the
// provider allows.
const softwareKeyMaxSession = 24 * time.Hour

// errSessionCapped ends a session bound to a software key at its cap.
var errSessionCapped = errors.New("sessions bound to a software device key last at most 24 hours (there is no usable TPM)")

// errSealLost ends a session whose sealed store entry its TPM can no
// longer open.
var errSealLost = errors.New("the TPM that sealed this session was cleared or replaced")

// errKeyChanged ends a session bound to a device key that is gone.
var errKeyChanged = errors.New("the device key this session was bound to is gone (its TPM was cleared or replaced)")

// deviceKey returns the device key and its prover, opening or making the
// key on first use.
func (a *Agent) deviceKey(ctx context.Context, requireHW bool) (*devicekey.Key, *dpop.Prover, error) {
	return a.openDeviceKey(ctx, requireHW, false)
}

// openDeviceKey is deviceKey; with noCreate it never makes a key, and
// fails with backends.ErrNotFound when there is none.
func (a *Agent) openDeviceKey(ctx context.Context, requireHW, noCreate bool) (*devicekey.Key, *dpop.Prover, error) {
	a.keyMu.Lock()
	defer a.keyMu.Unlock()
	if a.key == nil {
		k, err := devicekey.Open(ctx, a.opt.Store, devicekey.Options{Hardware: a.opt.Hardware, NoCreate: noCreate, Now: a.now})
		if errors.Is(err, devicekey.ErrReplaced) {
			a.log.Warn("the device key was lost with its TPM and replaced: sessions bound to it must sign in again")
			a.record(auditlog.Event{Event: auditlog.Alert, Kind: "device_key_replaced",
				Reason: "the stored device key no longer loads in this TPM (cleared or replaced); a new key was made"})
			err = nil
		}
		if err != nil {
			return nil, nil, err
		}
		p, err := dpop.NewProver(k)
		if err != nil {
			return nil, nil, err
		}
		a.key, a.prover = k, p
		a.log.Info("device key ready", "provider", k.Provider, "jkt", p.JKT())
	}
	if requireHW && !a.key.Hardware() {
		return nil, nil, fmt.Errorf("%w; the device key here is a %s key", devicekey.ErrHardwareRequired, a.key.Provider)
	}
	return a.key, a.prover, nil
}

// keyInfo describes the device key for status, if there is one; it never
// makes one.
func (a *Agent) keyInfo(ctx context.Context) *wire.DeviceKeyInfo {
	if _, ok := a.opt.Store.(unusable); ok {
		return nil
	}
	k, p, err := a.openDeviceKey(ctx, false, true)
	if err != nil {
		return nil
	}
	return describeKey(k, p)
}

func describeKey(k *devicekey.Key, p *dpop.Prover) *wire.DeviceKeyInfo {
	jwk, _ := json.Marshal(k.JWK)
	return &wire.DeviceKeyInfo{Provider: k.Provider, Hardware: k.Hardware(), Algorithm: "ES256", Thumbprint: p.JKT(), JWK: jwk}
}

// key answers OpKey: the device key, made if there is none yet, so it can
// be registered with a provider before the first sign-in.
func (a *Agent) keyOp(ctx context.Context) wire.Response {
	if u, ok := a.opt.Store.(unusable); ok {
		return errResp(wire.CodeNoStore, u.Unusable().Error())
	}
	k, p, err := a.deviceKey(ctx, false)
	if err != nil {
		return errResp(wire.CodeInternal, "device key: "+err.Error())
	}
	st := &wire.Status{PID: 0, DeviceKey: describeKey(k, p)}
	if a.opt.TPM != nil {
		st.TPM = a.opt.TPM(ctx)
	}
	return wire.Response{Status: st}
}

// bind checks, before a refresh, that s may still use the device key: the
// key it was bound to at sign-in must be the current one, and a software
// key's session must be younger than its cap.
func (a *Agent) bind(ctx context.Context, s *session) error {
	if !s.prof.UsesDeviceKey() {
		return nil
	}
	k, p, err := a.deviceKey(ctx, s.prof.RequireHardwareKey)
	if err != nil {
		return err
	}
	s.mu.Lock()
	jkt, since := s.jkt, s.since
	s.mu.Unlock()
	if jkt != "" && jkt != p.JKT() {
		return errKeyChanged
	}
	if !k.Hardware() && !since.IsZero() && a.now().Sub(since) > softwareKeyMaxSession {
		return errSessionCapped
	}
	return nil
}

// exchangeFor returns the token consumer gets for profile p by token
// exchange (RFC 8693), from the cache or fresh; subject is the profile's own
// token. Each consumer's token is cached apart, and fetched once however
// many callers wait.
func (a *Agent) exchangeFor(ctx context.Context, s *session, consumer string, ex config.Exchange, subject issued) (issued, error) {
	e := s.exchangeEntry(consumer)
	now := a.now()
	if tok, ok := e.cached(now, subject.value); ok {
		return tok, nil
	}
	select {
	case e.sem <- struct{}{}:
	case <-ctx.Done():
		return issued{}, ctx.Err()
	}
	defer func() { <-e.sem }()
	if tok, ok := e.cached(a.now(), subject.value); ok {
		return tok, nil
	}
	rctx, cancel := context.WithTimeout(a.bg, time.Minute)
	defer cancel()
	cl, err := a.client(rctx, s.prof)
	if err != nil {
		return issued{}, err
	}
	typ := tokensource.TokenTypeAccess
	if s.prof.Token == config.TokenID {
		typ = tokensource.TokenTypeID
	}
	tok, err := cl.Exchange(rctx, tokensource.ExchangeRequest{SubjectToken: subject.value, SubjectTokenType: typ,
		Audience: ex.Audience, Resource: ex.Resource, Scopes: ex.Scopes})
	if err != nil {
		a.record(auditlog.Event{Event: auditlog.Refresh, Profile: s.prof.Name, Consumer: consumer, Error: err.Error()})
		return issued{}, err
	}
	expiry := tok.Expiry
	if expiry.IsZero() || expiry.After(subject.until) {
		// Never hand out the narrower token longer than the one it was
		// made from is served: revoking the session must end both.
		expiry = subject.until
	}
	until := expiry.Add(-margin(s.prof.RefreshMargin, expiry.Sub(a.now())))
	aud := ex.Audience
	if c, err := tokensource.ParseClaims(tok.AccessToken); err == nil && len(c.Aud) > 0 {
		aud = c.Aud
	}
	scopes := ex.Scopes
	if sc, ok := tok.Extra("scope").(string); ok && sc != "" {
		scopes = strings.Fields(sc)
	}
	out := issued{value: tok.AccessToken, until: until, aud: aud, scopes: scopes}
	e.mu.Lock()
	e.tok, e.from = out, subject.value
	e.mu.Unlock()
	a.log.Info("token exchanged", "profile", s.prof.Name, "consumer", consumer, "audience", strings.Join(aud, ","))
	return out, nil
}

// exchangeCache is one consumer's exchanged token.
type exchangeCache struct {
	sem  chan struct{}
	mu   sync.Mutex
	tok  issued
	from string // the subject token it was made from
}

func (e *exchangeCache) cached(now time.Time, subject string) (issued, bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.tok.value != "" && e.from == subject && now.Before(e.tok.until) {
		return e.tok, true
	}
	return issued{}, false
}

func (s *session) exchangeEntry(consumer string) *exchangeCache {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.exchanged == nil {
		s.exchanged = map[string]*exchangeCache{}
	}
	e := s.exchanged[consumer]
	if e == nil {
		e = &exchangeCache{sem: make(chan struct{}, 1)}
		s.exchanged[consumer] = e
	}
	return e
}
