package cli

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"time"

	"golang.org/x/term"

	"github.com/mayflyhq/mayfly/agent/wire"
	"github.com/mayflyhq/mayfly/internal/config"
	"github.com/mayflyhq/mayfly/internal/keyaudit"
	"github.com/mayflyhq/mayfly/internal/paths"
	"github.com/mayflyhq/mayfly/internal/setup"
)

// auditCmd lists the long-lived credentials in plaintext on this machine
// (or in the given paths) and, with --fix, moves what it can into Mayfly
// (package keyaudit). It exits 1 when anything is found, so CI can gate on
// it; --json prints the report as JSON. Secrets are shown by their ends
// only.
func auditCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flags("audit", stderr)
	asJSON := fs.Bool("json", false, "print JSON")
	fix := fs.Bool("fix", false, "move Docker passwords into Mayfly and drop git passwords a profile replaces, after confirmation")
	yes := fs.Bool("yes", false, "with --fix: do not ask for confirmation")
	targets, err := parseInterleaved(fs, args)
	if err != nil {
		return err
	}
	opts, err := auditOptions(stderr)
	if err != nil {
		return err
	}
	scan := func() keyaudit.Report {
		if len(targets) > 0 {
			return keyaudit.ScanPaths(ctx, opts, targets)
		}
		return keyaudit.ScanDefaults(ctx, opts)
	}
	r := scan()
	if *fix {
		fixed, err := auditFix(ctx, r, opts, *yes, stderr)
		if err != nil {
			return err
		}
		if fixed {
			r = scan()
		}
	}
	for _, e := range r.Errors {
		fmt.Fprintf(stderr, "mayfly audit: %s\n", e)
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(r); err != nil {
			return err
		}
	} else {
		printAudit(stdout, r)
	}
	if len(r.Findings) > 0 {
		return errSilent
	}
	return nil
}

// auditOptions is this machine, with the configured profiles deciding
// which hosts Mayfly serves. A broken configuration does not stop the
// audit: it only means no host counts as served.
func auditOptions(stderr io.Writer) (keyaudit.Options, error) {
	home, err := os.UserHomeDir()
	if err != nil {
		return keyaudit.Options{}, err
	}
	cwd, _ := os.Getwd()
	o := keyaudit.Options{
		Home:   home,
		Getenv: os.Getenv,
		Cwd:    cwd,
		GitConfig: func(ctx context.Context) ([]byte, error) {
			return exec.CommandContext(ctx, "git", "config", "--global", "--null", "--show-origin", "--list").Output()
		},
	}
	if p, err := paths.Config(); err == nil {
		cfg, err := config.Load(p)
		if err != nil {
			fmt.Fprintf(stderr, "mayfly audit: %s (no host counts as served by a profile)\n", oneLine(err))
		} else {
			o.Match = func(url string) string {
				if prof := cfg.Match(url); prof != nil {
					return prof.Name
				}
				return ""
			}
		}
	}
	return o, nil
}

func printAudit(w io.Writer, r keyaudit.Report) {
	if len(r.Findings) == 0 {
		fmt.Fprintf(w, "no plaintext credentials found (%d files scanned)\n", len(r.Scanned))
		return
	}
	for _, f := range r.Findings {
		where := f.File
		switch {
		case f.Line > 0:
			where = fmt.Sprintf("%s:%d", f.File, f.Line)
		case f.Offset > 0:
			where = fmt.Sprintf("%s@%d", f.File, f.Offset)
		}
		fmt.Fprintf(w, "%s: %s: %s", where, f.Kind, f.What)
		if f.Host != "" {
			fmt.Fprintf(w, " for %s", f.Host)
		}
		if f.Secret != "" {
			fmt.Fprintf(w, " (%s)", f.Secret)
		}
		fmt.Fprintf(w, "\n    mayfly: %s. %s\n", mayflyWords(f.Mayfly), f.Remediation)
	}
	fmt.Fprintf(w, "%d plaintext credentials in %d files scanned\n", len(r.Findings), len(r.Scanned))
}

func mayflyWords(m string) string {
	switch m {
	case keyaudit.CanReplace:
		return "replaces it"
	case keyaudit.CanStore:
		return "can keep it in its secret store"
	case keyaudit.NeedsProf:
		return "would replace it with a profile for the host"
	}
	return "cannot replace it"
}

