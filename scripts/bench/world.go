package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/mayflyhq/mayfly/internal/testpeers"
)

// Names the profiles match. Nothing listens there: the hot path, git's
// `credential fill` and the Docker helpers never reach a server, and the
// agent only matches the URL.
const (
	gitHost     = "git.bench.example"
	cacheHost   = "cache.bench.example" // served by git's credential-cache
	registry    = "registry.bench.example"
	static      = "static.bench.example" // the docker baselines' registry
	kubeServer  = "https://kube.bench.example"
	bazelURL    = "https://bazel.bench.example/blobs/x"
	goURL       = "https://go.bench.example/corp/mod/@v/list"
	cargoIndex  = "sparse+https://crates.bench.example/index/"
	shortHost   = "short.bench.example" // the profile whose tokens live shortTTL
	shortTTL    = 10 * time.Second
	longTTL     = 2 * time.Hour // longer than any run: no refresh unless forced
	dchVersion  = "v0.9.13"     // docker-credential-helpers, as scripts/install-bench.sh pins it
	cachedValue = "cached-password-0123456789abcdefghijklmnopqrstuvwxyz-0123456789abcdefghij"
)

// world is one user's machine in a temporary folder: private HOME, XDG
// folders, git config, GnuPG home and password store; two Dex instances
// (corp: long-lived tokens; short: tokens that live shortTTL); a private
// Secret Service that the agent and docker-credential-secretservice share;
// and the agent, signed in to both profiles.
type world struct {
	o        options
	dir      string
	env      []string
	tools    map[string]string // name -> absolute path
	missing  []missing         // baselines this machine cannot run, and why
	dex      *testpeers.Dex
	short    *testpeers.Dex
	store    string // the agent's store
	agentPID int
	cleanups []func()
}

type missing struct {
	What string `json:"what"`
	Why  string `json:"why"`
}

// close undoes what newWorld did, last first: stops the agent, the
// daemons and Dex, and removes the folder.
func (w *world) close() {
	for i := len(w.cleanups) - 1; i >= 0; i-- {
		w.cleanups[i]()
	}
}

// atClose registers f for close.
func (w *world) atClose(f func()) { w.cleanups = append(w.cleanups, f) }

func newWorld(ctx context.Context, o options) (_ *world, err error) {
	dir, err := os.MkdirTemp("", "mf-bench-") // short: socket paths
	if err != nil {
		return nil, err
	}
	w := &world{o: o, dir: dir, tools: map[string]string{}}
	w.atClose(func() { os.RemoveAll(dir) })
	defer func() {
		if err != nil {
			w.close()
		}
	}()
	for _, d := range []string{"home", "config/mayfly", "state", "run", "tmp", "work", "dex", "dex-short", "keyring", "gnupg", "pass", "cache", "tools", "req"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o700); err != nil {
			return nil, err
		}
	}
	if err := w.findTools(ctx); err != nil {
		return nil, err
	}
	w.env = append(cleanEnviron(),
		"HOME="+filepath.Join(dir, "home"),
		"XDG_CONFIG_HOME="+filepath.Join(dir, "config"),
		"XDG_STATE_HOME="+filepath.Join(dir, "state"),
		"XDG_RUNTIME_DIR="+filepath.Join(dir, "run"),
		"XDG_CACHE_HOME="+filepath.Join(dir, "home", ".cache"),
		"TMPDIR="+filepath.Join(dir, "tmp"),
		"PATH="+o.bin+string(os.PathListSeparator)+os.Getenv("PATH"),
		"GIT_CONFIG_NOSYSTEM=1", "GIT_TERMINAL_PROMPT=0",
		"GNUPGHOME="+filepath.Join(dir, "gnupg"),
		"PASSWORD_STORE_DIR="+filepath.Join(dir, "pass"),
		"LC_ALL=C",
	)

	step("Start Dex (tokens live %s) and a second Dex (tokens live %s)", longTTL, shortTTL)
	if w.dex, err = testpeers.StartDex(ctx, testpeers.DexOptions{Bin: w.tools["dex"], Dir: filepath.Join(dir, "dex"), TokenTTL: longTTL}); err != nil {
		return nil, err
	}
	w.atClose(func() { w.dex.Close() })
	if w.short, err = testpeers.StartDex(ctx, testpeers.DexOptions{Bin: w.tools["dex"], Dir: filepath.Join(dir, "dex-short"), TokenTTL: shortTTL}); err != nil {
		return nil, err
	}
	w.atClose(func() { w.short.Close() })

	step("Start a private Secret Service (gnome-keyring on its own D-Bus)")
	addr, stopSS, err := testpeers.StartSecretService(ctx, filepath.Join(dir, "keyring"))
	if err != nil {
		w.missing = append(w.missing, missing{"Secret Service (gnome-keyring)", err.Error()})
		w.store = "auto"
		fmt.Println("no Secret Service:", err)
	} else {
		w.atClose(stopSS)
		w.env = append(w.env, "DBUS_SESSION_BUS_ADDRESS="+addr)
		w.store = "secret-service"
	}

	step("Configure Mayfly (store %s) and git", w.store)
	if err := w.configure(ctx); err != nil {
		return nil, err
	}
	w.atClose(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		w.cmd(ctx, "mayfly", "agent", "stop").Run()
	})

	step("Sign in to both profiles with the device flow (approved over HTTP)")
	if err := w.login(ctx, "corp", w.dex); err != nil {
		return nil, err
	}
	if err := w.login(ctx, "short", w.short); err != nil {
		return nil, err
	}
	if w.agentPID, err = w.agentPid(ctx); err != nil {
		return nil, err
	}
	fmt.Println("agent pid", w.agentPID)

	step("Set up the baselines: git credential-cache, docker-credential-secretservice, docker-credential-pass")
	if err := w.setupCache(ctx); err != nil {
		return nil, err
	}
	w.setupSecretService(ctx)
	w.setupPass(ctx)
	return w, nil
}

