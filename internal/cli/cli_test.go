package cli

import (
	"bytes"
	"context"
	"flag"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mayflyhq/mayfly/agent/wire"
	"github.com/mayflyhq/mayfly/internal/envknob"
	"github.com/mayflyhq/mayfly/internal/ui/usage"
)

// noAgent points the client at a socket nobody listens on, with autostart
// off, and at a configuration that does not exist: a command that tried to
// reach the agent would fail.
func noAgent(t *testing.T) {
	t.Helper()
	dir := t.TempDir()
	t.Setenv(envknob.AgentSocket, filepath.Join(dir, "none.sock"))
	t.Setenv(envknob.NoAutostart, "1")
	t.Setenv(envknob.Config, filepath.Join(dir, "config.toml"))
}

func run(args ...string) (code int, stdout, stderr string) {
	var so, se bytes.Buffer
	code = Run(context.Background(), args, &so, &se)
	return code, so.String(), se.String()
}

// TestHelp: `mayfly --help`, `-h`, `help`, and `mayfly <cmd> --help` for
// every command print on stdout and exit 0, without the agent.
func TestHelp(t *testing.T) {
	noAgent(t)
	for _, args := range [][]string{{"--help"}, {"-h"}, {"help"}} {
		code, so, se := run(args...)
		if code != 0 || se != "" || !strings.HasPrefix(so, "usage: mayfly <command>") {
			t.Errorf("%q: exit %d, stdout %q, stderr %q", args, code, so, se)
		}
	}
	for _, c := range commands {
		for _, h := range []string{"--help", "-h"} {
			code, so, se := run(c.name, h)
			if code != 0 || se != "" || !strings.HasPrefix(so, "usage: mayfly "+c.synopsis()+"\n") {
				t.Errorf("%s %s: exit %d, stdout %q, stderr %q", c.name, h, code, so, se)
			}
			for _, f := range c.flags {
				if !strings.Contains(so, "--"+f.name) || !strings.Contains(so, f.help) {
					t.Errorf("%s --help lacks --%s:\n%s", c.name, f.name, so)
				}
			}
		}
	}
	// After the command's own arguments too, and `help CMD`.
	if code, so, _ := run("setup", "git", "--dry-run", "--help"); code != 0 || !strings.Contains(so, "--dry-run") {
		t.Errorf("setup git --dry-run --help: exit %d\n%s", code, so)
	}
	if code, so, _ := run("help", "login"); code != 0 || !strings.Contains(so, "--no-browser") {
		t.Errorf("help login: exit %d\n%s", code, so)
	}
	// No command: the usage, on stderr, exit 2.
	if code, so, se := run(); code != 2 || so != "" || !strings.Contains(se, "commands:") {
		t.Errorf("no command: exit %d, stdout %q, stderr %q", code, so, se)
	}
}

// TestFlagsDeclared: the flags in [commands] are the flags each command
// defines, so the usage, completions and man page tell the truth.
func TestFlagsDeclared(t *testing.T) {
	noAgent(t)
	got := map[string][]string{}
	flagSetHook = func(name string, fs *flag.FlagSet) {
		var names []string
		fs.VisitAll(func(f *flag.Flag) { names = append(names, f.Name) })
		got[name] = names
	}
	t.Cleanup(func() { flagSetHook = nil })
	for _, c := range commands {
		// A flag no command has: the command prints its usage (which
		// calls the hook) and fails before doing anything.
		run(c.name, "--no-such-flag")
		var want []string
		for _, f := range c.flags {
			want = append(want, f.name)
		}
		slices.Sort(want)
		have := got[c.name]
		slices.Sort(have)
		if !slices.Equal(have, want) {
			t.Errorf("%s: the flag set defines %q, commands declares %q", c.name, have, want)
		}
	}
}

