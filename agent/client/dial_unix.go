//go:build unix

package client

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"syscall"

	"github.com/mayflyhq/mayfly/internal/peercred"
)

func (c *Client) connect(ctx context.Context) (net.Conn, error) {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "unix", c.Socket)
	if err != nil {
		return nil, err
	}
	// Refuse an agent run by someone else: in a shared temporary folder
	// another user could have put a socket where ours should be.
	if cred, err := peercred.Get(conn); err == nil && cred.UID != os.Getuid() {
		conn.Close()
		return nil, fmt.Errorf("agent socket %s belongs to uid %d, not to you: refusing it", c.Socket, cred.UID)
	}
	return conn, nil
}

func notRunning(err error) bool {
	return errors.Is(err, syscall.ENOENT) || errors.Is(err, syscall.ECONNREFUSED)
}
