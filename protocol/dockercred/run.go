package dockercred

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Handler is what a helper implements. Run has decoded and checked the
// request, and turned every server address into a key with [Normalize].
type Handler interface {
	// Get returns the credentials for server, or an error wrapping
	// [ErrNotFound] when it has none: the consumer then goes on without
	// credentials. Run fills in ServerURL.
	Get(ctx context.Context, server string) (Credentials, error)
	// Store keeps c, whose ServerURL is a key. The docker CLI calls it after
	// a successful `docker login`.
	Store(ctx context.Context, c Credentials) error
	// Erase forgets the credentials of server (`docker logout`).
	Erase(ctx context.Context, server string) error
	// List returns the user name for each server the helper keeps
	// credentials for, keyed as Normalize returns them.
	List(ctx context.Context) (map[string]string, error)
}

// Run serves one invocation, where args are the arguments after the
// program's name, and returns the exit status. It is the one place that maps
// errors onto the protocol (protocols.md §2.3; the library's
// credentials.Serve):
//
//   - a failure (bad input, the handler's error, an answer that cannot be
//     encoded) is one line on stdout and exit 1: [ErrNotFound],
//     [ErrMissingServerURL] and [ErrMissingUsername] exactly as they are,
//     since consumers compare the text, and anything else as one
//     "mayfly: ..." line with control characters removed;
//   - an answer is buffered and written in one piece on success only, so
//     stdout never holds a partial JSON document, nor an answer followed by
//     an error;
//   - the handler is not called when the input is malformed, so garbage
//     never reaches a store.
//
// The library's argument handling is kept: exactly one argument, "version",
// "--version" and "-v" print the version, "--help" and "-h" the usage (exit
// 0), and an unknown action is an error (Docker has no optional actions a
// helper could silently skip).
//
// Run writes nothing on stderr: Docker shows the helper's stdout in its
// own error message, so a copy there would show every error twice. A
// handler that has a note for the person (not an error) writes it on
// stderr itself.
func Run(ctx context.Context, args []string, v Version, stdin io.Reader, stdout io.Writer, h Handler) int {
	usage := fmt.Sprintf("Usage: %s <store|get|erase|list|version>", v.Name)
	if len(args) != 1 {
		return fail(stdout, errors.New(usage))
	}
	var out bytes.Buffer
	var err error
	switch action := args[0]; action {
	case "get":
		err = get(ctx, stdin, &out, h)
	case "store":
		err = store(ctx, stdin, h)
	case "erase":
		err = erase(ctx, stdin, h)
	case "list":
		// The docker CLI writes "unused" on stdin; nothing in it matters,
		// so it is not read (a consumer that left stdin open would
		// otherwise hang the helper).
		var servers map[string]string
		if servers, err = h.List(ctx); err == nil {
			err = WriteList(&out, servers)
		}
	case "version", "--version", "-v":
		fmt.Fprintf(&out, "%s (%s) %s\n", v.Name, v.Package, v.Version)
	case "--help", "-h":
		fmt.Fprintln(&out, usage)
	default:
		err = fmt.Errorf("unknown credential action %q; %s", truncate(action, 40), usage)
	}
	if err != nil {
		return fail(stdout, err)
	}
	if _, err := stdout.Write(out.Bytes()); err != nil {
		return 1 // stdout is gone: there is nowhere left to say so
	}
	return 0
}

func get(ctx context.Context, stdin io.Reader, out io.Writer, h Handler) error {
	raw, err := ReadServerURL(stdin)
	if err != nil {
		return err
	}
	server, err := Normalize(raw)
	if err != nil {
		return err
	}
	c, err := h.Get(ctx, server)
	if err != nil {
		return err
	}
	if c.Secret == "" {
		return ErrNotFound // nothing usable; never answer with an empty password
	}
	// Answer with the address the consumer asked for, as it sent it: some
	// clients compare it with their own (protocols.md §2.5).
	c.ServerURL = raw
	return WriteCredentials(out, c)
}

func store(ctx context.Context, stdin io.Reader, h Handler) error {
	c, err := ReadCredentials(stdin)
	if err != nil {
		return err
	}
	if c.ServerURL, err = Normalize(c.ServerURL); err != nil {
		return err
	}
	return h.Store(ctx, c)
}

func erase(ctx context.Context, stdin io.Reader, h Handler) error {
	raw, err := ReadServerURL(stdin)
	if err != nil {
		return err
	}
	server, err := Normalize(raw)
	if err != nil {
		return err
	}
	return h.Erase(ctx, server)
}

// maxMessage bounds an error line; the agent's messages are far shorter.
const maxMessage = 400

// fail writes err as the protocol's one-line error on stdout and returns 1.
func fail(stdout io.Writer, err error) int {
	msg := ""
	for _, known := range []error{ErrNotFound, ErrMissingServerURL, ErrMissingUsername} {
		if errors.Is(err, known) {
			msg = known.Error()
			break
		}
	}
	if msg == "" {
		msg = "mayfly: " + truncate(oneLine(err.Error()), maxMessage)
	}
	io.WriteString(stdout, msg+"\n")
	return 1
}

// oneLine makes an error message safe to print as a single terminal line:
// consumers show it to the person inside their own message, and a handler's
// error may carry a server's text. Invalid UTF-8 comes out as U+FFFD.
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

// truncate cuts s to at most n bytes on a rune boundary, marking the cut.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}