// TestOneList: a command added to the list shows up in the usage, all
// three completion scripts and the man page.
func TestOneList(t *testing.T) {
	cmds := append(slices.Clone(commands), command{name: "frobnicate", args: "[THING]", words: []string{"alpha", "beta"},
		help: "frobnicate things", flags: []flagSpec{{name: "widget", arg: "W", values: []string{"w1", "w2"}, help: "the widget to use"}, profileFlag("profile to frob")}})
	var u bytes.Buffer
	writeUsage(&u, cmds)
	outputs := map[string]string{
		"usage": u.String(),
		"bash":  bashCompletion(cmds),
		"zsh":   zshCompletion(cmds),
		"fish":  fishCompletion(cmds),
		"man":   manPage(cmds, usage.Helpers),
	}
	for name, out := range outputs {
		for _, want := range []string{"frobnicate", "widget"} {
			if !strings.Contains(out, want) {
				t.Errorf("%s lacks %q", name, want)
			}
		}
		if strings.Contains(out, completeProfiles) != (name != "usage" && name != "man") {
			t.Errorf("%s: mentions %s: %v", name, completeProfiles, strings.Contains(out, completeProfiles))
		}
	}
	// Without it, none of them has it.
	var u0 bytes.Buffer
	writeUsage(&u0, commands)
	for _, out := range []string{u0.String(), bashCompletion(commands), zshCompletion(commands), fishCompletion(commands), manPage(commands, usage.Helpers)} {
		if strings.Contains(out, "frobnicate") {
			t.Errorf("frobnicate leaked")
		}
	}
}

func TestCompletionBash(t *testing.T) {
	noAgent(t)
	code, script, se := run("completion", "bash")
	if code != 0 || se != "" {
		t.Fatalf("exit %d, stderr %q", code, se)
	}
	bash, err := exec.LookPath("bash")
	if err != nil {
		t.Skip("no bash")
	}
	dir := t.TempDir()
	file := filepath.Join(dir, "mayfly.bash")
	if err := os.WriteFile(file, []byte(script), 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(bash, "-n", file).CombinedOutput(); err != nil {
		t.Fatalf("bash -n: %v\n%s", err, out)
	}
	// A stand-in mayfly on PATH answers __complete-profiles.
	fake := "#!/bin/sh\n[ \"$1\" = " + completeProfiles + " ] && printf 'corp\\nwork\\n'\n"
	if err := os.WriteFile(filepath.Join(dir, "mayfly"), []byte(fake), 0o700); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		words string // the command line, the last word being completed
		want  string
	}{
		{`mayfly lo`, "login logout log"},
		{`mayfly login --`, "--profile --flow --no-browser --help"},
		{`mayfly login --flow ''`, "device browser"},
		{`mayfly login --profile ''`, "corp work"},
		{`mayfly logout --profile w`, "work"},
		{`mayfly setup d`, "docker"},
		{`mayfly completion ''`, "bash zsh fish"},
		{`mayfly agent s`, "stop"},
	} {
		sh := "source " + file + "\nCOMP_WORDS=(" + tc.words + ")\nCOMP_CWORD=$((${#COMP_WORDS[@]} - 1))\n_mayfly\necho \"${COMPREPLY[*]}\"\n"
		cmd := exec.Command(bash, "--norc", "--noprofile", "-c", sh)
		cmd.Env = append(os.Environ(), "PATH="+dir+string(os.PathListSeparator)+os.Getenv("PATH"))
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Errorf("%s: %v\n%s", tc.words, err, out)
			continue
		}
		if got := strings.TrimSpace(string(out)); got != tc.want {
			t.Errorf("complete %q: %q, want %q", tc.words, got, tc.want)
		}
	}
}

