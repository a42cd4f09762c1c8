package wire_test

import (
	"bytes"
	"errors"
	"go/build"
	"io"
	"strings"
	"testing"
	"testing/iotest"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/mayflyhq/mayfly/agent/wire"
)

func TestRoundTrip(t *testing.T) {
	expiry := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	msgs := []any{
		&wire.Request{V: wire.Version, Op: wire.OpToken, Config: "/c.toml", URL: "https://git.example/x.git", Consumer: "git"},
		&wire.Request{V: wire.Version, Op: wire.OpLogout, All: true},
		&wire.Response{Profile: "work", Username: "oauth2", Token: "t\u2028\n\"", Expiry: expiry},
		&wire.Response{Error: &wire.Error{Code: wire.CodeRevoked, Message: "run `mayfly login --profile work`"}},
		&wire.Response{Event: wire.EventDevice, UserCode: "ABCD", VerificationURI: "https://idp/verify", CodeExpiry: expiry},
		&wire.Response{Results: []wire.LogoutResult{{Profile: "work", Outcome: "revoked"}}},
		&wire.Response{Status: &wire.Status{PID: 7, Started: expiry, Profiles: []wire.ProfileStatus{{Name: "work", Match: []string{"a"}, LastRefresh: expiry}}}},
	}
	var buf bytes.Buffer
	for _, m := range msgs {
		if err := wire.Write(&buf, m); err != nil {
			t.Fatal(err)
		}
	}
	if n := bytes.Count(buf.Bytes(), []byte("\n")); n != len(msgs) {
		t.Fatalf("%d lines for %d messages: a message spans lines:\n%s", n, len(msgs), buf.Bytes())
	}
	r := wire.NewReader(&buf)
	for i, want := range msgs {
		var got any
		switch want.(type) {
		case *wire.Request:
			got = new(wire.Request)
		default:
			got = new(wire.Response)
		}
		if err := r.Read(got); err != nil {
			t.Fatalf("message %d: %v", i, err)
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("message %d (-want +got):\n%s", i, diff)
		}
	}
	if err := r.Read(new(wire.Response)); err != io.EOF {
		t.Errorf("after the last message: %v, want io.EOF", err)
	}
}

// Zero times and empty fields stay off the wire, so old and new peers
// agree on what "absent" looks like.
func TestWriteOmitsEmpty(t *testing.T) {
	var buf bytes.Buffer
	if err := wire.Write(&buf, wire.Response{Token: "x"}); err != nil {
		t.Fatal(err)
	}
	if got, want := buf.String(), `{"token":"x"}`+"\n"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestReadLimits(t *testing.T) {
	// A JSON string of n bytes in all, newline included.
	line := func(n int) string { return `"` + strings.Repeat("a", n-3) + `"` + "\n" }
	for _, tc := range []struct {
		name  string
		input string
		err   string // "" for success
	}{
		{"longer than the buffer", line(10_000), ""},
		{"exactly the limit", line(wire.MaxLine), ""},
		{"one byte over", line(wire.MaxLine + 1), "longer than"},
		{"far over", line(3 * wire.MaxLine), "longer than"},
		{"over without a newline", strings.Repeat("a", wire.MaxLine+10), "longer than"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var s string
			err := wire.NewReader(strings.NewReader(tc.input)).Read(&s)
			switch {
			case tc.err == "" && err != nil:
				t.Fatalf("Read: %v", err)
			case tc.err == "" && len(s) != len(tc.input)-3:
				t.Fatalf("read %d bytes, want %d", len(s), len(tc.input)-3)
			case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)):
				t.Fatalf("Read: %v, want an error containing %q", err, tc.err)
			}
		})
	}
}

// The limit holds however the input arrives, so the reader never buffers
// more than one line's worth.
func TestReadLimitSlowReader(t *testing.T) {
	in := iotest.OneByteReader(io.MultiReader(strings.NewReader(`{"op":"`), neverEnding('a')))
	var req wire.Request
	err := wire.NewReader(in).Read(&req)
	if err == nil || !strings.Contains(err.Error(), "longer than") {
		t.Fatalf("Read of an endless line: %v", err)
	}
}

type neverEnding byte

func (b neverEnding) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = byte(b)
	}
	return len(p), nil
}

func TestReadErrors(t *testing.T) {
	for _, tc := range []struct {
		name, input string
		is          error
		contains    string
	}{
		{"empty", "", io.EOF, ""},
		{"truncated", `{"v":1`, io.ErrUnexpectedEOF, "truncated"},
		{"blank line", "\n", nil, "wire: decode"},
		{"not json", "hello\n", nil, "wire: decode"},
		{"wrong type", `{"v":"one"}` + "\n", nil, "wire: decode"},
		{"two values", `{} {}` + "\n", nil, "wire: decode"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var req wire.Request
			err := wire.NewReader(strings.NewReader(tc.input)).Read(&req)
			if err == nil {
				t.Fatalf("Read succeeded: %+v", req)
			}
			if tc.is != nil && !errors.Is(err, tc.is) {
				t.Errorf("Read: %v, want %v", err, tc.is)
			}
			if !strings.Contains(err.Error(), tc.contains) {
				t.Errorf("Read: %v, want it to contain %q", err, tc.contains)
			}
		})
	}
	readErr := errors.New("connection reset")
	err := wire.NewReader(iotest.ErrReader(readErr)).Read(new(wire.Request))
	if !errors.Is(err, readErr) {
		t.Errorf("Read from a failing reader: %v, want %v", err, readErr)
	}
}

func TestWriteErrors(t *testing.T) {
	if err := wire.Write(io.Discard, make(chan int)); err == nil || !strings.Contains(err.Error(), "wire: encode") {
		t.Errorf("Write of a channel: %v", err)
	}
	sendErr := errors.New("broken pipe")
	err := wire.Write(failingWriter{sendErr}, wire.Request{})
	if !errors.Is(err, sendErr) || !strings.Contains(err.Error(), "wire: send") {
		t.Errorf("Write to a failing writer: %v", err)
	}
}

type failingWriter struct{ err error }

func (w failingWriter) Write([]byte) (int, error) { return 0, w.err }

func TestError(t *testing.T) {
	var err error = &wire.Error{Code: wire.CodeNoProfile, Message: "no profile matches"}
	if err.Error() != "no profile matches" {
		t.Errorf("Error() = %q", err.Error())
	}
	var we *wire.Error
	if !errors.As(err, &we) || we.Code != wire.CodeNoProfile {
		t.Error("errors.As does not find the code")
	}
}

// The package comment promises helpers that link wire stay small: it may
// import the standard library only.
func TestStdlibOnly(t *testing.T) {
	pkg, err := build.ImportDir(".", 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, imp := range pkg.Imports {
		if first, _, _ := strings.Cut(imp, "/"); strings.Contains(first, ".") {
			t.Errorf("wire imports %s, which is not in the standard library", imp)
		}
	}
}
