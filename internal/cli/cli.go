// Package cli is the `mayfly` command: sign-in and sign-out, status, and the
// agent itself. It is the top floor: it wires the agent client, the agent
// and the stores together, and talks to the person on stderr.
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
	"github.com/mayflyhq/mayfly/internal/envknob"
	"github.com/mayflyhq/mayfly/internal/version"
)

const usage = `usage: mayfly <command> [flags]

commands:
  login   [--profile NAME] [--flow device|browser] [--no-browser]   sign in
  logout  [--profile NAME | --all]                                 sign out and revoke
  status  [--json]                                                 profiles, sessions, store
  token   [--profile NAME | URL]                                   print an access token (apiKeyHelper, scripts)
  doctor  [--json]                                                 check config, secret stores and agent
  log     [--since DURATION|TIME] [--json] [--profile NAME]        the audit log: tokens issued and refused, sign-ins, alerts
  setup   git|docker|kube|bazel|go|cargo|claude... [--profile NAME] [--dry-run] [--file PATH]
                                                                   point a tool at Mayfly
  audit   [PATH...] [--json] [--fix [--yes]]                       find long-lived keys in plaintext
  agent   [run | stop]                                             run or stop the agent
  version

environment: ` + "MAYFLY_CONFIG, MAYFLY_AGENT_SOCKET, MAYFLY_DEBUG, MAYFLY_NONINTERACTIVE" + `
`

// Run runs the command in args and returns the exit code.
func Run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	cmd, rest := args[0], args[1:]
	var err error
	switch cmd {
	case "login":
		err = login(ctx, rest, stderr)
	case "logout":
		err = logout(ctx, rest, stdout, stderr)
	case "status":
		err = status(ctx, rest, stdout, stderr)
	case "token":
		err = tokenCmd(ctx, rest, stdout, stderr)
	case "doctor":
		err = doctor(ctx, rest, stdout, stderr)
	case "log":
		err = logCmd(rest, stdout, stderr)
	case "setup":
		err = setupCmd(ctx, rest, stdout, stderr)
	case "audit":
		err = auditCmd(ctx, rest, stdout, stderr)
	case "agent":
		err = agentCmd(ctx, rest, stdout, stderr)
	case "version", "--version":
		fmt.Fprintln(stdout, "mayfly", version.String())
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
	default:
		fmt.Fprintf(stderr, "mayfly: unknown command %q\n%s", cmd, usage)
		return 2
	}
	if err == nil {
		return 0
	}
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if errors.Is(err, errSilent) {
		return 1
	}
	var ue usageError
	if errors.As(err, &ue) {
		fmt.Fprintf(stderr, "mayfly %s: %v\n", cmd, err)
		return 2
	}
	fmt.Fprintf(stderr, "mayfly %s: %s\n", cmd, oneLine(err))
	return 1
}

type usageError struct{ error }

// errSilent fails a command that has already said why on stdout.
var errSilent = errors.New("failed")

func flags(name string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("mayfly "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	return fs
}

func parse(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return usageError{err}
	}
	if fs.NArg() > 0 {
		return usageError{fmt.Errorf("unexpected argument %q", fs.Arg(0))}
	}
	return nil
}

func newClient() (*client.Client, error) { return client.New() }

// oneLine keeps the default error short (style R15); MAYFLY_DEBUG=1 keeps it whole.
func oneLine(err error) string {
	s := err.Error()
	if envknob.Bool(envknob.Debug) {
		return s
	}
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	return s
}

// agentErr adds what to do to an agent's error code.
func agentErr(err error) error {
	var we *wire.Error
	if errors.As(err, &we) {
		return errors.New(we.Message)
	}
	return err
}
