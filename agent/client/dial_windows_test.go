package client

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/Microsoft/go-winio"

	"github.com/mayflyhq/mayfly/agent/wire"
)

// On Windows the client's tests are these: client_test.go plays the agent on
// a UNIX socket and is built on UNIX only. The agent package's tests run
// the real agent on a pipe through this client.

func testPipe(t *testing.T) string {
	t.Helper()
	return fmt.Sprintf(`\\.\pipe\mayfly-client-test-%d-%d`, os.Getpid(), time.Now().UnixNano())
}

// servePipe answers every request on a new pipe with a response carrying
// the request's op as its token, until the test ends.
func servePipe(t *testing.T, cfg *winio.PipeConfig) string {
	t.Helper()
	name := testPipe(t)
	ln, err := winio.ListenPipe(name, cfg)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Go(func() {
				defer conn.Close()
				var req wire.Request
				if err := wire.NewReader(conn).Read(&req); err != nil {
					return
				}
				wire.Write(conn, wire.Response{Token: req.Op})
			})
		}
	})
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	return name
}

func testCtx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return c
}

func TestPipeNotRunning(t *testing.T) {
	c := &Client{Socket: testPipe(t)}
	if _, err := c.Do(testCtx(t), wire.Request{Op: wire.OpPing}); !errors.Is(err, ErrNotRunning) {
		t.Errorf("Do with no agent: %v, want ErrNotRunning", err)
	}
	if c.Running(testCtx(t)) {
		t.Error("Running = true with no agent")
	}
}

func TestPipeRoundTrip(t *testing.T) {
	c := &Client{Socket: servePipe(t, nil)}
	if !c.Running(testCtx(t)) {
		t.Fatal("Running = false")
	}
	// Many at once: the pipe is busy between two Accepts, and the dial waits.
	var wg sync.WaitGroup
	for i := range 20 {
		wg.Go(func() {
			resp, err := c.Do(testCtx(t), wire.Request{Op: wire.OpStatus})
			if err != nil || resp.Token != wire.OpStatus {
				t.Errorf("caller %d: %+v, %v", i, resp, err)
			}
		})
	}
	wg.Wait()
}

// A pipe that does not admit this user, as one another user created under
// our pipe's name could be, is an error that says so: not "not running",
// which would start an agent that cannot listen.
func TestPipeOfAnotherUser(t *testing.T) {
	c := &Client{Socket: servePipe(t, &winio.PipeConfig{SecurityDescriptor: "D:P(A;;GA;;;SY)"}), Autostart: true, AgentBin: "must-not-start"}
	_, err := c.Do(testCtx(t), wire.Request{Op: wire.OpPing})
	if err == nil || errors.Is(err, ErrNotRunning) || !strings.Contains(err.Error(), "does not admit you") {
		t.Errorf("Do on a pipe only SYSTEM may open: %v", err)
	}
}
