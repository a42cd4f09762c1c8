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

// Run runs the command in args and returns the exit code.
func Run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		writeUsage(stderr, commands)
		return 2
	}
	cmd, rest := args[0], args[1:]
	// --help anywhere before "--" describes the command, from its
	// declaration, without reading the configuration or reaching the agent.
	if c, ok := lookup(commands, cmd); ok && wantsHelp(rest) {
		writeCommandHelp(stdout, c)
		return 0
	}
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
	case "key":
		err = key(ctx, rest, stdout, stderr)
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
	case "completion":
		err = completionCmd(rest, stdout)
	case "man":
		err = manCmd(rest, stdout)
	case completeProfiles:
		listProfiles(stdout)
	case "version", "--version":
		fmt.Fprintln(stdout, "mayfly", version.String())
	case "help", "-h", "--help":
		if len(rest) > 0 {
			if c, ok := lookup(commands, rest[0]); ok {
				writeCommandHelp(stdout, c)
				return 0
			}
		}
		writeUsage(stdout, commands)
	default:
		fmt.Fprintf(stderr, "mayfly: unknown command %q\n", cmd)
		writeUsage(stderr, commands)
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
	var ce cancelledError
	if errors.As(err, &ce) {
		// One line, and the exit code a shell gives a command killed
		// by SIGINT.
		fmt.Fprintf(stderr, "mayfly %s: %v\n", cmd, err)
		return 130
	}
	var ue usageError
	if errors.As(err, &ue) {
		fmt.Fprintf(stderr, "mayfly %s: %v\n", cmd, err)
		return 2
	}
	fmt.Fprintf(stderr, "mayfly %s: %s\n", cmd, oneLine(err))
	return 1
}

// wantsHelp reports whether args ask for help before any "--".
func wantsHelp(args []string) bool {
	for _, a := range args {
		switch a {
		case "--":
			return false
		case "-h", "-help", "--help":
			return true
		}
	}
	return false
}

// cancelledError ends a command the person interrupted (Ctrl-C).
type cancelledError struct{ error }

type usageError struct{ error }

// errSilent fails a command that has already said why on stdout.
var errSilent = errors.New("failed")

// flags returns the flag set of the command called name. Its usage, shown
// after a flag error, is the command's synopsis from [commands].
func flags(name string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("mayfly "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		if flagSetHook != nil {
			flagSetHook(name, fs)
		}
		if c, ok := lookup(commands, name); ok {
			fmt.Fprintf(stderr, "usage: mayfly %s\n", c.synopsis())
		}
	}
	return fs
}

// flagSetHook, when set by a test, sees each command's flag set once its
// flags are defined (when it prints its usage).
var flagSetHook func(name string, fs *flag.FlagSet)

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
