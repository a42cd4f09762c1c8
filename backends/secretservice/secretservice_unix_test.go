//go:build linux || freebsd

package secretservice_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/godbus/dbus/v5"

	"github.com/mayflyhq/mayfly/backends"
	"github.com/mayflyhq/mayfly/backends/backendtest"
	"github.com/mayflyhq/mayfly/backends/secretservice"
	"github.com/mayflyhq/mayfly/internal/testpeers"
)

var _ backendtest.Store = (*secretservice.Store)(nil)

const loginCollection = dbus.ObjectPath("/org/freedesktop/secrets/collection/login")

func TestMain(m *testing.M) {
	// Never reach the developer's own session bus: every test starts a
	// private one and names its address.
	os.Unsetenv("DBUS_SESSION_BUS_ADDRESS")
	os.Exit(m.Run())
}

// peerMissing skips the test when a peer is not installed, unless
// MAYFLY_REQUIRE_PEERS=1 (as under `make test`) makes that a failure.
func peerMissing(t *testing.T, err error) {
	t.Helper()
	if errors.Is(err, exec.ErrNotFound) && os.Getenv("MAYFLY_REQUIRE_PEERS") != "1" {
		t.Skipf("%v (scripts/install-peers.sh installs it)", err)
	}
	t.Fatal(err)
}

// secretService starts gnome-keyring on a private bus for this test and
// returns the bus address.
func secretService(t *testing.T) string {
	t.Helper()
	addr, stop, err := testpeers.StartSecretService(t.Context(), t.TempDir())
	if err != nil {
		peerMissing(t, err)
	}
	t.Cleanup(stop)
	return addr
}

