package agent

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"sync"
	"testing"
	"time"
	"unsafe"

	"github.com/Microsoft/go-winio"
	"golang.org/x/sys/windows"

	"github.com/mayflyhq/mayfly/agent/wire"
	"github.com/mayflyhq/mayfly/internal/auditlog"
	"github.com/mayflyhq/mayfly/internal/peercred"
)

// On Windows the agent's package tests are these and the shared helpers:
// the other test files were written against the UNIX socket (raw dials,
// file modes, /proc) and are built on UNIX only.

// testPipe returns a pipe name no other test or test process uses.
func testPipe(t *testing.T) string {
	t.Helper()
	return fmt.Sprintf(`\\.\pipe\mayfly-test-%d-%d-%s`, os.Getpid(), time.Now().UnixNano(), t.Name())
}

func mySID(t *testing.T) *windows.SID {
	t.Helper()
	u, err := windows.GetCurrentProcessToken().GetTokenUser()
	if err != nil {
		t.Fatal(err)
	}
	return u.User.Sid
}

// dialPipe connects to name while something accepts on ln.
func dialPipe(t *testing.T, ln net.Listener, name string) (client, server net.Conn) {
	t.Helper()
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
		t.Fatalf("dial %s: %v", name, err)
	}
	server = <-accepted
	if server == nil {
		client.Close()
		t.Fatal("accept failed")
	}
	t.Cleanup(func() { client.Close(); server.Close() })
	return client, server
}

func TestListenPipe(t *testing.T) {
	name := testPipe(t)
	ln, release, err := Listen(name)
	if err != nil {
		t.Fatal(err)
	}
	defer release()

	// A second agent on the same name learns that one runs.
	if _, release2, err := Listen(name); !errors.Is(err, ErrRunning) {
		if err == nil {
			release2()
		}
		t.Fatalf("second Listen on %s: %v, want ErrRunning", name, err)
	}

	client, server := dialPipe(t, ln, name)
	if _, err := client.Write([]byte("ping\n")); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 5)
	server.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := server.Read(buf); err != nil || string(buf) != "ping\n" {
		t.Fatalf("server read %q, %v", buf, err)
	}

	// Each end sees the other as this process and this user.
	me := mySID(t).String()
	for end, conn := range map[string]net.Conn{"server": server, "client": client} {
		cred, err := peercred.Get(conn)
		if err != nil {
			t.Fatalf("peercred.Get(%s end): %v", end, err)
		}
		if cred.PID != os.Getpid() || cred.SID != me || cred.UID != -1 || !cred.SameUser() {
			t.Errorf("peercred.Get(%s end) = %+v, want pid %d, SID %s, UID -1, SameUser", end, cred, os.Getpid(), me)
		}
	}
}

// TestPipeSecurity reads back the descriptor Windows applied to the pipe:
// owned by the user, a protected DACL with one entry, full access for the
// user's SID.
func TestPipeSecurity(t *testing.T) {
	name := testPipe(t)
	ln, release, err := Listen(name)
	if err != nil {
		t.Fatal(err)
	}
	defer release()
	client, _ := dialPipe(t, ln, name)
	h := windows.Handle(client.(interface{ Fd() uintptr }).Fd())
	sd, err := windows.GetSecurityInfo(h, windows.SE_KERNEL_OBJECT, windows.OWNER_SECURITY_INFORMATION|windows.DACL_SECURITY_INFORMATION)
	if err != nil {
		t.Fatalf("GetSecurityInfo: %v", err)
	}
	t.Logf("pipe security descriptor: %s", sd)
	me := mySID(t)

	owner, _, err := sd.Owner()
	if err != nil || owner == nil || !owner.Equals(me) {
		t.Errorf("owner %v, %v; want %s", owner, err, me)
	}
	control, _, err := sd.Control()
	if err != nil || control&windows.SE_DACL_PROTECTED == 0 {
		t.Errorf("control %#x, %v; want a protected DACL", control, err)
	}
	dacl, _, err := sd.DACL()
	if err != nil || dacl == nil {
		t.Fatalf("DACL %v, %v; want one", dacl, err)
	}
	if dacl.AceCount != 1 {
		t.Fatalf("%d entries in the DACL, want 1", dacl.AceCount)
	}
	var ace *windows.ACCESS_ALLOWED_ACE
	if err := windows.GetAce(dacl, 0, &ace); err != nil {
		t.Fatal(err)
	}
	sid := (*windows.SID)(unsafe.Pointer(&ace.SidStart))
	// GA is stored as is or mapped to the pipe's specific rights, FILE_ALL_ACCESS.
	const fileAllAccess = 0x1F01FF
	if ace.Header.AceType != windows.ACCESS_ALLOWED_ACE_TYPE || !sid.Equals(me) ||
		(ace.Mask != windows.GENERIC_ALL && ace.Mask&fileAllAccess != fileAllAccess) {
		t.Errorf("DACL entry: type %d, SID %s, mask %#x; want an allow entry for %s with full access", ace.Header.AceType, sid, ace.Mask, me)
	}
}

// TestAgentOverPipe runs the real agent, with the memory store and the fake
// provider, on a pipe: the helpers' round trip, many callers at once (the
// pipe is busy between two Accepts), the peer in the audit log, and
// ErrRunning for a second agent.
func TestAgentOverPipe(t *testing.T) {
	e := newEnv(t, "")
	e.seed("work")
	url := "https://git.work.example/org/repo.git"

	first := e.mustToken(url)
	if first.Token == "" {
		t.Fatalf("no token in %+v", first)
	}
	const n = 20
	var wg sync.WaitGroup
	errs := make([]error, n)
	toks := make([]string, n)
	for i := range n {
		wg.Go(func() {
			var resp wire.Response
			resp, errs[i] = e.token(url)
			toks[i] = resp.Token
		})
	}
	wg.Wait()
	for i := range n {
		if errs[i] != nil || toks[i] != first.Token {
			t.Errorf("caller %d: %v (same token: %v)", i, errs[i], toks[i] == first.Token)
		}
	}
	if st := e.status(); len(st.Profiles) == 0 {
		t.Error("status lists no profile")
	}

	issued := e.events(auditlog.TokenIssued)
	if len(issued) == 0 {
		t.Fatal("no token_issued event")
	}
	if p := issued[0].Peer; p == nil || p.PID != os.Getpid() {
		t.Errorf("token_issued peer %+v, want pid %d", p, os.Getpid())
	}
	if _, _, err := Listen(e.sock); !errors.Is(err, ErrRunning) {
		t.Errorf("Listen on a running agent's pipe: %v, want ErrRunning", err)
	}
	if !e.client.Running(context.Background()) {
		t.Error("Running = false for a running agent")
	}
}
