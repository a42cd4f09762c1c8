package agent

import (
	"context"
	"fmt"
	"io"
	"net"
	"time"

	"golang.org/x/oauth2"

	"github.com/mayflyhq/mayfly/agent/wire"
	"github.com/mayflyhq/mayfly/internal/auditlog"
	"github.com/mayflyhq/mayfly/internal/config"
)

// loginTimeout bounds a sign-in however long the user takes.
const loginTimeout = 15 * time.Minute

// login runs a sign-in for the client on conn, streaming what the user must
// see (the device code, or the URL to open) and ending with "done". The
// client prints and opens; the agent talks to the provider, so the tokens
// never pass through the client. Closing the connection cancels.
func (a *Agent) login(ctx context.Context, c caller, conn net.Conn, req wire.Request) {
	a.mu.Lock()
	a.logins++
	a.mu.Unlock()
	defer func() {
		a.mu.Lock()
		a.logins--
		a.mu.Unlock()
	}()

	p, resp := a.loginProfile(req)
	if p == nil {
		a.reply(conn, resp)
		return
	}
	// A sign-in whose refresh token cannot be kept safely is refused up
	// front, with what to install or unlock, rather than after the person
	// has approved it.
	if u, ok := a.opt.Store.(unusable); ok {
		a.reply(conn, errResp(wire.CodeNoStore, u.Unusable().Error()))
		return
	}
	ctx, cancel := context.WithTimeout(ctx, loginTimeout)
	defer cancel()
	// The client sends nothing more; a read returning means it went away.
	go func() {
		io.Copy(io.Discard, conn)
		cancel()
	}()

	flow := p.Flow
	if req.Flow != "" {
		flow = req.Flow
	}
	// From here on, a sign-in that fails is in the audit log too.
	fail := func(resp wire.Response) {
		a.record(auditlog.Event{Event: auditlog.Login, Profile: p.Name, Consumer: c.consumer, Peer: c.peer(), Flow: flow, Error: resp.Error.Message})
		a.reply(conn, resp)
	}
	cl, err := a.client(ctx, p)
	if err != nil {
		fail(errResp(wire.CodeProvider, fmt.Sprintf("profile %s: %v", p.Name, err)))
		return
	}
	var tok *oauth2.Token
	switch flow {
	case config.FlowDevice:
		da, err := cl.StartDevice(ctx)
		if err != nil {
			fail(errResp(wire.CodeProvider, fmt.Sprintf("profile %s: %v", p.Name, err)))
			return
		}
		a.reply(conn, wire.Response{Event: wire.EventDevice, Profile: p.Name, VerificationURI: da.VerificationURI,
			VerificationURIComplete: da.VerificationURIComplete, UserCode: da.UserCode, CodeExpiry: da.Expiry})
		tok, err = cl.PollDevice(ctx, da)
		if err != nil {
			fail(errResp(wire.CodeProvider, err.Error()))
			return
		}
	case config.FlowBrowser:
		b, err := cl.StartBrowser(ctx)
		if err != nil {
			fail(errResp(wire.CodeProvider, fmt.Sprintf("profile %s: %v", p.Name, err)))
			return
		}
		defer b.Close()
		a.reply(conn, wire.Response{Event: wire.EventBrowser, Profile: p.Name, AuthURL: b.AuthURL()})
		tok, err = b.Wait(ctx)
		if err != nil {
			fail(errResp(wire.CodeProvider, err.Error()))
			return
		}
	default:
		fail(errResp(wire.CodeBadRequest, fmt.Sprintf("unknown flow %q (device or browser)", flow)))
		return
	}

	s := a.session(p)
	if err := s.lock(ctx); err != nil {
		fail(errResp(wire.CodeInternal, "cancelled"))
		return
	}
	defer s.unlock()
	if err := a.install(s, cl, tok); err != nil {
		fail(errResp(wire.CodeProvider, err.Error()))
		return
	}
	// The new refresh token is bound to the key that signed for it now.
	s.mu.Lock()
	s.since, s.jkt, s.exchanged = a.now().UTC(), "", nil
	if cl.Prover != nil && (cl.DPoP || cl.PrivateKeyJWT) {
		s.jkt = cl.Prover.JKT()
	}
	s.mu.Unlock()
	note := ""
	sctx, scancel := context.WithTimeout(a.bg, 10*time.Second)
	defer scancel()
	if tok.RefreshToken == "" {
		note = "the provider issued no refresh token (is offline_access in scopes?): you will need to sign in again when the access token expires"
		a.forget(sctx, s)
		a.install(s, cl, tok)
	} else if err := a.save(sctx, s, tok.RefreshToken); err != nil {
		a.log.Error("refresh token not saved", "profile", p.Name, "err", err)
		note = fmt.Sprintf("the refresh token could not be saved in %s (%v): this sign-in lasts until the agent exits", a.opt.Store.Describe().Name, err)
	}
	s.mu.Lock()
	done := wire.Response{Event: wire.EventDone, Profile: p.Name, Subject: s.subject, Expiry: s.expiry, Note: note}
	s.mu.Unlock()
	a.log.Info("signed in", "profile", p.Name, "flow", flow, "subject", done.Subject)
	a.record(auditlog.Event{Event: auditlog.Login, Profile: p.Name, Consumer: c.consumer, Peer: c.peer(), Flow: flow,
		Subject: done.Subject, Expiry: done.Expiry, Reason: note})
	a.reply(conn, done)
}

// unusable is implemented by the stand-in store of an agent that found no
// usable secret store (storesel.Unavailable).
type unusable interface{ Unusable() error }

func (a *Agent) loginProfile(req wire.Request) (*config.Profile, wire.Response) {
	cfg, err := a.config()
	if err != nil {
		return nil, errResp(wire.CodeConfig, err.Error())
	}
	if req.Profile == "" && req.URL == "" {
		names := cfg.ProfileNames()
		switch len(names) {
		case 0:
			return nil, errResp(wire.CodeNoProfile, fmt.Sprintf("no profiles in %s: add one (see the README)", cfg.Path))
		case 1:
			return cfg.Profiles[names[0]], wire.Response{}
		}
		return nil, errResp(wire.CodeBadRequest, fmt.Sprintf("several profiles in %s: name one with --profile (%v)", cfg.Path, names))
	}
	return a.profileFor(req)
}
