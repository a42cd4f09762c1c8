// Package agent is Mayfly's local vault agent: a per-user process on a UNIX
// socket and the only process that holds refresh tokens. Helpers ask it for
// access tokens; it keeps them in memory, refreshes each profile's session
// once however many callers wait (single flight), writes a rotated refresh
// token to the secret store before it hands out the access token that came
// with it, runs sign-ins and sign-outs, and exits when idle, leaving only
// the store behind.
//
// Every connection's peer is checked by the kernel's account of it
// (SO_PEERCRED; on Windows the pipe client's process token): only the
// agent's own user is served. A profile may further
// name the executables that may receive its tokens (allow_exec), checked
// against the peer's executable and its ancestors' (see policy.go). Every
// token handed out or refused, every refresh, sign-in and sign-out goes to
// the audit log (internal/auditlog), which names tokens by hash only.
package agent

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/mayflyhq/mayfly/agent/wire"
	"github.com/mayflyhq/mayfly/attest/devicekey"
	"github.com/mayflyhq/mayfly/attest/dpop"
	"github.com/mayflyhq/mayfly/backends"
	"github.com/mayflyhq/mayfly/internal/auditlog"
	"github.com/mayflyhq/mayfly/internal/config"
	"github.com/mayflyhq/mayfly/internal/peercred"
	"github.com/mayflyhq/mayfly/internal/version"
)

// Store is where refresh tokens live between agent runs.
type Store interface {
	Get(ctx context.Context, key string) ([]byte, error)
	Set(ctx context.Context, key string, value []byte) error
	Delete(ctx context.Context, key string) error
	Describe() backends.Description
}

// Options configure an Agent.
type Options struct {
	ConfigPath string
	Socket     string
	Store      Store
	Log        *slog.Logger
	HTTP       *http.Client     // for the providers; nil: a client with a 30 s timeout
	Now        func() time.Time // nil: time.Now
	// AuditLog is the audit log file; "" keeps none. If it cannot be
	// opened the agent serves anyway and says so in its log.
	AuditLog string
	// Hardware makes and loads the device key in the TPM; nil: the
	// device key, when a profile needs one, is a software key.
	Hardware devicekey.Hardware
	// TPM describes the TPM for status; nil: no TPM was looked for.
	TPM func(context.Context) *wire.TPMInfo
}

