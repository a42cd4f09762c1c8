// Command demo runs Mayfly's main job end to end on loopback: a real OpenID
// provider (Dex), `mayfly login` with the device flow (approved over HTTP,
// as a test would), and a real `git clone` through git-credential-mayfly
// from a git server that accepts only valid, unexpired tokens from that
// provider; then it waits for the token to expire and clones again with a
// refreshed one. It leaves nothing running. `make demo` runs it.
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"golang.org/x/term"

	"github.com/mayflyhq/mayfly/internal/testpeers"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	bin := flag.String("bin", "bin", "folder with the built binaries")
	dex := flag.String("dex", "", "dex binary (default: found by scripts/install-peers.sh's location)")
	ttl := flag.Duration("ttl", 20*time.Second, "access token lifetime at the provider")
	flag.Parse()
	if err := run(ctx, *bin, *dex, *ttl); err != nil {
		fmt.Fprintf(os.Stderr, "\ndemo FAILED: %v\n", err)
		os.Exit(1)
	}
	fmt.Println("\ndemo OK: nothing is left running and the temporary folder is gone.")
}

type env struct {
	dir  string
	bin  string
	vars []string
}

// cmd runs name from the built binaries when it is one of ours (exec looks
// names up in this process's PATH, not in the child's).
func (e *env) cmd(ctx context.Context, name string, args ...string) *exec.Cmd {
	if p := filepath.Join(e.bin, name); fileExists(p) {
		name = p
	}
	c := exec.CommandContext(ctx, name, args...)
	c.Env, c.Dir = e.vars, e.dir
	return c
}

func step(n int, format string, a ...any) {
	fmt.Printf("\n== %d. %s\n", n, fmt.Sprintf(format, a...))
}

func run(ctx context.Context, bin, dexBin string, ttl time.Duration) error {
	bin, err := filepath.Abs(bin)
	if err != nil {
		return err
	}
	if dexBin == "" {
		if dexBin, err = testpeers.FindDex(); err != nil {
			return err
		}
	}
	dir, err := os.MkdirTemp("", "mayfly-demo-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	for _, d := range []string{"home", "config", "state", "run", "repos", "work"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o700); err != nil {
			return err
		}
	}
	e := &env{dir: filepath.Join(dir, "work"), bin: bin, vars: append(os.Environ(),
		"HOME="+filepath.Join(dir, "home"),
		"XDG_CONFIG_HOME="+filepath.Join(dir, "config"),
		"XDG_STATE_HOME="+filepath.Join(dir, "state"),
		"XDG_RUNTIME_DIR="+filepath.Join(dir, "run"),
		"MAYFLY_CONFIG=", "MAYFLY_AGENT_SOCKET=",
		"PATH="+bin+string(os.PathListSeparator)+os.Getenv("PATH"),
		"GIT_CONFIG_NOSYSTEM=1", "GIT_TERMINAL_PROMPT=0",
	)}

	step(1, "Start a real OpenID provider: Dex v2.45.1 on loopback (tokens live %s)", ttl)
	dex, err := testpeers.StartDex(ctx, testpeers.DexOptions{Bin: dexBin, Dir: dir, TokenTTL: ttl})
	if err != nil {
		return err
	}
	defer dex.Close()
	fmt.Println("issuer:", dex.Issuer)

	step(2, "Start a git server that accepts only valid, unexpired tokens from that provider")
	git, err := testpeers.StartGitServer(ctx, dex.Issuer, testpeers.ClientID, filepath.Join(dir, "repos"))
	if err != nil {
		return err
	}
	defer git.Close()
	if err := git.CreateRepo("demo", "# Hello from a repository cloned with a short-lived token\n"); err != nil {
		return err
	}
	fmt.Println("repository:", git.URL+"/demo.git")
	if out, err := e.cmd(ctx, "git", "clone", "-q", git.URL+"/demo.git", "without-mayfly").CombinedOutput(); err == nil {
		return errors.New("the git server let an unauthenticated clone through")
	} else {
		fmt.Printf("without Mayfly: %s", lastLine(out))
	}

	step(3, "Configure Mayfly and wire git to it")
	cfg := fmt.Sprintf(`[profiles.demo]
issuer = %q
client_id = %q
scopes = ["openid", "offline_access", "email", "profile"]
flow = "device"
match = [%q]
`, dex.Issuer, testpeers.ClientID, git.URL+"/")
	cfgPath := filepath.Join(dir, "config", "mayfly", "config.toml")
	os.MkdirAll(filepath.Dir(cfgPath), 0o700)
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		return err
	}
	fmt.Print(cfg)
	for _, args := range [][]string{
		{"config", "--global", "credential." + git.URL + ".helper", ""},
		{"config", "--global", "--add", "credential." + git.URL + ".helper", "mayfly"},
	} {
		if out, err := e.cmd(ctx, "git", args...).CombinedOutput(); err != nil {
			return fmt.Errorf("git config: %v: %s", err, out)
		}
	}
	fmt.Printf("git config --global credential.%s.helper mayfly\n", git.URL)
	defer e.cmd(context.Background(), "mayfly", "agent", "stop").Run()

	step(4, "Sign in with the device flow (the demo approves the code over HTTP, as a person would in a browser)")
	if err := login(ctx, e, dex); err != nil {
		return err
	}
	if err := show(ctx, e, "mayfly", "status"); err != nil {
		return err
	}

	step(5, "git clone through git-credential-mayfly")
	if err := show(ctx, e, "git", "clone", git.URL+"/demo.git", "demo"); err != nil {
		return err
	}
	readme, _ := os.ReadFile(filepath.Join(e.dir, "demo", "README.md"))
	fmt.Printf("README.md: %s", readme)
	exp, err := accessExpiry(ctx, e)
	if err != nil {
		return err
	}
	fmt.Printf("access token handed to git until %s (%s from now); the refresh token stays in the agent and the kernel keyring\n",
		exp.Local().Format("15:04:05"), time.Until(exp).Round(time.Second))

	step(6, "Wait for the access token to expire, then clone again: the agent refreshes (with rotation)")
	tty := term.IsTerminal(int(os.Stdout.Fd()))
	for left := time.Until(exp); left > 0; left = time.Until(exp) {
		secs := int(left.Seconds() + 0.5)
		switch {
		case tty:
			fmt.Printf("\r%3ds left ", secs)
		case secs%5 == 0:
			fmt.Printf("%ds left\n", secs)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(min(time.Second, left)):
		}
	}
	if tty {
		fmt.Print("\r")
	}
	fmt.Println("expired.   ")
	if err := show(ctx, e, "git", "clone", "-q", git.URL+"/demo.git", "demo-again"); err != nil {
		return err
	}
	fmt.Printf("cloned again. Dex saw %d refresh-token grant(s), %d with a rotated refresh token.\n", dex.Grants("refresh_token"), dex.Rotations())
	if dex.Grants("refresh_token") < 1 || dex.Rotations() < 1 {
		return errors.New("expected a refresh with rotation")
	}
	if exp, err = accessExpiry(ctx, e); err != nil {
		return err
	}
	fmt.Printf("new access token valid until %s\n", exp.Local().Format("15:04:05"))
	accepted, rejected := git.Stats()
	fmt.Printf("git server: %d request(s) with a valid token, %d rejected\n", accepted, rejected)

	step(7, "Sign out, stop the agent")
	if err := show(ctx, e, "mayfly", "logout"); err != nil {
		return err
	}
	return show(ctx, e, "mayfly", "agent", "stop")
}

