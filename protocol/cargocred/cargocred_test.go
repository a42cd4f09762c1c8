package cargocred

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"testing/iotest"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestDecodeRequest(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   string
		want Request
		err  string
	}{
		{
			// What cargo 1.95 sent in peers.md §3e.
			name: "cargo 1.95 read",
			in:   `{"v":1,"registry":{"index-url":"sparse+http://127.0.0.1:8765/index/","name":"local","headers":["HTTP/1.1 401 Unauthorized","WWW-Authenticate: Cargo login_url=\"http://127.0.0.1:8765/me\""]},"kind":"get","operation":"read","args":["--extra-arg"]}`,
			want: Request{V: 1, Kind: KindGet, Operation: OpRead, Args: []string{"--extra-arg"}, Registry: Registry{
				IndexURL: "sparse+http://127.0.0.1:8765/index/", Name: "local",
				Headers: []string{"HTTP/1.1 401 Unauthorized", `WWW-Authenticate: Cargo login_url="http://127.0.0.1:8765/me"`},
			}},
		},
		{
			// cargo-credential's credential_request test, with extra fields.
			name: "owners, unknown fields",
			in:   `{"extra-1":true,"v":1,"registry":{"index-url":"url","extra-2":true},"kind":"get","operation":"owners","name":"pkg","args":[]}`,
			want: Request{V: 1, Kind: KindGet, Operation: OpOwners, CrateName: "pkg", Args: []string{}, Registry: Registry{IndexURL: "url"}},
		},
		{
			name: "publish",
			in:   `{"v":1,"kind":"get","operation":"publish","name":"sample","vers":"0.1.0","cksum":"abc","registry":{"index-url":"sparse+https://r/index/","name":null}}`,
			want: Request{V: 1, Kind: KindGet, Operation: OpPublish, CrateName: "sample", CrateVersion: "0.1.0", Cksum: "abc", Registry: Registry{IndexURL: "sparse+https://r/index/"}},
		},
		{
			name: "login",
			in:   `{"v":1,"kind":"login","registry":{"index-url":"sparse+https://r/index/","name":"my-registry"},"token":"s3cret","login-url":"http://r/login","args":["a","b"]}`,
			want: Request{V: 1, Kind: KindLogin, Token: "s3cret", LoginURL: "http://r/login", Args: []string{"a", "b"}, Registry: Registry{IndexURL: "sparse+https://r/index/", Name: "my-registry"}},
		},
		{
			name: "logout",
			in:   `{"v":1,"registry":{"index-url":"url"},"kind":"logout","extra-1":true,"args":[]}`,
			want: Request{V: 1, Kind: KindLogout, Args: []string{}, Registry: Registry{IndexURL: "url"}},
		},
		{
			name: "unknown kind and operation kept",
			in:   `{"v":1,"registry":{"index-url":""},"kind":"get","operation":"transmogrify"}` + "\n",
			want: Request{V: 1, Kind: KindGet, Operation: "transmogrify"},
		},
		{name: "not json", in: `kind=get`, err: "not a JSON object"},
		{name: "array", in: `[1]`, err: "not a JSON object"},
		{name: "null", in: `null`, err: "not a JSON object"},
		{name: "no v", in: `{"registry":{"index-url":"u"},"kind":"get","operation":"read"}`, err: `"v" is missing`},
		{name: "v float", in: `{"v":1.5,"registry":{"index-url":"u"},"kind":"get","operation":"read"}`, err: `"v" has the wrong type`},
		{name: "v negative", in: `{"v":-1,"registry":{"index-url":"u"},"kind":"get","operation":"read"}`, err: `out of range`},
		{name: "no registry", in: `{"v":1,"kind":"get","operation":"read"}`, err: `"registry"`},
		{name: "no index", in: `{"v":1,"registry":{},"kind":"get","operation":"read"}`, err: `"index-url" is missing`},
		{name: "no kind", in: `{"v":1,"registry":{"index-url":"u"}}`, err: `"kind" is missing`},
		{name: "capitalized kind", in: `{"v":1,"registry":{"index-url":"u"},"KIND":"get"}`, err: `"kind" is missing`},
		{name: "get without operation", in: `{"v":1,"registry":{"index-url":"u"},"kind":"get"}`, err: `"operation" is missing`},
		{name: "args not strings", in: `{"v":1,"registry":{"index-url":"u"},"kind":"get","operation":"read","args":[1]}`, err: `"args" has the wrong type`},
		{name: "token not string", in: `{"v":1,"registry":{"index-url":"u"},"kind":"login","token":{"s3cret":1}}`, err: `"token" has the wrong type`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := DecodeRequest([]byte(tc.in))
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("error = %v, want one containing %q", err, tc.err)
				}
				if strings.Contains(err.Error(), "s3cret") {
					t.Errorf("error quotes the token: %v", err)
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
}

func TestReader(t *testing.T) {
	line := `{"v":1,"registry":{"index-url":"u"},"kind":"logout"}`
	rd := NewReader(strings.NewReader(line + "\n" + line)) // the last line has no "\n"
	for i := range 2 {
		if req, err := rd.Next(); err != nil || req.Kind != KindLogout {
			t.Fatalf("request %d: %+v, %v", i, req, err)
		}
	}
	if _, err := rd.Next(); err != io.EOF {
		t.Fatalf("at the end: %v, want io.EOF", err)
	}

	long := `{"v":1,"registry":{"index-url":"` + strings.Repeat("u", MaxLine) + `"},"kind":"logout"}` + "\n"
	if _, err := NewReader(strings.NewReader(long)).Next(); err == nil || !strings.Contains(err.Error(), "longer than") {
		t.Errorf("long line: %v", err)
	}
	if _, err := NewReader(iotest.ErrReader(errors.New("boom"))).Next(); err == nil || err == io.EOF {
		t.Errorf("read error: %v", err)
	}
}

func TestWrite(t *testing.T) {
	exp := time.Unix(1693942857, 0)
	for _, tc := range []struct {
		name string
		resp Response
		want string
	}{
		{
			// The line in the protocol reference's "Get success response".
			name: "expires",
			resp: Response{Kind: KindGet, Token: "Bearer eyJ.a.b", Cache: CacheExpires, Expiration: exp, OperationIndependent: true},
			want: `{"Ok":{"kind":"get","token":"Bearer eyJ.a.b","cache":"expires","expiration":1693942857,"operation_independent":true}}`,
		},
		{
			// cargo-credential's credential_response test.
			name: "never",
			resp: Response{Kind: KindGet, Token: "value", Cache: CacheNever, OperationIndependent: true},
			want: `{"Ok":{"kind":"get","token":"value","cache":"never","operation_independent":true}}`,
		},
		{
			name: "session, html characters unescaped",
			resp: Response{Kind: KindGet, Token: "<&>", Cache: CacheSession},
			want: `{"Ok":{"kind":"get","token":"<&>","cache":"session","operation_independent":false}}`,
		},
		{name: "login", resp: Response{Kind: KindLogin}, want: `{"Ok":{"kind":"login"}}`},
		{name: "logout", resp: Response{Kind: KindLogout}, want: `{"Ok":{"kind":"logout"}}`},
	} {
		var b bytes.Buffer
		if err := WriteResponse(&b, tc.resp); err != nil {
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		if b.String() != tc.want+"\n" {
			t.Errorf("%s: wrote %s want %s", tc.name, b.String(), tc.want)
		}
	}

	for name, resp := range map[string]Response{
		"no kind":          {Token: "t", Cache: CacheNever},
		"unknown kind":     {Kind: "steal", Token: "t", Cache: CacheNever},
		"no token":         {Kind: KindGet, Cache: CacheNever},
		"newline in token": {Kind: KindGet, Token: "Bearer s3cret\r\nX-Evil: 1", Cache: CacheNever},
		"space":            {Kind: KindGet, Token: "Bearer s3cret ", Cache: CacheNever},
		"no cache":         {Kind: KindGet, Token: "t"},
		"unknown cache":    {Kind: KindGet, Token: "t", Cache: "forever"},
		"no expiration":    {Kind: KindGet, Token: "t", Cache: CacheExpires},
	} {
		var b bytes.Buffer
		err := WriteResponse(&b, resp)
		if err == nil || b.Len() != 0 {
			t.Errorf("%s: wrote %q, %v", name, b.String(), err)
		}
		if err != nil && strings.Contains(err.Error(), "s3cret") {
			t.Errorf("%s: error quotes the token: %v", name, err)
		}
	}

	for _, tc := range []struct {
		err  *Error
		want string
	}{
		{&Error{Kind: ErrNotFound}, `{"Err":{"kind":"not-found"}}`},
		{&Error{Kind: ErrURLNotSupported, Message: "no profile"}, `{"Err":{"kind":"url-not-supported","message":"no profile"}}`},
		{&Error{Kind: ErrOther, Message: "E3", CausedBy: []string{"E2", "E1\n\x1b[2J"}}, `{"Err":{"kind":"other","message":"E3","caused-by":["E2","E1  [2J"]}}`},
		{&Error{Kind: ErrOther}, `{"Err":{"kind":"other","message":"credential provider failed"}}`},
		{&Error{Kind: "teapot", Message: "a\nb"}, `{"Err":{"kind":"other","message":"a b"}}`},
	} {
		var b bytes.Buffer
		if err := WriteError(&b, tc.err); err != nil || b.String() != tc.want+"\n" {
			t.Errorf("WriteError(%+v) = %s, %v; want %s", tc.err, b.String(), err, tc.want)
		}
	}
}

type failWriter struct{ n int } // fails after n writes

func (w *failWriter) Write(p []byte) (int, error) {
	if w.n == 0 {
		return 0, errors.New("closed")
	}
	w.n--
	return len(p), nil
}

func TestRun(t *testing.T) {
	const (
		get    = `{"v":1,"registry":{"index-url":"sparse+https://r/index/","name":"r"},"kind":"get","operation":"read","args":[]}` + "\n"
		login  = `{"v":1,"registry":{"index-url":"sparse+https://r/index/"},"kind":"login","token":"s3cret"}` + "\n"
		hello  = `{"v":[1]}` + "\n"
		tokenR = `{"Ok":{"kind":"get","token":"Bearer t","cache":"expires","expiration":4102444800,"operation_independent":true}}` + "\n"
	)
	token := Response{Token: "Bearer t", Cache: CacheExpires, Expiration: time.Unix(4102444800, 0), OperationIndependent: true}
	for _, tc := range []struct {
		name       string
		args       []string
		stdin      string
		resp       Response
		err        error
		calls      int
		wantCode   int
		wantStdout string
		wantStderr string
	}{
		{name: "get", stdin: get, resp: token, calls: 1, wantStdout: hello + tokenR},
		{name: "two gets", stdin: get + get, resp: token, calls: 2, wantStdout: hello + tokenR + tokenR},
		{name: "no request", wantStdout: hello},
		{
			name: "not ours", stdin: get, err: &Error{Kind: ErrURLNotSupported, Message: "no profile matches"}, calls: 1,
			wantStdout: hello + `{"Err":{"kind":"url-not-supported","message":"no profile matches"}}` + "\n",
		},
		{
			name: "plain error", stdin: get, err: errors.New("not signed in to profile corp: run `mayfly login --profile corp`"), calls: 1,
			wantStdout: hello + `{"Err":{"kind":"other","message":"not signed in to profile corp: run ` + "`mayfly login --profile corp`" + `"}}` + "\n",
		},
		{
			name: "wrapped kind", stdin: login, err: fmt.Errorf("wrapped: %w", &Error{Kind: ErrOperationNotSupported, Message: "use mayfly login"}), calls: 1,
			wantStdout: hello + `{"Err":{"kind":"operation-not-supported","message":"use mayfly login"}}` + "\n",
			wantStderr: "mayfly: use mayfly login\n",
		},
		{
			name: "cancelled", stdin: get, err: fmt.Errorf("agent: %w", context.Canceled), calls: 1,
			wantStdout: hello + `{"Err":{"kind":"other","message":"interrupted"}}` + "\n",
		},
		{
			name: "unknown kind", stdin: `{"v":1,"registry":{"index-url":"u"},"kind":"rotate"}` + "\n",
			wantStdout: hello + `{"Err":{"kind":"operation-not-supported","message":"unknown request kind \"rotate\""}}` + "\n",
			wantStderr: "mayfly: unknown request kind \"rotate\"\n",
		},
		{
			name: "bad handler response", stdin: get, resp: Response{Token: "Bearer s3cret\n", Cache: CacheNever}, calls: 1,
			wantStdout: hello + `{"Err":{"kind":"other","message":"cargocred: the token is empty or has a control character or surrounding space"}}` + "\n",
		},
		{
			name: "kind mismatch", stdin: get, resp: Response{Kind: KindLogin}, calls: 1,
			wantStdout: hello + `{"Err":{"kind":"other","message":"cargocred: a \"login\" response to a \"get\" request"}}` + "\n",
		},
		{
			name: "garbage stops", stdin: "garbage\n" + get, resp: token, wantCode: 1,
			wantStdout: hello + `{"Err":{"kind":"other","message":"cargocred: request is not a JSON object"}}` + "\n",
			wantStderr: "mayfly: cargocred: request is not a JSON object\n",
		},
		{
			name: "version 2", stdin: strings.Replace(get, `"v":1`, `"v":2`, 1), resp: token, wantCode: 1,
			wantStdout: hello + `{"Err":{"kind":"other","message":"cargocred: unsupported protocol version 2 (this provider speaks 1)"}}` + "\n",
			wantStderr: "mayfly: cargocred: unsupported protocol version 2 (this provider speaks 1)\n",
		},
		{name: "no args", args: []string{}, wantCode: 2, wantStderr: usage + "\n"},
		{name: "get as argv", args: []string{"get"}, wantCode: 2, wantStderr: usage + "\n"},
		{name: "extra args", args: []string{"--cargo-plugin", "--profile"}, wantCode: 2, wantStderr: usage + "\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			calls := 0
			h := HandlerFunc(func(_ context.Context, req Request) (Response, error) {
				calls++
				if req.Kind == KindLogin && req.Token != "s3cret" {
					t.Errorf("login token %q", req.Token)
				}
				return tc.resp, tc.err
			})
			args := tc.args
			if args == nil {
				args = []string{"--cargo-plugin"}
			}
			var stdout, stderr bytes.Buffer
			code := Run(context.Background(), args, strings.NewReader(tc.stdin), &stdout, &stderr, h)
			if code != tc.wantCode || stdout.String() != tc.wantStdout || stderr.String() != tc.wantStderr {
				t.Errorf("Run = %d\nstdout %s\nstderr %q\nwant %d\nstdout %s\nstderr %q", code, stdout.String(), stderr.String(), tc.wantCode, tc.wantStdout, tc.wantStderr)
			}
			if calls != tc.calls {
				t.Errorf("handler called %d times, want %d", calls, tc.calls)
			}
			if strings.Contains(stdout.String()+stderr.String(), "s3cret") {
				t.Error("the login token was echoed")
			}
		})
	}

	for _, n := range []int{0, 1} {
		var stderr bytes.Buffer
		h := HandlerFunc(func(context.Context, Request) (Response, error) { return token, nil })
		if code := Run(context.Background(), []string{"--cargo-plugin"}, strings.NewReader(get), &failWriter{n: n}, &stderr, h); code != 1 || !strings.Contains(stderr.String(), "closed") {
			t.Errorf("stdout failing after %d writes: exit %d, stderr %q", n, code, stderr.String())
		}
	}
}
