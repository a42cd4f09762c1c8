package dockercred

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// secret is a value that must never show up in an error message.
const secret = "s3cr3t-p4ssw0rd-value"

func TestNormalize(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"registry.example", "registry.example"},
		{"https://registry.example", "registry.example"},
		{"http://registry.example/", "registry.example"},
		{"HTTPS://Registry.Example:5000/v2/", "registry.example:5000"},
		{"registry.example:5000/team/app", "registry.example:5000"},
		{"  registry.example\n", "registry.example"},
		{"localhost:5000", "localhost:5000"},
		{"127.0.0.1:5000", "127.0.0.1:5000"},
		{"[::1]:5000", "[::1]:5000"},
		{"[::1]", "[::1]"},
		{"registry.example?x=1", "registry.example"},
		{"my_registry.example", "my_registry.example"},
		// Docker Hub's key is a URL (protocols.md §2.1), whichever way
		// it is asked for.
		{"https://index.docker.io/v1/", HubServer},
		{"https://index.docker.io/v1", HubServer},
		{"index.docker.io", HubServer},
		{"docker.io", HubServer},
		{"docker.io/library/alpine", HubServer},
		{"registry-1.docker.io", HubServer},
		// A port is kept, as the docker CLI keeps it.
		{"https://registry.example:443", "registry.example:443"},
	} {
		got, err := Normalize(tc.in)
		if err != nil || got != tc.want {
			t.Errorf("Normalize(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
			continue
		}
		if again, err := Normalize(got); err != nil || again != got {
			t.Errorf("Normalize(%q) = %q, %v; not idempotent", got, again, err)
		}
	}
}

func TestNormalizeErrors(t *testing.T) {
	for _, in := range []string{
		"", " \n", "ftp://registry.example", "oci://x", "://x", "https://", "/path",
		"registry example", "registry.\x1bexample", "user@registry.example", "user:pw@registry.example",
		"registry.example:", "registry.example:0", "registry.example:65536", "registry.example:port",
		"registry.example:5000:1", "[::1", "[zz]:5000", "[::1]x", "[]", "registry!.example",
		"rég.example", "\u212aey.example", "\xff", strings.Repeat("a", maxHost+1),
		"https://" + strings.Repeat("a", maxServerURL),
	} {
		got, err := Normalize(in)
		if err == nil {
			t.Errorf("Normalize(%q) = %q, want an error", in, got)
			continue
		}
		msg := err.Error()
		if strings.ContainsAny(msg, "\n\r") || (!errors.Is(err, ErrMissingServerURL) && !strings.HasPrefix(msg, "dockercred: ")) {
			t.Errorf("Normalize(%q): bad error %q", in, msg)
		}
	}
	if _, err := Normalize(" "); !errors.Is(err, ErrMissingServerURL) {
		t.Errorf("Normalize(blank) = %v, want ErrMissingServerURL", err)
	}
}

