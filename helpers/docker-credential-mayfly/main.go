// Command docker-credential-mayfly is a Docker credential helper, run by the
// docker CLI, crane, skopeo and the like (protocol: protocol/dockercred).
// For a registry a Mayfly profile serves, get answers with a short-lived
// token from the agent; for any other registry it keeps the password
// `docker login` hands it in the agent's secret store, never in
// config.json. Wire it in ~/.docker/config.json with
//
//	{"credHelpers": {"registry.corp.example": "mayfly"}}
//
// or, for every registry, {"credsStore": "mayfly"}.
package main

import (
	"context"
	"io"
	"os"

	"github.com/mayflyhq/mayfly/internal/ui/usage"
	"github.com/mayflyhq/mayfly/internal/version"
	"github.com/mayflyhq/mayfly/protocol/dockercred"
)

// main installs no signal handler: this helper never signs in, so on
// Ctrl-C or SIGTERM the default (exit at once) is right, and the kernel
// closes the agent's connection as a cancelled context would. signal.Notify
// would cost a thread at every start (bench/README.md).
func main() {
	os.Exit(run(context.Background(), os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	// The helper protocol reserves -h and --help for the usage, on stdout
	// with exit 0 (docker-credential-helpers' credentials.HandleCommand).
	if len(args) == 1 && usage.IsHelp(args[0]) {
		usage.Print(stdout, "docker-credential-mayfly")
		return 0
	}
	v := dockercred.Version{Name: "docker-credential-mayfly", Package: "github.com/mayflyhq/mayfly", Version: version.String()}
	return dockercred.Run(ctx, args, v, stdin, stdout, &handler{stderr: stderr})
}
