package bazelcred

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// secret is part of URIs in bad requests: it must never show up in an error.
const secret = "s3cr3t-sig"

func ptr[T any](v T) *T { return &v }

func TestReadRequest(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want Request
	}{
		{"plain Bazel", `{"uri":"https://example.com/path/file.tar.gz"}`, Request{URI: "https://example.com/path/file.tar.gz"}},
		{"Bazel gRPC form", `{"uri":"https://cache.example.com/build.bazel.remote.execution.v2.ContentAddressableStorage"}` + "\n",
			Request{URI: "https://cache.example.com/build.bazel.remote.execution.v2.ContentAddressableStorage"}},
		{"spec example", `{"uri": "grpcs://example.com/com.example.package.Service/Method"}`, Request{URI: "grpcs://example.com/com.example.package.Service/Method"}},
		{"white space around", " \r\n\t{ \"uri\" : \"http://127.0.0.1:8080/\" }\n\n", Request{URI: "http://127.0.0.1:8080/"}},
		{"escaped name", `{"u\u0072i":"https://h/"}`, Request{URI: "https://h/"}},
		{
			"every extension",
			`{"uri":"https://api.example.com/v1/messages?x=1","method":"POST","audience":["https://api.example.com"],` +
				`"resource":["https://api.example.com/"],"scope":"inference:write models:read","interactive":false,"capabilities":["not_found_error","dpop"]}`,
			Request{
				URI: "https://api.example.com/v1/messages?x=1", Method: "POST",
				Audience: []string{"https://api.example.com"}, Resource: []string{"https://api.example.com/"},
				Scope: "inference:write models:read", Interactive: ptr(false),
				Capabilities: []string{"not_found_error", "dpop"},
			},
		},
		{"empty extensions", `{"uri":"https://h/","audience":[],"resource":[],"scope":"","capabilities":[]}`,
			Request{URI: "https://h/", Audience: []string{}, Resource: []string{}, Capabilities: []string{}}},
		{
			"unknown fields are ignored, whatever they hold",
			`{"challenge":{"status":401,"wwwAuthenticate":["DPoP"]},"uri":"https://h/","client":null,"URI":5,"x":[1,{"y":null}]}`,
			Request{URI: "https://h/", Unknown: []string{"challenge", "client", "URI", "x"}},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ReadRequest(strings.NewReader(tc.in))
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("(-want +got)\n%s", diff)
			}
			// Whatever the decoder accepts, the schemas accept.
			checkSchema(t, []byte(tc.in), schemaBaseRequest, schemaRequest)
		})
	}
}

