// Package keyaudit finds long-lived credentials in plaintext: the files
// that tools write them into (Docker's config.json auths, git's
// ~/.git-credentials and its store helper, kubeconfig tokens and client
// keys, .netrc, AWS, npm, PyPI and cargo credential files), env files and
// shell profiles, and any tree or binary it is given (`mayfly audit`).
//
// Detection has three layers. Parsers for the known files report what the
// file holds and for which server, so each finding says whether a Mayfly
// profile serves that server (then Mayfly replaces the key) and what to
// do. A table of known key formats, derived from gitleaks' default rules
// (see rules.go), finds keys anywhere, including in a binary's strings.
// And an entropy check finds random-looking values assigned to names such
// as API_KEY or token. A finding never carries the secret: only its first
// and last characters ([Redact]).
//
// [PlanDockerFix] and [PlanGitCredentialsFix] compute what `mayfly audit
// --fix` writes: Docker auths moved to Mayfly's secret store (or dropped
// where a profile mints tokens) with credHelpers naming Mayfly, and
// ~/.git-credentials without the lines of hosts a profile serves.
package keyaudit

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
)

// Finding is one credential found in plaintext.
type Finding struct {
	File   string `json:"file"`
	Line   int    `json:"line,omitempty"`   // 1-based, in a text file
	Offset int64  `json:"offset,omitempty"` // in a binary: where the key starts
	Kind   string `json:"kind"`             // "docker-auth", "github-pat", ...
	What   string `json:"what"`             // the kind, for people
	Secret string `json:"secret"`           // redacted: first and last characters only
	Host   string `json:"host,omitempty"`   // the server it is for, when the file says
	// Mayfly says what Mayfly can do about it:
	//   "replace": a profile serves the host: Mayfly's short-lived tokens
	//              replace it, and the key can go;
	//   "store":   Mayfly can keep it in the secret store instead of the file;
	//   "profile": the consumer asks Mayfly, so a profile for the host
	//              (whose server accepts your provider's tokens) would
	//              replace it;
	//   "no":      a key Mayfly cannot mint: rotate it and keep it out of files.
	Mayfly      string `json:"mayfly"`
	Profile     string `json:"profile,omitempty"` // the profile serving Host
	Remediation string `json:"remediation"`
	Fixable     bool   `json:"fixable,omitempty"` // `mayfly audit --fix` handles it

	raw      string // the secret itself; never printed
	priority int    // 0 parser, 1 key format, 2 entropy: which of two findings on a line wins
}

// Mayfly values.
const (
	CanReplace = "replace"
	CanStore   = "store"
	NeedsProf  = "profile"
	CannotHelp = "no"
)

// Report is the outcome of a scan.
type Report struct {
	Findings []Finding `json:"findings"`
	Scanned  []string  `json:"scanned"`          // files read
	Errors   []string  `json:"errors,omitempty"` // files that could not be read
}

// Options are the machine the scan looks at.
type Options struct {
	Home   string
	Getenv func(string) string
	Cwd    string // also scanned for .env files by default; "" for none
	// Match returns the name of the profile serving a URL, or "".
	Match func(url string) string
	// GitConfig returns `git config --global --null --show-origin --list`,
	// or an error when git is not there; nil skips git's configuration.
	GitConfig func(ctx context.Context) ([]byte, error)
}

func (o Options) getenv(k string) string {
	if o.Getenv == nil {
		return ""
	}
	return o.Getenv(k)
}

func (o Options) match(url string) string {
	if o.Match == nil {
		return ""
	}
	return o.Match(url)
}

// maxFile bounds what is read of one file: a credential file is small,
// and binaries beyond this are rare enough to be skipped with a note.
const maxFile = 512 << 20

// Source is one file to scan and how to read it.
type Source struct {
	Path string
	Kind string // a parser name (see parsers), or "" to decide by name and content
}

