// Command mayfly-credential is a credential helper for Bazel and for any
// tool that speaks the Bazel/EngFlow credential-helper protocol: build
// tools, scripts and AI tools. It answers "get" with a short-lived token
// from the Mayfly agent, as docs/credential-helper-protocol.md specifies.
// Wire it into Bazel with
//
//	build --credential_helper=*.corp.example=/usr/local/bin/mayfly-credential
//
// "mayfly-credential goauth" speaks Go's GOAUTH protocol instead (goauth.go).
package main

import (
	"context"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/mayflyhq/mayfly/internal/ui/usage"
	"github.com/mayflyhq/mayfly/protocol/bazelcred"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	// Bazel and Go never pass these; a person reading about the helper does.
	if len(args) > 0 && (usage.IsHelp(args[0]) || args[0] == "help") || len(args) == 2 && args[0] == "goauth" && usage.IsHelp(args[1]) {
		usage.Print(stdout, "mayfly-credential")
		return 0
	}
	if len(args) > 0 && args[0] == "goauth" {
		return runGOAUTH(ctx, args[1:], stdin, stdout, stderr)
	}
	return bazelcred.Run(ctx, args, stdin, stdout, stderr, newHandler)
}
