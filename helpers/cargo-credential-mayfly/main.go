// Command cargo-credential-mayfly is a Cargo credential provider (Cargo ≥
// 1.74) that answers with short-lived tokens from the Mayfly agent, for the
// profile whose match rules serve the registry's index URL. Wire it with
//
//	[registries.corp]
//	index = "sparse+https://crates.corp.example/index/"
//	credential-provider = ["/abs/path/cargo-credential-mayfly"]
package main

import (
	"context"
	"io"
	"os"

	"github.com/mayflyhq/mayfly/internal/ui/usage"
	"github.com/mayflyhq/mayfly/protocol/cargocred"
)

// main installs no signal handler: this helper never signs in, so on
// Ctrl-C or SIGTERM the default (exit at once) is right, and the kernel
// closes the agent's connection as a cancelled context would. signal.Notify
// would cost a thread at every start (bench/README.md).
func main() {
	os.Exit(run(context.Background(), os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	// cargo always passes --cargo-plugin; --help alone is a person asking.
	if len(args) == 1 && usage.IsHelp(args[0]) {
		usage.Print(stdout, "cargo-credential-mayfly")
		return 0
	}
	return cargocred.Run(ctx, args, stdin, stdout, stderr, handler{})
}
