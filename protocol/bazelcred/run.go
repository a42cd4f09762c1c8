package bazelcred

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
)

// Handler answers get.
type Handler interface {
	// Get returns the credentials for req. An *[Error] with
	// [CodeNotFound] means that nothing serves req.URI: Run answers "{}"
	// (or the error, when the request lists [CapNotFoundError]). Any other
	// *Error is written as it is; any other error as [CodeOther].
	Get(ctx context.Context, req Request) (Response, error)
}

// NewHandler makes the Handler for one invocation from get's parameters,
// the arguments after "get". The spec lets a helper define optional
// parameters but not require them ("get", "Parameters"); an error is
// reported as [CodeUsage] unless it is an *[Error] already.
type NewHandler func(params []string) (Handler, error)

const usage = `usage: get, with one JSON request such as {"uri": "https://…"} on stdin (the Bazel/EngFlow credential-helper protocol)`

// Run runs the command in args (args[0] is the command, the rest its
// parameters, as in the spec's "Introduction") and returns the exit status.
// It is the one place that maps outcomes onto stdout, stderr and the exit
// status; see [Code] for the table. Whatever happens:
//
//   - stdout gets exactly one JSON document and a newline, written in one
//     Write from a buffer, or nothing at all (help, or when a write fails):
//     never part of one;
//   - a failure also writes exactly one line on stderr, "mayfly: <message>",
//     the same message as the error object's. Bazel shows stderr when a
//     helper fails ("…: process exited with code N. stderr: …"), and the
//     base spec defines no other place for it;
//   - success writes nothing on stderr.
//
// Commands: "get" (the spec's one mandatory command); "help", "-h" and
// "--help" print the usage on stderr and exit 0. No command, or any other
// one, is a usage error: the spec says a helper SHOULD print usage and fail
// when the command is missing, and Mayfly defines no extension commands yet.
//
// When the request is malformed, newHandler's handler is never called.
func Run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer, newHandler NewHandler) int {
	if len(args) == 0 {
		return fail(stdout, stderr, &Error{Code: CodeUsage, Message: "no command; " + usage})
	}
	switch args[0] {
	case "get":
	case "help", "-h", "--help":
		fmt.Fprintln(stderr, usage)
		return 0
	default:
		return fail(stdout, stderr, &Error{Code: CodeUsage, Message: fmt.Sprintf("unknown command %s; %s", quoteName(args[0]), usage)})
	}
	h, err := newHandler(args[1:])
	if err != nil {
		var e *Error
		if !errors.As(err, &e) {
			e = &Error{Code: CodeUsage, Message: err.Error()}
		}
		return fail(stdout, stderr, e)
	}
	req, err := ReadRequest(stdin)
	if err != nil {
		return fail(stdout, stderr, err)
	}
	resp, err := h.Get(ctx, req)
	if err != nil {
		var e *Error
		// The base spec has no "not mine" answer: {} ("no credentials
		// needed") is the one that lets a tool go on, and Bazel routes a
		// whole domain, or every URI, to one helper, so failing here would
		// break every public download on it. A caller that knows better
		// asks for the error with CapNotFoundError.
		if !errors.As(err, &e) || e.Code != CodeNotFound || req.HasCapability(CapNotFoundError) {
			return fail(stdout, stderr, err)
		}
		resp = Response{}
	}
	var out bytes.Buffer
	if err := WriteResponse(&out, resp); err != nil {
		return fail(stdout, stderr, err)
	}
	if _, err := stdout.Write(out.Bytes()); err != nil {
		fmt.Fprintf(stderr, "mayfly: bazelcred: writing the response: %s\n", oneLine(err.Error()))
		return CodeOther.ExitCode()
	}
	return 0
}

// fail writes err as the error object on stdout and one line on stderr, and
// returns the exit status of its code.
func fail(stdout, stderr io.Writer, err error) int {
	var e *Error
	if !errors.As(err, &e) {
		e = &Error{Code: CodeOther, Message: err.Error()}
	}
	body := errorBody(e)
	// If even the error object cannot be written (stdout closed), the
	// stderr line and the exit status still tell.
	_ = WriteError(stdout, &Error{Code: body.Code, Message: body.Message, LoginCommand: body.LoginCommand})
	fmt.Fprintf(stderr, "mayfly: %s\n", body.Message)
	return body.Code.ExitCode()
}
