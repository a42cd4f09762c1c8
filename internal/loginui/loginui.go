// Package loginui shows a person the sign-in the agent streams (wire.OpLogin):
// the device code and its URL, with a QR code on a terminal, or the link
// for the browser flow, then who signed in. It writes to the writer it is
// given, which is stderr or the terminal and never stdout, since stdout
// belongs to the protocols. `mayfly login` and the helpers that can sign in
// on the spot (kubectl-mayfly) share it, so it imports only the wire
// messages and internal/ui: no agent, no OAuth, no command-line code.
package loginui

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/mayflyhq/mayfly/agent/wire"
	"github.com/mayflyhq/mayfly/internal/ui"
)

// Show displays one event of a sign-in stream on w. With open, it also asks
// the desktop to open the link (the caller decides, from --no-browser and
// [ui.CanOpenBrowser]). Events it does not know are ignored, so a newer
// agent can add some.
func Show(ctx context.Context, w io.Writer, r wire.Response, open bool) {
	switch r.Event {
	case wire.EventDevice:
		showDevice(ctx, w, r, open)
	case wire.EventBrowser:
		showBrowser(ctx, w, r, open)
	case wire.EventDone:
		who := ""
		if r.Subject != "" {
			who = " as " + r.Subject
		}
		fmt.Fprintf(w, "Signed in to %s%s. Access token valid until %s (%s).\n", r.Profile, who,
			r.Expiry.Local().Format("15:04:05"), time.Until(r.Expiry).Round(time.Second))
		if r.Note != "" {
			fmt.Fprintf(w, "Note: %s\n", r.Note)
		}
	}
}

// showDevice shows the device code (RFC 8628 section 3.3: the user is told
// the verification URI and the user code; verification_uri_complete, when
// the provider sends one, goes into the QR code so a phone needs no typing).
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
