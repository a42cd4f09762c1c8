package gitcred

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"strings"
	"unicode"
)

// Handler is what a helper implements. Each method gets the decoded request;
// Run has already checked that it has a protocol and a host.
type Handler interface {
	// Get returns the credential for req. An empty Response means "nothing
	// to offer": git then tries the next helper or prompts.
	Get(ctx context.Context, req Request) (Response, error)
	// Store is called after every successful authentication, on every
	// configured helper, including the one that produced the credential
	// (credential_approve in credential.c). A helper that mints tokens
	// usually ignores it, or it would persist what it just minted.
	Store(ctx context.Context, req Request) error
	// Erase is called after a 401, on every helper (credential_reject).
	// req.Password is the rejected secret, so a helper can erase only a
	// matching entry and leave a token another process just refreshed.
	Erase(ctx context.Context, req Request) error
}

// capabilityOutput answers the "capability" action, in the format of
// "git credential capability" (git-credential(1)): a version line, then one
// line per capability. Callers treat anything else as "no capabilities".
const capabilityOutput = "version 0\ncapability authtype\n"

const usage = "mayfly: usage: <helper> [flags] get|store|erase|capability (git runs this; see gitcredentials(7))"

// SplitArgs splits a helper's arguments into its own flags and git's action.
// Git appends the action as the last argument, after whatever the user wrote
// in credential.helper ("/path/helper --profile x" runs
// "/path/helper --profile x get"; gitcredentials(7)).
//
// An argument starting with "-" is never an action: git's actions are plain
// words, so "helper --verbose" run by hand gets a usage message instead of
// being silently treated as an unknown action.
func SplitArgs(args []string) (flags []string, action string) {
	if len(args) == 0 {
		return nil, ""
	}
	last := args[len(args)-1]
	if strings.HasPrefix(last, "-") {
		return args, ""
	}
	n := len(args) - 1
	// The capacity limit keeps an append by the caller from overwriting the
	// action in the caller's slice.
	return args[:n:n], last
}

// Run dispatches one action and returns the process exit code. It is the one
// place that maps errors onto git's conventions (gitcredentials(7), "CUSTOM
// HELPERS"):
//
//   - get: decode the request and check it has a protocol and a host, then
//     call h.Get and print the response. Any error is one "mayfly: ..." line
//     on stderr, nothing on stdout, exit 1. Git ignores exit codes but does
//     use whatever reached stdout, which is why the response is buffered and
//     written in one go, and only on success.
//   - store, erase: decode, call the handler; errors as for get. stdout is
//     never written: git discards it.
//   - capability: print "version 0" and "capability authtype", exit 0.
//   - "" (no action): a one-line usage message on stderr, exit 2.
//   - anything else: exit 0 with no output, because helpers must silently
//     ignore operations they do not know; that is how git adds new ones.
//
// The handler is not called when the request is malformed.
func Run(ctx context.Context, action string, stdin io.Reader, stdout, stderr io.Writer, h Handler) int {
	switch action {
	case "get":
		req, err := readValid(stdin)
		if err != nil {
			return fail(stderr, err)
		}
		resp, err := h.Get(ctx, req)
		if err != nil {
			return fail(stderr, err)
		}
		var out bytes.Buffer
		if err := WriteResponse(&out, req, resp); err != nil {
			return fail(stderr, err)
		}
		if out.Len() == 0 {
			return 0
		}
		if _, err := stdout.Write(out.Bytes()); err != nil {
			return fail(stderr, fmt.Errorf("gitcred: writing response: %w", err))
		}
		return 0
	case "store", "erase":
		req, err := readValid(stdin)
		if err != nil {
			return fail(stderr, err)
		}
		op := h.Store
		if action == "erase" {
			op = h.Erase
		}
		if err := op(ctx, req); err != nil {
			return fail(stderr, err)
		}
		return 0
	case "capability":
		if _, err := io.WriteString(stdout, capabilityOutput); err != nil {
			return fail(stderr, fmt.Errorf("gitcred: writing capabilities: %w", err))
		}
		return 0
	case "":
		fmt.Fprintln(stderr, usage)
		return 2
	default:
		return 0
	}
}

// readValid decodes a request and checks the fields git always sends. Git
// refuses to work with a credential that lacks either (credential.c), so a
// request without them did not come from git; store and erase are checked
// too so that an erase can never match "every host". An empty value counts
// as missing: that also turns away "cert:///path" requests (git sends an
// empty host for client-certificate passwords), which are not ours to serve.
func readValid(r io.Reader) (Request, error) {
	req, err := ReadRequest(r)
	if err != nil {
		return Request{}, err
	}
	switch {
	case req.Protocol == "":
		return Request{}, ErrMissingProtocol
	case req.Host == "":
		return Request{}, ErrMissingHost
	}
	return req, nil
}

// fail reports err as exactly one line on stderr and returns exit code 1.
func fail(stderr io.Writer, err error) int {
	fmt.Fprintf(stderr, "mayfly: %s\n", oneLine(err.Error()))
	return 1
}

// oneLine makes an error message safe to print as a single terminal line.
// Handler errors can carry anything (a server's response body, say), and
// a newline or an escape sequence in them must not reach the user's screen
// as such. Invalid UTF-8 comes out of strings.Map as U+FFFD.
func oneLine(s string) string {
	return strings.TrimSpace(strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return ' '
		}
		return r
	}, s))
}