func step(format string, a ...any) {
	fmt.Printf("\n== %s\n", fmt.Sprintf(format, a...))
}

// cleanEnviron is this process's environment without anything that would
// make a child use the developer's own Mayfly, git, GnuPG, pass or session
// bus.
func cleanEnviron() []string {
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(k, "MAYFLY_") || strings.HasPrefix(k, "GIT_") || strings.HasPrefix(k, "XDG_") ||
			strings.HasPrefix(k, "DOCKER_") || strings.HasPrefix(k, "KUBE") {
			continue
		}
		switch k {
		case "HOME", "PATH", "TMPDIR", "LC_ALL", "DBUS_SESSION_BUS_ADDRESS", "GNUPGHOME", "PASSWORD_STORE_DIR", "GPG_AGENT_INFO":
			continue
		}
		env = append(env, kv)
	}
	return env
}

// findTools locates the binaries and builds the hello-world and the
// concurrency driver.
func (w *world) findTools(ctx context.Context) error {
	for _, name := range []string{"git-credential-mayfly", "docker-credential-mayfly", "kubectl-mayfly", "mayfly-credential", "cargo-credential-mayfly", "mayfly"} {
		p := filepath.Join(w.o.bin, name)
		if _, err := os.Stat(p); err != nil {
			return fmt.Errorf("%s: %w (run make build)", name, err)
		}
		w.tools[name] = p
	}
	for _, name := range []string{"hyperfine", "git", "sh"} {
		p, err := exec.LookPath(name)
		if err != nil {
			return fmt.Errorf("%s: %w (run scripts/install-bench.sh)", name, err)
		}
		w.tools[name] = p
	}
	dex := filepath.Join(w.o.peers, "dex")
	if _, err := os.Stat(dex); err != nil {
		return fmt.Errorf("dex: %w (run scripts/install-peers.sh)", err)
	}
	w.tools["dex"] = dex
	for _, name := range []string{"docker-credential-secretservice", "docker-credential-pass"} {
		p := filepath.Join(w.o.peers, name)
		if _, err := os.Stat(p); err != nil {
			w.missing = append(w.missing, missing{name + " " + dchVersion, "not built (scripts/install-bench.sh says why)"})
			continue
		}
		w.tools[name] = p
	}
	if _, err := exec.LookPath("pass"); err != nil && w.tools["docker-credential-pass"] != "" {
		w.missing = append(w.missing, missing{"docker-credential-pass " + dchVersion, "pass is not installed"})
		delete(w.tools, "docker-credential-pass")
	}
	// The hello-world and the driver, static, stripped, like the helpers.
	out := filepath.Join(w.dir, "tools")
	for _, name := range []string{"hello", "fanout", "sockclient"} {
		c := exec.CommandContext(ctx, "go", "build", "-trimpath", "-ldflags=-s -w", "-o", filepath.Join(out, name), "./scripts/bench/"+name)
		c.Env = append(os.Environ(), "CGO_ENABLED=0")
		if b, err := c.CombinedOutput(); err != nil {
			return fmt.Errorf("go build %s: %v\n%s", name, err, b)
		}
		w.tools[name] = filepath.Join(out, name)
	}
	return nil
}

// cmd runs name (one of w.tools, or a program on PATH) in the world.
func (w *world) cmd(ctx context.Context, name string, args ...string) *exec.Cmd {
	if p, ok := w.tools[name]; ok {
		name = p
	}
	c := exec.CommandContext(ctx, name, args...)
	c.Env, c.Dir = w.env, filepath.Join(w.dir, "work")
	c.WaitDelay = 5 * time.Second
	return c
}