// DefaultSources are the usual places of plaintext credentials on this
// machine.
func DefaultSources(o Options) []Source {
	h := func(p ...string) string { return filepath.Join(append([]string{o.Home}, p...)...) }
	var out []Source
	dockerDir := o.getenv("DOCKER_CONFIG")
	if !filepath.IsAbs(dockerDir) {
		dockerDir = h(".docker")
	}
	out = append(out, Source{filepath.Join(dockerDir, "config.json"), "docker"})
	xdg := o.getenv("XDG_CONFIG_HOME")
	if !filepath.IsAbs(xdg) {
		xdg = h(".config")
	}
	out = append(out, Source{h(".git-credentials"), "git-credentials"}, Source{filepath.Join(xdg, "git", "credentials"), "git-credentials"})
	kube := filepath.SplitList(o.getenv("KUBECONFIG"))
	if len(kube) == 0 || (len(kube) == 1 && kube[0] == "") {
		kube = []string{h(".kube", "config")}
	}
	for _, k := range kube {
		if k != "" {
			out = append(out, Source{k, "kubeconfig"})
		}
	}
	netrc := o.getenv("NETRC")
	if netrc == "" {
		netrc = h(".netrc")
	}
	out = append(out, Source{netrc, "netrc"}, Source{h("_netrc"), "netrc"})
	awsCreds := o.getenv("AWS_SHARED_CREDENTIALS_FILE")
	if awsCreds == "" {
		awsCreds = h(".aws", "credentials")
	}
	awsConfig := o.getenv("AWS_CONFIG_FILE")
	if awsConfig == "" {
		awsConfig = h(".aws", "config")
	}
	out = append(out, Source{awsCreds, "aws"}, Source{awsConfig, "aws"})
	out = append(out, Source{h(".npmrc"), "npmrc"}, Source{h(".pypirc"), "pypirc"})
	cargo := o.getenv("CARGO_HOME")
	if !filepath.IsAbs(cargo) {
		cargo = h(".cargo")
	}
	out = append(out, Source{filepath.Join(cargo, "credentials.toml"), "cargo-credentials"}, Source{filepath.Join(cargo, "credentials"), "cargo-credentials"})
	for _, p := range []string{".bashrc", ".bash_profile", ".bash_login", ".profile", ".zshrc", ".zshenv", ".zprofile", ".config/fish/config.fish"} {
		out = append(out, Source{h(filepath.FromSlash(p)), "text"})
	}
	for _, p := range []string{".config/gh/hosts.yml", ".gradle/gradle.properties", ".m2/settings.xml", ".terraform.d/credentials.tfrc.json", ".pgpass"} {
		out = append(out, Source{h(filepath.FromSlash(p)), "text"})
	}
	dirs := []string{o.Home}
	if o.Cwd != "" && o.Cwd != o.Home {
		dirs = append(dirs, o.Cwd)
	}
	for _, d := range dirs {
		matches, _ := filepath.Glob(filepath.Join(d, ".env*"))
		for _, m := range matches {
			out = append(out, Source{m, "text"})
		}
	}
	return out
}

// ScanDefaults scans [DefaultSources] and git's configuration. Missing
// files are skipped silently.
func ScanDefaults(ctx context.Context, o Options) Report {
	var r Report
	seen := map[string]bool{}
	for _, s := range DefaultSources(o) {
		if seen[s.Path] {
			continue
		}
		seen[s.Path] = true
		st, err := os.Stat(s.Path)
		if err != nil || !st.Mode().IsRegular() {
			continue
		}
		scanFile(ctx, o, s, &r)
	}
	if o.GitConfig != nil {
		if out, err := o.GitConfig(ctx); err == nil {
			for _, extra := range gitStoreFindings(o, out, &r) {
				if !seen[extra] && isRegular(extra) {
					seen[extra] = true
					scanFile(ctx, o, Source{extra, "git-credentials"}, &r)
				}
			}
		}
	}
	r.finish()
	return r
}