func TestReadRequestRefuses(t *testing.T) {
	uri := `"https://h/p?sig=` + secret + `"`
	tests := []struct {
		name, in, wantErr string
		// schema: the Mayfly request schema refuses it too (the rest are
		// rules a schema cannot say: size, encoding, duplicates, framing).
		schema bool
	}{
		{"empty", "", "empty request", false},
		{"white space", " \n\t", "empty request", false},
		{"garbage", "this is not JSON", "not valid JSON", false},
		{"git's protocol", "protocol=https\nhost=h\n\n", "not valid JSON", false},
		{"truncated", `{"uri":` + uri, "not valid JSON", false},
		{"trailing comma", `{"uri":` + uri + `,}`, "not valid JSON", false},
		{"no comma", `{"uri":` + uri + ` "method":"GET"}`, "not valid JSON", false},
		{"array", `[` + uri + `]`, "request is an array", true},
		{"string", uri, "request is a string", true},
		{"number", `42`, "request is a number", true},
		{"null", `null`, "request is null", true},
		{"two documents", `{"uri":` + uri + `}{"uri":` + uri + `}`, "more than one JSON document", false},
		{"two lines", `{"uri":` + uri + "}\n{}\n", "more than one JSON document", false},
		{"trailing garbage", `{"uri":` + uri + `} x`, "data after the JSON object", false},
		{"no uri", `{}`, `"uri" is missing`, true},
		{"uri in the wrong case only", `{"URI":` + uri + `}`, `"uri" is missing`, true},
		{"empty uri", `{"uri":""}`, `"uri" is missing or empty`, true},
		{"uri a number", `{"uri":1}`, `"uri" must be a string, not a number`, true},
		{"uri null", `{"uri":null}`, `"uri" must be a string, not null`, true},
		{"uri an array", `{"uri":[` + uri + `]}`, `"uri" must be a string, not an array`, true},
		{"uri an object", `{"uri":{"u":` + uri + `}}`, `"uri" must be a string, not an object`, true},
		{"relative uri", `{"uri":"/p?sig=` + secret + `"}`, "not an absolute URI", true},
		{"uri without host", `{"uri":"mailto:a@b?sig=` + secret + `"}`, "not an absolute URI", true},
		{"uri with empty host", `{"uri":"https:///p?sig=` + secret + `"}`, "not an absolute URI", true},
		{"uri with a space", `{"uri":"https://h/a b?sig=` + secret + `"}`, "not an absolute URI", true},
		{"uri with a newline", `{"uri":"https://h/\n?sig=` + secret + `"}`, "not an absolute URI", true},
		{"duplicate uri", `{"uri":"https://h/","uri":` + uri + `}`, `field "uri" appears twice`, false},
		{"duplicate through an escape", `{"uri":"https://h/","\u0075ri":` + uri + `}`, `field "uri" appears twice`, false},
		{"duplicate unknown", `{"uri":"https://h/","x":1,"x":2}`, `field "x" appears twice`, false},
		{"invalid UTF-8", "{\"uri\":\"https://h/\xff" + secret + "\"}", "not valid UTF-8", false},
		{"byte order mark", "\ufeff{\"uri\":\"https://h/\"}", "not valid JSON", false},
		{"too large", `{"uri":"https://h/?sig=` + secret + strings.Repeat("a", MaxRequestBytes) + `"}`, "larger than 64 KiB", false},
		{"method with a space", `{"uri":` + uri + `,"method":"GET X"}`, `"method" is not an HTTP method`, true},
		{"empty method", `{"uri":` + uri + `,"method":""}`, `"method" is not an HTTP method`, true},
		{"method a number", `{"uri":` + uri + `,"method":1}`, `"method" must be a string`, true},
		{"audience a string", `{"uri":` + uri + `,"audience":"a"}`, `"audience" must be an array of strings, not a string`, true},
		{"audience with null", `{"uri":` + uri + `,"audience":["a",null]}`, `"audience" must be an array of strings, not null`, true},
		{"audience with empty", `{"uri":` + uri + `,"audience":[""]}`, `"audience" has an empty item`, true},
		{"resource relative", `{"uri":` + uri + `,"resource":["/api"]}`, `"resource" has an item that is not an absolute URI`, true},
		{"resource with fragment", `{"uri":` + uri + `,"resource":["https://h/#f"]}`, `"resource" has an item that is not an absolute URI without a fragment`, true},
		{"too many resources", `{"uri":` + uri + `,"resource":[` + strings.Repeat(`"https://h/",`, maxListItems) + `"https://h/"]}`, "more than 32 items", true},
		{"scope with two spaces", `{"uri":` + uri + `,"scope":"a  b"}`, `"scope" is not a space-separated list`, true},
		{"scope with a quote", `{"uri":` + uri + `,"scope":"a\"b"}`, `"scope" is not`, true},
		{"scope an array", `{"uri":` + uri + `,"scope":["a"]}`, `"scope" must be a string, not an array`, true},
		{"interactive a string", `{"uri":` + uri + `,"interactive":"true"}`, `"interactive" must be true or false, not a string`, true},
		{"interactive null", `{"uri":` + uri + `,"interactive":null}`, `"interactive" must be true or false, not null`, true},
		{"capabilities with a number", `{"uri":` + uri + `,"capabilities":[1]}`, `"capabilities" must be an array of strings, not a number`, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ReadRequest(strings.NewReader(tc.in))
			var e *Error
			if !errors.As(err, &e) || e.Code != CodeBadRequest {
				t.Fatalf("error %v (%T), want a bad_request *Error", err, err)
			}
			msg := err.Error()
			if !strings.Contains(msg, tc.wantErr) {
				t.Errorf("error %q, want it to contain %q", msg, tc.wantErr)
			}
			if strings.Contains(msg, secret) || strings.ContainsAny(msg, "\n\r") || len(msg) > 200 {
				t.Errorf("error %q: quotes a value, or is not one short line", msg)
			}
			if tc.schema && schemaAccepts(t, []byte(tc.in), schemaRequest) {
				t.Errorf("the Mayfly request schema accepts %s", tc.in)
			}
		})
	}
}