var userCode = regexp.MustCompile(`^\s+([A-Z0-9]{4}-[A-Z0-9]{4})\s*$`)

// login runs `mayfly login`, echoes what it tells the person, and approves
// the code it shows.
func login(ctx context.Context, e *env, dex *testpeers.Dex) error {
	cmd := e.cmd(ctx, "mayfly", "login", "--no-browser")
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return err
	}
	if err := cmd.Start(); err != nil {
		return err
	}
	sc := bufio.NewScanner(stderr)
	approved := make(chan error, 1)
	for sc.Scan() {
		line := sc.Text()
		fmt.Println("  |", line)
		if m := userCode.FindStringSubmatch(line); m != nil {
			go func() { approved <- dex.ApproveDevice(ctx, m[1]) }()
		}
	}
	if err := cmd.Wait(); err != nil {
		return fmt.Errorf("mayfly login: %w", err)
	}
	select {
	case err := <-approved:
		return err
	default:
		return errors.New("mayfly login showed no user code")
	}
}

func show(ctx context.Context, e *env, name string, args ...string) error {
	fmt.Printf("$ %s %s\n", name, strings.Join(args, " "))
	c := e.cmd(ctx, name, args...)
	c.Stdout, c.Stderr = indent{os.Stdout}, indent{os.Stdout}
	if err := c.Run(); err != nil {
		return fmt.Errorf("%s %s: %w", name, strings.Join(args, " "), err)
	}
	return nil
}

func accessExpiry(ctx context.Context, e *env) (time.Time, error) {
	out, err := e.cmd(ctx, "mayfly", "status", "--json").Output()
	if err != nil {
		return time.Time{}, fmt.Errorf("mayfly status --json: %w", err)
	}
	var st struct {
		Profiles []struct {
			AccessExpiry time.Time `json:"access_expiry"`
		} `json:"profiles"`
	}
	if err := json.Unmarshal(out, &st); err != nil || len(st.Profiles) == 0 {
		return time.Time{}, fmt.Errorf("mayfly status --json: %v", err)
	}
	return st.Profiles[0].AccessExpiry, nil
}

type indent struct{ w io.Writer }

func (i indent) Write(p []byte) (int, error) {
	s := strings.TrimRight(string(p), "\n")
	fmt.Fprintln(i.w, "  | "+strings.ReplaceAll(s, "\n", "\n  | "))
	return len(p), nil
}

func lastLine(b []byte) string {
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	return lines[len(lines)-1] + "\n"
}

func fileExists(p string) bool {
	st, err := os.Stat(p)
	return err == nil && !st.IsDir()
}
