package goauth

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/google/go-cmp/cmp"
)

// goParse is go's own parser of the command's output, parseUserAuth in
// src/cmd/go/internal/auth/userauth.go (Go 1.26), restated so that tests
// can check that what WriteCredentials writes is what go reads.
func goParse(data string) (map[string]http.Header, error) {
	credentials := make(map[string]http.Header)
	for data != "" {
		var (
			line string
			ok   bool
			urls []string
		)
		for {
			line, data, ok = strings.Cut(data, "\n")
			if !ok {
				return nil, errors.New("invalid format: missing empty line after URLs")
			}
			if line == "" {
				break
			}
			u, err := url.ParseRequestURI(line)
			if err != nil {
				return nil, fmt.Errorf("could not parse URL %s: %v", line, err)
			}
			urls = append(urls, u.String())
		}
		header := make(http.Header)
		for {
			line, data, ok = strings.Cut(data, "\n")
			if !ok {
				return nil, errors.New("invalid format: missing empty line after headers")
			}
			if line == "" {
				break
			}
			name, value, ok := strings.Cut(line, ": ")
			value = strings.TrimSpace(value)
			if !ok || !isToken(name) || !goValidValue(value) {
				return nil, errors.New("invalid format: invalid header line")
			}
			header.Add(name, value)
		}
		// mapHeadersToPrefixes, then storeCredential in auth.go.
		for _, p := range urls {
			credentials[strings.TrimSuffix(strings.TrimPrefix(p, "https://"), "/")] = header.Clone()
		}
	}
	return credentials, nil
}

// goValidValue is httpguts.ValidHeaderFieldValue.
func goValidValue(v string) bool {
	for i := 0; i < len(v); i++ {
		if b := v[i]; (b < ' ' && b != '\t') || b == 0x7f {
			return false
		}
	}
	return true
}

func TestParseArgs(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
		err  bool
	}{
		{nil, "", false},
		{[]string{}, "", false},
		{[]string{"https://proxy.example/mod/@v/v1.0.0.zip"}, "https://proxy.example/mod/@v/v1.0.0.zip", false},
		{[]string{"https://git.example/org/repo?go-get=1"}, "https://git.example/org/repo?go-get=1", false},
		{[]string{"HTTPS://h:8443/"}, "HTTPS://h:8443/", false},
		{[]string{"http://proxy.example/"}, "", true},
		{[]string{"https://"}, "", true},
		{[]string{"https://u:p@h/"}, "", true},
		{[]string{"https://h/a b"}, "", true},
		{[]string{"https://h/\x00"}, "", true},
		{[]string{"proxy.example/mod"}, "", true},
		{[]string{""}, "", true},
		{[]string{"--profile"}, "", true},
		{[]string{"--profile", "x", "https://h/"}, "", true},
		{[]string{"https://h/", "https://h/"}, "", true},
	} {
		got, err := ParseArgs(tc.args)
		if (err != nil) != tc.err || got != tc.want {
			t.Errorf("ParseArgs(%q) = %q, %v; want %q, error %v", tc.args, got, err, tc.want, tc.err)
		}
		if err != nil && !errors.Is(err, ErrUsage) {
			t.Errorf("ParseArgs(%q) error %v does not wrap ErrUsage", tc.args, err)
		}
	}
}

