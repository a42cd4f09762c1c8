// Package setup writes each consumer's own configuration so that it asks
// Mayfly for credentials: git's credential.<url>.helper, Docker's
// credHelpers, a kubeconfig user with an exec stanza, Bazel's
// --credential_helper, Go's GOAUTH, cargo's credential-provider and Claude
// Code's apiKeyHelper (`mayfly setup CONSUMER`).
//
// Every consumer is handled in two halves. A pure function takes the
// current content of the consumer's file and the profiles, and returns the
// new content; tests drive these directly. A thin I/O half finds the file,
// and, where the consumer has a writer of its own (`git config`, `go env
// -w`), runs that writer on a private copy of the file, so the result is
// exactly what the tool itself would write. Either way the outcome is a
// [Plan]: the old and new bytes of one file, which can be shown as a
// unified diff ([Plan.Diff], for --dry-run) or applied ([Plan.Apply]).
//
// Applying is idempotent (a second run finds nothing to change and writes
// nothing), keeps a copy of a file it changes as
// FILE.mayfly-backup-TIMESTAMP, and replaces the file atomically with its
// original mode; a file it creates is 0600, since all of these files sit
// next to credentials.
package setup

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/mayflyhq/mayfly/internal/config"
)

// Consumers are the names `mayfly setup` accepts, in the order they are
// documented.
var Consumers = []string{"git", "docker", "kube", "bazel", "go", "cargo", "claude"}

// Make plans the set-up of consumer (one of [Consumers]) for profiles.
func Make(ctx context.Context, consumer string, e Env, profiles []*config.Profile) (*Plan, error) {
	var f func(context.Context, Env, []*config.Profile) (*Plan, error)
	switch consumer {
	case "git":
		f = Git
	case "docker":
		f = Docker
	case "kube":
		f = Kube
	case "bazel":
		f = Bazel
	case "go":
		f = Go
	case "cargo":
		f = Cargo
	case "claude":
		f = Claude
	default:
		return nil, fmt.Errorf("setup: unknown consumer %q (one of %s)", consumer, strings.Join(Consumers, ", "))
	}
	return f(ctx, e, profiles)
}

// Env is the machine setup looks at: the environment, where Mayfly's
// binaries are, and how to run a consumer's own tool. The zero value is not
// usable; see [DefaultEnv].
type Env struct {
	Home   string              // the user's home folder
	Getenv func(string) string // the environment
	// BinDir holds Mayfly's binaries. Consumers are given absolute paths
	// into it, so they work whatever their PATH is.
	BinDir string
	// Run runs a program (git, go) with extra environment variables and
	// returns its stdout; an error carries its stderr.
	Run func(ctx context.Context, env []string, name string, args ...string) ([]byte, error)
	// File, when set, is the file to write instead of the consumer's
	// usual one (setup --file).
	File string
}

// DefaultEnv is this process's environment, with BinDir the folder of the
// running executable when git-credential-mayfly is there (the installed
// layout: every binary side by side), else the folder where it is found on
// PATH.
func DefaultEnv() (Env, error) {
	home, err := os.UserHomeDir()
	if err != nil {
		return Env{}, fmt.Errorf("setup: %w", err)
	}
	e := Env{Home: home, Getenv: os.Getenv, Run: runCommand}
	if exe, err := os.Executable(); err == nil {
		if exe, err := filepath.EvalSymlinks(exe); err == nil {
			dir := filepath.Dir(exe)
			if isFile(filepath.Join(dir, exeName("git-credential-mayfly"))) {
				e.BinDir = dir
			}
		}
	}
	if e.BinDir == "" {
		if p, err := exec.LookPath("git-credential-mayfly"); err == nil {
			if p, err := filepath.Abs(p); err == nil {
				e.BinDir = filepath.Dir(p)
			}
		}
	}
	return e, nil
}

// bin returns the absolute path of one of Mayfly's binaries.
func (e Env) bin(name string) (string, error) {
	if e.BinDir == "" {
		return "", fmt.Errorf("setup: %s not found next to mayfly or on PATH: install Mayfly's binaries side by side", name)
	}
	p := filepath.Join(e.BinDir, exeName(name))
	if !isFile(p) {
		return "", fmt.Errorf("setup: %s not found in %s: install Mayfly's binaries side by side", name, e.BinDir)
	}
	return p, nil
}

