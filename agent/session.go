package agent

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"golang.org/x/oauth2"

	"github.com/mayflyhq/mayfly/agent/wire"
	"github.com/mayflyhq/mayfly/attest/devicekey"
	"github.com/mayflyhq/mayfly/backends"
	"github.com/mayflyhq/mayfly/internal/auditlog"
	"github.com/mayflyhq/mayfly/internal/config"
	"github.com/mayflyhq/mayfly/internal/version"
	"github.com/mayflyhq/mayfly/tokensource"
)

// assumedLifetime stands in for a token's lifetime when the provider omits
// expires_in (RFC 6749 §5.1 makes it optional): short, so Mayfly never hands
// out a token it cannot vouch for for long.
const assumedLifetime = 5 * time.Minute

// session is one profile's sign-in: the refresh token (also in the store)
// and the current access token (memory only).
type session struct {
	prof *config.Profile
	key  string // store key

	// sem admits one refresh, sign-in or sign-out at a time (single flight):
	// callers that arrive during a refresh wait here, then find the fresh
	// token in the cache.
	sem chan struct{}

	mu          sync.Mutex
	value       string    // the token handed out (access or ID token)
	expiry      time.Time // its real expiry
	serveUntil  time.Time // expiry minus the margin
	aud         []string  // value's audience, when it says (for the audit log)
	scopes      []string  // granted scopes, else those requested (for the audit log)
	refresh     string
	loaded      bool // refresh was read from the store (or is known absent)
	subject     string
	lastRefresh time.Time
	refreshes   int
	problem     string
	// revoked is set when the provider refused the refresh token, until
	// the next sign-in or sign-out, so every caller learns why it must
	// sign in again, not only the one whose refresh was refused.
	revoked *revokedError
	// jkt is the thumbprint of the device key the session was bound to
	// at sign-in (RFC 9449 §6.1), "" when it uses none; since is when the
	// person signed in.
	jkt   string
	since time.Time
	// exchanged holds each consumer's token-exchanged token.
	exchanged map[string]*exchangeCache
}

// issued is what a caller gets: the token and what the audit log says of it.
type issued struct {
	value       string
	until       time.Time
	aud, scopes []string
}

// record is what the store holds for a session. The access token is never
// stored: it lives minutes and only in the agent's memory.
type record struct {
	V            int       `json:"v"`
	Issuer       string    `json:"issuer"`
	ClientID     string    `json:"client_id"`
	RefreshToken string    `json:"refresh_token"`
	Subject      string    `json:"subject,omitempty"`
	Saved        time.Time `json:"saved"`
	// JKT names the device key the refresh token is bound to, and Since
	// is the sign-in time, which caps sessions bound to a software key.
	JKT   string    `json:"jkt,omitempty"`
	Since time.Time `json:"since,omitzero"`
}

// sessionKey names a profile's store entry. It hashes what the refresh token
// is valid for, so editing a profile's issuer, client or scopes never feeds
// an old token to a new provider.
func sessionKey(p *config.Profile) string {
	h := sha256.Sum256([]byte(p.Issuer + "\n" + p.ClientID + "\n" + strings.Join(p.Scopes, " ")))
	return "session/" + p.Name + "/" + hex.EncodeToString(h[:8])
}

func (a *Agent) session(p *config.Profile) *session {
	a.mu.Lock()
	defer a.mu.Unlock()
	s := a.sessions[p.Name]
	if s != nil && s.key == sessionKey(p) && s.prof.Token == p.Token && s.prof.RefreshMargin == p.RefreshMargin {
		// Keep s.prof as it is: every field the session reads is equal in
		// p, and refreshes read s.prof without a lock.
		return s
	}
	s = &session{prof: p, key: sessionKey(p), sem: make(chan struct{}, 1)}
	a.sessions[p.Name] = s
	return s
}

