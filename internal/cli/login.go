package cli

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/mayflyhq/mayfly/agent/wire"
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
		switch r.Event {
		case wire.EventDevice:
			showDevice(ctx, stderr, r, openBrowser)
		case wire.EventBrowser:
			showBrowser(ctx, stderr, r, openBrowser)
		case wire.EventDone:
			who := ""
			if r.Subject != "" {
				who = " as " + r.Subject
			}
			fmt.Fprintf(stderr, "Signed in to %s%s. Access token valid until %s (%s).\n", r.Profile, who,
				r.Expiry.Local().Format("15:04:05"), time.Until(r.Expiry).Round(time.Second))
			if r.Note != "" {
				fmt.Fprintf(stderr, "Note: %s\n", r.Note)
			}
		}
		return nil
	})
	if ctx.Err() != nil {
		return fmt.Errorf("cancelled")
	}
	return agentErr(err)
}

func showDevice(ctx context.Context, w io.Writer, r wire.Response, open bool) {
	fmt.Fprintf(w, "To sign in to %s, open\n\n    %s\n\nand enter the code\n\n    %s\n\n", r.Profile, r.VerificationURI, r.UserCode)
	link := r.VerificationURIComplete
	if link == "" {
		link = r.VerificationURI
	}
	if ui.IsTerminal(w) {
		ui.QR(w, link)
		fmt.Fprintln(w)
	}
	if open && ui.OpenBrowser(ctx, w, link) == nil {
		fmt.Fprintln(w, "(A browser window was opened for you.)")
	}
	if !r.CodeExpiry.IsZero() {
		fmt.Fprintf(w, "Waiting for approval; the code expires at %s. Press Ctrl-C to cancel.\n", r.CodeExpiry.Local().Format("15:04:05"))
	} else {
		fmt.Fprintln(w, "Waiting for approval. Press Ctrl-C to cancel.")
	}
}

func showBrowser(ctx context.Context, w io.Writer, r wire.Response, open bool) {
	if open && ui.OpenBrowser(ctx, w, r.AuthURL) == nil {
		fmt.Fprintf(w, "Your browser was opened to sign in to %s. If it did not open, visit:\n\n    %s\n\n", r.Profile, r.AuthURL)
	} else {
		fmt.Fprintf(w, "To sign in to %s, open this link in a browser on this machine:\n\n    %s\n\n", r.Profile, r.AuthURL)
	}
	fmt.Fprintln(w, "Waiting for the browser to come back. Press Ctrl-C to cancel.")
}
