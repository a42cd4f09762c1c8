package peercred

import (
	"context"
	"fmt"
	"net"
	"os"
	"testing"
	"time"

	"github.com/Microsoft/go-winio"
	"golang.org/x/sys/windows"
)

// TestGetPipe reads each end's peer over a real named pipe: both ends are
// this process, so both see its pid and its user's SID.
func TestGetPipe(t *testing.T) {
	name := fmt.Sprintf(`\\.\pipe\mayfly-peercred-test-%d-%d`, os.Getpid(), time.Now().UnixNano())
	ln, err := winio.ListenPipe(name, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			c = nil
		}
		accepted <- c
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	client, err := winio.DialPipeContext(ctx, name)
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	server := <-accepted
	if server == nil {
		t.Fatal("accept failed")
	}
	defer server.Close()

	u, err := windows.GetCurrentProcessToken().GetTokenUser()
	if err != nil {
		t.Fatal(err)
	}
	want := Cred{PID: os.Getpid(), UID: -1, SID: u.User.Sid.String()}
	for end, conn := range map[string]net.Conn{"server": server, "client": client} {
		got, err := Get(conn)
		if err != nil || got != want || !got.SameUser() {
			t.Errorf("Get(%s end) = %+v, %v; want %+v, SameUser", end, got, err, want)
		}
	}
	if Self() != want {
		t.Errorf("Self() = %+v, want %+v", Self(), want)
	}
}

func TestProcessSIDNoProcess(t *testing.T) {
	// Process ids are multiples of 4; no process has an odd one.
	if sid, err := processSID(1<<30 + 1); err == nil {
		t.Errorf("processSID of no process = %q, want an error", sid)
	}
}