// ScanPaths scans files and trees. In a tree, .git and node_modules are
// skipped, and symbolic links are not followed.
func ScanPaths(ctx context.Context, o Options, paths []string) Report {
	var r Report
	for _, root := range paths {
		err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				r.Errors = append(r.Errors, err.Error())
				return nil
			}
			if ctx.Err() != nil {
				return ctx.Err()
			}
			if d.IsDir() {
				if p != root && (d.Name() == ".git" || d.Name() == "node_modules") {
					return filepath.SkipDir
				}
				return nil
			}
			if !d.Type().IsRegular() {
				return nil
			}
			scanFile(ctx, o, Source{Path: p}, &r)
			return nil
		})
		if err != nil && !errors.Is(err, context.Canceled) {
			r.Errors = append(r.Errors, err.Error())
		}
	}
	r.finish()
	return r
}

func isRegular(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.Mode().IsRegular()
}

// scanFile reads one file and adds what it holds to r.
func scanFile(_ context.Context, o Options, s Source, r *Report) {
	f, err := os.Open(s.Path)
	if err != nil {
		r.Errors = append(r.Errors, err.Error())
		return
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxFile+1))
	if err != nil {
		r.Errors = append(r.Errors, fmt.Sprintf("%s: %v", s.Path, err))
		return
	}
	if len(data) > maxFile {
		r.Errors = append(r.Errors, fmt.Sprintf("%s: skipped: larger than %d MiB", s.Path, maxFile>>20))
		return
	}
	r.Scanned = append(r.Scanned, s.Path)
	r.Findings = append(r.Findings, ScanData(o, s.Path, s.Kind, data)...)
}

// ScanData finds the credentials in data, the content of path. kind names
// a parser for the file's format (see [DefaultSources]), "text" for rules
// only, or "" to decide by the file's name and content.
func ScanData(o Options, path, kind string, data []byte) []Finding {
	if isBinary(data) {
		return scanBinary(path, data)
	}
	if kind == "" {
		kind = kindOf(path, data)
	}
	var out []Finding
	if p := parsers[kind]; p != nil {
		out = p(o, path, data)
	}
	out = append(out, scanText(path, data)...)
	for i := range out {
		classify(o, &out[i])
	}
	return out
}

// isBinary reports whether data looks like a binary file: a NUL byte in
// its first 8000 bytes, git's own test.
func isBinary(data []byte) bool {
	return bytes.IndexByte(data[:min(len(data), 8000)], 0) >= 0
}

// kindOf picks the parser for a file found in a tree.
func kindOf(path string, data []byte) string {
	base := filepath.Base(path)
	parent := filepath.Base(filepath.Dir(path))
	switch {
	case base == "config.json" && parent == ".docker", base == "config.json" && bytes.Contains(data, []byte(`"auths"`)):
		return "docker"
	case base == ".git-credentials", base == "credentials" && parent == "git":
		return "git-credentials"
	case base == ".netrc", base == "_netrc":
		return "netrc"
	case (base == "credentials" || base == "config") && parent == ".aws":
		return "aws"
	case base == ".npmrc":
		return "npmrc"
	case base == ".pypirc":
		return "pypirc"
	case (base == "credentials.toml" || base == "credentials") && parent == ".cargo":
		return "cargo-credentials"
	case base == "config" && parent == ".kube", looksLikeKubeconfig(data):
		return "kubeconfig"
	}
	return "text"
}

func looksLikeKubeconfig(data []byte) bool {
	return bytes.Contains(data, []byte("kind: Config")) && bytes.Contains(data, []byte("users:"))
}

// lineOf is the 1-based line of byte offset i in data.
func lineOf(data []byte, i int) int { return bytes.Count(data[:i], []byte("\n")) + 1 }

// scanText applies the key formats and the entropy check to a text file.
func scanText(path string, data []byte) []Finding {
	text := string(data)
	lower := strings.ToLower(text)
	var out []Finding
	for _, r := range rules() {
		if !r.hasKeyword(lower) {
			continue
		}
		for _, m := range r.text.FindAllStringSubmatchIndex(text, -1) {
			secret := text[m[2]:m[3]]
			if !r.wanted(secret) {
				continue
			}
			out = append(out, Finding{File: path, Line: lineOf(data, m[2]), Kind: r.id, What: r.what, raw: secret, priority: 1})
		}
	}
	for _, m := range assignRE().FindAllStringSubmatchIndex(text, -1) {
		name, value := text[m[2]:m[3]], text[m[4]:m[5]]
		if !genericSecret(name, value) {
			continue
		}
		out = append(out, Finding{File: path, Line: lineOf(data, m[4]), Kind: "generic-secret", What: "random-looking value of " + name, raw: value, priority: 2})
	}
	return out
}

