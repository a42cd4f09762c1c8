package setup

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/mayflyhq/mayfly/internal/config"
)

// GoAuthCommand is the GOAUTH entry that runs bin: the command line itself,
// with no "command" word (peers.md §3d). The go command splits it at white
// space with no quoting, so bin must have none.
func GoAuthCommand(bin string) (string, error) {
	if strings.ContainsFunc(bin, func(r rune) bool { return r == ' ' || r == '\t' || r == ';' }) {
		return "", fmt.Errorf("setup: %s: GOAUTH splits commands at spaces and semicolons, so install Mayfly under a path without them", bin)
	}
	return bin + " goauth", nil
}

// GoAuth returns the GOAUTH value with ours first and the current commands
// after it.
//
// Ours goes first because the go command gives the first command's
// credentials priority (it runs them in reverse and lets earlier ones
// overwrite), so a host a profile serves gets Mayfly's token even when
// ~/.netrc still has a password for it. The others are kept, so hosts no
// profile serves work as before; an empty current value is the default,
// "netrc". "off" is dropped (it cannot be combined with a command and
// would switch Mayfly off), and so is any earlier entry running
// mayfly-credential, so a moved installation is not listed twice.
func GoAuth(current, ours string) string {
	if strings.TrimSpace(current) == "" {
		current = "netrc"
	}
	out := []string{ours}
	for c := range strings.SplitSeq(current, ";") {
		c = strings.TrimSpace(c)
		words := strings.Fields(c)
		if len(words) == 0 || words[0] == "off" {
			continue
		}
		base := strings.TrimSuffix(filepath.Base(filepath.ToSlash(words[0])), ".exe")
		if base == "mayfly-credential" || c == ours {
			continue
		}
		out = append(out, c)
	}
	return strings.Join(uniq(out), "; ")
}

// Go plans GOAUTH in the go command's environment file (`go env GOENV`):
// `go env -w` itself writes the value into a private copy of the file,
// which becomes the plan's new content. One entry serves every profile:
// mayfly-credential picks the profile by URL.
func Go(ctx context.Context, e Env, _ []*config.Profile) (*Plan, error) {
	bin, err := e.bin("mayfly-credential")
	if err != nil {
		return nil, err
	}
	ours, err := GoAuthCommand(bin)
	if err != nil {
		return nil, err
	}
	path := e.File
	if path == "" {
		out, err := e.Run(ctx, nil, "go", "env", "GOENV")
		if err != nil {
			return nil, fmt.Errorf("setup: %w", err)
		}
		path = strings.TrimSpace(string(out))
		if path == "" || path == "off" {
			return nil, fmt.Errorf("setup: GOENV is %q, so `go env -w` cannot write: set GOAUTH='%s' in your environment instead", path, ours)
		}
	}
	p, err := readPlan("go", path)
	if err != nil {
		return nil, err
	}
	tmp, err := os.MkdirTemp("", "mayfly-setup-")
	if err != nil {
		return nil, fmt.Errorf("setup: %w", err)
	}
	defer os.RemoveAll(tmp)
	copyPath := filepath.Join(tmp, "env")
	if err := os.WriteFile(copyPath, p.Old, 0o600); err != nil {
		return nil, fmt.Errorf("setup: %w", err)
	}
	// GOAUTH= in the environment makes the go command read the file's
	// value (an empty variable counts as unset).
	env := []string{"GOENV=" + copyPath, "GOAUTH="}
	out, err := e.Run(ctx, env, "go", "env", "GOAUTH")
	if err != nil {
		return nil, fmt.Errorf("setup: %w", err)
	}
	current := strings.TrimSpace(string(out))
	want := GoAuth(current, ours)
	if want != current {
		if _, err := e.Run(ctx, env, "go", "env", "-w", "GOAUTH="+want); err != nil {
			return nil, fmt.Errorf("setup: %w", err)
		}
		if p.New, err = os.ReadFile(copyPath); err != nil {
			return nil, fmt.Errorf("setup: %w", err)
		}
	}
	if v := e.getenv("GOAUTH"); v != "" && v != want {
		p.Notes = append(p.Notes, fmt.Sprintf("GOAUTH is set in your environment, which overrides `go env -w`: set it to %q, or unset it", want))
	}
	p.Notes = append(p.Notes, "GOAUTH sends credentials over HTTPS only; a private module host also needs GOPRIVATE (or GONOSUMDB) to bypass the public proxy and checksum database")
	return p, nil
}