func TestCompletionZshFish(t *testing.T) {
	noAgent(t)
	for _, shell := range []string{"zsh", "fish"} {
		code, script, se := run("completion", shell)
		if code != 0 || se != "" {
			t.Fatalf("%s: exit %d, stderr %q", shell, code, se)
		}
		for _, c := range visible(commands) {
			switch shell {
			case "zsh":
				if !strings.Contains(script, "'"+c.name+":") || !strings.Contains(script, "        "+c.name+")\n") {
					t.Errorf("zsh: no %s", c.name)
				}
				for _, f := range c.flags {
					if !strings.Contains(script, "'--"+f.name+"[") {
						t.Errorf("zsh: %s lacks --%s", c.name, f.name)
					}
				}
			case "fish":
				if !strings.Contains(script, "-n __fish_use_subcommand -a "+c.name+" -d ") {
					t.Errorf("fish: no %s", c.name)
				}
				for _, f := range c.flags {
					if !strings.Contains(script, "'__fish_seen_subcommand_from "+c.name+"' -l "+f.name+" ") {
						t.Errorf("fish: %s lacks --%s", c.name, f.name)
					}
				}
			}
		}
		if shell == "zsh" {
			if !strings.HasPrefix(script, "#compdef mayfly\n") || !strings.Contains(script, "compdef _mayfly mayfly") ||
				!strings.Contains(script, "_mayfly_profiles") {
				t.Errorf("zsh: structure:\n%s", script)
			}
		}
		if shell == "fish" && !strings.Contains(script, "-l profile -r -a '(mayfly "+completeProfiles) {
			t.Errorf("fish: --profile does not complete profile names")
		}
		// Quotes balance on every line (the help texts hold apostrophes).
		for i, line := range strings.Split(script, "\n") {
			if shell == "fish" {
				line = strings.ReplaceAll(strings.ReplaceAll(line, `\\`, ""), `\'`, "")
			} else {
				line = strings.ReplaceAll(line, `'\''`, "")
			}
			if strings.Count(line, "'")%2 != 0 {
				t.Errorf("%s line %d: unbalanced quotes: %s", shell, i+1, line)
			}
		}
		// The real shell, where there is one, checks the syntax.
		if bin, err := exec.LookPath(shell); err == nil {
			f := filepath.Join(t.TempDir(), "script")
			os.WriteFile(f, []byte(script), 0o600)
			if out, err := exec.Command(bin, "-n", f).CombinedOutput(); err != nil {
				t.Errorf("%s -n: %v\n%s", shell, err, out)
			}
		}
	}
	if code, _, se := run("completion", "tcsh"); code != 2 || !strings.Contains(se, "bash, zsh or fish") {
		t.Errorf("completion tcsh: exit %d, %q", code, se)
	}
}

func TestMan(t *testing.T) {
	noAgent(t)
	code, page, se := run("man")
	if code != 0 || se != "" {
		t.Fatalf("exit %d, stderr %q", code, se)
	}
	for _, want := range []string{".TH MAYFLY 1 ", ".SH NAME\n", ".SH SYNOPSIS\n", ".SH COMMANDS\n", ".SH HELPER PROGRAMS\n", ".SH ENVIRONMENT\n"} {
		if !strings.Contains(page, want) {
			t.Errorf("no %q", want)
		}
	}
	for _, c := range visible(commands) {
		if !strings.Contains(page, `\fBmayfly `+roff(c.name)+`\fR`) {
			t.Errorf("no command %s", c.name)
		}
		for _, f := range c.flags {
			if !strings.Contains(page, `\fB\-\-`+roff(f.name)+`\fR`) {
				t.Errorf("%s lacks --%s", c.name, f.name)
			}
		}
	}
	for _, h := range usage.Helpers {
		if !strings.Contains(page, ".SS "+roff(h.Name)+"\n") {
			t.Errorf("no section for %s", h.Name)
		}
	}
	for i, line := range strings.Split(page, "\n") {
		if strings.HasPrefix(line, "'") || strings.HasPrefix(line, ".") && !isRequest(line) {
			t.Errorf("line %d starts like a request: %q", i+1, line)
		}
	}
	// Render it, with man if it is there, else groff, and require no warning.
	var render *exec.Cmd
	if _, err := exec.LookPath("groff"); err == nil {
		render = exec.Command("groff", "-man", "-Tutf8", "-ww", "-z")
	} else if _, err := exec.LookPath("man"); err == nil {
		render = exec.Command("man", "-l", "-")
		render.Env = append(os.Environ(), "MANPAGER=cat", "PAGER=cat")
	} else {
		t.Skip("neither groff nor man: structure checked only")
	}
	render.Stdin = strings.NewReader(page)
	var out, errb bytes.Buffer
	render.Stdout, render.Stderr = &out, &errb
	if err := render.Run(); err != nil || errb.Len() > 0 {
		t.Errorf("%s: %v\n%s", render.Args, err, errb.String())
	}
	if _, err := exec.LookPath("man"); err == nil {
		m := exec.Command("man", "-l", "-")
		m.Env = append(os.Environ(), "MANPAGER=cat", "PAGER=cat", "MANWIDTH=100")
		m.Stdin = strings.NewReader(page)
		got, err := m.Output()
		if err != nil {
			t.Logf("man -l -: %v (skipped)", err)
		} else if !strings.Contains(string(got), "git-credential-mayfly") || !strings.Contains(string(got), "completion") {
			t.Errorf("man -l - shows:\n%s", got)
		}
	}
}

