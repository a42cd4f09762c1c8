// Package loginui shows a person the sign-in the agent streams (wire.OpLogin):
// the device code and its URL, with a QR code on a terminal, or the link
// for the browser flow, a countdown while the code waits for approval, then
// who signed in. It writes to the writer it is given, which is stderr or the
// terminal and never stdout, since stdout belongs to the protocols. `mayfly
// login` and the helpers that can sign in on the spot (kubectl-mayfly) share
// it, so it imports only the wire messages and internal/ui: no agent, no
// OAuth, no command-line code.
package loginui

import (
	"context"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/mayflyhq/mayfly/agent/wire"
	"github.com/mayflyhq/mayfly/internal/ui"
)

// Display shows one sign-in stream. Call [Display.Show] for each event and
// [Display.Close] when the stream ends, however it ends (done, an error,
// Ctrl-C): Close stops the countdown and clears its line.
type Display struct {
	w    io.Writer
	open bool

	// Injected for tests.
	isTerminal func(io.Writer) bool
	now        func() time.Time
	tick       time.Duration

	mu      sync.Mutex // guards w while a countdown runs, and the fields below
	drawn   int        // width of the countdown line on screen, 0 when none
	stopped chan struct{}
	stop    context.CancelFunc
}

// New returns a Display that writes on w. With open, it also asks the
// desktop to open the link (the caller decides, from --no-browser and
// [ui.CanOpenBrowser]).
func New(w io.Writer, open bool) *Display {
	return &Display{w: w, open: open, isTerminal: ui.IsTerminal, now: time.Now, tick: time.Second}
}

// Show displays one event. Events it does not know are ignored, so a newer
// agent can add some.
func (d *Display) Show(ctx context.Context, r wire.Response) {
	switch r.Event {
	case wire.EventDevice:
		d.Close()
		d.showDevice(ctx, r)
	case wire.EventBrowser:
		d.Close()
		d.showBrowser(ctx, r)
	case wire.EventDone:
		d.Close()
		who := ""
		if r.Subject != "" {
			who = " as " + r.Subject
		}
		fmt.Fprintf(d.w, "Signed in to %s%s. Access token valid until %s (%s).\n", r.Profile, who,
			r.Expiry.Local().Format("15:04:05"), r.Expiry.Sub(d.now()).Round(time.Second))
		if r.Note != "" {
			fmt.Fprintf(d.w, "Note: %s\n", r.Note)
		}
	}
}

// Close stops the countdown, if one runs, and clears its line. It may be
// called more than once.
func (d *Display) Close() {
	d.mu.Lock()
	stop, stopped := d.stop, d.stopped
	d.stop, d.stopped = nil, nil
	d.mu.Unlock()
	if stop == nil {
		return
	}
	stop()
	<-stopped
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.drawn > 0 {
		fmt.Fprintf(d.w, "\r%s\r", strings.Repeat(" ", d.drawn))
		d.drawn = 0
	}
}

// showDevice shows the device code (RFC 8628 section 3.3: the user is told
// the verification URI and the user code; verification_uri_complete, when
// the provider sends one, goes into the QR code so a phone needs no typing).
func (d *Display) showDevice(ctx context.Context, r wire.Response) {
	w := d.w
	fmt.Fprintf(w, "To sign in to %s, open\n\n    %s\n\nand enter the code\n\n    %s\n\n", r.Profile, r.VerificationURI, r.UserCode)
	link := r.VerificationURIComplete
	if link == "" {
		link = r.VerificationURI
	}
	tty := d.isTerminal(w)
	if tty {
		ui.QR(w, link)
		fmt.Fprintln(w)
	}
	if d.open && ui.OpenBrowser(ctx, w, link) == nil {
		fmt.Fprintln(w, "(A browser window was opened for you.)")
	}
	switch {
	case r.CodeExpiry.IsZero():
		fmt.Fprintln(w, "Waiting for approval. Press Ctrl-C to cancel.")
	case tty:
		// RFC 8628 section 3.2: expires_in bounds the wait; show what is
		// left, on one line rewritten in place.
		d.countdown(ctx, r.CodeExpiry)
	default:
		// Not a terminal (a log, CI): one line, no redrawing.
		fmt.Fprintf(w, "Waiting for approval; the code expires at %s. Press Ctrl-C to cancel.\n", r.CodeExpiry.Local().Format("15:04:05"))
	}
}

// countdown draws the time left until expiry now and then every tick, until
// Close or ctx ends it.
func (d *Display) countdown(ctx context.Context, expiry time.Time) {
	ctx, stop := context.WithCancel(ctx)
	stopped := make(chan struct{})
	d.mu.Lock()
	d.stop, d.stopped = stop, stopped
	d.draw(expiry)
	d.mu.Unlock()
	go func() {
		defer close(stopped)
		t := time.NewTicker(d.tick)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				d.mu.Lock()
				left := d.draw(expiry)
				d.mu.Unlock()
				if left <= 0 {
					return
				}
			}
		}
	}()
}

// draw rewrites the countdown line; d.mu is held. It returns the time left.
func (d *Display) draw(expiry time.Time) time.Duration {
	left := expiry.Sub(d.now()).Round(time.Second)
	var line string
	if left <= 0 {
		left = 0
		line = "Waiting for approval… the code has expired (Ctrl-C to cancel)"
	} else {
		line = fmt.Sprintf("Waiting for approval… %s left (Ctrl-C to cancel)", clock(left))
	}
	n := utf8.RuneCountInString(line)
	pad := ""
	if d.drawn > n {
		pad = strings.Repeat(" ", d.drawn-n)
	}
	fmt.Fprintf(d.w, "\r%s%s", line, pad)
	d.drawn = max(n, d.drawn)
	return left
}

// clock formats d as M:SS, or H:MM:SS from an hour up.
func clock(d time.Duration) string {
	s := int(d / time.Second)
	if s >= 3600 {
		return fmt.Sprintf("%d:%02d:%02d", s/3600, s/60%60, s%60)
	}
	return fmt.Sprintf("%d:%02d", s/60, s%60)
}

func (d *Display) showBrowser(ctx context.Context, r wire.Response) {
	w := d.w
	if d.open && ui.OpenBrowser(ctx, w, r.AuthURL) == nil {
		fmt.Fprintf(w, "Your browser was opened to sign in to %s. If it did not open, visit:\n\n    %s\n\n", r.Profile, r.AuthURL)
	} else {
		fmt.Fprintf(w, "To sign in to %s, open this link in a browser on this machine:\n\n    %s\n\n", r.Profile, r.AuthURL)
	}
	fmt.Fprintln(w, "Waiting for the browser to come back. Press Ctrl-C to cancel.")
}