// run runs a command with stdin and returns its stdout, or an error with
// its stderr.
func (w *world) run(ctx context.Context, stdin string, name string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	c := w.cmd(ctx, name, args...)
	var so, se bytes.Buffer
	c.Stdin, c.Stdout, c.Stderr = strings.NewReader(stdin), &so, &se
	if err := c.Run(); err != nil {
		return so.String(), fmt.Errorf("%s %s: %v: %s", name, strings.Join(args, " "), err, strings.TrimSpace(se.String()))
	}
	return so.String(), nil
}

func (w *world) configure(ctx context.Context) error {
	cfg := fmt.Sprintf(`# make bench: the defaults, but for the store
store = %q

[profiles.corp]
issuer = %q
client_id = %q
scopes = ["openid", "offline_access", "email", "profile"]
flow = "device"
match = ["https://%s/", %q, %q, "https://bazel.bench.example/", "https://go.bench.example/", "https://crates.bench.example/"]

[profiles.short]
issuer = %q
client_id = %q
scopes = ["openid", "offline_access", "email", "profile"]
flow = "device"
match = ["https://%s/"]
`, w.store, w.dex.Issuer, testpeers.ClientID, gitHost, registry, strings.TrimPrefix(kubeServer, "https://"),
		w.short.Issuer, testpeers.ClientID, shortHost)
	if err := os.WriteFile(filepath.Join(w.dir, "config", "mayfly", "config.toml"), []byte(cfg), 0o600); err != nil {
		return err
	}
	cacheHelper := fmt.Sprintf("cache --timeout 86400 --socket %s", filepath.Join(w.dir, "cache", "socket"))
	// Two global git configs: the helper named as the README says
	// ("mayfly": git runs `git credential-mayfly`, one more git process),
	// and by absolute path (git runs it through the shell directly).
	for _, f := range []struct{ file, helper string }{
		{"gitconfig", "mayfly"},
		{"gitconfig-abs", w.tools["git-credential-mayfly"]},
	} {
		path := filepath.Join(w.dir, "home", f.file)
		for _, args := range [][]string{
			{"credential.https://" + gitHost + ".helper", ""},
			{"--add", "credential.https://" + gitHost + ".helper", f.helper},
			{"credential.https://" + shortHost + ".helper", ""},
			{"--add", "credential.https://" + shortHost + ".helper", f.helper},
			{"credential.https://" + cacheHost + ".helper", ""},
			{"--add", "credential.https://" + cacheHost + ".helper", cacheHelper},
		} {
			if _, err := w.run(ctx, "", "git", append([]string{"config", "--file", path}, args...)...); err != nil {
				return err
			}
		}
	}
	w.env = append(w.env, "GIT_CONFIG_GLOBAL="+filepath.Join(w.dir, "home", "gitconfig"))
	return nil
}

var userCodeRE = regexp.MustCompile(`^\s+([A-Z0-9]{4}-[A-Z0-9]{4})\s*$`)

// login runs `mayfly login --no-browser` and approves the code it shows at
// dex, over HTTP, as a person would.
func (w *world) login(ctx context.Context, profile string, dex *testpeers.Dex) error {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	c := w.cmd(ctx, "mayfly", "login", "--no-browser", "--profile", profile)
	stderr, err := c.StderrPipe()
	if err != nil {
		return err
	}
	if err := c.Start(); err != nil {
		return err
	}
	var shown strings.Builder
	approved := make(chan error, 1)
	codes := 0
	sc := bufio.NewScanner(stderr)
	for sc.Scan() {
		shown.WriteString(sc.Text() + "\n")
		if m := userCodeRE.FindStringSubmatch(sc.Text()); m != nil {
			codes++
			go func() { approved <- dex.ApproveDevice(ctx, m[1]) }()
		}
	}
	if err := c.Wait(); err != nil {
		return fmt.Errorf("mayfly login --profile %s: %v\n%s", profile, err, shown.String())
	}
	if codes != 1 {
		return fmt.Errorf("mayfly login --profile %s showed %d codes:\n%s", profile, codes, shown.String())
	}
	return <-approved
}

type agentStatus struct {
	PID      int `json:"pid"`
	Profiles []struct {
		Name         string    `json:"name"`
		AccessExpiry time.Time `json:"access_expiry"`
	} `json:"profiles"`
}

func (w *world) status(ctx context.Context) (agentStatus, error) {
	var st agentStatus
	out, err := w.run(ctx, "", "mayfly", "status", "--json")
	if err != nil {
		return st, err
	}
	err = json.Unmarshal([]byte(out), &st)
	return st, err
}

