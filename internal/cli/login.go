package cli

import (
	"context"
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
	err = c.Stream(ctx, req, func(r wire.Response) error {
		loginui.Show(ctx, stderr, r, openBrowser)
		return nil
	})
	if ctx.Err() != nil {
		return fmt.Errorf("cancelled")
	}
	return agentErr(err)
}