// TestReadRequestReadsToLimit: a request of exactly the limit is read, and
// a reader that fails is a bad request, not a panic or a hang.
func TestReadRequestReadsToLimit(t *testing.T) {
	prefix, suffix := `{"uri":"https://h/`, `"}`
	in := prefix + strings.Repeat("a", MaxRequestBytes-len(prefix)-len(suffix)) + suffix
	if _, err := ReadRequest(strings.NewReader(in)); err != nil {
		t.Errorf("request of exactly %d bytes: %v", len(in), err)
	}
	_, err := ReadRequest(io.MultiReader(strings.NewReader(`{"uri":`), errReader{}))
	var e *Error
	if !errors.As(err, &e) || e.Code != CodeBadRequest {
		t.Errorf("failing reader: %v", err)
	}
}

type errReader struct{}

func (errReader) Read([]byte) (int, error) { return 0, errors.New("read failed") }

func TestMatchURL(t *testing.T) {
	for in, want := range map[string]string{
		"https://h/p":                  "https://h/p",
		"https://h/p?sig=x#frag":       "https://h/p",
		"https://h/p#f?x":              "https://h/p",
		"grpcs://h/Service/Method":     "https://h/Service/Method",
		"GRPCS://h:443/S":              "https://h:443/S",
		"grpc://127.0.0.1:8980/S":      "http://127.0.0.1:8980/S",
		"http://127.0.0.1:1/app.git?x": "http://127.0.0.1:1/app.git",
		"ftp://h/f":                    "ftp://h/f",
		"h/p":                          "h/p",
	} {
		if got := (Request{URI: in}).MatchURL(); got != want {
			t.Errorf("MatchURL(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestExtended(t *testing.T) {
	if (Request{URI: "https://h/", Unknown: []string{"x"}}).Extended() {
		t.Error("a plain request with an unknown field is extended")
	}
	for _, r := range []Request{
		{Method: "GET"}, {Audience: []string{"a"}}, {Resource: []string{"https://h/"}},
		{Scope: "s"}, {Interactive: ptr(false)}, {Capabilities: []string{"x"}},
	} {
		if !r.Extended() {
			t.Errorf("%+v is not extended", r)
		}
	}
}

func TestWriteResponse(t *testing.T) {
	exp := time.Date(2026, 8, 22, 17, 4, 5, 999_000_000, time.FixedZone("CEST", 2*3600))
	tests := []struct {
		name string
		resp Response
		want string
	}{
		{"zero is {}", Response{}, "{}\n"},
		{"no values is {}", Response{Headers: map[string][]string{"h": nil, "g": {}}}, "{}\n"},
		{
			"bearer, expiry in UTC truncated to the second",
			Response{Headers: map[string][]string{"Authorization": {"Bearer eyJ.a-b_c.d"}}, Expires: exp},
			`{"headers":{"Authorization":["Bearer eyJ.a-b_c.d"]},"expires":"2026-08-22T15:04:05Z"}` + "\n",
		},
		{
			"several headers and values, names sorted, HTML characters kept",
			Response{Headers: map[string][]string{"x-b": {"1", "2"}, "Authorization": {"DPoP <at>"}, "empty": nil}},
			`{"headers":{"Authorization":["DPoP <at>"],"x-b":["1","2"]}}` + "\n",
		},
		{"tab in a value", Response{Headers: map[string][]string{"h": {"a\tb"}}}, `{"headers":{"h":["a\tb"]}}` + "\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var w countingWriter
			if err := WriteResponse(&w, tc.resp); err != nil {
				t.Fatal(err)
			}
			if got := w.String(); got != tc.want {
				t.Errorf("got %q\nwant %q", got, tc.want)
			}
			if w.writes != 1 {
				t.Errorf("%d writes, want 1", w.writes)
			}
			checkSchema(t, w.Bytes(), schemaBaseResponse, schemaResponse)
		})
	}

	for name, resp := range map[string]Response{
		"LF in a value":       {Headers: map[string][]string{"Authorization": {"Bearer x\nX-Injected: 1"}}},
		"CR in a value":       {Headers: map[string][]string{"Authorization": {"Bearer x\r"}}},
		"NUL in a value":      {Headers: map[string][]string{"Authorization": {"Bearer \x00"}}},
		"invalid UTF-8":       {Headers: map[string][]string{"Authorization": {"Bearer \xff"}}},
		"name with a colon":   {Headers: map[string][]string{"Authorization:": {"x"}}},
		"name with a space":   {Headers: map[string][]string{"X Y": {"x"}}},
		"empty name":          {Headers: map[string][]string{"": {"x"}}},
		"year 10000":          {Expires: time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)},
		"negative year":       {Expires: time.Date(-1, 1, 1, 0, 0, 0, 0, time.UTC)},
		"bad value, no value": {Headers: map[string][]string{"ok": {"v"}, "bad\n": nil}},
	} {
		var w countingWriter
		if err := WriteResponse(&w, resp); err == nil || w.writes != 0 {
			t.Errorf("%s: error %v, %d writes; want an error and nothing written", name, err, w.writes)
		} else if strings.Contains(err.Error(), "Bearer") {
			t.Errorf("%s: the error quotes the value: %v", name, err)
		}
	}
}

func TestWriteError(t *testing.T) {
	tests := []struct {
		in   *Error
		want string
	}{
		{
			&Error{Code: CodeInteractionRequired, Message: "not signed in to profile corp: run `mayfly login --profile corp`", LoginCommand: "mayfly login --profile corp"},
			`{"error":{"code":"interaction_required","message":"not signed in to profile corp: run ` + "`mayfly login --profile corp`" + `","login_command":"mayfly login --profile corp"}}` + "\n",
		},
		{&Error{Message: "line one\nline two\x1b[31m"}, `{"error":{"code":"other","message":"line one line two [31m"}}` + "\n"},
		{&Error{Code: CodeBadRequest}, `{"error":{"code":"bad_request","message":"bad_request"}}` + "\n"},
	}
	for _, tc := range tests {
		var w countingWriter
		if err := WriteError(&w, tc.in); err != nil {
			t.Fatal(err)
		}
		if w.String() != tc.want || w.writes != 1 {
			t.Errorf("got %q in %d writes\nwant %q", w.String(), w.writes, tc.want)
		}
		checkSchema(t, w.Bytes(), schemaBaseResponse, schemaError)
	}
	var w bytes.Buffer
	WriteError(&w, &Error{Code: CodeOther, Message: strings.Repeat("é", maxMessageBytes)})
	var e wireError
	if err := json.Unmarshal(w.Bytes(), &e); err != nil || len(e.Error.Message) > maxMessageBytes+3 || !strings.HasSuffix(e.Error.Message, "é...") {
		t.Errorf("long message: %v, %d bytes", err, len(e.Error.Message))
	}
}

func TestWriteRequestRoundTrip(t *testing.T) {
	for _, req := range []Request{
		{URI: "https://h/"},
		{URI: "grpcs://h/S/M", Method: "POST", Audience: []string{"a", "b"}, Resource: []string{"https://h/"},
			Scope: "read write", Interactive: ptr(true), Capabilities: []string{CapNotFoundError}},
		{URI: "https://h/<&>", Interactive: ptr(false)},
	} {
		var w countingWriter
		if err := WriteRequest(&w, req); err != nil {
			t.Fatalf("%+v: %v", req, err)
		}
		checkSchema(t, w.Bytes(), schemaBaseRequest, schemaRequest)
		got, err := ReadRequest(&w.Buffer)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(req, got); diff != "" {
			t.Errorf("round trip (-want +got)\n%s", diff)
		}
	}
	for _, req := range []Request{{}, {URI: "relative"}, {URI: "https://h/", Scope: " "}, {URI: "https://h/\xff"}} {
		var w countingWriter
		if err := WriteRequest(&w, req); err == nil || w.writes != 0 {
			t.Errorf("%+v: error %v, %d writes", req, err, w.writes)
		}
	}
}

// handlerFunc adapts a function to Handler.
type handlerFunc func(ctx context.Context, req Request) (Response, error)

func (f handlerFunc) Get(ctx context.Context, req Request) (Response, error) { return f(ctx, req) }

func static(resp Response, err error) NewHandler {
	return func([]string) (Handler, error) {
		return handlerFunc(func(context.Context, Request) (Response, error) { return resp, err }), nil
	}
}

func TestRun(t *testing.T) {
	bearer := Response{
		Headers: map[string][]string{"Authorization": {"Bearer tok"}},
		Expires: time.Date(2030, 1, 2, 3, 4, 5, 600, time.UTC),
	}
	login := &Error{Code: CodeInteractionRequired, Message: "not signed in to profile corp: run `mayfly login --profile corp`", LoginCommand: "mayfly login --profile corp"}
	notFound := &Error{Code: CodeNotFound, Message: `no profile matches "https://elsewhere/"`}
	plain := `{"uri":"https://h/"}`
	tests := []struct {
		name       string
		args       []string
		stdin      string
		newHandler NewHandler
		code       int
		stdout     string // the exact output, or a code:"..." for errors
		errCode    Code
	}{
		{"credentials", []string{"get"}, plain, static(bearer, nil), 0,
			`{"headers":{"Authorization":["Bearer tok"]},"expires":"2030-01-02T03:04:05Z"}` + "\n", ""},
		{"no credentials needed", []string{"get"}, plain, static(Response{}, nil), 0, "{}\n", ""},
		{"not found is {} for a plain request", []string{"get"}, plain, static(Response{}, notFound), 0, "{}\n", ""},
		{"not found is {} with other extensions", []string{"get"}, `{"uri":"https://h/","method":"GET","capabilities":["dpop"]}`, static(bearer, notFound), 0, "{}\n", ""},
		{"not found, asked for", []string{"get"}, `{"uri":"https://h/","capabilities":["not_found_error"]}`, static(Response{}, notFound), 4, "", CodeNotFound},
		{"wrapped not found", []string{"get"}, plain, static(Response{}, wrap(notFound)), 0, "{}\n", ""},
		{"interaction required", []string{"get"}, plain, static(Response{}, login), 5, "", CodeInteractionRequired},
		{"unsupported", []string{"get"}, plain, static(Response{}, &Error{Code: CodeUnsupported, Message: "no"}), 6, "", CodeUnsupported},
		{"any other error", []string{"get"}, plain, static(Response{}, errors.New("agent: connection refused")), 1, "", CodeOther},
		{"unknown code", []string{"get"}, plain, static(Response{}, &Error{Code: "future", Message: "x"}), 1, "", "future"},
		{"bad response", []string{"get"}, plain, static(Response{Headers: map[string][]string{"A": {"x\ny"}}}, nil), 1, "", CodeOther},
		{"malformed request", []string{"get"}, `{"uri":1}`, static(bearer, nil), 3, "", CodeBadRequest},
		{"no command", nil, plain, static(bearer, nil), 2, "", CodeUsage},
		{"unknown command", []string{"store"}, plain, static(bearer, nil), 2, "", CodeUsage},
		{"flag as command", []string{"--profile", "x", "get"}, plain, static(bearer, nil), 2, "", CodeUsage},
		{"bad parameter", []string{"get", "--nope"}, plain, func([]string) (Handler, error) { return nil, errors.New("flag provided but not defined: -nope") }, 2, "", CodeUsage},
		{"handler set-up fails", []string{"get"}, plain, func([]string) (Handler, error) { return nil, &Error{Code: CodeOther, Message: "x"} }, 1, "", CodeOther},
		{"help", []string{"--help"}, "", static(bearer, nil), 0, "", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var stdout countingWriter
			var stderr bytes.Buffer
			called := false
			nh := func(params []string) (Handler, error) {
				h, err := tc.newHandler(params)
				if err != nil {
					return nil, err
				}
				return handlerFunc(func(ctx context.Context, req Request) (Response, error) {
					called = true
					return h.Get(ctx, req)
				}), nil
			}
			code := Run(context.Background(), tc.args, strings.NewReader(tc.stdin), &stdout, &stderr, nh)
			if code != tc.code {
				t.Errorf("exit %d, want %d (stderr %q)", code, tc.code, stderr.String())
			}
			if tc.name == "help" {
				if stdout.Len() != 0 || !strings.HasPrefix(stderr.String(), "usage: ") {
					t.Errorf("help: stdout %q, stderr %q", stdout.String(), stderr.String())
				}
				return
			}
			if stdout.writes != 1 {
				t.Errorf("%d writes to stdout, want 1", stdout.writes)
			}
			if tc.errCode == "" {
				if got := stdout.String(); got != tc.stdout {
					t.Errorf("stdout %q, want %q", got, tc.stdout)
				}
				if stderr.Len() != 0 {
					t.Errorf("stderr %q on success", stderr.String())
				}
				checkSchema(t, stdout.Bytes(), schemaBaseResponse, schemaResponse)
				return
			}
			checkSchema(t, stdout.Bytes(), schemaBaseResponse, schemaError)
			var e wireError
			if err := json.Unmarshal(stdout.Bytes(), &e); err != nil {
				t.Fatal(err)
			}
			if e.Error.Code != tc.errCode || e.Error.Code.ExitCode() != code {
				t.Errorf("code %q, want %q with exit %d", e.Error.Code, tc.errCode, code)
			}
			if (e.Error.LoginCommand != "") != (tc.errCode == CodeInteractionRequired) {
				t.Errorf("login_command %q with code %s", e.Error.LoginCommand, e.Error.Code)
			}
			line := stderr.String()
			if line != "mayfly: "+e.Error.Message+"\n" {
				t.Errorf("stderr %q, want the one line \"mayfly: %s\"", line, e.Error.Message)
			}
			if tc.errCode == CodeBadRequest || tc.errCode == CodeUsage {
				if called {
					t.Error("the handler was called for a malformed invocation")
				}
			}
		})
	}
}

func wrap(err error) error { return &wrapped{err} }

type wrapped struct{ err error }

func (w *wrapped) Error() string { return "handler: " + w.err.Error() }
func (w *wrapped) Unwrap() error { return w.err }

// TestRunStdoutFails: when stdout cannot be written, the person still gets
// the stderr line and a failure status.
func TestRunStdoutFails(t *testing.T) {
	var stderr bytes.Buffer
	code := Run(context.Background(), []string{"get"}, strings.NewReader(`{"uri":"https://h/"}`), failingWriter{}, &stderr, static(Response{}, nil))
	if code == 0 || strings.Count(stderr.String(), "\n") != 1 || !strings.HasPrefix(stderr.String(), "mayfly: ") {
		t.Errorf("exit %d, stderr %q", code, stderr.String())
	}
}

type failingWriter struct{}

func (failingWriter) Write([]byte) (int, error) { return 0, errors.New("broken pipe") }

// countingWriter is a bytes.Buffer that counts Write calls, to check that
// an answer goes out in one.
type countingWriter struct {
	bytes.Buffer
	writes int
}

func (w *countingWriter) Write(b []byte) (int, error) {
	w.writes++
	return w.Buffer.Write(b)
}
