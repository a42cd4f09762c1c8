package setup

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/mayflyhq/mayfly/internal/config"
)

// GitURLs returns the credential.<url> keys for the profiles' patterns:
// helpers on every pattern's URL, and useHttpPath on the hosts where a
// pattern has a path, since git sends no path without it and the agent
// needs the path to pick the profile. A bare pattern gets https://, the
// scheme git uses for a host named without one.
func GitURLs(profiles []*config.Profile) (helperURLs, pathURLs []string) {
	for _, t := range targets(profiles) {
		scheme := t.scheme
		if scheme == "" {
			scheme = "https"
		}
		base := scheme + "://" + t.hostPort()
		helperURLs = append(helperURLs, base+t.path)
		if t.path != "" {
			pathURLs = append(pathURLs, base)
		}
	}
	return uniq(helperURLs), uniq(pathURLs)
}

// GitHelper is the credential.helper value that runs bin: the path itself
// when it is absolute and needs no quoting (git runs it verbatim), else a
// "!" shell snippet with the path quoted.
func GitHelper(bin string) string {
	bin = filepath.ToSlash(bin)
	if shellSafe(bin) && (strings.HasPrefix(bin, "/") || filepath.IsAbs(filepath.FromSlash(bin))) {
		return bin
	}
	return "!" + shellQuote(bin)
}

// GitEntry is one key and value from `git config --list`. Section and
// variable names are lowercase there; the URL keeps its case.
type GitEntry struct{ Key, Value string }

// ParseGitList parses `git config --null --list`: "key\nvalue\x00" per
// entry ("key\x00" for a key without "=").
func ParseGitList(out []byte) []GitEntry {
	var list []GitEntry
	for rec := range bytes.SplitSeq(out, []byte{0}) {
		if len(rec) == 0 {
			continue
		}
		k, v, _ := strings.Cut(string(rec), "\n")
		list = append(list, GitEntry{k, v})
	}
	return list
}

// GitCommands returns the `git config` arguments (without the file
// option) that make each helper URL's helpers exactly "" then helper (the
// empty value drops the helpers collected before it, such as store, so
// no other helper sees or keeps the token), and set useHttpPath on each
// path URL. It returns nothing when the configuration already says so.
//
// git collects helpers in the order it reads them, so a helper line
// further down the file (a `[credential] helper = store` added after
// setup ran) would run after Mayfly's and store its token. When one
// follows, the URL's section is moved to the end of the file: removed,
// then written again with its other keys in their order.
func GitCommands(list []GitEntry, helper string, helperURLs, pathURLs []string) [][]string {
	values := func(key string) []string {
		var out []string
		for _, e := range list {
			if gitKeyEqual(e.Key, key) {
				out = append(out, e.Value)
			}
		}
		return out
	}
	// foreign is a helper key setup does not write: Mayfly's own
	// sections may follow each other in any order.
	foreign := func(k string) bool {
		lk := strings.ToLower(k)
		if !strings.HasPrefix(lk, "credential.") || !strings.HasSuffix(lk, ".helper") {
			return false
		}
		for _, u := range helperURLs {
			if gitKeyEqual(k, "credential."+u+".helper") {
				return false
			}
		}
		return true
	}
	var cmds [][]string
	for _, u := range helperURLs {
		key := "credential." + u + ".helper"
		last, later := -1, false
		for i, e := range list {
			switch {
			case gitKeyEqual(e.Key, key):
				last, later = i, false
			case last >= 0 && foreign(e.Key):
				later = true
			}
		}
		if later {
			section := "credential." + u
			cmds = append(cmds, []string{"--remove-section", section})
			for _, e := range list {
				if gitSection(e.Key) == section && !gitKeyEqual(e.Key, key) {
					cmds = append(cmds, []string{"--add", e.Key, e.Value})
				}
			}
			cmds = append(cmds, []string{"--add", key, ""}, []string{"--add", key, helper})
			continue
		}
		if slices.Equal(values(key), []string{"", helper}) {
			continue
		}
		cmds = append(cmds, []string{"--replace-all", key, ""}, []string{"--add", key, helper})
	}
	for _, u := range pathURLs {
		key := "credential." + u + ".useHttpPath"
		if v := values(key); len(v) == 1 && strings.EqualFold(v[0], "true") {
			continue
		}
		cmds = append(cmds, []string{"--replace-all", key, "true"})
	}
	return cmds
}