func TestReadResponseHead(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   string
		want *Response
		err  string
	}{
		{name: "empty", in: "", want: nil},
		{name: "blank", in: "\n", want: nil},
		{
			// What go 1.26 wrote in peers.md §3d, from an HTTP/2 proxy.
			name: "go",
			in:   "HTTP/2.0 401 Unauthorized\nContent-Type: text/plain; charset=utf-8\nWww-Authenticate: Bearer realm=\"authproxy\"\nX-Content-Type-Options: nosniff\n\n",
			want: &Response{Proto: "HTTP/2.0", StatusCode: 401, Reason: "Unauthorized", Header: map[string]string{
				"content-type":           "text/plain; charset=utf-8",
				"www-authenticate":       `Bearer realm="authproxy"`,
				"x-content-type-options": "nosniff",
			}},
		},
		{
			name: "crlf, no blank line, repeated name",
			in:   "HTTP/1.1 404 Not Found\r\nWWW-Authenticate: Basic realm=x\r\nwww-authenticate:Bearer\r\n",
			want: &Response{Proto: "HTTP/1.1", StatusCode: 404, Reason: "Not Found", Header: map[string]string{
				"www-authenticate": "Basic realm=x, Bearer",
			}},
		},
		{
			name: "no reason, body ignored",
			in:   "HTTP/1.1 403\n\nnot: a header\n",
			want: &Response{Proto: "HTTP/1.1", StatusCode: 403, Header: map[string]string{}},
		},
		{name: "no proto", in: "401 Unauthorized\n\n", err: "line 1"},
		{name: "bad code", in: "HTTP/1.1 40x Unauthorized\n\n", err: "line 1"},
		{name: "short code", in: "HTTP/1.1 40 Unauthorized\n\n", err: "line 1"},
		{name: "control in reason", in: "HTTP/1.1 401 Un\x1bauthorized\n\n", err: "line 1"},
		{name: "header without colon", in: "HTTP/1.1 401 Unauthorized\nSet-Cookie secret\n\n", err: "line 2"},
		{name: "space in name", in: "HTTP/1.1 401 Unauthorized\nSet Cookie: secret\n\n", err: "line 2"},
		{name: "too long", in: "HTTP/1.1 401 X\nA: " + strings.Repeat("a", maxHeadBytes) + "\n\n", err: "longer than"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ReadResponseHead(strings.NewReader(tc.in))
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("error = %v, want one containing %q", err, tc.err)
				}
				if strings.Contains(err.Error(), "secret") {
					t.Errorf("error quotes a header: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("mismatch (-want +got):\n%s", diff)
			}
		})
	}
	if _, err := ReadResponseHead(iotest.ErrReader(errors.New("boom"))); err == nil {
		t.Error("read error not reported")
	}
}

func TestAuthSchemes(t *testing.T) {
	for _, tc := range []struct {
		header string
		want   []string
	}{
		{"", nil},
		{`Bearer realm="mayfly"`, []string{"bearer"}},
		{`Basic realm="a, Bearer b=c", charset="UTF-8"`, []string{"basic"}},
		{`Basic realm="x", Bearer realm="y", error="invalid_token"`, []string{"basic", "bearer"}},
		{`Negotiate YII=, NTLM, basic`, []string{"negotiate", "ntlm", "basic"}},
		{`Bearer realm="a\", Basic"`, []string{"bearer"}},
		{`Cargo login_url="https://r/me", BASIC realm = "r", Basic`, []string{"cargo", "basic"}},
		{`, ,= ,"Bearer"`, nil},
	} {
		r := &Response{Header: map[string]string{}}
		if tc.header != "" {
			r.Header["www-authenticate"] = tc.header
		}
		if diff := cmp.Diff(tc.want, r.AuthSchemes()); diff != "" {
			t.Errorf("%q (-want +got):\n%s", tc.header, diff)
		}
	}
	if (*Response)(nil).AuthSchemes() != nil {
		t.Error("nil response has schemes")
	}
}

