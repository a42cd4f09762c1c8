package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mayflyhq/mayfly/agent/wire"
	"github.com/mayflyhq/mayfly/internal/testpeers"
)

var (
	binDir  string // the built helpers
	dexBin  string // "" when Dex is not installed
	peerErr error  // why not
)

func TestMain(m *testing.M) {
	// Re-executed as another user by TestOtherUserRefused: dial the agent,
	// print its answer and exit.
	if sock := os.Getenv("MAYFLY_E2E_DIAL"); sock != "" {
		os.Exit(dialAndPrint(sock))
	}
	os.Exit(run(m))
}

func run(m *testing.M) int {
	binDir = os.Getenv("MAYFLY_BIN_DIR")
	if binDir == "" {
		dir, err := os.MkdirTemp("", "mayfly-e2e-bin-")
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		defer os.RemoveAll(dir)
		out, err := exec.Command("go", "build", "-trimpath", "-o", dir+"/", "../helpers/...").CombinedOutput()
		if err != nil {
			fmt.Fprintf(os.Stderr, "e2e: building the helpers: %v\n%s", err, out)
			return 1
		}
		binDir = dir
	}
	var err error
	if binDir, err = filepath.Abs(binDir); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	dexBin, peerErr = testpeers.FindDex()
	if peerErr != nil && os.Getenv("MAYFLY_REQUIRE_PEERS") == "1" {
		fmt.Fprintf(os.Stderr, "e2e: MAYFLY_REQUIRE_PEERS=1 but %v (run scripts/install-peers.sh)\n", peerErr)
		return 1
	}
	return m.Run()
}

// world is one user's machine: a private HOME, XDG folders and runtime
// directory, a Dex, a git server that accepts only Dex's tokens, and a
// Mayfly config with one profile for that server.
type world struct {
	t       *testing.T
	dir     string
	env     []string
	dex     *testpeers.Dex
	git     *testpeers.GitServer
	cfgPath string
	work    string

	// The provider the person signs in at: Dex, unless a test set up
	// another one.
	issuer  string
	approve func(ctx context.Context, userCode string) error
}

type worldOptions struct {
	ttl  time.Duration // access token lifetime at Dex (default 60s)
	flow string        // profile flow (default device)
}

