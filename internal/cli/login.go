package cli

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/mayflyhq/mayfly/agent/wire"
	"github.com/mayflyhq/mayfly/internal/loginui"
	"github.com/mayflyhq/mayfly/internal/ui"
)

func login(ctx context.Context, args []string, stderr io.Writer) error {
	fs := flags("login", stderr)
	profile := fs.String("profile", "", "profile to sign in (default: the only one)")
	flow := fs.String("flow", "", "override the profile's flow: device or browser")
	noBrowser := fs.Bool("no-browser", false, "do not open a browser; print the link instead")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *flow != "" && *flow != "device" && *flow != "browser" {
		return usageError{fmt.Errorf("--flow must be device or browser, not %q", *flow)}
	}
	c, err := newClient()
	if err != nil {
		return err
	}
	openBrowser := !*noBrowser && ui.CanOpenBrowser()
	req := wire.Request{Op: wire.OpLogin, Profile: *profile, Flow: *flow, NoBrowser: !openBrowser}
	d := loginui.New(stderr, openBrowser)
	// Ctrl-C cancels ctx; Stream then closes the connection, which makes
	// the agent abandon the device or browser flow it is waiting on.
	err = c.Stream(ctx, req, func(r wire.Response) error {
		d.Show(ctx, r)
		return nil
	})
	d.Close()
	if ctx.Err() != nil {
		return errSignInCancelled
	}
	return agentErr(err)
}

// errSignInCancelled ends a sign-in the person interrupted (Ctrl-C): exit
// code 130, as a shell reports a command killed by SIGINT.
var errSignInCancelled = cancelledError{errors.New("sign-in cancelled")}
