// Package client talks to the Mayfly agent over its UNIX socket (on Windows
// a named pipe, through go-winio, which other systems do not link) and
// starts the agent when none is running, the way git starts
// credential-cache--daemon and gpg starts gpg-agent. It links no HTTP, OAuth
// or storage code: a helper built on it is one process start plus one socket
// round trip.
package client

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"time"

	"github.com/mayflyhq/mayfly/agent/wire"
	"github.com/mayflyhq/mayfly/internal/envknob"
	"github.com/mayflyhq/mayfly/internal/paths"
)

// ErrNotRunning is returned when no agent runs and Autostart is off.
var ErrNotRunning = errors.New("no agent is running")

// Client reaches one agent.
type Client struct {
	Socket    string // agent socket path
	Config    string // config path this client resolved; the agent must serve the same
	Autostart bool   // start the agent when it is not running
	AgentBin  string // `mayfly` binary to start; "" finds it
}

// New returns a client configured from the environment.
func New() (*Client, error) {
	sock, err := paths.Socket()
	if err != nil {
		return nil, err
	}
	cfg, err := paths.Config()
	if err != nil {
		return nil, err
	}
	return &Client{Socket: sock, Config: cfg, Autostart: !envknob.Bool(envknob.NoAutostart), AgentBin: os.Getenv(envknob.AgentBin)}, nil
}

// Do sends req and returns the agent's one answer. An error the agent
// reports is returned as a *wire.Error.
func (c *Client) Do(ctx context.Context, req wire.Request) (wire.Response, error) {
	var last wire.Response
	err := c.Stream(ctx, req, func(r wire.Response) error { last = r; return nil })
	return last, err
}

// Ask is Do for a helper's hot path, for a request whose answer is one
// line without a list or a status in it: OpToken, OpErase, OpPing, OpStop
// and OpStaticGet, OpStaticSet, OpStaticErase (not OpLogin, OpLogout,
// OpStatus or OpStaticList). It decodes the answer with
// [wire.Reader.ReadReply], without encoding/json, so that a helper that
// only calls Ask does not link it; an answer Do would need for decoding
// fails with [wire.ErrNested].
func (c *Client) Ask(ctx context.Context, req wire.Request) (wire.Response, error) {
	rd, done, err := c.send(ctx, req)
	if err != nil {
		return wire.Response{}, err
	}
	defer done()
	var resp wire.Response
	if err := rd.ReadReply(&resp); err != nil {
		return wire.Response{}, c.readErr(ctx, err)
	}
	if resp.Error != nil {
		return wire.Response{}, resp.Error
	}
	return resp, nil
}

// Stream sends req and calls fn for each line until the agent closes the
// connection, fn fails, or ctx ends (which also tells the agent to stop, as
// it watches the connection).
func (c *Client) Stream(ctx context.Context, req wire.Request, fn func(wire.Response) error) error {
	rd, done, err := c.send(ctx, req)
	if err != nil {
		return err
	}
	defer done()
	for {
		var resp wire.Response
		if err := rd.Read(&resp); err != nil {
			return c.readErr(ctx, err)
		}
		if resp.Error != nil {
			return resp.Error
		}
		if err := fn(resp); err != nil {
			return err
		}
		if resp.Event == "" || resp.Event == wire.EventDone {
			return nil
		}
	}
}

// send connects (starting the agent if need be) and sends req. The
// answer is read from rd; done closes the connection. Until then, the end
// of ctx closes it, which ends a read and tells the agent to stop.
func (c *Client) send(ctx context.Context, req wire.Request) (rd *wire.Reader, done func(), err error) {
	conn, err := c.dial(ctx)
	if err != nil {
		return nil, nil, err
	}
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	done = func() {
		stop()
		conn.Close()
	}
	req.V = wire.Version
	if req.Config == "" {
		req.Config = c.Config
	}
	if err := wire.WriteRequest(conn, req); err != nil {
		done()
		return nil, nil, c.ctxErr(ctx, err)
	}
	return wire.NewReader(conn), done, nil
}

// readErr describes a failure to read the agent's answer.
func (c *Client) readErr(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if errors.Is(err, io.EOF) {
		err = errors.New("agent closed the connection without answering")
	}
	return fmt.Errorf("agent at %s: %w", c.Socket, err)
}

func (c *Client) ctxErr(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	return err
}

// Running reports whether an agent answers on the socket, without starting one.
func (c *Client) Running(ctx context.Context) bool {
	conn, err := c.connect(ctx)
	if err != nil {
		return false
	}
	conn.Close()
	return true
}

func (c *Client) dial(ctx context.Context) (io.ReadWriteCloser, error) {
	conn, err := c.connect(ctx)
	if err != nil && notRunning(err) && !c.Autostart {
		return nil, fmt.Errorf("%w on %s", ErrNotRunning, c.Socket)
	}
	if err == nil || !notRunning(err) {
		return conn, err
	}
	if err := c.start(); err != nil {
		return nil, err
	}
	// The agent binds its socket within milliseconds; poll briefly.
	deadline := time.Now().Add(10 * time.Second)
	for wait := 2 * time.Millisecond; ; wait = min(wait*2, 100*time.Millisecond) {
		conn, err = c.connect(ctx)
		if err == nil || !notRunning(err) || time.Now().After(deadline) {
			if err != nil {
				return nil, fmt.Errorf("agent did not start (see its log in %s): %w", logDir(), err)
			}
			return conn, nil
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(wait):
		}
	}
}

// start launches `mayfly agent` in its own session, detached from the
// consumer (git waits for its helper's stdout to close, so the agent must not
// inherit it). Its stderr goes to the agent log, which never holds a secret.
func (c *Client) start() error {
	bin, err := c.agentBin()
	if err != nil {
		return err
	}
	devnull, err := os.Open(os.DevNull)
	if err != nil {
		return err
	}
	defer devnull.Close()
	logf, err := openLog()
	if err != nil {
		return err
	}
	defer logf.Close()
	cmd := exec.Command(bin, "agent")
	cmd.Stdin, cmd.Stdout, cmd.Stderr = devnull, logf, logf
	cmd.Env = append(os.Environ(), envknob.AgentSocket+"="+c.Socket, envknob.Config+"="+c.Config)
	cmd.Dir = "/"
	detach(cmd)
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start agent %s: %w", bin, err)
	}
	return cmd.Process.Release()
}

func (c *Client) agentBin() (string, error) {
	if c.AgentBin != "" {
		return c.AgentBin, nil
	}
	if self, err := os.Executable(); err == nil {
		sib := filepath.Join(filepath.Dir(self), "mayfly"+exeSuffix)
		if st, err := os.Stat(sib); err == nil && !st.IsDir() {
			return sib, nil
		}
	}
	p, err := exec.LookPath("mayfly")
	if err != nil {
		return "", fmt.Errorf("agent not running and `mayfly` not found next to this helper or on PATH (set %s): %w", envknob.AgentBin, err)
	}
	return p, nil
}

func logDir() string {
	d, err := paths.State()
	if err != nil {
		return "the state folder"
	}
	return d
}

// LogPath is where an agent started by a helper writes its log.
func LogPath() string { return filepath.Join(logDir(), "agent.log") }

func openLog() (*os.File, error) {
	if err := os.MkdirAll(logDir(), 0o700); err != nil {
		return nil, fmt.Errorf("agent log folder: %w", err)
	}
	return os.OpenFile(LogPath(), os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
}