func newWorld(t *testing.T, opt worldOptions) *world {
	t.Helper()
	if dexBin == "" {
		t.Skipf("no Dex (%v); run scripts/install-peers.sh", peerErr)
	}
	if opt.flow == "" {
		opt.flow = "device"
	}
	w := newBareWorld(t)
	dir := w.dir
	ctx := context.Background()
	var err error
	w.dex, err = testpeers.StartDex(ctx, testpeers.DexOptions{Bin: dexBin, Dir: filepath.Join(dir, "dex"), TokenTTL: opt.ttl})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.dex.Close() })
	w.issuer, w.approve = w.dex.Issuer, w.dex.ApproveDevice
	w.git, err = testpeers.StartGitServer(ctx, w.dex.Issuer, testpeers.ClientID, filepath.Join(dir, "repos"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(w.git.Close)
	if err := w.git.CreateRepo("app", "# app\n"); err != nil {
		t.Fatal(err)
	}

	w.writeConfig(fmt.Sprintf(`[agent]
idle_timeout = "10m"

[profiles.corp]
issuer = %q
client_id = %q
scopes = ["openid", "offline_access", "email", "profile"]
flow = %q
match = [%q]
`, w.dex.Issuer, testpeers.ClientID, opt.flow, w.git.URL+"/"))
	w.mustRun("git", "config", "--global", "credential."+w.git.URL+".helper", "")
	w.mustRun("git", "config", "--global", "--add", "credential."+w.git.URL+".helper", "mayfly")
	// Stop the agent before the peers go.
	t.Cleanup(w.stopAgent)
	return w
}

// newBareWorld is a world with its folders and environment, and no peers.
func newBareWorld(t *testing.T) *world {
	t.Helper()
	// A short path: UNIX socket paths are limited to about 100 bytes.
	dir, err := os.MkdirTemp("", "mf-e2e-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	w := &world{t: t, dir: dir, work: filepath.Join(dir, "work")}
	for _, d := range []string{"home", "config/mayfly", "state", "run", "tmp", "repos", "work", "dex"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o700); err != nil {
			t.Fatal(err)
		}
	}
	w.env = append(filteredEnviron(),
		"HOME="+filepath.Join(dir, "home"),
		"XDG_CONFIG_HOME="+filepath.Join(dir, "config"),
		"XDG_STATE_HOME="+filepath.Join(dir, "state"),
		"XDG_RUNTIME_DIR="+filepath.Join(dir, "run"),
		"TMPDIR="+filepath.Join(dir, "tmp"),
		"PATH="+binDir+string(os.PathListSeparator)+os.Getenv("PATH"),
		"GIT_CONFIG_NOSYSTEM=1", "GIT_TERMINAL_PROMPT=0", "GIT_ASKPASS=", "SSH_ASKPASS=",
		"LC_ALL=C",
	)

	w.cfgPath = filepath.Join(dir, "config", "mayfly", "config.toml")
	// In case a test fails before it starts its peers; the constructors
	// that start peers register another stop after theirs, which runs
	// first (cleanups run last-in first-out).
	t.Cleanup(w.stopAgent)
	return w
}

// filteredEnviron is this process's environment without anything that
// would make a child use another user's Mayfly or git set-up.
func filteredEnviron() []string {
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(k, "MAYFLY_") || strings.HasPrefix(k, "GIT_") || strings.HasPrefix(k, "XDG_") {
			continue
		}
		switch k {
		// DBUS_SESSION_BUS_ADDRESS: never reach a developer's real
		// keyring; tests that want a Secret Service start their own.
		case "HOME", "PATH", "TMPDIR", "LC_ALL", "DBUS_SESSION_BUS_ADDRESS":
			continue
		}
		env = append(env, kv)
	}
	return env
}

func (w *world) writeConfig(s string) {
	w.t.Helper()
	if err := os.WriteFile(w.cfgPath, []byte(s), 0o600); err != nil {
		w.t.Fatal(err)
	}
}

// cmd runs one of our binaries from binDir, or a system program.
func (w *world) cmd(ctx context.Context, name string, args ...string) *exec.Cmd {
	if p := filepath.Join(binDir, name); fileExists(p) {
		name = p
	}
	c := exec.CommandContext(ctx, name, args...)
	c.Env, c.Dir = w.env, w.work
	c.WaitDelay = 5 * time.Second
	return c
}

type result struct {
	stdout, stderr string
	code           int
}

func (w *world) run(stdin string, name string, args ...string) result {
	w.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	c := w.cmd(ctx, name, args...)
	var so, se bytes.Buffer
	c.Stdin, c.Stdout, c.Stderr = strings.NewReader(stdin), &so, &se
	err := c.Run()
	var ee *exec.ExitError
	code := 0
	switch {
	case errors.As(err, &ee):
		code = ee.ExitCode()
	case err != nil:
		w.t.Fatalf("%s %s: %v", name, strings.Join(args, " "), err)
	}
	return result{so.String(), se.String(), code}
}

func (w *world) mustRun(name string, args ...string) result {
	w.t.Helper()
	return w.mustRunIn("", name, args...)
}

func (w *world) mustRunIn(stdin, name string, args ...string) result {
	w.t.Helper()
	r := w.run(stdin, name, args...)
	if r.code != 0 {
		w.t.Fatalf("%s %s: exit %d\nstdout: %s\nstderr: %s", name, strings.Join(args, " "), r.code, r.stdout, r.stderr)
	}
	return r
}

func (w *world) stopAgent() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	w.cmd(ctx, "mayfly", "agent", "stop").Run()
}

var userCodeRE = regexp.MustCompile(`^\s+([A-Z0-9]{4}-[A-Z0-9]{4})\s*$`)