// busConn connects the test itself to the private bus at addr.
func busConn(t *testing.T, addr string) *dbus.Conn {
	t.Helper()
	conn, err := dbus.Connect(addr)
	if err != nil {
		t.Fatalf("connect to %s: %v", addr, err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

func service(conn *dbus.Conn) dbus.BusObject {
	return conn.Object("org.freedesktop.secrets", "/org/freedesktop/secrets")
}

// within fails the test if fn takes longer than limit.
func within(t *testing.T, limit time.Duration, what string, fn func()) {
	t.Helper()
	start := time.Now()
	fn()
	if d := time.Since(start); d > limit {
		t.Errorf("%s took %v, want at most %v", what, d, limit)
	}
}

func TestConformance(t *testing.T) {
	addr := secretService(t)
	backendtest.Run(t, func(t *testing.T) backendtest.Store {
		// gnome-keyring answers one call at a time. The suite's
		// concurrency test keeps two dozen clients busy, which on a
		// loaded machine (make test, -race) can queue a call for longer
		// than DefaultTimeout; the timeouts have tests of their own.
		return secretservice.New(secretservice.Options{Address: addr, Timeout: 30 * time.Second})
	})
}

func TestAddressFromEnvironment(t *testing.T) {
	addr := secretService(t)
	t.Setenv("DBUS_SESSION_BUS_ADDRESS", addr)
	s := secretservice.New(secretservice.Options{})
	if err := s.Available(t.Context()); err != nil {
		t.Fatalf("Available with $DBUS_SESSION_BUS_ADDRESS set: %v", err)
	}
}

func TestDescribe(t *testing.T) {
	addr := secretService(t)
	s := secretservice.New(secretservice.Options{Address: addr})
	d := s.Describe()
	if d.Name != "secret-service" || d.Protection != backends.ProtectionOSUser {
		t.Errorf("Describe() = %+v, want Name secret-service, Protection OS user", d)
	}
	if err := s.Available(t.Context()); err != nil {
		t.Fatalf("Available: %v", err)
	}
	d = s.Describe()
	for _, want := range []string{"gnome-keyring-daemon", `collection "login"`} {
		if !strings.Contains(d.Detail, want) {
			t.Errorf("after Available, Describe().Detail = %q, want it to contain %q", d.Detail, want)
		}
	}
}

// TestSecretTool checks that libsecret's own client sees what the store
// writes, and the other way round.
func TestSecretTool(t *testing.T) {
	tool, err := exec.LookPath("secret-tool")
	if err != nil {
		peerMissing(t, err)
	}
	addr := secretService(t)
	s := secretservice.New(secretservice.Options{Address: addr})
	env := []string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir(), "DBUS_SESSION_BUS_ADDRESS=" + addr}
	secretTool := func(stdin string, args ...string) string {
		t.Helper()
		cmd := exec.Command(tool, args...)
		cmd.Env = env
		cmd.Stdin = strings.NewReader(stdin)
		// secret-tool search prints the attributes on stderr.
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("secret-tool %q: %v: %s", args, err, out)
		}
		return string(out)
	}

	const key = "https://git.example.com/ profile=work"
	value := []byte(`{"refresh_token":"rt-1","issuer":"https://login.example"}`)
	if err := s.Set(t.Context(), key, value); err != nil {
		t.Fatalf("Set: %v", err)
	}
	out := secretTool("", "search", "--all", "application", "mayfly")
	for _, want := range []string{
		"label = Mayfly: " + key + "\n",
		"attribute.application = mayfly\n",
		"attribute.mayfly-key = " + key + "\n",
		"secret = " + string(value) + "\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("secret-tool search application mayfly:\n%s\nwant it to contain %q", out, want)
		}
	}
	// The item is in the default collection, gnome-keyring's "login".
	var unlocked, locked []dbus.ObjectPath
	err = service(busConn(t, addr)).Call("org.freedesktop.Secret.Service.SearchItems", 0,
		map[string]string{"application": "mayfly", "mayfly-key": key}).Store(&unlocked, &locked)
	if err != nil || len(unlocked) != 1 || !strings.HasPrefix(string(unlocked[0]), string(loginCollection)+"/") {
		t.Errorf("SearchItems = %v, %v, %v; want one item in the login collection", unlocked, locked, err)
	}
	if got := secretTool("", "lookup", "application", "mayfly", "mayfly-key", key); got != string(value) {
		t.Errorf("secret-tool lookup = %q, want %q", got, value)
	}

	// An item libsecret stores (its session, its xdg:schema attribute) is
	// one of ours if its attributes say so; other applications' items are
	// not listed.
	secretTool("from libsecret", "store", "--label=x", "application", "mayfly", "mayfly-key", "from-secret-tool")
	secretTool("not ours", "store", "--label=y", "application", "other", "mayfly-key", "foreign")
	got, err := s.Get(t.Context(), "from-secret-tool")
	if err != nil || string(got) != "from libsecret" {
		t.Errorf(`Get("from-secret-tool") = %q, %v; want "from libsecret"`, got, err)
	}
	keys, err := s.List(t.Context())
	if err != nil {
		t.Fatalf("List: %v", err)
	}
	if want := []string{key, "from-secret-tool"}; !slices.Equal(keys, slices.Sorted(slices.Values(want))) {
		t.Errorf("List = %q, want %q", keys, slices.Sorted(slices.Values(want)))
	}

	// Set replaces libsecret's item, which has an extra xdg:schema
	// attribute, rather than adding a second item for the key.
	if err := s.Set(t.Context(), "from-secret-tool", []byte("from mayfly")); err != nil {
		t.Fatalf("Set: %v", err)
	}
	if got, err := s.Get(t.Context(), "from-secret-tool"); err != nil || string(got) != "from mayfly" {
		t.Errorf(`Get("from-secret-tool") after Set = %q, %v; want "from mayfly"`, got, err)
	}
	if out := secretTool("", "search", "--all", "application", "mayfly", "mayfly-key", "from-secret-tool"); strings.Count(out, "label = ") != 1 {
		t.Errorf("secret-tool search after Set:\n%s\nwant exactly one item", out)
	}

	if err := s.Delete(t.Context(), key); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	if out := secretTool("", "search", "--all", "application", "mayfly", "mayfly-key", key); out != "" {
		t.Errorf("secret-tool search after Delete:\n%s\nwant nothing", out)
	}
}

