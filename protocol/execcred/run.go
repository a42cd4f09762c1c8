package execcred

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"strings"
	"unicode"
)

// Handler is what the plugin implements: a credential for the request.
type Handler interface {
	// Token returns the token for req. It may talk to the person on
	// stderr or the terminal when req.Interactive is true, never on stdout.
	Token(ctx context.Context, req Request) (Response, error)
}

// Run serves one invocation and returns the process exit code. execInfo is
// the value of KUBERNETES_EXEC_INFO ("" when it is not set); the caller reads
// the environment, this package does not.
//
// It is the one place that maps errors onto the protocol. kubectl reads
// stdout only when the plugin exits 0, and otherwise fails with "exec:
// executable <cmd> failed with exit code <n>" after passing the plugin's
// stderr through to the person (protocols.md §3.3). So on any failure (bad
// input, the handler's error, an answer that cannot be encoded) Run writes
// exactly one "mayfly: ..." line on stderr, nothing on stdout, and returns 1.
// On success it writes the ExecCredential in one piece and returns 0. The
// handler is not called when the input is malformed.
func Run(ctx context.Context, execInfo string, stdout, stderr io.Writer, h Handler) int {
	req, err := ReadRequest(strings.NewReader(execInfo))
	if err != nil {
		return fail(stderr, err)
	}
	resp, err := h.Token(ctx, req)
	if err != nil {
		return fail(stderr, err)
	}
	var out bytes.Buffer
	if err := WriteResponse(&out, req.APIVersion, resp); err != nil {
		return fail(stderr, err)
	}
	if _, err := stdout.Write(out.Bytes()); err != nil {
		return fail(stderr, fmt.Errorf("execcred: writing the response: %w", err))
	}
	return 0
}

// fail reports err as exactly one line on stderr and returns exit code 1.
func fail(stderr io.Writer, err error) int {
	fmt.Fprintf(stderr, "mayfly: %s\n", oneLine(err.Error()))
	return 1
}

// oneLine makes an error message safe to print as a single terminal line:
// kubectl copies the plugin's stderr to the person's terminal as it is, so a
// newline or an escape sequence in an error (a server's text, say) must not
// get there as such. Invalid UTF-8 comes out of strings.Map as U+FFFD.
func oneLine(s string) string {
	s = strings.TrimSpace(strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return ' '
		}
		return r
	}, s))
	if s == "" {
		s = "failed"
	}
	return s
}