// minString is the shortest run of printable bytes taken from a binary,
// as strings(1) would with -n 8.
const minString = 8

// scanBinary applies the distinctive key formats to the printable strings
// of a binary. Compilers store string constants back to back, so a key
// is matched on its own format, with no boundary around it.
func scanBinary(path string, data []byte) []Finding {
	var out []Finding
	start := -1
	flush := func(end int) {
		if start < 0 || end-start < minString {
			start = -1
			return
		}
		s := string(data[start:end])
		lower := strings.ToLower(s)
		for _, r := range rules() {
			if !r.inBinary || !r.hasKeyword(lower) {
				continue
			}
			for _, m := range r.bin.FindAllStringIndex(s, -1) {
				secret := s[m[0]:m[1]]
				if !r.wanted(secret) {
					continue
				}
				out = append(out, Finding{File: path, Offset: int64(start + m[0]), Kind: r.id, What: r.what + " in a binary", raw: secret, priority: 1})
			}
		}
		start = -1
	}
	for i, b := range data {
		if b >= 0x20 && b < 0x7f || b == '\t' || b == '\n' || b == '\r' {
			if start < 0 {
				start = i
			}
			continue
		}
		flush(i)
	}
	flush(len(data))
	for i := range out {
		out[i].Mayfly = CannotHelp
		out[i].Remediation = "a key compiled into a program ships to everyone who has the program: rotate it now, and have the program get a short-lived credential at run time (for example from `mayfly token`)"
	}
	return out
}

// finish drops findings that repeat another on the same line (a parser's
// finding wins over a key format, which wins over the entropy check),
// redacts the secrets and sorts by file and line.
func (r *Report) finish() {
	fs := r.Findings
	sort.SliceStable(fs, func(i, j int) bool {
		a, b := fs[i], fs[j]
		if a.File != b.File {
			return a.File < b.File
		}
		if a.Line != b.Line {
			return a.Line < b.Line
		}
		if a.Offset != b.Offset {
			return a.Offset < b.Offset
		}
		return a.priority < b.priority
	})
	var out []Finding
	for _, f := range fs {
		dup := false
		for k := len(out) - 1; k >= 0; k-- {
			g := out[k]
			if g.File != f.File || g.Line != f.Line || g.Offset != f.Offset {
				break
			}
			// A parser knows the whole line; an entropy match on a
			// line with another finding is that finding; two formats
			// matching one key (gitlab-pat, gitlab-pat-routable) are
			// one finding.
			sameKey := g.raw == f.raw || strings.Contains(g.raw, f.raw) || strings.Contains(f.raw, g.raw)
			if g.priority == 0 && f.priority > 0 || f.priority == 2 || f.priority == 1 && sameKey {
				dup = true
				break
			}
		}
		if !dup {
			out = append(out, f)
		}
	}
	for i := range out {
		if out[i].raw != "" {
			out[i].Secret = Redact(out[i].raw)
		}
	}
	if out == nil {
		out = []Finding{}
	}
	r.Findings = out
	if r.Scanned == nil {
		r.Scanned = []string{}
	}
	r.Scanned = slices.Compact(r.Scanned)
}

// Redact shows a secret by its ends only: the first and last four
// characters of a secret of 16 or more, two of one of 8 to 15, none of a
// shorter one (whose ends would be most of it).
func Redact(s string) string {
	r := []rune(s)
	switch n := len(r); {
	case n >= 16:
		return string(r[:4]) + "…" + string(r[n-4:])
	case n >= 8:
		return string(r[:2]) + "…" + string(r[n-2:])
	default:
		return "…"
	}
}
