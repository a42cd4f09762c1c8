// Command kubectl-mayfly is a kubectl exec credential plugin that answers
// with short-lived tokens from the Mayfly agent. Wire it in the kubeconfig:
//
//	users:
//	- name: corp
//	  user:
//	    exec:
//	      apiVersion: client.authentication.k8s.io/v1
//	      command: kubectl-mayfly
//	      args: ["--profile", "kube"]   # or none: the cluster's server URL picks the profile
//	      interactiveMode: IfAvailable  # sign in on the terminal when there is one
//	      provideClusterInfo: true
//	      installHint: "Install Mayfly and put its bin/ on PATH"
package main

import (
	"context"
	"io"
	"os"
	"slices"

	"github.com/mayflyhq/mayfly/internal/ui/usage"
	"github.com/mayflyhq/mayfly/protocol/execcred"
)

// main installs no signal handler: the handler does, for a sign-in only.
func main() {
	os.Exit(run(context.Background(), os.Args[1:], os.Getenv(execcred.EnvVar), os.Stdout, os.Stderr))
}

func run(ctx context.Context, args []string, execInfo string, stdout, stderr io.Writer) int {
	// --help is for a person: kubectl passes only the kubeconfig's args.
	if slices.ContainsFunc(args, usage.IsHelp) {
		usage.Print(stdout, "kubectl-mayfly")
		return 0
	}
	h, err := newHandler(args, stderr)
	if err != nil {
		io.WriteString(stderr, "kubectl-mayfly: "+err.Error()+" (usage: kubectl-mayfly [--profile NAME], run by kubectl)\n")
		return 2
	}
	code := execcred.Run(ctx, execInfo, stdout, stderr, h)
	if code != 0 && (ctx.Err() != nil || h.cancelled) {
		// Ctrl-C during a sign-in on the terminal: the handler has said
		// "sign-in cancelled"; exit as a shell reports an interrupt.
		return 130
	}
	return code
}
