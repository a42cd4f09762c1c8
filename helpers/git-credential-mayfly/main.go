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
	"os/signal"
	"slices"
	"syscall"

	"github.com/mayflyhq/mayfly/internal/ui/usage"
	"github.com/mayflyhq/mayfly/protocol/gitcred"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
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
