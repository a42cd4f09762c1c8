package setup

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/mayflyhq/mayfly/internal/config"
)

// Markers of the block setup owns in a line-based file (.bazelrc). Lines
// between them are replaced on every run; the rest of the file is never
// touched.
const (
	blockBegin = "# BEGIN mayfly: written by `mayfly setup`; lines up to END mayfly are replaced on every run"
	blockEnd   = "# END mayfly"
)

// BazelScopes returns the --credential_helper scopes for the profiles'
// patterns. A scope is a domain name with an optional leading "*." (the
// Bazel flag's own definition), so ports and paths cannot be expressed:
// notes say where one was dropped.
func BazelScopes(profiles []*config.Profile) (scopes, notes []string) {
	for _, t := range targets(profiles) {
		if t.port != "" || t.path != "" {
			notes = append(notes, fmt.Sprintf("%s%s (profile %s): a Bazel scope is a domain name, so the helper applies to all of %s", t.hostPort(), t.path, t.profile, t.host))
		}
		scopes = append(scopes, strings.Trim(t.host, "[]"))
	}
	return uniq(scopes), notes
}

// BazelLines are the .bazelrc lines for the scopes. `build` options are
// inherited by test, run and the other building commands, as README
// "Wiring each tool" shows.
func BazelLines(scopes []string, helper string) []string {
	var out []string
	for _, s := range scopes {
		out = append(out, "build --credential_helper="+s+"="+helper)
	}
	return out
}

// Block returns old with the marked block holding exactly lines: the
// block is replaced where it is, or appended after a blank line. It
// returns old itself when the block already holds them.
func Block(old []byte, lines []string) []byte {
	var block strings.Builder
	block.WriteString(blockBegin + "\n")
	for _, l := range lines {
		block.WriteString(l + "\n")
	}
	block.WriteString(blockEnd + "\n")
	s := string(old)
	if i := strings.Index(s, blockBegin+"\n"); i >= 0 && (i == 0 || s[i-1] == '\n') {
		rest := s[i:]
		if j := strings.Index(rest, "\n"+blockEnd); j >= 0 {
			end := i + j + 1 + len(blockEnd)
			if end < len(s) && s[end] == '\n' {
				end++
			}
			out := s[:i] + block.String() + s[end:]
			if out == s {
				return old
			}
			return []byte(out)
		}
	}
	switch {
	case s == "":
	case strings.HasSuffix(s, "\n\n"):
	case strings.HasSuffix(s, "\n"):
		s += "\n"
	default:
		s += "\n\n"
	}
	return []byte(s + block.String())
}

// BazelrcPath is ~/.bazelrc, Bazel's per-user file.
func BazelrcPath(e Env) string { return filepath.Join(e.Home, ".bazelrc") }

// Bazel plans --credential_helper lines naming mayfly-credential for the
// profiles' hosts, in a marked block of ~/.bazelrc (or e.File).
func Bazel(_ context.Context, e Env, profiles []*config.Profile) (*Plan, error) {
	bin, err := e.bin("mayfly-credential")
	if err != nil {
		return nil, err
	}
	bin = filepath.ToSlash(bin)
	if strings.ContainsAny(bin, " \t\"'\\") {
		return nil, fmt.Errorf("setup: %s: Bazel splits .bazelrc lines at spaces and reads quotes, so install Mayfly under a simpler path", bin)
	}
	path := e.File
	if path == "" {
		path = BazelrcPath(e)
	}
	p, err := readPlan("bazel", path)
	if err != nil {
		return nil, err
	}
	scopes, notes := BazelScopes(profiles)
	p.Notes = notes
	p.New = Block(p.Old, BazelLines(scopes, bin))
	return p, nil
}
