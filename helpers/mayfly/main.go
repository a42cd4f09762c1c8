// Command mayfly signs in and out, shows status, and runs the agent that
// holds refresh tokens for every Mayfly helper.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/mayflyhq/mayfly/internal/cli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(cli.Run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}