// loginDevice runs `mayfly login --no-browser` with the device flow and
// approves the code it shows at Dex, over HTTP, as a person would.
func (w *world) loginDevice(args ...string) {
	w.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	c := w.cmd(ctx, "mayfly", append([]string{"login", "--no-browser"}, args...)...)
	var stdout bytes.Buffer
	c.Stdout = &stdout
	stderr, err := c.StderrPipe()
	if err != nil {
		w.t.Fatal(err)
	}
	if err := c.Start(); err != nil {
		w.t.Fatal(err)
	}
	var shown strings.Builder
	approved := make(chan error, 1)
	sc := bufio.NewScanner(stderr)
	codes := 0
	for sc.Scan() {
		shown.WriteString(sc.Text() + "\n")
		if m := userCodeRE.FindStringSubmatch(sc.Text()); m != nil {
			codes++
			go func() { approved <- w.approve(ctx, m[1]) }()
		}
	}
	if err := c.Wait(); err != nil {
		w.t.Fatalf("mayfly login: %v\n%s", err, shown.String())
	}
	if codes != 1 {
		w.t.Fatalf("mayfly login showed %d user codes:\n%s", codes, shown.String())
	}
	if err := <-approved; err != nil {
		w.t.Fatal(err)
	}
	if stdout.Len() != 0 {
		w.t.Errorf("mayfly login wrote to stdout: %q", stdout.String())
	}
	if !strings.Contains(shown.String(), w.issuer+"/device") {
		w.t.Errorf("mayfly login did not show the verification URL:\n%s", shown.String())
	}
}

// status is `mayfly status --json` for the one profile.
func (w *world) status() wire.ProfileStatus {
	w.t.Helper()
	r := w.mustRun("mayfly", "status", "--json")
	var st wire.Status
	if err := json.Unmarshal([]byte(r.stdout), &st); err != nil {
		w.t.Fatalf("mayfly status --json: %v\n%s", err, r.stdout)
	}
	if len(st.Profiles) != 1 {
		w.t.Fatalf("mayfly status --json: %d profiles", len(st.Profiles))
	}
	return st.Profiles[0]
}

// fill runs `git credential fill` for the repository and returns the
// password git got.
func (w *world) fill() (string, error) {
	f, err := w.fillFields()
	if err != nil {
		return "", err
	}
	if f["password"] == "" {
		return "", fmt.Errorf("git credential fill gave no password: %v", slices.Collect(maps.Keys(f)))
	}
	return f["password"], nil
}

// fillFields runs `git credential fill` and returns what git answered.
func (w *world) fillFields() (map[string]string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c := w.cmd(ctx, "git", "credential", "fill")
	c.Stdin = strings.NewReader("url=" + w.git.URL + "/app.git\n\n")
	var so, se bytes.Buffer
	c.Stdout, c.Stderr = &so, &se
	if err := c.Run(); err != nil {
		return nil, fmt.Errorf("git credential fill: %v: %s", err, se.String())
	}
	f := map[string]string{}
	for line := range strings.Lines(so.String()) {
		if k, v, ok := strings.Cut(strings.TrimSuffix(line, "\n"), "="); ok {
			f[k] = v
		}
	}
	return f, nil
}

func fileExists(p string) bool {
	st, err := os.Stat(p)
	return err == nil && !st.IsDir()
}

// dialAndPrint sends a token request on sock and prints the answer line, or
// the dial error prefixed with "dial:".
func dialAndPrint(sock string) int {
	conn, err := net.DialTimeout("unix", sock, 5*time.Second)
	if err != nil {
		fmt.Println("dial:", err)
		return 0
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	// The agent may answer and close before reading: a failed write is
	// not the end, the answer may still be there to read.
	werr := wire.Write(conn, wire.Request{V: wire.Version, Op: wire.OpToken, Profile: "corp", Consumer: "intruder"})
	line, err := io.ReadAll(conn)
	if len(line) == 0 {
		fmt.Println("read:", err, "(write:", werr, ")")
		return 0
	}
	os.Stdout.Write(line)
	return 0
}
