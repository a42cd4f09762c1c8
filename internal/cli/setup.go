package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/mayflyhq/mayfly/internal/config"
	"github.com/mayflyhq/mayfly/internal/paths"
	"github.com/mayflyhq/mayfly/internal/setup"
)

// setupCmd writes each named consumer's configuration so that it asks
// Mayfly (package setup). The outcome goes to stdout: a diff with
// --dry-run, else what was written and where the backup is; notes go to
// stderr. Running it twice changes nothing the second time.
func setupCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flags("setup", stderr)
	profile := fs.String("profile", "", "wire only this profile (default: all)")
	dryRun := fs.Bool("dry-run", false, "print the change as a diff; write nothing")
	file := fs.String("file", "", "write this file instead of the consumer's usual one")
	consumers, err := parseInterleaved(fs, args)
	if err != nil {
		return err
	}
	if len(consumers) == 0 {
		return usageError{fmt.Errorf("name a consumer: %s", strings.Join(setup.Consumers, ", "))}
	}
	for _, c := range consumers {
		if !slices.Contains(setup.Consumers, c) {
			return usageError{fmt.Errorf("unknown consumer %q (one of %s)", c, strings.Join(setup.Consumers, ", "))}
		}
	}
	if *file != "" && len(consumers) > 1 {
		return usageError{errors.New("--file applies to one consumer at a time")}
	}
	cfgPath, err := paths.Config()
	if err != nil {
		return err
	}
	cfg, err := config.Load(cfgPath)
	if err != nil {
		return err
	}
	profiles, err := setup.Select(cfg, *profile)
	if err != nil {
		return err
	}
	env, err := setup.DefaultEnv()
	if err != nil {
		return err
	}
	env.File = *file
	failed := false
	for _, c := range consumers {
		if err := setupOne(ctx, c, env, profiles, *dryRun, stdout, stderr); err != nil {
			fmt.Fprintf(stderr, "mayfly setup %s: %s\n", c, oneLine(err))
			failed = true
		}
	}
	if failed {
		return errSilent
	}
	return nil
}

func setupOne(ctx context.Context, consumer string, env setup.Env, profiles []*config.Profile, dryRun bool, stdout, stderr io.Writer) error {
	p, err := setup.Make(ctx, consumer, env, profiles)
	if err != nil {
		return err
	}
	for _, n := range p.Notes {
		fmt.Fprintf(stderr, "mayfly setup %s: note: %s\n", consumer, n)
	}
	switch {
	case !p.Changed():
		fmt.Fprintf(stdout, "%s: %s is already set up; nothing changed\n", consumer, p.Path)
	case dryRun:
		fmt.Fprint(stdout, p.Diff())
		fmt.Fprintf(stdout, "%s: dry run; %s not written\n", consumer, p.Path)
	default:
		backup, err := p.Apply(time.Now())
		if err != nil {
			return err
		}
		if backup != "" {
			fmt.Fprintf(stdout, "%s: updated %s (backup: %s)\n", consumer, p.Path, backup)
		} else {
			fmt.Fprintf(stdout, "%s: created %s\n", consumer, p.Path)
		}
	}
	return nil
}

// parseInterleaved parses flags that may come before, between or after
// the positional arguments, which it returns.
func parseInterleaved(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, err
			}
			return nil, usageError{err}
		}
		if fs.NArg() == 0 {
			return pos, nil
		}
		pos = append(pos, fs.Arg(0))
		args = fs.Args()[1:]
	}
}