func (w *world) agentPid(ctx context.Context) (int, error) {
	st, err := w.status(ctx)
	if err != nil {
		return 0, err
	}
	if st.PID == 0 {
		return 0, errors.New("mayfly status --json gives no agent pid")
	}
	return st.PID, nil
}

// accessExpiry is when the profile's access token expires, as the agent
// says.
func (w *world) accessExpiry(ctx context.Context, profile string) (time.Time, error) {
	st, err := w.status(ctx)
	if err != nil {
		return time.Time{}, err
	}
	for _, p := range st.Profiles {
		if p.Name == profile {
			return p.AccessExpiry, nil
		}
	}
	return time.Time{}, fmt.Errorf("mayfly status: no profile %s", profile)
}

// setupCache starts git's credential-cache daemon with one credential in
// it (git credential approve starts it, as it would for a person).
func (w *world) setupCache(ctx context.Context) error {
	in := fmt.Sprintf("protocol=https\nhost=%s\nusername=oauth2\npassword=%s\n\n", cacheHost, cachedValue)
	if _, err := w.run(ctx, in, "git", "credential", "approve"); err != nil {
		return err
	}
	w.atClose(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		w.cmd(ctx, "git", "credential-cache", "exit", "--socket", filepath.Join(w.dir, "cache", "socket")).Run()
	})
	return nil
}

// setupSecretService stores one registry credential with
// docker-credential-secretservice in the private gnome-keyring.
func (w *world) setupSecretService(ctx context.Context) {
	const name = "docker-credential-secretservice"
	if w.tools[name] == "" {
		return
	}
	if w.store != "secret-service" {
		w.missing = append(w.missing, missing{name + " " + dchVersion, "no Secret Service to run it against"})
		delete(w.tools, name)
		return
	}
	in := fmt.Sprintf(`{"ServerURL":%q,"Username":"alice","Secret":%q}`, static, cachedValue)
	if _, err := w.run(ctx, in, name, "store"); err != nil {
		w.missing = append(w.missing, missing{name + " " + dchVersion, err.Error()})
		delete(w.tools, name)
	}
}

// setupPass makes a GnuPG key without a passphrase, a password store for
// it, and stores one registry credential with docker-credential-pass.
func (w *world) setupPass(ctx context.Context) {
	const name = "docker-credential-pass"
	if w.tools[name] == "" {
		return
	}
	fail := func(err error) {
		w.missing = append(w.missing, missing{name + " " + dchVersion, err.Error()})
		delete(w.tools, name)
	}
	w.atClose(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		w.cmd(ctx, "gpgconf", "--kill", "all").Run()
	})
	if _, err := w.run(ctx, "", "gpg", "--batch", "--quiet", "--passphrase", "", "--quick-gen-key", "Mayfly Bench <bench@example.invalid>", "default", "default", "never"); err != nil {
		fail(err)
		return
	}
	out, err := w.run(ctx, "", "gpg", "--batch", "--with-colons", "--list-keys", "bench@example.invalid")
	if err != nil {
		fail(err)
		return
	}
	var fpr string
	for line := range strings.Lines(out) {
		if f := strings.Split(line, ":"); len(f) > 9 && f[0] == "fpr" {
			fpr = f[9]
			break
		}
	}
	if fpr == "" {
		fail(errors.New("gpg made no key"))
		return
	}
	if _, err := w.run(ctx, "", "pass", "init", fpr); err != nil {
		fail(err)
		return
	}
	in := fmt.Sprintf(`{"ServerURL":%q,"Username":"alice","Secret":%q}`, static, cachedValue)
	if _, err := w.run(ctx, in, name, "store"); err != nil {
		fail(err)
	}
}

// request writes a request file and returns its path.
func (w *world) request(name, content string) string {
	p := filepath.Join(w.dir, "req", name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		panic(err)
	}
	return p
}

// hold writes the world's environment to env.sh, for a shell to source,
// and waits until ctx ends.
func (w *world) hold(ctx context.Context) error {
	var b strings.Builder
	for _, kv := range w.env {
		k, v, _ := strings.Cut(kv, "=")
		fmt.Fprintf(&b, "export %s=%s\n", k, q(v))
	}
	envFile := filepath.Join(w.dir, "env.sh")
	if err := os.WriteFile(envFile, []byte(b.String()), 0o600); err != nil {
		return err
	}
	w.pairs() // writes the request files
	fmt.Printf("\nready: . %s  (requests in %s; agent pid %d); ^C to stop\n", envFile, filepath.Join(w.dir, "req"), w.agentPID)
	<-ctx.Done()
	return nil
}
