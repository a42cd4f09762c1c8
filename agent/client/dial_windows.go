package client

import (
	"context"
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/Microsoft/go-winio"
	"golang.org/x/sys/windows"

	"github.com/mayflyhq/mayfly/internal/peercred"
)

// busyWait bounds the wait for a free pipe instance. A running agent's pipe
// is busy between two Accepts, and from its creation until the first one;
// DialPipeContext then retries every 10 ms. A wedged agent must fail the
// helper, not hang it.
const busyWait = 5 * time.Second

// connect opens the agent's named pipe and makes sure the agent behind it
// runs as this user. The pipe namespace is shared by every user of the
// machine, so another user could have created our pipe's name first; its
// server would then be their process. go-winio dials at the anonymous
// impersonation level, so such a server cannot act as us either.
func (c *Client) connect(ctx context.Context) (net.Conn, error) {
	dctx, cancel := context.WithTimeout(ctx, busyWait)
	defer cancel()
	conn, err := winio.DialPipeContext(dctx, c.Socket)
	switch {
	case err == nil:
	case ctx.Err() != nil:
		return nil, ctx.Err()
	case errors.Is(err, context.DeadlineExceeded):
		return nil, fmt.Errorf("agent pipe %s: no free instance within %v: the agent is busy or stuck (`mayfly agent stop`)", c.Socket, busyWait)
	case errors.Is(err, windows.ERROR_ACCESS_DENIED):
		return nil, fmt.Errorf("agent pipe %s does not admit you: another user holds this name: %w", c.Socket, err)
	default:
		return nil, err
	}
	cred, err := peercred.Get(conn)
	if err != nil {
		conn.Close()
		return nil, fmt.Errorf("agent pipe %s: cannot tell who serves it, refusing it: %w", c.Socket, err)
	}
	if !cred.SameUser() {
		conn.Close()
		return nil, fmt.Errorf("agent pipe %s is served by %s (pid %d), not by you: refusing it", c.Socket, cred.User(), cred.PID)
	}
	return conn, nil
}

// notRunning reports whether the pipe does not exist: no agent serves it.
func notRunning(err error) bool {
	return errors.Is(err, windows.ERROR_FILE_NOT_FOUND)
}