func exeName(name string) string {
	if os.PathSeparator == '\\' {
		return name + ".exe"
	}
	return name
}

func isFile(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.Mode().IsRegular()
}

func runCommand(ctx context.Context, env []string, name string, args ...string) ([]byte, error) {
	c := exec.CommandContext(ctx, name, args...)
	c.Env = append(os.Environ(), env...)
	var stderr bytes.Buffer
	c.Stderr = &stderr
	out, err := c.Output()
	if err != nil {
		msg := strings.TrimSpace(stderr.String())
		if i := strings.IndexByte(msg, '\n'); i >= 0 {
			msg = msg[:i]
		}
		if msg != "" {
			return out, fmt.Errorf("%s %s: %w: %s", name, strings.Join(args, " "), err, msg)
		}
		return out, fmt.Errorf("%s %s: %w", name, strings.Join(args, " "), err)
	}
	return out, nil
}

// Plan is the change setup makes to one file.
type Plan struct {
	Consumer string
	Path     string      // the file
	Exists   bool        // whether the file exists now
	Mode     fs.FileMode // its permissions, kept on rewrite (0600 for a new file)
	Old, New []byte
	// Notes are what the person should know: entries that could not be
	// written, hints about other settings. Never a secret.
	Notes []string
}

// Changed reports whether applying p would change the file.
func (p *Plan) Changed() bool {
	return !bytes.Equal(p.Old, p.New)
}

// Diff returns the change as a unified diff, "" when there is none.
func (p *Plan) Diff() string {
	if !p.Changed() {
		return ""
	}
	from := p.Path
	if !p.Exists {
		from = "/dev/null"
	}
	return UnifiedDiff(from, p.Path, string(p.Old), string(p.New))
}

// Apply writes the new content. It keeps a copy of an existing file as
// Path.mayfly-backup-TIMESTAMP and returns that copy's name ("" when
// nothing was changed or the file is new). The file is replaced
// atomically, so a crash leaves the old or the new file, never half of one.
func (p *Plan) Apply(now time.Time) (backup string, err error) {
	if !p.Changed() {
		return "", nil
	}
	if p.Exists {
		backup, err = Backup(p.Path, p.Old, p.Mode, now)
		if err != nil {
			return "", err
		}
	} else if err := os.MkdirAll(filepath.Dir(p.Path), 0o700); err != nil {
		return "", fmt.Errorf("setup: %w", err)
	}
	mode := p.Mode
	if mode == 0 {
		mode = 0o600
	}
	if err := WriteFileAtomic(p.Path, p.New, mode); err != nil {
		return backup, err
	}
	return backup, nil
}

// Backup writes data, the current content of path, to a new file
// path.mayfly-backup-TIMESTAMP with mode, and returns its name. It never
// overwrites an earlier backup.
func Backup(path string, data []byte, mode fs.FileMode, now time.Time) (string, error) {
	if mode == 0 {
		mode = 0o600
	}
	stamp := now.UTC().Format("20060102T150405Z")
	for i := 0; ; i++ {
		name := path + ".mayfly-backup-" + stamp
		if i > 0 {
			name += fmt.Sprintf(".%d", i)
		}
		f, err := os.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, mode.Perm())
		if errors.Is(err, fs.ErrExist) && i < 100 {
			continue
		}
		if err != nil {
			return "", fmt.Errorf("setup: backup: %w", err)
		}
		_, err = f.Write(data)
		if err == nil {
			err = f.Sync()
		}
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			os.Remove(name)
			return "", fmt.Errorf("setup: backup: %w", err)
		}
		return name, nil
	}
}

// WriteFileAtomic replaces path with data: a temporary file in the same
// folder, written, synced, given mode, then renamed over path.
func WriteFileAtomic(path string, data []byte, mode fs.FileMode) error {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".mayfly-*")
	if err != nil {
		return fmt.Errorf("setup: %w", err)
	}
	tmp := f.Name()
	ok := false
	defer func() {
		if !ok {
			f.Close()
			os.Remove(tmp)
		}
	}()
	if err := f.Chmod(mode.Perm()); err != nil && os.PathSeparator != '\\' {
		return fmt.Errorf("setup: %w", err)
	}
	if _, err := f.Write(data); err != nil {
		return fmt.Errorf("setup: %w", err)
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("setup: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("setup: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("setup: %w", err)
	}
	ok = true
	return nil
}