// monitor records every message on the bus at addr from now on, through the
// bus's monitoring interface. The returned function waits until the bus has
// delivered everything sent before the call and returns the messages.
func monitor(t *testing.T, addr string) func() []*dbus.Message {
	t.Helper()
	conn := busConn(t, addr)
	// Once eavesdropping, godbus hands every incoming message to ch,
	// replies included, so the reply to BecomeMonitor is awaited there.
	ch := make(chan *dbus.Message, 64)
	conn.Eavesdrop(ch)
	call := conn.BusObject().Go("org.freedesktop.DBus.Monitoring.BecomeMonitor", 0, nil, []string{}, uint32(0))
	timeout := time.After(5 * time.Second)
	for monitoring := false; !monitoring; {
		select {
		case m := <-ch:
			// Skip what came before, such as the NameAcquired signal.
			switch m.Type {
			case dbus.TypeMethodReply:
				monitoring = true
			case dbus.TypeError:
				t.Fatalf("BecomeMonitor: %s", m)
			}
		case <-call.Done: // an error from godbus itself
			t.Fatalf("BecomeMonitor: %v", call.Err)
		case <-timeout:
			t.Fatal("BecomeMonitor: no reply")
		}
	}
	var (
		mu   sync.Mutex
		msgs []*dbus.Message
	)
	go func() {
		for m := range ch {
			mu.Lock()
			msgs = append(msgs, m)
			mu.Unlock()
		}
	}()
	return func() []*dbus.Message {
		t.Helper()
		// A marker call the monitor sees after everything before it.
		marker := "mayfly.test.Marker" + rand.Text()[:8]
		busConn(t, addr).BusObject().Call("org.freedesktop.DBus.NameHasOwner", 0, marker)
		deadline := time.Now().Add(5 * time.Second)
		for time.Now().Before(deadline) {
			mu.Lock()
			seen := slices.ContainsFunc(msgs, func(m *dbus.Message) bool {
				return len(m.Body) == 1 && m.Body[0] == marker
			})
			out := slices.Clone(msgs)
			mu.Unlock()
			if seen {
				return out
			}
			time.Sleep(10 * time.Millisecond)
		}
		t.Fatal("the bus monitor never saw the marker call")
		return nil
	}
}

// TestEncryptedSession checks on the wire that values cross the bus only
// encrypted.
func TestEncryptedSession(t *testing.T) {
	addr := secretService(t)
	s := secretservice.New(secretservice.Options{Address: addr})
	messages := monitor(t, addr)
	value := []byte("refresh-token-that-must-not-appear-on-the-bus-" + rand.Text())
	if err := s.Set(t.Context(), "wire", value); err != nil {
		t.Fatalf("Set: %v", err)
	}
	if got, err := s.Get(t.Context(), "wire"); err != nil || !bytes.Equal(got, value) {
		t.Fatalf("Get = %q, %v; want %q", got, err, value)
	}
	msgs := messages()
	var sawSession, sawSecret bool
	for _, m := range msgs {
		if member, _ := m.Headers[dbus.FieldMember].Value().(string); member == "OpenSession" && m.Type == dbus.TypeMethodCall {
			sawSession = true
			if alg, _ := m.Body[0].(string); alg != "dh-ietf1024-sha256-aes128-cbc-pkcs7" {
				t.Errorf("OpenSession algorithm %q, want dh-ietf1024-sha256-aes128-cbc-pkcs7", alg)
			}
		}
		var raw bytes.Buffer
		if err := m.EncodeTo(&raw, binary.LittleEndian); err != nil {
			t.Fatalf("encode a captured message: %v", err)
		}
		member, _ := m.Headers[dbus.FieldMember].Value().(string)
		if member == "CreateItem" {
			sawSecret = true
		}
		if bytes.Contains(raw.Bytes(), value) {
			t.Errorf("the value crossed the bus in the clear, in a message of type %v (member %q, serial %d)", m.Type, member, m.Serial())
		}
	}
	if !sawSession || !sawSecret {
		t.Errorf("the monitor saw %d messages but not OpenSession (%v) and CreateItem (%v)", len(msgs), sawSession, sawSecret)
	}
}

