package goauth

import (
	"bytes"
	"context"
	"net/url"
	"strings"
	"testing"
)

// FuzzReadResponseHead checks that the stdin decoder never panics, that its
// errors are single "goauth: " lines, and that what it accepts is sane:
// lowercased token names, values without line ends, schemes that are tokens.
func FuzzReadResponseHead(f *testing.F) {
	for _, s := range []string{
		"",
		"\n\n\n",
		"HTTP/2.0 401 Unauthorized\nWww-Authenticate: Bearer realm=\"authproxy\"\n\n",
		"HTTP/1.1 404 Not Found\r\nWWW-Authenticate: Basic realm=\"a, b\", Bearer\r\n\r\n",
		"HTTP/1.1 401\nWww-Authenticate: Negotiate YII=, , =,\"\\\"\n",
		"HTTP/1.1 401 X\n: empty\n\n",
		"HTTP/ 401 X\n",
		"HTTP/1.1 099 X\n",
		"HTTP/1.1 401 X\nA:\x00\n\n",
		"\x00\xff\r\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		resp, err := ReadResponseHead(bytes.NewReader(data))
		if err != nil {
			if msg := err.Error(); strings.ContainsAny(msg, "\r\n") || !strings.HasPrefix(msg, "goauth: ") {
				t.Fatalf("bad error message %q", msg)
			}
			return
		}
		if (resp == nil) != (len(bytes.TrimSpace(data)) == 0) {
			t.Fatalf("response %v for %q", resp, data)
		}
		if resp == nil {
			return
		}
		if resp.StatusCode < 100 || resp.StatusCode > 999 || !strings.HasPrefix(resp.Proto, "HTTP/") {
			t.Fatalf("status %q %d", resp.Proto, resp.StatusCode)
		}
		for k, v := range resp.Header {
			if !isToken(k) || strings.ToLower(k) != k || strings.ContainsAny(v, "\r\n") {
				t.Fatalf("header %q: %q", k, v)
			}
		}
		for _, s := range resp.AuthSchemes() {
			if !isToken(s) || strings.ToLower(s) != s {
				t.Fatalf("scheme %q", s)
			}
		}
	})
}

// FuzzRun drives the whole command with arbitrary arguments and stdin, and a
// handler that answers with a credential for the URL it was given: the exit
// code and the streams must follow Run's contract, and whatever reaches
// stdout must parse, by go's own rules, to that credential.
func FuzzRun(f *testing.F) {
	f.Add("", "", "")
	f.Add("https://127.0.0.1:8443/example.com/hello/@v/v1.0.0.zip", "HTTP/1.1 401 Unauthorized\n\n", "eyJ.a.b")
	f.Add("https://h/x?go-get=1", "HTTP/2.0 404 Not Found\nWww-Authenticate: Basic\n\n", "t t")
	f.Add("https://h/%zz", "", "\n")
	f.Add("-x", "", "t")
	f.Add("HTTPS://H/X", "", "t")
	f.Add("https://h/\x00", "HTTP/1.1 401 X\nbad\n", "t")
	f.Fuzz(func(t *testing.T, arg, stdin, token string) {
		var args []string
		if arg != "" {
			args = []string{arg}
		}
		called := false
		h := HandlerFunc(func(_ context.Context, req Request) ([]Credential, error) {
			called = true
			if req.URL == "" {
				return nil, nil
			}
			return []Credential{{Prefixes: []string{req.URL}, Header: []Field{{"Authorization", "Bearer " + token}}}}, nil
		})
		var stdout, stderr bytes.Buffer
		code := Run(context.Background(), args, strings.NewReader(stdin), &stdout, &stderr, h)
		switch code {
		case 0:
			if stderr.Len() != 0 {
				t.Fatalf("exit 0 with stderr %q", stderr.String())
			}
		case 1, 2:
			if stdout.Len() != 0 || strings.Count(stderr.String(), "\n") != 1 || !strings.HasSuffix(stderr.String(), "\n") {
				t.Fatalf("exit %d: stdout %q stderr %q", code, stdout.String(), stderr.String())
			}
			if code == 2 && called {
				t.Fatal("handler called on a usage error")
			}
			return
		default:
			t.Fatalf("exit %d", code)
		}
		got, err := goParse(stdout.String())
		if err != nil {
			t.Fatalf("go refuses %q: %v", stdout.String(), err)
		}
		if arg == "" {
			if len(got) != 0 {
				t.Fatalf("first run printed %q", stdout.String())
			}
			return
		}
		// Go looks up the request URL's String(), which is what it passed.
		u, err := url.ParseRequestURI(arg)
		if err != nil {
			t.Fatal(err)
		}
		key := strings.TrimSuffix(strings.TrimPrefix(u.String(), "https://"), "/")
		if len(got) != 1 || got[key].Get("Authorization") != "Bearer "+token {
			t.Fatalf("go reads %v from %q, want %q", got, stdout.String(), key)
		}
	})
}

// FuzzWriteCredentials checks that the encoder refuses what go would refuse
// or misread, and that what it writes is exactly what go reads back.
func FuzzWriteCredentials(f *testing.F) {
	f.Add("https://h/", "Authorization", "Bearer t")
	f.Add("https://h/a\nhttps://evil/", "X", "v")
	f.Add("https://h/", "X-Y", "a: b")
	f.Add("https://h/", "X", "")
	f.Add("https://h/", "X", "\tv")
	f.Add("https://h/", "X", "v\xff")
	f.Fuzz(func(t *testing.T, prefix, name, value string) {
		var b bytes.Buffer
		err := WriteCredentials(&b, []Credential{{Prefixes: []string{prefix}, Header: []Field{{name, value}}}})
		if err != nil {
			if b.Len() != 0 {
				t.Fatalf("wrote %q and failed", b.String())
			}
			return
		}
		got, err := goParse(b.String())
		if err != nil {
			t.Fatalf("go refuses %q: %v", b.String(), err)
		}
		if len(got) != 1 {
			t.Fatalf("go reads %d prefixes from %q", len(got), b.String())
		}
		for _, h := range got {
			if vs := h.Values(name); len(vs) != 1 || vs[0] != value || len(h) != 1 {
				t.Fatalf("go reads %v from %q, want %s: %q", h, b.String(), name, value)
			}
		}
	})
}