func isRequest(line string) bool {
	for _, r := range []string{".TH ", ".SH ", ".SS ", ".TP", ".B ", ".I ", ".RI ", ".RS", ".RE", ".PP", ".br", ".nf", ".fi"} {
		if strings.HasPrefix(line, r) {
			return true
		}
	}
	return false
}

func TestCompleteProfiles(t *testing.T) {
	noAgent(t)
	cfg := os.Getenv(envknob.Config)
	const profile = "issuer = \"https://id.example\"\nclient_id = \"m\"\n"
	data := "[profiles.work]\n" + profile + "match = [\"a.example\"]\n[profiles.corp]\n" + profile + "match = [\"b.example\"]\n"
	if err := os.WriteFile(cfg, []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
	if code, so, se := run(completeProfiles); code != 0 || so != "corp\nwork\n" || se != "" {
		t.Errorf("exit %d, stdout %q, stderr %q", code, so, se)
	}
	// A broken configuration: nothing, quietly.
	os.WriteFile(cfg, []byte("[profiles.x]\nnope = 1\n"), 0o600)
	if code, so, se := run(completeProfiles); code != 0 || so != "" || se != "" {
		t.Errorf("broken config: exit %d, stdout %q, stderr %q", code, so, se)
	}
	// Hidden from the usage and the man page.
	if _, so, _ := run("help"); strings.Contains(so, completeProfiles) {
		t.Errorf("usage shows %s", completeProfiles)
	}
}

// syncBuffer is a bytes.Buffer safe for the test and Run's goroutine.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestLoginCancelled: Ctrl-C while the code waits for approval ends `mayfly
// login` at once with one line and exit 130, and closes the connection,
// which is what makes the agent abandon the flow (agent.TestLoginCancelled
// and e2e/loginux_test.go check that side).
func TestLoginCancelled(t *testing.T) {
	dir, err := os.MkdirTemp("", "mf-cli-") // short: socket paths are limited
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	sock := filepath.Join(dir, "agent.sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	t.Setenv(envknob.AgentSocket, sock)
	t.Setenv(envknob.NoAutostart, "1")
	t.Setenv(envknob.Config, filepath.Join(dir, "config.toml"))
	t.Setenv(envknob.NonInteractive, "1")

	closed := make(chan error, 1)
	go func() {
		conn, err := ln.Accept()
		if err != nil {
			closed <- err
			return
		}
		defer conn.Close()
		var req wire.Request
		if err := wire.NewReader(conn).Read(&req); err != nil || req.Op != wire.OpLogin {
			closed <- err
			return
		}
		wire.Write(conn, wire.Response{Event: wire.EventDevice, Profile: "corp", VerificationURI: "https://idp.example/device",
			UserCode: "ABCD-EFGH", CodeExpiry: time.Now().Add(5 * time.Minute)})
		// Wait, as the agent polling the provider does, until the client goes.
		conn.SetReadDeadline(time.Now().Add(10 * time.Second))
		_, err = io.Copy(io.Discard, conn)
		closed <- err
	}()

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var stdout bytes.Buffer
	stderr := &syncBuffer{}
	done := make(chan int, 1)
	go func() { done <- Run(ctx, []string{"login", "--no-browser"}, &stdout, stderr) }()
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(stderr.String(), "ABCD-EFGH") {
		if time.Now().After(deadline) {
			t.Fatalf("no user code shown:\n%s", stderr.String())
		}
		time.Sleep(5 * time.Millisecond)
	}
	cancel() // Ctrl-C
	select {
	case code := <-done:
		if code != 130 {
			t.Errorf("exit %d, want 130", code)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("mayfly login did not return after Ctrl-C")
	}
	if err := <-closed; err != nil {
		t.Errorf("the connection to the agent was not closed: %v", err)
	}
	out := stderr.String()
	if !strings.HasSuffix(out, "\nmayfly login: sign-in cancelled\n") || strings.Count(out, "cancelled") != 1 {
		t.Errorf("stderr does not end with one cancel line:\n%q", out)
	}
	if stdout.Len() != 0 {
		t.Errorf("stdout: %q", stdout.String())
	}
}
