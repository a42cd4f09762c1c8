package goauth

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode"
)

// Handler is what a GOAUTH command implements.
type Handler interface {
	// Credentials returns the credential sets for req; none means "nothing
	// for this request", and go carries on without credentials. On the
	// first run req.URL is "".
	Credentials(ctx context.Context, req Request) ([]Credential, error)
}

// HandlerFunc adapts a function to [Handler].
type HandlerFunc func(ctx context.Context, req Request) ([]Credential, error)

// Credentials calls f.
func (f HandlerFunc) Credentials(ctx context.Context, req Request) ([]Credential, error) {
	return f(ctx, req)
}

const usage = "set GOAUTH to the command line itself, as in GOAUTH='/abs/path/mayfly-credential goauth'; go appends the URL after a 4xx (go help goauth)"

// Run answers one run of the command and returns its exit code. args are
// the arguments after the configured command line (go's URL, if any). It is
// the one place that maps errors onto go's conventions:
//
//   - bad arguments (a flag, more than one argument, a URL that is not
//     https://): one line on stderr saying how to set GOAUTH, exit 2;
//   - a stdin that is not a response head, or a handler error: one
//     "mayfly: ..." line on stderr, exit 1. Go keeps the error and shows it
//     only under -x ("GOAUTH encountered errors for URL"), and the request
//     goes on without credentials;
//   - success: the credentials on stdout, exit 0. Nothing at all when there
//     are none.
//
// stdout is written once, after everything was encoded and checked, so go
// never parses half an answer; a failed run leaves it empty. The handler is
// not called when the input is malformed.
func Run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer, h Handler) int {
	u, err := ParseArgs(args)
	if err != nil {
		fmt.Fprintf(stderr, "mayfly: %s: %s\n", oneLine(err.Error()), usage)
		return 2
	}
	resp, err := ReadResponseHead(stdin)
	if err != nil {
		return fail(stderr, err)
	}
	sets, err := h.Credentials(ctx, Request{URL: u, Response: resp})
	if err != nil {
		return fail(stderr, err)
	}
	var out bytes.Buffer
	if err := WriteCredentials(&out, sets); err != nil {
		return fail(stderr, err)
	}
	if out.Len() == 0 {
		return 0
	}
	if _, err := stdout.Write(out.Bytes()); err != nil {
		return fail(stderr, fmt.Errorf("goauth: writing credentials: %w", err))
	}
	return 0
}

// fail reports err as exactly one line on stderr and returns exit code 1.
func fail(stderr io.Writer, err error) int {
	if errors.Is(err, context.Canceled) {
		err = errors.New("interrupted")
	}
	fmt.Fprintf(stderr, "mayfly: %s\n", oneLine(err.Error()))
	return 1
}

// oneLine makes a message safe to print as a single terminal line: a
// handler error may carry anything, and a newline or an escape sequence in
// it must not reach the screen as such.
func oneLine(s string) string {
	return strings.TrimSpace(strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return ' '
		}
		return r
	}, s))
}