// Agent serves one user's helpers.
type Agent struct {
	opt     Options
	log     *slog.Logger
	now     func() time.Time
	started time.Time

	cfgMu   sync.Mutex
	cfg     *config.Config
	cfgErr  error
	cfgStat os.FileInfo

	mu         sync.Mutex
	sessions   map[string]*session
	providers  map[string]*providerEntry
	active     int // open connections
	logins     int // sign-ins in progress
	lastActive time.Time
	rates      map[string]*rateWindow // issuance per profile and consumer, for alert_rate

	// The device key, opened on first use (keyMu guards it).
	keyMu  sync.Mutex
	key    *devicekey.Key
	prover *dpop.Prover

	audit    *auditlog.Writer // nil: none
	auditErr error            // why there is none

	// bg is the agent's own context: refreshes run under it, not under a
	// caller's, so a caller that goes away cannot abort a refresh halfway
	// and lose a rotated refresh token.
	bg     context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// New returns an agent; Serve runs it.
func New(opt Options) *Agent {
	if opt.HTTP == nil {
		// A fresh connection for every request to a provider: refreshes
		// come minutes apart, long after servers close idle connections
		// (Node's default is 5 s), and a POST sent on a connection the
		// server is closing fails with EOF, which Go does not retry for a
		// POST, and which must not be retried blindly: had the provider
		// seen it, a second refresh would replay a rotated token and end
		// the session. The handshake costs nothing at that rate.
		t := http.DefaultTransport.(*http.Transport).Clone()
		t.DisableKeepAlives = true
		opt.HTTP = &http.Client{Timeout: 30 * time.Second, Transport: t}
	}
	if opt.Now == nil {
		opt.Now = time.Now
	}
	if opt.Log == nil {
		opt.Log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	a := &Agent{
		opt:       opt,
		log:       opt.Log,
		now:       opt.Now,
		sessions:  map[string]*session{},
		providers: map[string]*providerEntry{},
		rates:     map[string]*rateWindow{},
	}
	if opt.AuditLog != "" {
		a.audit, a.auditErr = auditlog.Open(opt.AuditLog, auditlog.Options{Now: a.now})
	}
	a.started = a.now()
	a.lastActive = a.started
	a.bg, a.cancel = context.WithCancel(context.Background())
	return a
}

// Serve accepts connections on ln until ctx ends, a stop request comes, or
// the agent has been idle for the configured timeout.
func (a *Agent) Serve(ctx context.Context, ln net.Listener) error {
	defer a.cancel()
	defer a.audit.Close()
	if a.auditErr != nil {
		a.log.Error("no audit log: serving without one", "err", a.auditErr)
	}
	ctx, stop := context.WithCancel(ctx)
	defer stop()
	go func() {
		<-ctx.Done()
		ln.Close()
	}()
	go a.idleWatch(ctx, stop)
	a.log.Info("agent started", "pid", os.Getpid(), "version", version.String(), "socket", a.opt.Socket,
		"config", a.opt.ConfigPath, "store", a.opt.Store.Describe().Name, "audit", a.audit.Path())
	for {
		conn, err := ln.Accept()
		if err != nil {
			if ctx.Err() != nil {
				break
			}
			if ne, ok := err.(net.Error); ok && ne.Timeout() {
				continue
			}
			return fmt.Errorf("agent: accept: %w", err)
		}
		a.touch(+1)
		a.wg.Add(1)
		go func() {
			defer a.wg.Done()
			defer a.touch(-1)
			defer conn.Close()
			a.serveConn(ctx, stop, conn)
		}()
	}
	done := make(chan struct{})
	go func() { a.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
	}
	a.log.Info("agent stopped")
	return nil
}

func (a *Agent) touch(delta int) {
	a.mu.Lock()
	a.active += delta
	a.lastActive = a.now()
	a.mu.Unlock()
}

func (a *Agent) idleWatch(ctx context.Context, stop func()) {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		idle := a.idleTimeout()
		a.mu.Lock()
		quiet := a.active == 0 && a.logins == 0 && a.now().Sub(a.lastActive) >= idle
		a.mu.Unlock()
		if quiet {
			a.log.Info("idle timeout: exiting", "idle", idle)
			stop()
			return
		}
	}
}

func (a *Agent) idleTimeout() time.Duration {
	if cfg, err := a.config(); err == nil && cfg.Agent.IdleTimeout > 0 {
		return cfg.Agent.IdleTimeout
	}
	return 30 * time.Minute
}

// serveConn answers one request.
func (a *Agent) serveConn(ctx context.Context, stop func(), conn net.Conn) {
	cred, err := peercred.Get(conn)
	switch {
	case errors.Is(err, peercred.ErrUnsupported):
		// No peer credentials on this OS: the socket folder's permissions
		// are the only gate.
	case err != nil:
		a.log.Warn("refused connection: no peer credentials", "err", err)
		a.record(auditlog.Event{Event: auditlog.Refused, Reason: "no peer credentials: " + err.Error()})
		a.refuse(conn, "cannot identify the caller")
		return
	case !cred.SameUser():
		a.log.Warn("refused connection from another user", "uid", cred.UID, "sid", cred.SID, "pid", cred.PID)
		reason := fmt.Sprintf("%s may not use the agent of %s", cred.User(), peercred.Self().User())
		a.record(auditlog.Event{Event: auditlog.Refused, Peer: caller{Cred: cred}.peer(), Reason: reason})
		a.refuse(conn, reason)
		return
	}
	c := caller{Cred: cred}
	if cred.PID > 0 {
		// Read at once: the peer waits for our answer, so its pid is
		// still its own.
		c.exe, _ = peercred.Exe(cred.PID)
	}
	conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	var req wire.Request
	if err := wire.NewReader(conn).Read(&req); err != nil {
		a.reply(conn, errResp(wire.CodeBadRequest, "bad request: "+err.Error()))
		return
	}
	conn.SetReadDeadline(time.Time{})
	if req.V != wire.Version {
		a.reply(conn, errResp(wire.CodeBadRequest, fmt.Sprintf("this agent speaks protocol %d, the client %d: run `mayfly agent stop` so the current version starts", wire.Version, req.V)))
		return
	}
	if req.Config != "" && req.Config != a.opt.ConfigPath && req.Op != wire.OpStop && req.Op != wire.OpPing {
		a.reply(conn, errResp(wire.CodeConfig, fmt.Sprintf("the agent on %s serves %s, not %s: run `mayfly agent stop` or set MAYFLY_AGENT_SOCKET", a.opt.Socket, a.opt.ConfigPath, req.Config)))
		return
	}
	c.consumer = clip(req.Consumer, 64)
	switch req.Op {
	case wire.OpPing:
		a.reply(conn, wire.Response{})
	case wire.OpToken:
		a.reply(conn, a.token(ctx, c, req))
	case wire.OpErase:
		a.reply(conn, a.erase(c, req))
	case wire.OpStatus:
		a.reply(conn, a.status(ctx))
	case wire.OpKey:
		a.reply(conn, a.keyOp(ctx))
	case wire.OpLogout:
		a.reply(conn, a.logout(ctx, c, req))
	case wire.OpLogin:
		a.login(ctx, c, conn, req)
	case wire.OpStaticGet, wire.OpStaticSet, wire.OpStaticErase, wire.OpStaticList:
		a.reply(conn, a.static(ctx, c, req))
	case wire.OpStop:
		a.log.Info("stop requested", "pid", cred.PID)
		a.reply(conn, wire.Response{})
		stop()
	default:
		a.reply(conn, errResp(wire.CodeBadRequest, fmt.Sprintf("unknown op %q", req.Op)))
	}
}

type caller struct {
	peercred.Cred
	consumer string // as the client says: for the logs, never for a decision
	exe      string // the peer's executable, "" when unknown
}

func (c caller) peer() *auditlog.Peer {
	return &auditlog.Peer{PID: c.PID, UID: c.UID, Exe: c.exe}
}

// clip shortens s, a value a client chose, to at most n bytes for the logs.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}

// record writes e to the audit log, if there is one, stamped with the
// agent's clock.
func (a *Agent) record(e auditlog.Event) {
	if a.audit == nil {
		return
	}
	if e.Time.IsZero() {
		e.Time = a.now()
	}
	if err := a.audit.Log(e); err != nil {
		a.log.Warn("audit log write failed", "err", err)
	}
}

func (a *Agent) refuse(conn net.Conn, msg string) {
	a.reply(conn, errResp(wire.CodeRefused, "mayfly agent: refused: "+msg))
}

func (a *Agent) reply(w io.Writer, r wire.Response) {
	if err := wire.Write(w, r); err != nil {
		a.log.Debug("reply failed", "err", err)
	}
}

func errResp(code, msg string) wire.Response {
	return wire.Response{Error: &wire.Error{Code: code, Message: msg}}
}

// config returns the configuration, reloading it when the file changed, so
// an edit takes effect on the next call without restarting the agent.
func (a *Agent) config() (*config.Config, error) {
	a.cfgMu.Lock()
	defer a.cfgMu.Unlock()
	st, statErr := os.Stat(a.opt.ConfigPath)
	if a.cfg != nil || a.cfgErr != nil {
		same := (statErr != nil && a.cfgStat == nil) ||
			(statErr == nil && a.cfgStat != nil && st.ModTime().Equal(a.cfgStat.ModTime()) && st.Size() == a.cfgStat.Size())
		if same {
			return a.cfg, a.cfgErr
		}
	}
	cfg, err := config.Load(a.opt.ConfigPath)
	a.cfg, a.cfgErr, a.cfgStat = cfg, err, nil
	if statErr == nil {
		a.cfgStat = st
	}
	if err != nil {
		a.log.Error("configuration refused", "err", err)
	} else {
		a.log.Info("configuration loaded", "path", a.opt.ConfigPath, "profiles", strings.Join(cfg.ProfileNames(), ","))
	}
	return a.cfg, a.cfgErr
}
