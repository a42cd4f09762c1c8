package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/mayflyhq/mayfly/agent/client"
	"github.com/mayflyhq/mayfly/agent/wire"
)

// tokenCmd prints a fresh access token and a newline, nothing else, for
// Claude Code's apiKeyHelper and for scripts. Claude Code runs the command
// with /bin/sh, trims its stdout and sends it as both X-Api-Key and
// "Authorization: Bearer" (protocols.md §10.2), so the output is the bare
// token, with no "Bearer " and no other line. The profile is --profile, or
// the one serving URL, or the only one configured.
//
// Without a session it fails with Run's one stderr line, which carries the
// agent's pointer to `mayfly login --profile NAME`, and prints nothing on
// stdout: apiKeyHelper treats a non-zero exit or an empty output as a
// failure and shows that line (protocols.md §10.3).
func tokenCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flags("token", stderr)
	profile := fs.String("profile", "", "profile whose token to print (default: the one serving URL, else the only one)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return usageError{err}
	}
	var target string
	switch fs.NArg() {
	case 0:
	case 1:
		target = fs.Arg(0)
	default:
		return usageError{fmt.Errorf("unexpected argument %q (usage: mayfly token [--profile NAME | URL])", fs.Arg(1))}
	}
	if *profile != "" && target != "" {
		return usageError{fmt.Errorf("--profile and a URL exclude each other")}
	}
	c, err := newClient()
	if err != nil {
		return err
	}
	if *profile == "" && target == "" {
		if *profile, err = onlyProfile(ctx, c); err != nil {
			return err
		}
	}
	resp, err := c.Do(ctx, wire.Request{Op: wire.OpToken, Profile: *profile, URL: target, Consumer: "token"})
	if err != nil {
		return agentErr(err)
	}
	// A token is printable ASCII (RFC 6750 §2.1's b64token); anything else
	// would break the one-line contract of this command.
	if resp.Token == "" || strings.ContainsFunc(resp.Token, func(r rune) bool { return r <= ' ' || r >= 0x7f }) {
		return fmt.Errorf("the agent's token for profile %s is empty or not printable", resp.Profile)
	}
	_, err = io.WriteString(stdout, resp.Token+"\n")
	return err
}

// onlyProfile names the one configured profile, so that a set-up with one
// profile needs no flag.
func onlyProfile(ctx context.Context, c *client.Client) (string, error) {
	resp, err := c.Do(ctx, wire.Request{Op: wire.OpStatus})
	if err != nil {
		return "", agentErr(err)
	}
	if resp.Status == nil {
		return "", fmt.Errorf("the agent sent no status")
	}
	var names []string
	for _, p := range resp.Status.Profiles {
		names = append(names, p.Name)
	}
	switch len(names) {
	case 0:
		return "", fmt.Errorf("no profiles in %s: add one (see the README)", resp.Status.Config)
	case 1:
		return names[0], nil
	}
	return "", usageError{fmt.Errorf("several profiles (%s): name one with --profile NAME, or pass a URL", strings.Join(names, ", "))}
}