func TestWriteCredentials(t *testing.T) {
	sets := []Credential{
		{
			Prefixes: []string{"https://proxy.example/mod/@v/v1.0.0.zip", "https://proxy.example:8443/"},
			Header:   []Field{{"Authorization", "Bearer eyJ.a-b_c.d"}, {"X-Extra", "1"}},
		},
		{Prefixes: []string{"https://git.example/org/repo?go-get=1"}}, // forget
	}
	var b bytes.Buffer
	if err := WriteCredentials(&b, sets); err != nil {
		t.Fatal(err)
	}
	const want = "https://proxy.example/mod/@v/v1.0.0.zip\nhttps://proxy.example:8443/\n\nAuthorization: Bearer eyJ.a-b_c.d\nX-Extra: 1\n\n" +
		"https://git.example/org/repo?go-get=1\n\n\n"
	if b.String() != want {
		t.Fatalf("wrote\n%q\nwant\n%q", b.String(), want)
	}
	got, err := goParse(b.String())
	if err != nil {
		t.Fatalf("go would refuse it: %v", err)
	}
	wantParsed := map[string]http.Header{
		"proxy.example/mod/@v/v1.0.0.zip": {"Authorization": {"Bearer eyJ.a-b_c.d"}, "X-Extra": {"1"}},
		"proxy.example:8443":              {"Authorization": {"Bearer eyJ.a-b_c.d"}, "X-Extra": {"1"}},
		"git.example/org/repo?go-get=1":   {},
	}
	if diff := cmp.Diff(wantParsed, got); diff != "" {
		t.Errorf("go reads (-want +got):\n%s", diff)
	}

	b.Reset()
	if err := WriteCredentials(&b, nil); err != nil || b.Len() != 0 {
		t.Errorf("no sets: wrote %q, %v", b.String(), err)
	}

	for name, set := range map[string]Credential{
		"no URL":           {Header: []Field{{"Authorization", "Bearer t"}}},
		"http URL":         {Prefixes: []string{"http://h/"}, Header: []Field{{"Authorization", "Bearer t"}}},
		"relative URL":     {Prefixes: []string{"h/"}},
		"newline in URL":   {Prefixes: []string{"https://h/\nhttps://evil/"}},
		"bad name":         {Prefixes: []string{"https://h/"}, Header: []Field{{"Author ization", "t"}}},
		"empty name":       {Prefixes: []string{"https://h/"}, Header: []Field{{"", "t"}}},
		"newline value":    {Prefixes: []string{"https://h/"}, Header: []Field{{"Authorization", "Bearer secret\n\nhttps://evil/"}}},
		"trailing space":   {Prefixes: []string{"https://h/"}, Header: []Field{{"Authorization", "Bearer secret "}}},
		"control in value": {Prefixes: []string{"https://h/"}, Header: []Field{{"Authorization", "Bearer \x7fsecret"}}},
	} {
		b.Reset()
		err := WriteCredentials(&b, []Credential{sets[0], set})
		if err == nil {
			t.Errorf("%s: accepted", name)
		}
		if b.Len() != 0 {
			t.Errorf("%s: wrote %q", name, b.String())
		}
		if err != nil && strings.Contains(err.Error(), "secret") {
			t.Errorf("%s: error quotes the value: %v", name, err)
		}
	}
}

type failWriter struct{}

func (failWriter) Write([]byte) (int, error) { return 0, errors.New("closed") }

