// Command git-credential-mayfly is a git credential helper that answers with
// short-lived tokens from the Mayfly agent. Wire it with
//
//	git config --global credential.https://git.corp.example.helper ""
//	git config --global --add credential.https://git.corp.example.helper mayfly
package main

import (
	"context"
	"io"
	"os"
	"slices"

	"github.com/mayflyhq/mayfly/internal/ui/usage"
	"github.com/mayflyhq/mayfly/protocol/gitcred"
)

// main installs no signal handler: this helper never signs in, so on
// Ctrl-C or SIGTERM the default (exit at once) is right, and the kernel
// closes the agent's connection as a cancelled context would. signal.Notify
// would cost a thread at every start (bench/README.md).
func main() {
	os.Exit(run(context.Background(), os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	// --help is for a person: git never passes it.
	if slices.ContainsFunc(args, usage.IsHelp) {
		usage.Print(stdout, "git-credential-mayfly")
		return 0
	}
	flags, action := gitcred.SplitArgs(args)
	h, err := newHandler(flags)
	if err != nil {
		io.WriteString(stderr, "git-credential-mayfly: "+err.Error()+"\n")
		return 2
	}
	return gitcred.Run(ctx, action, stdin, stdout, stderr, h)
}
