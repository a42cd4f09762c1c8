package cargocred

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode"
)

// Handler is what a provider implements.
type Handler interface {
	// Perform answers a get, login or logout request. To answer with an
	// error of a given kind (not-found, url-not-supported...), return an
	// [*Error]; any other error is answered as other, with its text.
	Perform(ctx context.Context, req Request) (Response, error)
}

// HandlerFunc adapts a function to [Handler].
type HandlerFunc func(ctx context.Context, req Request) (Response, error)

// Perform calls f.
func (f HandlerFunc) Perform(ctx context.Context, req Request) (Response, error) {
	return f(ctx, req)
}

const usage = "mayfly: usage: cargo runs this provider as `<path> --cargo-plugin`; configure it with credential-provider = [\"/abs/path/cargo-credential-mayfly\"] (see Cargo's registry authentication docs)"

// Run speaks the protocol on stdin and stdout until Cargo closes stdin, and
// returns the exit code. args are the process arguments after its name.
// It is the one place that maps errors onto the protocol:
//
//   - args other than exactly "--cargo-plugin": a usage line on stderr,
//     nothing on stdout, exit 2;
//   - then the hello, and one response line per request. A handler error
//     is an {"Err":...} line of its kind ([*Error]) or of kind other, and the
//     exit code stays 0: Cargo shows the message only when the provider
//     exits 0, and it tries the next provider on url-not-supported and
//     not-found. An unknown kind is answered operation-not-supported without
//     calling the handler. The message of an operation-not-supported error
//     also goes to stderr, which Cargo passes through: Cargo (1.95) shows
//     only "requested operation not supported" for that kind, and the
//     message is what tells the person what to do instead;
//   - a request that cannot be decoded, or of another protocol version: an
//     Err line of kind other (Cargo's own provider library does the same),
//     the same message on stderr, and exit 1 without reading further, since
//     the stream cannot be trusted any more;
//   - stdin closed between requests: exit 0.
//
// Every line on stdout is written whole or not at all.
func Run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer, h Handler) int {
	if len(args) != 1 || args[0] != "--cargo-plugin" {
		fmt.Fprintln(stderr, usage)
		return 2
	}
	if err := WriteHello(stdout); err != nil {
		return fail(stderr, err)
	}
	rd := NewReader(stdin)
	for {
		req, err := rd.Next()
		if errors.Is(err, io.EOF) {
			return 0
		}
		if err == nil && req.V != Version {
			err = fmt.Errorf("cargocred: unsupported protocol version %d (this provider speaks %d)", req.V, Version)
		}
		if err != nil {
			if werr := WriteError(stdout, &Error{Kind: ErrOther, Message: err.Error()}); werr != nil {
				return fail(stderr, werr)
			}
			return fail(stderr, err)
		}
		if err := answer(ctx, stdout, stderr, h, req); err != nil {
			return fail(stderr, err)
		}
	}
}

// answer writes the response to one request; it fails only when stdout does.
func answer(ctx context.Context, stdout, stderr io.Writer, h Handler, req Request) error {
	var (
		resp Response
		err  error
	)
	switch req.Kind {
	case KindGet, KindLogin, KindLogout:
		resp, err = h.Perform(ctx, req)
	default:
		err = &Error{Kind: ErrOperationNotSupported, Message: fmt.Sprintf("unknown request kind %q", truncate(req.Kind))}
	}
	if err == nil {
		if resp.Kind == "" {
			resp.Kind = req.Kind
		}
		if resp.Kind != req.Kind {
			err = fmt.Errorf("cargocred: a %q response to a %q request", truncate(resp.Kind), truncate(req.Kind))
		}
	}
	if err == nil {
		// WriteResponse checks before writing, so a bad response
		// leaves stdout untouched for the Err line below.
		err = WriteResponse(stdout, resp)
		var we *writeError
		if errors.As(err, &we) {
			return err
		}
	}
	if err == nil {
		return nil
	}
	var ce *Error
	if !errors.As(err, &ce) {
		msg := err.Error()
		if errors.Is(err, context.Canceled) {
			msg = "interrupted"
		}
		ce = &Error{Kind: ErrOther, Message: msg}
	}
	if err := WriteError(stdout, ce); err != nil {
		return err
	}
	if ce.Kind == ErrOperationNotSupported && oneLine(ce.Message) != "" {
		fmt.Fprintf(stderr, "mayfly: %s\n", oneLine(ce.Message))
	}
	return nil
}

// fail reports err as exactly one line on stderr and returns exit code 1.
func fail(stderr io.Writer, err error) int {
	fmt.Fprintf(stderr, "mayfly: %s\n", oneLine(err.Error()))
	return 1
}

// oneLine makes a message safe to print as a single terminal line.
func oneLine(s string) string {
	return strings.TrimSpace(strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return ' '
		}
		return r
	}, s))
}

// truncate shortens what a message quotes from its input.
func truncate(s string) string {
	const max = 40
	if len(s) > max {
		return s[:max] + "..."
	}
	return s
}