func TestLocked(t *testing.T) {
	addr := secretService(t)
	const timeout = 2 * time.Second
	s := secretservice.New(secretservice.Options{Address: addr, Timeout: timeout})
	if err := s.Set(t.Context(), "locked-key", []byte("v")); err != nil {
		t.Fatalf("Set: %v", err)
	}

	// Service.Lock, as the desktop does when the screen locks.
	conn := busConn(t, addr)
	var locked []dbus.ObjectPath
	var prompt dbus.ObjectPath
	err := service(conn).Call("org.freedesktop.Secret.Service.Lock", 0, []dbus.ObjectPath{loginCollection}).Store(&locked, &prompt)
	if err != nil || !slices.Contains(locked, loginCollection) || prompt != "/" {
		t.Fatalf("Lock = %v, %v, %v; want the login collection locked without a prompt", locked, prompt, err)
	}

	messages := monitor(t, addr)
	ops := map[string]func(context.Context) error{
		"Available": s.Available,
		"Get":       func(ctx context.Context) error { _, err := s.Get(ctx, "locked-key"); return err },
		"Set":       func(ctx context.Context) error { return s.Set(ctx, "locked-key", []byte("w")) },
		"Delete":    func(ctx context.Context) error { return s.Delete(ctx, "locked-key") },
		"List":      func(ctx context.Context) error { _, err := s.List(ctx); return err },
	}
	for name, op := range ops {
		within(t, timeout, name, func() {
			err := op(t.Context())
			if !errors.Is(err, secretservice.ErrLocked) || errors.Is(err, backends.ErrUnsupported) {
				t.Errorf("%s on a locked collection = %v, want an error matching ErrLocked only", name, err)
			} else if !strings.Contains(err.Error(), "the Secret Service collection is locked: unlock your keyring (log in to the desktop, or run gnome-keyring-daemon --unlock)") {
				t.Errorf("%s on a locked collection = %q, want the documented message", name, err)
			}
		})
	}
	// Nothing asked the Secret Service to unlock, so nothing could have
	// shown a prompt.
	for _, m := range messages() {
		member, _ := m.Headers[dbus.FieldMember].Value().(string)
		iface, _ := m.Headers[dbus.FieldInterface].Value().(string)
		if m.Type == dbus.TypeMethodCall && (member == "Unlock" || iface == "org.freedesktop.Secret.Prompt") {
			t.Errorf("the store called %s.%s without Options.Prompt", iface, member)
		}
	}

	// With Prompt, the store asks to unlock and shows the prompt. This
	// headless gnome-keyring has no prompter to show it with, so the
	// prompt fails (or is left unanswered), within the time allowed.
	const promptTimeout = time.Second
	p := secretservice.New(secretservice.Options{Address: addr, Timeout: timeout, Prompt: true, PromptTimeout: promptTimeout})
	messages = monitor(t, addr)
	within(t, timeout+promptTimeout+time.Second, "Get with Prompt", func() {
		if _, err := p.Get(t.Context(), "locked-key"); err == nil {
			t.Error("Get with Prompt on a locked collection and no prompter succeeded")
		} else {
			t.Logf("Get with Prompt and no prompter: %v", err)
		}
	})
	if !slices.ContainsFunc(messages(), func(m *dbus.Message) bool {
		iface, _ := m.Headers[dbus.FieldInterface].Value().(string)
		member, _ := m.Headers[dbus.FieldMember].Value().(string)
		return m.Type == dbus.TypeMethodCall && iface == "org.freedesktop.Secret.Prompt" && member == "Prompt"
	}) {
		t.Error("with Options.Prompt the store never called Prompt.Prompt")
	}
	// Available never prompts.
	if err := p.Available(t.Context()); !errors.Is(err, secretservice.ErrLocked) {
		t.Errorf("Available with Prompt on a locked collection = %v, want ErrLocked", err)
	}
}

func TestNoBus(t *testing.T) {
	s := secretservice.New(secretservice.Options{}) // $DBUS_SESSION_BUS_ADDRESS is unset
	err := s.Available(t.Context())
	if !errors.Is(err, backends.ErrUnsupported) || !strings.Contains(err.Error(), "no D-Bus session bus ($DBUS_SESSION_BUS_ADDRESS unset)") {
		t.Errorf("Available without a bus = %v, want the documented ErrUnsupported error", err)
	}
	if _, err := s.Get(t.Context(), "k"); !errors.Is(err, backends.ErrUnsupported) {
		t.Errorf("Get without a bus = %v, want ErrUnsupported", err)
	}
	if d := s.Describe(); d.Name != "secret-service" {
		t.Errorf("Describe().Name = %q", d.Name)
	}

	// A bus address whose socket does not exist.
	s = secretservice.New(secretservice.Options{Address: "unix:path=" + filepath.Join(t.TempDir(), "no-such-bus"), Timeout: time.Second})
	within(t, time.Second, "Get on a missing socket", func() {
		_, err := s.Get(t.Context(), "k")
		if !errors.Is(err, backends.ErrUnsupported) || !strings.Contains(err.Error(), "cannot connect to the D-Bus session bus") {
			t.Errorf("Get on a missing socket = %v, want a connect error matching ErrUnsupported", err)
		}
	})
}

func TestNoSecretService(t *testing.T) {
	addr, stop, err := testpeers.StartSessionBus(t.Context(), t.TempDir())
	if err != nil {
		peerMissing(t, err)
	}
	t.Cleanup(stop)
	s := secretservice.New(secretservice.Options{Address: addr, Timeout: 2 * time.Second})
	within(t, 2*time.Second, "Available on a bus without a Secret Service", func() {
		err := s.Available(t.Context())
		if !errors.Is(err, backends.ErrUnsupported) || !strings.Contains(err.Error(), "no Secret Service on the D-Bus session bus") {
			t.Errorf("Available = %v, want the no-Secret-Service error matching ErrUnsupported", err)
		}
	})
	if err := s.Set(t.Context(), "k", []byte("v")); !errors.Is(err, backends.ErrUnsupported) {
		t.Errorf("Set = %v, want ErrUnsupported", err)
	}
}