// fileFix is what --fix writes to one file.
type fileFix struct {
	path      string
	old, new  []byte
	mode      os.FileMode
	moves     []keyaudit.StaticCredential
	summaries []string
}

// auditFix applies what --fix handles: Docker auths and git-credentials
// lines of served hosts. It asks first, on the terminal, unless yes; with
// no terminal and no --yes it refuses. It reports whether it wrote.
func auditFix(ctx context.Context, r keyaudit.Report, o keyaudit.Options, yes bool, stderr io.Writer) (bool, error) {
	byFile := map[string]string{} // path → kind
	var order []string
	for _, f := range r.Findings {
		if !f.Fixable {
			continue
		}
		if _, ok := byFile[f.File]; !ok {
			order = append(order, f.File)
		}
		byFile[f.File] = f.Kind
	}
	var fixes []fileFix
	for _, path := range order {
		st, err := os.Stat(path)
		if err != nil {
			return false, err
		}
		old, err := os.ReadFile(path)
		if err != nil {
			return false, err
		}
		ff := fileFix{path: path, old: old, mode: st.Mode().Perm()}
		switch byFile[path] {
		case "docker-auth":
			df, err := keyaudit.PlanDockerFix(old, o.Match)
			if err != nil {
				return false, fmt.Errorf("%s: %w", path, err)
			}
			ff.new, ff.moves = df.New, df.Moves
			for _, m := range df.Moves {
				ff.summaries = append(ff.summaries, fmt.Sprintf("move the password for %s into Mayfly's secret store", m.Server))
			}
			for _, d := range df.Dropped {
				ff.summaries = append(ff.summaries, fmt.Sprintf("remove the password for %s (a profile mints tokens for it)", d))
			}
		case "git-credentials":
			var dropped []string
			ff.new, dropped = keyaudit.PlanGitCredentialsFix(old, o.Match)
			for _, d := range dropped {
				ff.summaries = append(ff.summaries, fmt.Sprintf("remove the password for %s (a profile serves it)", d))
			}
		}
		if len(ff.summaries) > 0 {
			fixes = append(fixes, ff)
		}
	}
	if len(fixes) == 0 {
		fmt.Fprintln(stderr, "mayfly audit: --fix: nothing it can fix")
		return false, nil
	}
	for _, ff := range fixes {
		fmt.Fprintf(stderr, "mayfly audit: --fix will, in %s (a backup is kept):\n", ff.path)
		for _, s := range ff.summaries {
			fmt.Fprintf(stderr, "  - %s\n", s)
		}
	}
	if !yes {
		if !term.IsTerminal(int(os.Stdin.Fd())) {
			return false, errors.New("--fix needs confirmation: run it on a terminal, or add --yes")
		}
		fmt.Fprint(stderr, "Go ahead? [y/N] ")
		answer, _ := bufio.NewReader(os.Stdin).ReadString('\n')
		if a := strings.ToLower(strings.TrimSpace(answer)); a != "y" && a != "yes" {
			return false, errors.New("--fix: nothing changed")
		}
	}
	now := time.Now()
	for _, ff := range fixes {
		// Into the store first: the file loses a password only once
		// Mayfly holds it.
		for _, m := range ff.moves {
			c, err := newClient()
			if err == nil {
				_, err = c.Do(ctx, wire.Request{Op: wire.OpStaticSet, Consumer: "audit", Namespace: "docker", Name: m.Server, Username: m.Username, Secret: m.Secret})
			}
			if err != nil {
				return false, fmt.Errorf("storing the password for %s in Mayfly (%s left unchanged): %w", m.Server, ff.path, agentErr(err))
			}
		}
		backup, err := setup.Backup(ff.path, ff.old, ff.mode, now)
		if err != nil {
			return false, err
		}
		if err := setup.WriteFileAtomic(ff.path, ff.new, ff.mode); err != nil {
			return false, err
		}
		fmt.Fprintf(stderr, "mayfly audit: fixed %s; the backup %s still holds the old passwords: delete it once everything works\n", ff.path, backup)
	}
	return true, nil
}