// gitSection is the section and subsection of a key: "credential.URL"
// for "credential.URL.helper", with the section name lowercased.
func gitSection(key string) string {
	i, j := strings.IndexByte(key, '.'), strings.LastIndexByte(key, '.')
	if i < 0 || j <= i {
		return strings.ToLower(key)
	}
	return strings.ToLower(key[:i]) + key[i:j]
}

// gitKeyEqual compares git config keys: section and variable names
// without regard to case, the subsection (the URL) exactly.
func gitKeyEqual(a, b string) bool {
	ai, bi := strings.IndexByte(a, '.'), strings.IndexByte(b, '.')
	aj, bj := strings.LastIndexByte(a, '.'), strings.LastIndexByte(b, '.')
	if ai < 0 || bi < 0 {
		return strings.EqualFold(a, b)
	}
	return strings.EqualFold(a[:ai], b[:bi]) && strings.EqualFold(a[aj:], b[bj:]) && a[ai:aj] == b[bi:bj]
}

// GitGlobalConfigPath is the file `git config --global` writes:
// $GIT_CONFIG_GLOBAL, else ~/.gitconfig, else $XDG_CONFIG_HOME/git/config
// when only that one exists (git's own rule).
func GitGlobalConfigPath(e Env) string {
	if p := e.getenv("GIT_CONFIG_GLOBAL"); p != "" {
		return p
	}
	home := filepath.Join(e.Home, ".gitconfig")
	if _, err := os.Stat(home); err == nil {
		return home
	}
	xdg := e.absEnv("XDG_CONFIG_HOME")
	if xdg == "" {
		xdg = filepath.Join(e.Home, ".config")
	}
	if p := filepath.Join(xdg, "git", "config"); isFile(p) {
		return p
	}
	return home
}

// Git plans the global git configuration: git's own `git config` writes
// the change into a private copy of the file, which becomes the plan's new
// content, so the file is exactly as git would leave it.
func Git(ctx context.Context, e Env, profiles []*config.Profile) (*Plan, error) {
	bin, err := e.bin("git-credential-mayfly")
	if err != nil {
		return nil, err
	}
	path := e.File
	if path == "" {
		path = GitGlobalConfigPath(e)
	}
	p, err := readPlan("git", path)
	if err != nil {
		return nil, err
	}
	helperURLs, pathURLs := GitURLs(profiles)
	if len(helperURLs) == 0 {
		p.Notes = append(p.Notes, "no URL to add")
		return p, nil
	}
	tmp, err := os.MkdirTemp("", "mayfly-setup-")
	if err != nil {
		return nil, fmt.Errorf("setup: %w", err)
	}
	defer os.RemoveAll(tmp)
	copyPath := filepath.Join(tmp, "gitconfig")
	if err := os.WriteFile(copyPath, p.Old, 0o600); err != nil {
		return nil, fmt.Errorf("setup: %w", err)
	}
	git := func(args ...string) ([]byte, error) {
		return e.Run(ctx, []string{"GIT_CONFIG_NOSYSTEM=1"}, "git", append([]string{"config", "--file", copyPath}, args...)...)
	}
	out, err := git("--null", "--list")
	if err != nil {
		return nil, fmt.Errorf("setup: reading %s: %w", p.Path, err)
	}
	cmds := GitCommands(ParseGitList(out), GitHelper(bin), helperURLs, pathURLs)
	for _, c := range cmds {
		if _, err := git(c...); err != nil {
			return nil, fmt.Errorf("setup: %w", err)
		}
	}
	if len(cmds) > 0 {
		if p.New, err = os.ReadFile(copyPath); err != nil {
			return nil, fmt.Errorf("setup: %w", err)
		}
	}
	for _, e := range ParseGitList(out) {
		if strings.EqualFold(e.Key, "credential.helper") && (e.Value == "store" || strings.HasPrefix(e.Value, "store ")) {
			p.Notes = append(p.Notes, "credential.helper=store is set: it keeps plaintext passwords in ~/.git-credentials for other hosts; `mayfly audit` lists them")
		}
	}
	return p, nil
}