func TestReadServerURL(t *testing.T) {
	for in, want := range map[string]string{
		"registry.example":               "registry.example",
		"registry.example\n":             "registry.example",
		"\t https://Registry.Example \n": "https://Registry.Example",
	} {
		got, err := ReadServerURL(strings.NewReader(in))
		if err != nil || got != want {
			t.Errorf("ReadServerURL(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, in := range []string{"", "\n", "  "} {
		if _, err := ReadServerURL(strings.NewReader(in)); !errors.Is(err, ErrMissingServerURL) {
			t.Errorf("ReadServerURL(%q) = %v, want ErrMissingServerURL", in, err)
		}
	}
	if _, err := ReadServerURL(strings.NewReader(strings.Repeat("a", maxInput+1))); err == nil || !strings.Contains(err.Error(), "longer than") {
		t.Errorf("oversized input: %v", err)
	}
	// Exactly the limit is fine.
	if _, err := ReadServerURL(strings.NewReader(strings.Repeat("a", maxInput))); err != nil {
		t.Errorf("input of maxInput bytes: %v", err)
	}
	if _, err := ReadServerURL(iotestErrReader{}); err == nil || !strings.HasPrefix(err.Error(), "dockercred: ") {
		t.Errorf("read error: %v", err)
	}
}

type iotestErrReader struct{}

func (iotestErrReader) Read([]byte) (int, error) { return 0, errors.New("broken pipe") }

func TestReadCredentials(t *testing.T) {
	ok := []struct {
		in   string
		want Credentials
	}{
		{`{"ServerURL":"registry.example","Username":"alice","Secret":"` + secret + `"}` + "\n",
			Credentials{"registry.example", "alice", secret}},
		// Identity tokens travel as Username "<token>".
		{`{"ServerURL":"https://index.docker.io/v1/","Username":"<token>","Secret":"rt"}`,
			Credentials{"https://index.docker.io/v1/", "<token>", "rt"}},
		// Unknown fields are ignored (protocols.md §0.6); encoding/json
		// matches names without regard to case, as the library does.
		{`{"serverurl":"r","username":"u","secret":"s","Future":{"x":[1]}}` + "\n\n ",
			Credentials{"r", "u", "s"}},
	}
	for _, tc := range ok {
		got, err := ReadCredentials(strings.NewReader(tc.in))
		if err != nil {
			t.Errorf("ReadCredentials(%q): %v", tc.in, err)
			continue
		}
		if diff := cmp.Diff(tc.want, got); diff != "" {
			t.Errorf("ReadCredentials(%q) mismatch (-want +got):\n%s", tc.in, diff)
		}
	}

	bad := []struct {
		name, in string
		want     error // nil: any "dockercred: " error
	}{
		{"empty", "", nil},
		{"garbage", "this is not json " + secret, nil},
		{"array", `["` + secret + `"]`, nil},
		{"string", `"` + secret + `"`, nil},
		{"truncated", `{"ServerURL":"r","Username":"u","Secret":"` + secret, nil},
		{"two objects", `{"ServerURL":"r","Username":"u","Secret":"s"}{}`, nil},
		{"trailing garbage", `{"ServerURL":"r","Username":"u","Secret":"s"} x`, nil},
		{"number secret", `{"ServerURL":"r","Username":"u","Secret":5}`, nil},
		{"invalid UTF-8", `{"ServerURL":"r","Username":"u","Secret":"` + secret + "\xff\"}", nil},
		{"no ServerURL", `{"Username":"u","Secret":"` + secret + `"}`, ErrMissingServerURL},
		{"blank ServerURL", `{"ServerURL":" ","Username":"u","Secret":"s"}`, ErrMissingServerURL},
		{"null", "null", ErrMissingServerURL},
		{"no Username", `{"ServerURL":"r","Secret":"` + secret + `"}`, ErrMissingUsername},
		{"neither", `{}`, ErrMissingServerURL},
		{"no Secret", `{"ServerURL":"r","Username":"u"}`, nil},
		{"control in Username", `{"ServerURL":"r","Username":"u\n","Secret":"s"}`, nil},
		{"too long", `{"ServerURL":"r","Username":"u","Secret":"` + strings.Repeat("s", maxInput) + `"}`, nil},
	}
	for _, tc := range bad {
		_, err := ReadCredentials(strings.NewReader(tc.in))
		if err == nil {
			t.Errorf("%s: no error", tc.name)
			continue
		}
		msg := err.Error()
		switch {
		case tc.want != nil && !errors.Is(err, tc.want):
			t.Errorf("%s: error %q, want %q", tc.name, msg, tc.want)
		case tc.want == nil && !strings.HasPrefix(msg, "dockercred: "):
			t.Errorf("%s: error %q lacks the package prefix", tc.name, msg)
		}
		if strings.Contains(msg, secret) || strings.ContainsAny(msg, "\n\r") {
			t.Errorf("%s: error %q quotes the input or spans lines", tc.name, msg)
		}
	}
}

func TestWrite(t *testing.T) {
	var b bytes.Buffer
	if err := WriteCredentials(&b, Credentials{"r", "<token>", "s"}); err != nil {
		t.Fatal(err)
	}
	if got, want := b.String(), `{"ServerURL":"r","Username":"<token>","Secret":"s"}`+"\n"; got != want {
		t.Errorf("WriteCredentials = %q, want %q", got, want)
	}
	if err := WriteCredentials(io.Discard, Credentials{"r", "u", "\xff"}); err == nil {
		t.Error("WriteCredentials accepted a secret that is not UTF-8")
	}
	b.Reset()
	if err := WriteList(&b, nil); err != nil || b.String() != "{}\n" {
		t.Errorf("WriteList(nil) = %q, %v", b.String(), err)
	}
	b.Reset()
	if err := WriteList(&b, map[string]string{"b.example": "bob", "a.example": "alice"}); err != nil {
		t.Fatal(err)
	}
	if got, want := b.String(), `{"a.example":"alice","b.example":"bob"}`+"\n"; got != want {
		t.Errorf("WriteList = %q, want %q", got, want)
	}
	if err := WriteList(io.Discard, map[string]string{"\xff": "u"}); err == nil {
		t.Error("WriteList accepted a key that is not UTF-8")
	}
}

// memory is a Handler over a map, as docker's own tests use: a fake with
// just enough behaviour to check Run.
type memory struct {
	creds map[string]Credentials
	calls []string
	err   error // returned by every method when set
}

func (m *memory) Get(_ context.Context, server string) (Credentials, error) {
	m.calls = append(m.calls, "get "+server)
	if m.err != nil {
		return Credentials{}, m.err
	}
	c, ok := m.creds[server]
	if !ok {
		return Credentials{}, fmt.Errorf("no entry for %s: %w", server, ErrNotFound)
	}
	return c, nil
}

func (m *memory) Store(_ context.Context, c Credentials) error {
	m.calls = append(m.calls, "store "+c.ServerURL)
	if m.err != nil {
		return m.err
	}
	m.creds[c.ServerURL] = c
	return nil
}

func (m *memory) Erase(_ context.Context, server string) error {
	m.calls = append(m.calls, "erase "+server)
	if m.err != nil {
		return m.err
	}
	delete(m.creds, server)
	return nil
}

func (m *memory) List(context.Context) (map[string]string, error) {
	m.calls = append(m.calls, "list")
	if m.err != nil {
		return nil, m.err
	}
	out := map[string]string{}
	for k, c := range m.creds {
		out[k] = c.Username
	}
	return out, nil
}

var testVersion = Version{Name: "docker-credential-test", Package: "example.com/test", Version: "v1.2.3"}

func run(h Handler, stdin string, args ...string) (string, int) {
	var out bytes.Buffer
	code := Run(context.Background(), args, testVersion, strings.NewReader(stdin), &out, h)
	return out.String(), code
}

// TestRunSession plays what `docker login`, pulls and `docker logout` do
// (protocols.md §2.2, peers.md §3b), with the spellings that must be one entry.
func TestRunSession(t *testing.T) {
	m := &memory{creds: map[string]Credentials{}}
	steps := []struct {
		stdin string
		args  []string
		out   string
		code  int
	}{
		{"registry.example:5000", []string{"get"}, "credentials not found in native keychain\n", 1},
		{`{"ServerURL":"https://Registry.Example:5000","Username":"alice","Secret":"` + secret + `"}` + "\n", []string{"store"}, "", 0},
		{"registry.example:5000", []string{"get"}, `{"ServerURL":"registry.example:5000","Username":"alice","Secret":"` + secret + `"}` + "\n", 0},
		{"https://registry.example:5000/v2/\n", []string{"get"}, `{"ServerURL":"https://registry.example:5000/v2/","Username":"alice","Secret":"` + secret + `"}` + "\n", 0},
		{"registry.example:5000/team/app", []string{"get"}, `{"ServerURL":"registry.example:5000/team/app","Username":"alice","Secret":"` + secret + `"}` + "\n", 0},
		{"unused", []string{"list"}, `{"registry.example:5000":"alice"}` + "\n", 0},
		{"http://registry.example:5000", []string{"erase"}, "", 0},
		{"registry.example:5000", []string{"get"}, "credentials not found in native keychain\n", 1},
		{"unused", []string{"list"}, "{}\n", 0},
		{"", []string{"version"}, "docker-credential-test (example.com/test) v1.2.3\n", 0},
		{"", []string{"--version"}, "docker-credential-test (example.com/test) v1.2.3\n", 0},
		{"", []string{"-v"}, "docker-credential-test (example.com/test) v1.2.3\n", 0},
		{"", []string{"--help"}, "Usage: docker-credential-test <store|get|erase|list|version>\n", 0},
	}
	for i, s := range steps {
		out, code := run(m, s.stdin, s.args...)
		if out != s.out || code != s.code {
			t.Errorf("step %d (%v %q): got %q exit %d, want %q exit %d", i, s.args, s.stdin, out, code, s.out, s.code)
		}
	}
	want := []string{
		"get registry.example:5000", "store registry.example:5000", "get registry.example:5000",
		"get registry.example:5000", "get registry.example:5000", "list", "erase registry.example:5000",
		"get registry.example:5000", "list",
	}
	if diff := cmp.Diff(want, m.calls); diff != "" {
		t.Errorf("handler calls (-want +got):\n%s", diff)
	}
}

// TestRunErrors: every failure is one line on stdout with exit 1, the fixed
// strings exactly, and malformed input never reaches the handler.
func TestRunErrors(t *testing.T) {
	for _, tc := range []struct {
		name     string
		args     []string
		stdin    string
		handler  error
		want     string // the whole stdout, or a prefix ending in "…"
		reachesH bool
	}{
		{"no args", nil, "", nil, "mayfly: Usage: docker-credential-test <store|get|erase|list|version>\n", false},
		{"two args", []string{"get", "x"}, "r", nil, "mayfly: Usage: …", false},
		{"unknown action", []string{"frobnicate"}, "r", nil, "mayfly: unknown credential action \"frobnicate\"…", false},
		{"get, empty", []string{"get"}, "", nil, "no credentials server URL\n", false},
		{"erase, empty", []string{"erase"}, "\n", nil, "no credentials server URL\n", false},
		{"get, garbage", []string{"get"}, "\x00\x01 garbage " + secret, nil, "mayfly: dockercred: server address contains white space…", false},
		{"get, 1 MiB", []string{"get"}, strings.Repeat("a", 1<<20), nil, "mayfly: dockercred: request longer than 65536 bytes\n", false},
		{"erase, bad scheme", []string{"erase"}, "ftp://r", nil, "mayfly: dockercred: server address scheme must be https or http\n", false},
		{"store, bad JSON", []string{"store"}, "{" + secret, nil, "mayfly: dockercred: store request is not valid JSON (at byte 2)\n", false},
		{"store, truncated", []string{"store"}, `{"ServerURL":"r"`, nil, "mayfly: dockercred: store request is not a complete JSON object…", false},
		{"store, no server", []string{"store"}, `{"Username":"u","Secret":"s"}`, nil, "no credentials server URL\n", false},
		{"store, no username", []string{"store"}, `{"ServerURL":"r","Secret":"s"}`, nil, "no credentials username\n", false},
		{"store, bad server", []string{"store"}, `{"ServerURL":"r r","Username":"u","Secret":"s"}`, nil, "mayfly: dockercred: server address contains white space…", false},
		{"get, handler fails", []string{"get"}, "r", errors.New("agent:\n\x1b[31mdown"), "mayfly: agent:  [31mdown\n", true},
		{"get, wrapped not found", []string{"get"}, "r", fmt.Errorf("mayfly: nothing for r: %w", ErrNotFound), "credentials not found in native keychain\n", true},
		{"store, handler fails", []string{"store"}, `{"ServerURL":"r","Username":"u","Secret":"s"}`, errors.New("store locked"), "mayfly: store locked\n", true},
		{"list, handler fails", []string{"list"}, "unused", errors.New(strings.Repeat("x", 1000)), "mayfly: xxxxxxxx…", true},
		{"erase, handler fails", []string{"erase"}, "r", errors.New(""), "mayfly: failed\n", true},
	} {
		m := &memory{creds: map[string]Credentials{}, err: tc.handler}
		out, code := run(m, tc.stdin, tc.args...)
		if code != 1 {
			t.Errorf("%s: exit %d, want 1", tc.name, code)
		}
		if prefix, ok := strings.CutSuffix(tc.want, "…"); ok {
			if !strings.HasPrefix(out, prefix) {
				t.Errorf("%s: stdout %q, want it to start with %q", tc.name, out, prefix)
			}
		} else if out != tc.want {
			t.Errorf("%s: stdout %q, want %q", tc.name, out, tc.want)
		}
		if strings.Count(out, "\n") != 1 || !strings.HasSuffix(out, "\n") || len(out) > maxMessage+20 {
			t.Errorf("%s: stdout %q is not one short line", tc.name, out)
		}
		if strings.Contains(out, secret) {
			t.Errorf("%s: stdout quotes the input: %q", tc.name, out)
		}
		if reached := len(m.calls) > 0; reached != tc.reachesH {
			t.Errorf("%s: handler calls %v", tc.name, m.calls)
		}
	}
}

// emptyHandler answers get with no secret; Run must not pass that on.
type emptyHandler struct{ memory }

func (emptyHandler) Get(context.Context, string) (Credentials, error) {
	return Credentials{Username: "u"}, nil
}

func TestRunEmptyAnswer(t *testing.T) {
	out, code := run(&emptyHandler{}, "r", "get")
	if code != 1 || out != ErrNotFound.Error()+"\n" {
		t.Errorf("get with an empty secret: %q exit %d", out, code)
	}
}

// badWriter fails every write, as a closed pipe does.
type badWriter struct{ n int }

func (w *badWriter) Write(p []byte) (int, error) { w.n++; return 0, errors.New("closed") }

func TestRunWritesOnce(t *testing.T) {
	m := &memory{creds: map[string]Credentials{"r": {"r", "u", "s"}}}
	w := &badWriter{}
	if code := Run(context.Background(), []string{"get"}, testVersion, strings.NewReader("r"), w, m); code != 1 || w.n != 1 {
		t.Errorf("Run with a broken stdout: exit %d after %d writes", code, w.n)
	}
	// A successful answer is one Write of one JSON document.
	var out countingWriter
	if code := Run(context.Background(), []string{"get"}, testVersion, strings.NewReader("r"), &out, m); code != 0 || out.writes != 1 {
		t.Fatalf("exit %d, %d writes", code, out.writes)
	}
	dec := json.NewDecoder(&out.buf)
	dec.DisallowUnknownFields()
	var c Credentials
	if err := dec.Decode(&c); err != nil || dec.More() {
		t.Errorf("stdout is not exactly one Credentials document: %v", err)
	}
}

type countingWriter struct {
	buf    bytes.Buffer
	writes int
}

func (w *countingWriter) Write(p []byte) (int, error) { w.writes++; return w.buf.Write(p) }
