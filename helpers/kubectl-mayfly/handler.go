package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/mayflyhq/mayfly/agent/client"
	"github.com/mayflyhq/mayfly/agent/wire"
	"github.com/mayflyhq/mayfly/internal/envknob"
	"github.com/mayflyhq/mayfly/internal/loginui"
	"github.com/mayflyhq/mayfly/internal/ui"
	"github.com/mayflyhq/mayfly/protocol/execcred"
)

// handler turns kubectl's requests into agent calls.
type handler struct {
	profile   string    // --profile: serve this profile whatever the cluster
	stderr    io.Writer // where a sign-in is shown; kubectl passes it to the person
	cancelled bool      // Ctrl-C or SIGTERM ended a sign-in
}

func newHandler(args []string, stderr io.Writer) (*handler, error) {
	fs := flag.NewFlagSet("kubectl-mayfly", flag.ContinueOnError)
	// One line from main, not the flag package's usage dump: kubectl shows
	// whatever a plugin writes on stderr to the person.
	fs.SetOutput(io.Discard)
	h := &handler{stderr: stderr}
	fs.StringVar(&h.profile, "profile", "", "profile to use instead of matching the cluster's server URL")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	return h, nil
}

// Token asks the agent for a token for the profile named by --profile, else
// for the one whose match rules serve the cluster's server URL. Without a
// session it signs in on the spot when kubectl lets the plugin talk to the
// person (spec.interactive, protocols.md §3.5), and otherwise says which
// command to run.
func (h *handler) Token(ctx context.Context, req execcred.Request) (execcred.Response, error) {
	var server string
	if req.Cluster != nil {
		server = req.Cluster.Server
	}
	if h.profile == "" && server == "" {
		return execcred.Response{}, errors.New(`no profile to use: add "--profile", "NAME" to the exec args in the kubeconfig, ` +
			"or set provideClusterInfo: true there so that the cluster's server URL picks one")
	}
	c, err := client.New()
	if err != nil {
		return execcred.Response{}, err
	}
	treq := wire.Request{Op: wire.OpToken, URL: server, Profile: h.profile, Consumer: "kubectl"}
	resp, err := c.Ask(ctx, treq)
	if needsSignIn(err) {
		switch {
		case !req.Interactive:
			// interactiveMode Never, or IfAvailable without a terminal
			// on kubectl's stdin (protocols.md §3.5): nobody to ask.
			return execcred.Response{}, h.signInHint(err, "kubectl gives this plugin no terminal to sign in on")
		case envknob.Bool(envknob.NonInteractive):
			// "forbids prompts and browser windows" (envknob), and a
			// device code is a prompt: style R17, never hang in CI.
			return execcred.Response{}, h.signInHint(err, envknob.NonInteractive+" is set")
		}
		// Ctrl-C and SIGTERM end a sign-in cleanly, here and not in main:
		// signal.Notify costs a thread, which the hot path would pay for at
		// every start (bench/README.md). Elsewhere they end the plugin,
		// and the kernel closes the agent's connection.
		sctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
		serr := h.signIn(sctx, c, server)
		h.cancelled = sctx.Err() != nil
		stop()
		if serr != nil {
			if h.cancelled {
				return execcred.Response{}, errors.New("sign-in cancelled")
			}
			return execcred.Response{}, serr
		}
		resp, err = c.Ask(ctx, treq)
	}
	if err != nil {
		return execcred.Response{}, ctxErr(ctx, err)
	}
	// The agent's expiry is already brought forward by the profile's
	// margin: kubectl checks expirationTimestamp lazily and would otherwise
	// send a token that expires on the way (protocols.md §3.4).
	return execcred.Response{Token: resp.Token, Expiry: resp.Expiry}, nil
}

// needsSignIn reports whether the agent has no usable session.
func needsSignIn(err error) bool {
	var we *wire.Error
	return errors.As(err, &we) && (we.Code == wire.CodeLoginRequired || we.Code == wire.CodeRevoked)
}

// signInHint is the agent's message, which names `mayfly login --profile
// NAME`, with why this plugin did not sign in itself.
func (h *handler) signInHint(err error, why string) error {
	msg := err.Error()
	if !strings.Contains(msg, "mayfly login") {
		if h.profile != "" {
			msg += ": run `mayfly login --profile " + h.profile + "`"
		} else {
			msg += ": run `mayfly login`"
		}
	}
	return fmt.Errorf("%s (%s)", msg, why)
}

// signIn runs the sign-in on the terminal, through stderr: stdout is
// kubectl's. The agent talks to the provider; we only show what it streams.
func (h *handler) signIn(ctx context.Context, c *client.Client, server string) error {
	open := ui.CanOpenBrowser()
	// The profile is the one named by --profile. Without it, the agent
	// signs in to the configuration's only profile, which is the one the
	// server URL matched (with several, it asks for --profile).
	lreq := wire.Request{Op: wire.OpLogin, Profile: h.profile, URL: server, Consumer: "kubectl", NoBrowser: !open}
	d := loginui.New(h.stderr, open)
	defer d.Close() // stops the countdown and clears its line, also on Ctrl-C
	return c.Stream(ctx, lreq, func(r wire.Response) error {
		d.Show(ctx, r)
		return nil
	})
}

func ctxErr(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return errors.New("cancelled")
	}
	return err
}