func TestRun(t *testing.T) {
	token := []Credential{{Prefixes: []string{"https://h/x"}, Header: []Field{{"Authorization", "Bearer t"}}}}
	for _, tc := range []struct {
		name       string
		args       []string
		stdin      string
		sets       []Credential
		err        error
		wantReq    *Request // nil: the handler must not be called
		wantCode   int
		wantStdout string
		wantStderr string
	}{
		{
			name: "first run", sets: nil, wantReq: &Request{},
		},
		{
			name: "after a 401", args: []string{"https://h/x"},
			stdin:      "HTTP/1.1 401 Unauthorized\nWww-Authenticate: Bearer\n\n",
			sets:       token,
			wantReq:    &Request{URL: "https://h/x", Response: &Response{Proto: "HTTP/1.1", StatusCode: 401, Reason: "Unauthorized", Header: map[string]string{"www-authenticate": "Bearer"}}},
			wantStdout: "https://h/x\n\nAuthorization: Bearer t\n\n",
		},
		{
			name: "handler error", args: []string{"https://h/x"}, err: errors.New("not signed in to profile corp:\nrun `mayfly login --profile corp`"),
			wantReq: &Request{URL: "https://h/x"}, wantCode: 1,
			wantStderr: "mayfly: not signed in to profile corp: run `mayfly login --profile corp`\n",
		},
		{
			name: "cancelled", args: []string{"https://h/x"}, err: fmt.Errorf("agent: %w", context.Canceled),
			wantReq: &Request{URL: "https://h/x"}, wantCode: 1, wantStderr: "mayfly: interrupted\n",
		},
		{
			name: "bad handler output", args: []string{"https://h/x"},
			sets:    []Credential{{Prefixes: []string{"https://h/x"}, Header: []Field{{"Authorization", "Bearer a\nb"}}}},
			wantReq: &Request{URL: "https://h/x"}, wantCode: 1,
			wantStderr: "mayfly: goauth: credential set 0: the value of Authorization has a control character or surrounding space\n",
		},
		{
			name: "flag", args: []string{"--profile", "corp", "https://h/x"}, wantCode: 2,
			wantStderr: "mayfly: goauth: usage: 3 arguments; go passes at most one, the URL: " + usage + "\n",
		},
		{
			name: "http", args: []string{"http://h/x"}, wantCode: 2,
			wantStderr: "mayfly: goauth: usage: the argument is not an https:// URL (go sends GOAUTH credentials over https only): " + usage + "\n",
		},
		{
			name: "garbage stdin", args: []string{"https://h/x"}, stdin: "garbage\n", wantCode: 1,
			wantStderr: "mayfly: goauth: stdin: line 1: not an HTTP status line (\"HTTP/1.1 401 Unauthorized\")\n",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var got *Request
			h := HandlerFunc(func(_ context.Context, req Request) ([]Credential, error) {
				got = &req
				return tc.sets, tc.err
			})
			var stdout, stderr bytes.Buffer
			code := Run(context.Background(), tc.args, strings.NewReader(tc.stdin), &stdout, &stderr, h)
			if code != tc.wantCode || stdout.String() != tc.wantStdout || stderr.String() != tc.wantStderr {
				t.Errorf("Run = %d\nstdout %q\nstderr %q\nwant %d\nstdout %q\nstderr %q", code, stdout.String(), stderr.String(), tc.wantCode, tc.wantStdout, tc.wantStderr)
			}
			if diff := cmp.Diff(tc.wantReq, got); diff != "" {
				t.Errorf("handler request (-want +got):\n%s", diff)
			}
		})
	}

	t.Run("stdout closed", func(t *testing.T) {
		var stderr bytes.Buffer
		h := HandlerFunc(func(context.Context, Request) ([]Credential, error) { return token, nil })
		if code := Run(context.Background(), []string{"https://h/x"}, strings.NewReader(""), failWriter{}, &stderr, h); code != 1 || !strings.Contains(stderr.String(), "closed") {
			t.Errorf("Run = %d, stderr %q", code, stderr.String())
		}
	})
}

// The URL go passes is the request URL's String(); a credential printed for
// it must come back, after go's parse, as the same key go looks up.
func TestPrefixRoundTrip(t *testing.T) {
	for _, raw := range []string{
		"https://127.0.0.1:8443/example.com/hello/@v/v1.0.0.zip",
		"https://proxy.example/github.com/%21azure/go/@v/list",
		"https://git.example/org/repo?go-get=1",
		"https://[::1]:8443/x/@latest",
	} {
		u, err := url.Parse(raw)
		if err != nil {
			t.Fatal(err)
		}
		var b bytes.Buffer
		if err := WriteCredentials(&b, []Credential{{Prefixes: []string{u.String()}, Header: []Field{{"Authorization", "Bearer t"}}}}); err != nil {
			t.Fatal(err)
		}
		got, err := goParse(b.String())
		if err != nil {
			t.Fatal(err)
		}
		// loadCredential in auth.go starts from the request's URL.String().
		key := strings.TrimSuffix(strings.TrimPrefix(u.String(), "https://"), "/")
		if _, ok := got[key]; !ok {
			t.Errorf("%s: go stores %v, looks up %q", raw, slices.Collect(maps.Keys(got)), key)
		}
	}
}