func TestNoDefaultCollection(t *testing.T) {
	addr := secretService(t)
	conn := busConn(t, addr)
	s := secretservice.New(secretservice.Options{Address: addr})

	// Without the alias "default", the "login" collection is used.
	if err := service(conn).Call("org.freedesktop.Secret.Service.SetAlias", 0, "default", dbus.ObjectPath("/")).Err; err != nil {
		t.Fatalf("SetAlias(default, /): %v", err)
	}
	if err := s.Set(t.Context(), "k", []byte("v")); err != nil {
		t.Fatalf("Set without a default alias: %v", err)
	}
	if !strings.Contains(s.Describe().Detail, `collection "login"`) {
		t.Errorf("Describe().Detail = %q, want the login collection", s.Describe().Detail)
	}

	// Without a login collection either, the store fails and creates none.
	var prompt dbus.ObjectPath
	if err := conn.Object("org.freedesktop.secrets", loginCollection).Call("org.freedesktop.Secret.Collection.Delete", 0).Store(&prompt); err != nil || prompt != "/" {
		t.Fatalf("delete the login collection: prompt %q, %v", prompt, err)
	}
	collections := func() []dbus.ObjectPath {
		v, err := service(conn).GetProperty("org.freedesktop.Secret.Service.Collections")
		if err != nil {
			t.Fatalf("Collections: %v", err)
		}
		return v.Value().([]dbus.ObjectPath)
	}
	before := collections()
	for name, err := range map[string]error{
		"Available": s.Available(t.Context()),
		"Set":       s.Set(t.Context(), "k", []byte("v")),
	} {
		if !errors.Is(err, backends.ErrUnsupported) || !strings.Contains(err.Error(), "no default collection") {
			t.Errorf("%s without a default collection = %v, want the no-default-collection error", name, err)
		}
	}
	if after := collections(); !slices.Equal(before, after) {
		t.Errorf("collections changed from %v to %v: the store must create none", before, after)
	}
}

// TestHungService stops gnome-keyring (SIGSTOP): it keeps its bus name but
// answers nothing, like a hung daemon. Operations must give up in time.
func TestHungService(t *testing.T) {
	addr := secretService(t)
	conn := busConn(t, addr)
	var owner string
	var pid uint32
	if err := conn.BusObject().Call("org.freedesktop.DBus.GetNameOwner", 0, "org.freedesktop.secrets").Store(&owner); err != nil {
		t.Fatal(err)
	}
	if err := conn.BusObject().Call("org.freedesktop.DBus.GetConnectionUnixProcessID", 0, owner).Store(&pid); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Kill(int(pid), syscall.SIGSTOP); err != nil {
		t.Fatalf("SIGSTOP gnome-keyring-daemon (pid %d): %v", pid, err)
	}
	t.Cleanup(func() { syscall.Kill(int(pid), syscall.SIGCONT) })

	const timeout = 500 * time.Millisecond
	s := secretservice.New(secretservice.Options{Address: addr, Timeout: timeout})
	within(t, timeout+time.Second, "Get on a hung Secret Service", func() {
		_, err := s.Get(t.Context(), "k")
		if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "no answer from the Secret Service within 500ms") {
			t.Errorf("Get on a hung Secret Service = %v, want a timeout", err)
		}
	})
	within(t, timeout+time.Second, "Available on a hung Secret Service", func() {
		if err := s.Available(t.Context()); !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("Available on a hung Secret Service = %v, want a timeout", err)
		}
	})
}

// TestSilentBus points the store at a socket that accepts connections and
// never says a word, so even connecting must give up in time.
func TestSilentBus(t *testing.T) {
	dir, err := os.MkdirTemp("", "mfsilent")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	l, err := net.Listen("unix", filepath.Join(dir, "bus"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		var held []net.Conn
		defer func() {
			for _, c := range held {
				c.Close()
			}
		}()
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			held = append(held, c)
		}
	}()

	const timeout = 300 * time.Millisecond
	s := secretservice.New(secretservice.Options{Address: "unix:path=" + filepath.Join(dir, "bus"), Timeout: timeout})
	within(t, timeout+time.Second, "Set on a silent bus", func() {
		if err := s.Set(t.Context(), "k", []byte("v")); !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("Set on a silent bus = %v, want a timeout", err)
		}
	})
	// The caller's own cancellation is reported as such.
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := s.Get(ctx, "k"); !errors.Is(err, context.Canceled) {
		t.Errorf("Get with a canceled context = %v, want context.Canceled", err)
	}
}
