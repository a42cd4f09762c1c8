// Package ui is how Mayfly talks to a person: on stderr or the terminal,
// never on stdout, which belongs to the protocols. It renders QR codes for
// device codes and opens the browser, sending the browser launcher's own
// output to stderr too.
package ui

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"strings"

	"golang.org/x/term"
	"rsc.io/qr"

	"github.com/mayflyhq/mayfly/internal/envknob"
)

// IsTerminal reports whether w is a terminal.
func IsTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// QR draws text as a QR code with half-block characters, two modules per
// character cell vertically. Light modules are drawn as blocks, so the code
// reads correctly on the dark backgrounds most terminals use.
func QR(w io.Writer, text string) error {
	code, err := qr.Encode(text, qr.L)
	if err != nil {
		return fmt.Errorf("ui: qr: %w", err)
	}
	const quiet = 2
	n := code.Size
	light := func(x, y int) bool {
		if x < 0 || y < 0 || x >= n || y >= n {
			return true
		}
		return !code.Black(x, y)
	}
	var b strings.Builder
	for y := -quiet; y < n+quiet; y += 2 {
		for x := -quiet; x < n+quiet; x++ {
			top, bottom := light(x, y), light(x, y+1)
			switch {
			case top && bottom:
				b.WriteString("█")
			case top:
				b.WriteString("▀")
			case bottom:
				b.WriteString("▄")
			default:
				b.WriteString(" ")
			}
		}
		b.WriteString("\n")
	}
	_, err = io.WriteString(w, b.String())
	return err
}

// ErrNoBrowser means there is no way to open a browser here.
var ErrNoBrowser = errors.New("no browser available")

// CanOpenBrowser reports whether OpenBrowser has a chance: not when the user
// forbade interaction, nor on a Linux session without a display (SSH).
func CanOpenBrowser() bool {
	if envknob.Bool(envknob.NonInteractive) {
		return false
	}
	if runtime.GOOS == "linux" || runtime.GOOS == "freebsd" || runtime.GOOS == "openbsd" {
		if os.Getenv("DISPLAY") == "" && os.Getenv("WAYLAND_DISPLAY") == "" && os.Getenv("BROWSER") == "" {
			return false
		}
	}
	return true
}

// OpenBrowser asks the desktop to open url. The launcher's output goes to
// stderr: stdout belongs to the protocol.
func OpenBrowser(ctx context.Context, stderr io.Writer, url string) error {
	if !CanOpenBrowser() {
		return ErrNoBrowser
	}
	var cmd *exec.Cmd
	switch {
	case os.Getenv("BROWSER") != "":
		cmd = exec.CommandContext(ctx, os.Getenv("BROWSER"), url)
	case runtime.GOOS == "darwin":
		cmd = exec.CommandContext(ctx, "open", url)
	case runtime.GOOS == "windows":
		cmd = exec.CommandContext(ctx, "rundll32", "url.dll,FileProtocolHandler", url)
	default:
		cmd = exec.CommandContext(ctx, "xdg-open", url)
	}
	cmd.Stdout, cmd.Stderr = stderr, stderr
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("ui: open browser: %w", err)
	}
	go cmd.Wait()
	return nil
}
