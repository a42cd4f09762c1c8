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
	"os/signal"
	"syscall"

	"github.com/mayflyhq/mayfly/internal/ui/usage"
	"github.com/mayflyhq/mayfly/protocol/cargocred"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	// cargo always passes --cargo-plugin; --help alone is a person asking.
	if len(args) == 1 && usage.IsHelp(args[0]) {
		usage.Print(stdout, "cargo-credential-mayfly")
		return 0
	}
	return cargocred.Run(ctx, args, stdin, stdout, stderr, handler{})
}
