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

	"github.com/mayflyhq/mayfly/internal/ui/usage"
	"github.com/mayflyhq/mayfly/protocol/bazelcred"
)

// main installs no signal handler: this helper never signs in, so on
// Ctrl-C or SIGTERM the default (exit at once) is right, and the kernel
// closes the agent's connection as a cancelled context would. signal.Notify
// would cost a thread at every start (bench/README.md).
func main() {
	os.Exit(run(context.Background(), os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
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