func (s *session) lock(ctx context.Context) error {
	select {
	case s.sem <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (s *session) unlock() { <-s.sem }

func (s *session) cached(now time.Time) (issued, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.value != "" && now.Before(s.serveUntil) {
		return s.current(), true
	}
	return issued{}, false
}

// current returns the token held. Callers hold mu.
func (s *session) current() issued {
	return issued{value: s.value, until: s.serveUntil, aud: s.aud, scopes: s.scopes}
}

// install makes tok the session's current token. Callers hold sem.
func (a *Agent) install(s *session, cl *tokensource.Client, tok *oauth2.Token) error {
	now := a.now()
	value, expiry := tok.AccessToken, tok.Expiry
	var subject string
	if raw, claims, err := cl.IDToken(tok); err == nil {
		subject = claims.Email
		if subject == "" {
			subject = claims.Subject
		}
		if s.prof.Token == config.TokenID {
			value, expiry = raw, claims.Expiry
		}
	} else if s.prof.Token == config.TokenID {
		return fmt.Errorf("profile %s wants an ID token: %w", s.prof.Name, err)
	}
	if value == "" {
		return errors.New("the provider returned no token")
	}
	if expiry.IsZero() {
		expiry = now.Add(assumedLifetime)
	}
	// For the audit log only: what the token says of its audience (read,
	// not verified) and what the provider says it granted (RFC 6749 §5.1).
	var aud []string
	if c, err := tokensource.ParseClaims(value); err == nil {
		aud = c.Aud
	}
	scopes := s.prof.Scopes
	if sc, ok := tok.Extra("scope").(string); ok && sc != "" {
		scopes = strings.Fields(sc)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.value, s.expiry, s.aud, s.scopes = value, expiry, aud, scopes
	s.revoked = nil
	s.serveUntil = expiry.Add(-margin(s.prof.RefreshMargin, expiry.Sub(now)))
	if tok.RefreshToken != "" {
		s.refresh = tok.RefreshToken
	}
	s.loaded = true
	if subject != "" {
		s.subject = subject
	}
	s.problem = ""
	return nil
}

// margin is how long before expiry a token stops being handed out: the
// configured margin, but at most a quarter of the lifetime, so a provider
// issuing one-minute tokens does not make every token stale at birth.
func margin(configured, lifetime time.Duration) time.Duration {
	return max(0, min(configured, lifetime/4))
}

// token answers OpToken.
func (a *Agent) token(ctx context.Context, c caller, req wire.Request) wire.Response {
	p, resp := a.profileFor(req)
	if p == nil {
		return resp
	}
	peer := c.peer()
	if p.AllowExec != nil {
		// Before anything else, so a refused caller cannot even make the
		// agent refresh.
		allowed, ancestors, err := checkExec(c, p.AllowExec)
		peer.Ancestors, peer.Allowed = ancestors, allowed
		if err != nil {
			msg := fmt.Sprintf("profile %s does not hand tokens to %s: %v", p.Name, describeCaller(c, ancestors), err)
			a.log.Warn("token refused", "profile", p.Name, "consumer", c.consumer, "pid", c.PID, "exe", c.exe, "ancestors", strings.Join(ancestors, ","))
			a.record(auditlog.Event{Event: auditlog.Refused, Profile: p.Name, Consumer: c.consumer, Peer: peer, Reason: msg})
			return errResp(wire.CodeRefused, "refused: "+msg+" ("+a.opt.ConfigPath+")")
		}
	}
	s := a.session(p)
	tok, err := a.get(ctx, s)
	if err != nil {
		return a.failure(p, err)
	}
	if ex, ok := p.Exchange[c.consumer]; ok {
		if tok, err = a.exchangeFor(ctx, s, c.consumer, ex, tok); err != nil {
			return a.failure(p, err)
		}
	}
	a.log.Info("token issued", "profile", p.Name, "consumer", c.consumer, "pid", c.PID, "exe", c.exe, "until", tok.until.UTC().Format(time.RFC3339))
	a.record(auditlog.Event{Event: auditlog.TokenIssued, Profile: p.Name, Consumer: c.consumer, Peer: peer,
		TokenSHA256: auditlog.TokenHash(tok.value), Audience: tok.aud, Scopes: tok.scopes, Expiry: tok.until})
	a.countIssue(p.Name, c.consumer)
	return wire.Response{Profile: p.Name, Username: p.Username, Token: tok.value, Expiry: tok.until}
}

// profileFor picks the profile named in req, else the one whose match rules
// serve req.URL.
func (a *Agent) profileFor(req wire.Request) (*config.Profile, wire.Response) {
	cfg, err := a.config()
	if err != nil {
		return nil, errResp(wire.CodeConfig, err.Error())
	}
	if req.Profile != "" {
		if p := cfg.Profiles[req.Profile]; p != nil {
			return p, wire.Response{}
		}
		return nil, errResp(wire.CodeNoProfile, fmt.Sprintf("no profile %q in %s", req.Profile, cfg.Path))
	}
	if req.URL != "" {
		if p := cfg.Match(req.URL); p != nil {
			return p, wire.Response{}
		}
	}
	return nil, errResp(wire.CodeNoProfile, fmt.Sprintf("no profile in %s matches %q", cfg.Path, req.URL))
}

var (
	errLoginRequired = errors.New("not signed in")
	errRevoked       = errors.New("the provider ended the session")
)

// revokedError is errRevoked with when and the provider's answer.
type revokedError struct {
	at    time.Time
	cause string // the provider's answer, one line
}

func (e *revokedError) Error() string        { return errRevoked.Error() + ": " + e.cause }
func (e *revokedError) Is(target error) bool { return target == errRevoked }

func (a *Agent) failure(p *config.Profile, err error) wire.Response {
	hint := fmt.Sprintf("run `mayfly login --profile %s`", p.Name)
	var re *revokedError
	switch {
	case errors.Is(err, errLoginRequired):
		return errResp(wire.CodeLoginRequired, fmt.Sprintf("not signed in to profile %s: %s", p.Name, hint))
	case errors.Is(err, errSessionCapped), errors.Is(err, errKeyChanged), errors.Is(err, errSealLost):
		return errResp(wire.CodeLoginRequired, fmt.Sprintf("profile %s: %v; sign in again: %s", p.Name, err, hint))
	case errors.Is(err, devicekey.ErrHardwareRequired):
		return errResp(wire.CodeRefused, fmt.Sprintf("profile %s: %v (see `mayfly doctor`)", p.Name, err))
	case errors.As(err, &re):
		return errResp(wire.CodeRevoked, fmt.Sprintf("the session of profile %s was revoked by the provider at %s (%s): sign in again: %s",
			p.Name, re.at.Local().Format("15:04:05"), re.cause, hint))
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return errResp(wire.CodeInternal, "cancelled")
	}
	return errResp(wire.CodeProvider, fmt.Sprintf("profile %s: %v", p.Name, err))
}

// get returns a token with enough life left, refreshing once for all callers.
func (a *Agent) get(ctx context.Context, s *session) (issued, error) {
	if tok, ok := s.cached(a.now()); ok {
		return tok, nil
	}
	if err := s.lock(ctx); err != nil {
		return issued{}, err
	}
	defer s.unlock()
	// Whoever held the lock before us may have refreshed already.
	if tok, ok := s.cached(a.now()); ok {
		return tok, nil
	}
	rt, err := a.refreshToken(s)
	if err != nil {
		return issued{}, err
	}
	rctx, cancel := context.WithTimeout(a.bg, time.Minute)
	defer cancel()
	if err := a.bind(rctx, s); err != nil {
		if errors.Is(err, errSessionCapped) || errors.Is(err, errKeyChanged) {
			// The refresh token is useless or must not be used: drop it.
			a.log.Warn("session ended", "profile", s.prof.Name, "err", err)
			a.forget(rctx, s)
			a.record(auditlog.Event{Event: auditlog.Refresh, Profile: s.prof.Name, Error: err.Error()})
		}
		return issued{}, err
	}
	cl, err := a.client(rctx, s.prof)
	if err != nil {
		return issued{}, err
	}
	tok, err := cl.Refresh(rctx, rt)
	if errors.Is(err, tokensource.ErrSessionEnded) {
		// Revoked, expired, or replayed by someone else (a provider with
		// refresh token reuse detection revokes the whole grant when a
		// rotated token comes back): either way the session is over.
		a.log.Warn("refresh refused: session ended", "profile", s.prof.Name, "err", err)
		a.forget(rctx, s)
		re := &revokedError{at: a.now(), cause: err.Error()}
		s.mu.Lock()
		s.revoked = re
		s.problem = fmt.Sprintf("revoked by the provider at %s (%s): sign in again", re.at.Local().Format(time.DateTime), re.cause)
		s.mu.Unlock()
		a.record(auditlog.Event{Event: auditlog.Alert, Kind: auditlog.KindSessionRevoked, Profile: s.prof.Name, Reason: re.cause})
		return issued{}, re
	}
	if err != nil {
		s.mu.Lock()
		s.problem = err.Error()
		s.mu.Unlock()
		a.record(auditlog.Event{Event: auditlog.Refresh, Profile: s.prof.Name, Error: err.Error()})
		return issued{}, err
	}
	// Persist a rotated refresh token before anything uses the tokens that
	// came with it: if the agent died after handing out the access token but
	// before saving, the next run would hold a refresh token the provider
	// has already replaced.
	var problem string
	if tok.RefreshToken != "" && tok.RefreshToken != rt {
		if err := a.save(rctx, s, tok.RefreshToken); err != nil {
			// The new token is still in memory and serves this run; say so.
			a.log.Error("rotated refresh token not saved: it lives in memory only until the agent exits", "profile", s.prof.Name, "err", err)
			problem = "store write failed: " + err.Error()
		}
		// The provider has replaced rt: keep the new one even if install
		// fails below, or the next refresh would replay a dead token.
		s.mu.Lock()
		s.refresh = tok.RefreshToken
		s.mu.Unlock()
	}
	if err := a.install(s, cl, tok); err != nil {
		a.record(auditlog.Event{Event: auditlog.Refresh, Profile: s.prof.Name, Error: err.Error()})
		return issued{}, err
	}
	s.mu.Lock()
	s.problem = problem // after install, which clears it
	s.lastRefresh = a.now()
	s.refreshes++
	out := s.current()
	expiry := s.expiry
	s.mu.Unlock()
	rotated := tok.RefreshToken != "" && tok.RefreshToken != rt
	a.log.Info("refreshed", "profile", s.prof.Name, "rotated", rotated, "expiry", tok.Expiry.UTC().Format(time.RFC3339))
	a.record(auditlog.Event{Event: auditlog.Refresh, Profile: s.prof.Name, Rotated: &rotated,
		TokenSHA256: auditlog.TokenHash(out.value), Expiry: expiry, Error: problem})
	return out, nil
}

// refreshToken returns the session's refresh token, from memory or the store.
func (a *Agent) refreshToken(s *session) (string, error) {
	s.mu.Lock()
	rt, loaded, revoked := s.refresh, s.loaded, s.revoked
	s.mu.Unlock()
	if rt != "" {
		return rt, nil
	}
	if revoked != nil {
		return "", revoked
	}
	if loaded {
		return "", errLoginRequired
	}
	ctx, cancel := context.WithTimeout(a.bg, 10*time.Second)
	defer cancel()
	rec, err := a.load(ctx, s)
	if err != nil {
		return "", err
	}
	s.mu.Lock()
	// status reads the store without holding sem: if a refresh or sign-in
	// set the session while we read, what we read may be a refresh token
	// the provider has since replaced.
	if !s.loaded {
		s.refresh, s.loaded = rec.RefreshToken, true
		s.jkt, s.since = rec.JKT, rec.Since
		if rec.Subject != "" {
			s.subject = rec.Subject
		}
	}
	rt = s.refresh
	s.mu.Unlock()
	if rt == "" {
		return "", errLoginRequired
	}
	return rt, nil
}

func (a *Agent) load(ctx context.Context, s *session) (record, error) {
	b, err := a.opt.Store.Get(ctx, s.key)
	if errors.Is(err, backends.ErrNotFound) {
		return record{}, errLoginRequired
	}
	if errors.Is(err, backends.ErrKeyLost) {
		// The sealed store has removed the entry its TPM can no longer
		// open: the session is over, and nothing is left to retry.
		a.log.Warn("the stored session was sealed by a TPM that was cleared or replaced", "profile", s.prof.Name)
		a.record(auditlog.Event{Event: auditlog.Alert, Kind: "session_key_lost", Profile: s.prof.Name, Reason: err.Error()})
		s.mu.Lock()
		s.loaded = true
		s.mu.Unlock()
		return record{}, errSealLost
	}
	if err != nil {
		return record{}, fmt.Errorf("read the session from %s: %w", a.opt.Store.Describe().Name, err)
	}
	var rec record
	if err := json.Unmarshal(b, &rec); err != nil || rec.Issuer != s.prof.Issuer || rec.ClientID != s.prof.ClientID {
		// Unreadable or for another provider: useless, and never sent anywhere.
		a.log.Warn("ignoring an unusable stored session", "profile", s.prof.Name)
		return record{}, errLoginRequired
	}
	return rec, nil
}

func (a *Agent) save(ctx context.Context, s *session, rt string) error {
	s.mu.Lock()
	rec := record{V: 1, Issuer: s.prof.Issuer, ClientID: s.prof.ClientID, RefreshToken: rt, Subject: s.subject, Saved: a.now().UTC(),
		JKT: s.jkt, Since: s.since}
	s.mu.Unlock()
	b, err := json.Marshal(rec)
	if err != nil {
		return err
	}
	return a.opt.Store.Set(ctx, s.key, b)
}

// forget drops the session from memory and the store. Callers hold sem.
func (a *Agent) forget(ctx context.Context, s *session) {
	s.mu.Lock()
	s.value, s.refresh, s.expiry, s.serveUntil, s.loaded, s.subject = "", "", time.Time{}, time.Time{}, true, ""
	s.aud, s.scopes, s.revoked = nil, nil, nil
	s.jkt, s.since, s.exchanged = "", time.Time{}, nil
	s.mu.Unlock()
	if err := a.opt.Store.Delete(ctx, s.key); err != nil && !errors.Is(err, backends.ErrNotFound) {
		a.log.Error("could not delete the stored session", "profile", s.prof.Name, "err", err)
	}
}

// erase answers OpErase: a consumer says a token was rejected. Only a token
// equal to the one held is dropped, so a stale 401 from one consumer cannot
// throw away a fresh token another just got (the git-credential-manager
// lesson, PR #25).
func (a *Agent) erase(c caller, req wire.Request) wire.Response {
	p, resp := a.profileFor(req)
	if p == nil {
		if resp.Error != nil && resp.Error.Code == wire.CodeNoProfile {
			return wire.Response{}
		}
		return resp
	}
	s := a.session(p)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.value != "" && subtle.ConstantTimeCompare([]byte(s.value), []byte(req.Token)) == 1 {
		s.value, s.serveUntil = "", time.Time{}
		a.log.Info("token dropped after the consumer reported it rejected", "profile", p.Name, "consumer", c.consumer)
		a.record(auditlog.Event{Event: auditlog.TokenRejected, Profile: p.Name, Consumer: c.consumer, Peer: c.peer(), TokenSHA256: auditlog.TokenHash(req.Token)})
	}
	return wire.Response{Profile: p.Name}
}

type providerEntry struct {
	p       *tokensource.Provider
	fetched time.Time
}

// client returns the OAuth client for p, with discovery cached for an hour.
func (a *Agent) client(ctx context.Context, p *config.Profile) (*tokensource.Client, error) {
	a.mu.Lock()
	e := a.providers[p.Issuer]
	a.mu.Unlock()
	if e == nil || a.now().Sub(e.fetched) > time.Hour {
		prov, err := tokensource.Discover(ctx, a.opt.HTTP, p.Issuer)
		if err != nil {
			return nil, err
		}
		e = &providerEntry{p: prov, fetched: a.now()}
		a.mu.Lock()
		a.providers[p.Issuer] = e
		a.mu.Unlock()
	}
	cl := &tokensource.Client{Provider: e.p, ClientID: p.ClientID, Scopes: p.Scopes, HTTP: a.opt.HTTP}
	if p.UsesDeviceKey() {
		_, prover, err := a.deviceKey(ctx, p.RequireHardwareKey)
		if err != nil {
			return nil, err
		}
		cl.Prover, cl.DPoP, cl.PrivateKeyJWT = prover, p.DPoP, p.ClientAuth == config.ClientAuthPrivateKeyJWT
	}
	return cl, nil
}

// status answers OpStatus.
func (a *Agent) status(ctx context.Context) wire.Response {
	cfg, err := a.config()
	if err != nil {
		return errResp(wire.CodeConfig, err.Error())
	}
	d := a.opt.Store.Describe()
	st := &wire.Status{
		PID: os.Getpid(), Version: version.String(), Config: a.opt.ConfigPath, Socket: a.opt.Socket, Started: a.started,
		Store: wire.StoreInfo{Name: d.Name, Protection: d.Protection.String(), Detail: d.Detail},
	}
	if a.opt.TPM != nil {
		st.TPM = a.opt.TPM(ctx)
	}
	st.DeviceKey = a.keyInfo(ctx)
	for _, name := range cfg.ProfileNames() {
		p := cfg.Profiles[name]
		s := a.session(p)
		if _, err := a.refreshToken(s); err != nil && !errors.Is(err, errLoginRequired) && !errors.Is(err, errRevoked) {
			s.mu.Lock()
			s.problem = err.Error()
			s.mu.Unlock()
		}
		s.mu.Lock()
		ps := wire.ProfileStatus{
			Name: name, Issuer: p.Issuer, ClientID: p.ClientID, Flow: p.Flow,
			SignedIn: s.refresh != "" || (s.value != "" && a.now().Before(s.expiry)), Subject: s.subject,
			RefreshToken: s.refresh != "", LastRefresh: s.lastRefresh, Refreshes: s.refreshes, Problem: s.problem,
			DPoP: p.DPoP,
		}
		if p.ClientAuth != config.ClientAuthNone {
			ps.Auth = p.ClientAuth
		}
		if s.value != "" {
			ps.AccessExpiry = s.expiry
		}
		s.mu.Unlock()
		for _, m := range p.Match {
			ps.Match = append(ps.Match, m.String())
		}
		st.Profiles = append(st.Profiles, ps)
	}
	// Best effort: a store that cannot list has no static entries to show.
	st.Static, _ = a.listStatic(ctx, "")
	return wire.Response{Status: st}
}

// logout answers OpLogout: revoke at the provider where it can (RFC 7009),
// and forget locally in any case.
func (a *Agent) logout(ctx context.Context, c caller, req wire.Request) wire.Response {
	cfg, err := a.config()
	if err != nil {
		return errResp(wire.CodeConfig, err.Error())
	}
	var names []string
	switch {
	case req.All:
		names = cfg.ProfileNames()
	case req.Profile != "":
		if cfg.Profiles[req.Profile] == nil {
			return errResp(wire.CodeNoProfile, fmt.Sprintf("no profile %q in %s", req.Profile, cfg.Path))
		}
		names = []string{req.Profile}
	default:
		names = cfg.ProfileNames()
		if len(names) != 1 {
			return errResp(wire.CodeBadRequest, "several profiles are configured: name one with --profile, or use --all")
		}
	}
	var out wire.Response
	for _, name := range names {
		outcome := a.logoutOne(ctx, cfg.Profiles[name])
		out.Results = append(out.Results, wire.LogoutResult{Profile: name, Outcome: outcome})
		a.record(auditlog.Event{Event: auditlog.Logout, Profile: name, Consumer: c.consumer, Peer: c.peer(), Outcome: outcome})
	}
	if req.All {
		for _, r := range a.logoutStale(ctx, cfg) {
			out.Results = append(out.Results, r)
			a.record(auditlog.Event{Event: auditlog.Logout, Profile: r.Profile, Consumer: c.consumer, Peer: c.peer(), Outcome: r.Outcome})
		}
	}
	return out
}

// logoutStale signs out of the sessions in the store that no profile of cfg
// uses any more: a profile removed from the file, or one whose issuer,
// client or scopes changed (its key changed with them). Their records
// name their issuer and client, which is all revocation needs. Static
// credentials are left alone: they are the user's passwords for servers
// no profile manages, and `docker logout` removes them.
func (a *Agent) logoutStale(ctx context.Context, cfg *config.Config) []wire.LogoutResult {
	l, ok := a.opt.Store.(lister)
	if !ok {
		return nil
	}
	keys, err := l.List(ctx)
	if err != nil {
		a.log.Warn("logout --all: cannot list the store for stale sessions", "err", err)
		return nil
	}
	current := map[string]bool{}
	for _, p := range cfg.Profiles {
		current[sessionKey(p)] = true
	}
	slices.Sort(keys)
	var out []wire.LogoutResult
	for _, key := range keys {
		rest, ok := strings.CutPrefix(key, "session/")
		if !ok || current[key] {
			continue
		}
		name, _, _ := strings.Cut(rest, "/")
		label := name + " (no longer configured)"
		if cfg.Profiles[name] != nil {
			label = name + " (before its issuer, client or scopes changed)"
		}
		// A stand-in profile with what the record says, so the session
		// code can revoke and forget it like any other.
		p := &config.Profile{Name: name, Token: config.TokenAccess}
		b, err := a.opt.Store.Get(ctx, key)
		var rec record
		if err == nil {
			err = json.Unmarshal(b, &rec)
		}
		if err != nil || rec.Issuer == "" || rec.ClientID == "" || rec.RefreshToken == "" {
			if err := a.opt.Store.Delete(ctx, key); err != nil && !errors.Is(err, backends.ErrNotFound) {
				out = append(out, wire.LogoutResult{Profile: label, Outcome: "no usable refresh token, and could not be deleted: " + err.Error()})
				continue
			}
			out = append(out, wire.LogoutResult{Profile: label, Outcome: "no usable refresh token; deleted locally"})
			continue
		}
		p.Issuer, p.ClientID = rec.Issuer, rec.ClientID
		s := &session{prof: p, key: key, sem: make(chan struct{}, 1), refresh: rec.RefreshToken, loaded: true}
		out = append(out, wire.LogoutResult{Profile: label, Outcome: a.logoutSession(ctx, s)})
	}
	return out
}

func (a *Agent) logoutOne(ctx context.Context, p *config.Profile) string {
	return a.logoutSession(ctx, a.session(p))
}

func (a *Agent) logoutSession(ctx context.Context, s *session) string {
	p := s.prof
	if err := s.lock(ctx); err != nil {
		return "cancelled"
	}
	defer s.unlock()
	rt, err := a.refreshToken(s)
	s.mu.Lock()
	at := s.value
	s.mu.Unlock()
	if rt == "" && at == "" {
		s.mu.Lock()
		s.revoked, s.problem = nil, ""
		s.mu.Unlock()
		switch {
		case errors.Is(err, errRevoked):
			return "not signed in (the provider had revoked the session)"
		case err != nil && !errors.Is(err, errLoginRequired):
			return "not signed in (" + err.Error() + ")"
		}
		return "not signed in"
	}
	rctx, cancel := context.WithTimeout(a.bg, 30*time.Second)
	defer cancel()
	outcome := "forgotten locally"
	cl, err := a.client(rctx, p)
	switch {
	case err != nil:
		outcome += fmt.Sprintf("; not revoked, the provider is unreachable (%v)", err)
	case cl.Provider.RevocationURL == "":
		outcome += "; the provider has no revocation endpoint, so the refresh token stays valid there until it expires"
	default:
		var errs []string
		if rt != "" {
			if err := cl.Revoke(rctx, rt, "refresh_token"); err != nil {
				errs = append(errs, err.Error())
			}
		}
		if at != "" && s.prof.Token == config.TokenAccess {
			if err := cl.Revoke(rctx, at, "access_token"); err != nil {
				errs = append(errs, err.Error())
			}
		}
		if len(errs) == 0 {
			outcome = "revoked at the provider and forgotten locally"
		} else {
			outcome += "; revocation failed: " + strings.Join(slices.Compact(errs), "; ")
		}
	}
	a.forget(rctx, s)
	a.log.Info("signed out", "profile", p.Name, "outcome", outcome)
	return outcome
}