// readPlan starts a plan for path with its current content.
func readPlan(consumer, path string) (*Plan, error) {
	p := &Plan{Consumer: consumer, Path: path, Mode: 0o600}
	st, err := os.Stat(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return p, nil
	case err != nil:
		return nil, fmt.Errorf("setup: %w", err)
	case !st.Mode().IsRegular():
		return nil, fmt.Errorf("setup: %s is not a regular file", path)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("setup: %w", err)
	}
	p.Exists, p.Mode, p.Old, p.New = true, st.Mode().Perm(), data, data
	return p, nil
}

// Select returns the profiles setup wires: the one named, or all of them
// in name order.
func Select(cfg *config.Config, name string) ([]*config.Profile, error) {
	if cfg == nil || len(cfg.Profiles) == 0 {
		path := ""
		if cfg != nil {
			path = cfg.Path
		}
		return nil, fmt.Errorf("no profiles in %s: add one (see the README), then run setup again", path)
	}
	if name != "" {
		p := cfg.Profiles[name]
		if p == nil {
			return nil, fmt.Errorf("no profile %q in %s (profiles: %s)", name, cfg.Path, strings.Join(cfg.ProfileNames(), ", "))
		}
		return []*config.Profile{p}, nil
	}
	var out []*config.Profile
	for _, n := range cfg.ProfileNames() {
		out = append(out, cfg.Profiles[n])
	}
	return out, nil
}

// target is one match pattern taken apart: what each consumer's
// configuration is keyed by.
type target struct {
	profile  string
	scheme   string // "http", "https", or "" for a bare pattern
	host     string // with "*." for a wildcard; IPv6 in brackets
	port     string // "" when absent
	path     string // "" for the whole host, else "/org" without a trailing "/"
	wildcard bool
}

// hostPort is host[:port].
func (t target) hostPort() string {
	if t.port == "" {
		return t.host
	}
	return t.host + ":" + t.port
}

// targets takes the profiles' patterns apart, in profile then pattern
// order, from their normalised form ([config.Pattern.String]), which is the
// only view of a pattern the config package exports.
func targets(profiles []*config.Profile) []target {
	var out []target
	for _, prof := range profiles {
		for _, p := range prof.Match {
			s := p.String()
			if s == "" {
				continue
			}
			t := target{profile: prof.Name}
			if scheme, rest, ok := strings.Cut(s, "://"); ok {
				t.scheme, s = scheme, rest
			}
			authority := s
			if i := strings.IndexByte(s, '/'); i >= 0 {
				authority, t.path = s[:i], strings.TrimSuffix(s[i:], "/")
			}
			t.host = authority
			if i := strings.LastIndexByte(authority, ':'); i >= 0 && !strings.HasSuffix(authority, "]") {
				t.host, t.port = authority[:i], authority[i+1:]
			}
			t.wildcard = strings.HasPrefix(t.host, "*.")
			out = append(out, t)
		}
	}
	return out
}

// matcher reports whether any of the profiles serves a URL, with the
// config package's own rules.
func matcher(profiles []*config.Profile) func(url string) *config.Profile {
	cfg := &config.Config{Profiles: map[string]*config.Profile{}}
	for _, p := range profiles {
		cfg.Profiles[p.Name] = p
	}
	return cfg.Match
}

// uniq drops repeated strings, keeping the first.
func uniq(s []string) []string {
	var out []string
	for _, v := range s {
		if !slices.Contains(out, v) {
			out = append(out, v)
		}
	}
	return out
}

// shellSafe reports whether s needs no quoting in a POSIX shell.
func shellSafe(s string) bool {
	return s != "" && !strings.ContainsFunc(s, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("/._-+:,@%=", r))
	})
}

// shellQuote quotes s for a POSIX shell when it needs it.
func shellQuote(s string) string {
	if shellSafe(s) {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// getenv is e.Getenv, or "" without one.
func (e Env) getenv(k string) string {
	if e.Getenv == nil {
		return ""
	}
	return e.Getenv(k)
}

// absEnv returns the environment variable k when it is an absolute path.
func (e Env) absEnv(k string) string {
	if v := e.getenv(k); filepath.IsAbs(v) {
		return v
	}
	return ""
}
