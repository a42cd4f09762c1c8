package gitcred

import (
	"context"
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"
	"time"

	"github.com/google/go-cmp/cmp"
)

// secret is a value that must never show up in an error message.
const secret = "s3cr3t-t0ken-value"

func TestReadRequest(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    Request
		wantErr string // substring of the error; "" means success
	}{
		{
			name: "everything git 2.46 writes, in git's order",
			in: "capability[]=authtype\ncapability[]=state\n" +
				"authtype=Bearer\ncredential=" + secret + "\nephemeral=1\n" +
				"protocol=https\nhost=git.example.com:8443\npath=org/repo.git\n" +
				"username=me\npassword=pw\noauth_refresh_token=rt\npassword_expiry_utc=1700000000\n" +
				"wwwauth[]=Basic realm=\"x\"\nwwwauth[]=Bearer realm=\"y\"\n" +
				"continue=1\nstate[]=mayfly:abc\n\n",
			want: Request{
				Protocol: "https", Host: "git.example.com:8443", Path: "org/repo.git",
				Username: "me", Password: "pw",
				PasswordExpiryUTC: "1700000000", OAuthRefreshToken: "rt",
				AuthType: "Bearer", Credential: secret, Ephemeral: true,
				Capabilities: []string{"authtype", "state"},
				WWWAuth:      []string{`Basic realm="x"`, `Bearer realm="y"`},
				State:        []string{"mayfly:abc"},
				Continue:     true,
			},
		},
		{name: "empty input", in: "", want: Request{}},
		{name: "blank line only", in: "\n", want: Request{}},
		{name: "several blank lines", in: "\n\n\n", want: Request{}},
		{
			name: "EOF without blank line",
			in:   "protocol=https\nhost=x\n",
			want: Request{Protocol: "https", Host: "x"},
		},
		{
			name: "EOF without final newline",
			in:   "protocol=https\nhost=x",
			want: Request{Protocol: "https", Host: "x"},
		},
		{
			name: "blank line ends the request",
			in:   "host=a\n\nhost=b\nnot a line\n",
			want: Request{Host: "a"},
		},
		{
			name: "CRLF line ends",
			in:   "protocol=https\r\nhost=x\r\n\r\nhost=after\r\n",
			want: Request{Protocol: "https", Host: "x"},
		},
		{
			name: "value keeps everything after the first =",
			in:   "password=a=b==\nusername==\n",
			want: Request{Password: "a=b==", Username: "="},
		},
		{name: "empty value", in: "username=\n", want: Request{}},
		{name: "== is key empty", in: "==\n", wantErr: "empty key"},
		{
			name: "duplicate plain keys: last wins",
			in:   "host=a\nhost=b\npassword=1\npassword=2\n",
			want: Request{Host: "b", Password: "2"},
		},
		{
			name: "unknown keys recorded by name once, values dropped",
			in:   "url=https://x\nquit=1\nfuture[]=a\nurl=again\nHost=upper\n",
			want: Request{Unknown: []string{"url", "quit", "future[]", "Host"}},
		},
		{
			name: "capability without [] is unknown",
			in:   "capability=authtype\n",
			want: Request{Unknown: []string{"capability"}},
		},
		{
			name: "key[]= clears the list",
			in: "capability[]=authtype\ncapability[]=\ncapability[]=state\n" +
				"wwwauth[]=a\nwwwauth[]=\n" +
				"state[]=x\nstate[]=\nstate[]=y\n",
			want: Request{Capabilities: []string{"state"}, State: []string{"y"}},
		},
		{
			name: "unknown key[] is recorded once",
			in:   "a[]=\na[]=1\n",
			want: Request{Unknown: []string{"a[]"}},
		},
		{name: "ephemeral=true", in: "ephemeral=true\n", want: Request{Ephemeral: true}},
		{name: "ephemeral=TRUE", in: "ephemeral=TRUE\n", want: Request{Ephemeral: true}},
		{name: "ephemeral=0", in: "ephemeral=0\n", want: Request{}},
		{name: "ephemeral=yes is not a spelling we accept", in: "ephemeral=yes\n", want: Request{}},
		{name: "continue=1", in: "continue=1\n", want: Request{Continue: true}},
		{name: "continue last wins", in: "continue=1\ncontinue=false\n", want: Request{}},
		{
			name: "line of exactly 65535 bytes with newline",
			in:   "path=" + strings.Repeat("p", maxLineBytes-len("path=")-1) + "\n",
			want: Request{Path: strings.Repeat("p", maxLineBytes-len("path=")-1)},
		},
		{
			name:    "line of 65536 bytes with newline",
			in:      "path=" + strings.Repeat("p", maxLineBytes-len("path=")) + "\n",
			wantErr: "line 1: longer than 65535 bytes",
		},
		{
			name: "line of exactly 65535 bytes at EOF, without newline",
			in:   "host=x\npath=" + strings.Repeat("p", maxLineBytes-len("path=")),
			want: Request{Host: "x", Path: strings.Repeat("p", maxLineBytes-len("path="))},
		},
		{
			name:    "line of 65536 bytes at EOF, without newline",
			in:      "host=x\npath=" + strings.Repeat("p", maxLineBytes-len("path=")+1),
			wantErr: "line 2: longer than 65535 bytes",
		},
		{
			name: "long lines, each a few times the buffer, then short ones",
			in:   "path=" + strings.Repeat("p", 3*bufSize) + "\nhost=" + strings.Repeat("h", bufSize-len("host=")-1) + "\nprotocol=https\n\n",
			want: Request{Path: strings.Repeat("p", 3*bufSize), Host: strings.Repeat("h", bufSize-len("host=")-1), Protocol: "https"},
		},
		{
			name:    "huge line without newline",
			in:      "host=x\npath=" + strings.Repeat("p", 3*maxLineBytes),
			wantErr: "line 2: longer than 65535 bytes",
		},
		{
			name:    "too many lines",
			in:      strings.Repeat("x=1\n", maxRequestLines+1),
			wantErr: "request longer than",
		},
		{
			name:    "too many bytes",
			in:      strings.Repeat("x="+strings.Repeat("v", 60000)+"\n", 20),
			wantErr: "request longer than",
		},
		{
			name: "limits only count the request, not what follows it",
			in:   "host=x\n\n" + strings.Repeat("y=1\n", 2*maxRequestLines),
			want: Request{Host: "x"},
		},
		{name: "NUL in value", in: "host=a\x00b\n", wantErr: "line 1: contains a NUL byte"},
		{name: "NUL in key", in: "host=x\nho\x00st=a\n", wantErr: "line 2: contains a NUL byte"},
		{name: "NUL alone", in: "\x00", wantErr: "contains a NUL byte"},
		{name: "CR inside value", in: "host=a\rb\n", wantErr: `value of "host" contains a carriage return`},
		{name: "two CRs before LF", in: "host=a\r\r\n", wantErr: "carriage return"},
		{name: "CR at EOF is not a line end", in: "host=a\r", wantErr: "carriage return"},
		{name: "CR in key", in: "ho\rst=a\n", wantErr: `key "ho\rst" contains a carriage return`},
		{name: "line without =", in: "protocol=https\nhello\n", wantErr: `line 2: invalid credential line: "hello"`},
		{
			name:    "long line without = is quoted in part",
			in:      strings.Repeat("z", 100) + "\n",
			wantErr: `invalid credential line: "` + strings.Repeat("z", maxQuoted) + `"...`,
		},
		{
			name:    "control bytes in a bad line are escaped",
			in:      "\x1b[31mred\n",
			wantErr: `invalid credential line: "\x1b[31mred"`,
		},
		{name: "empty key", in: "=value\n", wantErr: "line 1: empty key"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ReadRequest(strings.NewReader(tt.in))
			// The buffering must not show, however the input arrives.
			slowGot, slowErr := ReadRequest(iotest.OneByteReader(strings.NewReader(tt.in)))
			if (slowErr == nil) != (err == nil) || err != nil && slowErr.Error() != err.Error() || !cmp.Equal(got, slowGot) {
				t.Errorf("read a byte at a time: %+v, %v; at once: %+v, %v", slowGot, slowErr, got, err)
			}
			if tt.wantErr != "" {
				if err == nil {
					t.Fatalf("ReadRequest() = %+v, want error containing %q", got, tt.wantErr)
				}
				checkErr(t, err, tt.wantErr)
				if diff := cmp.Diff(Request{}, got); diff != "" {
					t.Errorf("ReadRequest() returned a partial request on error (-want +got):\n%s", diff)
				}
				return
			}
			if err != nil {
				t.Fatalf("ReadRequest() error = %v", err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("ReadRequest() mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

// checkErr asserts the shape every error of this package must have.
func checkErr(t *testing.T, err error, want string) {
	t.Helper()
	msg := err.Error()
	if !strings.Contains(msg, want) {
		t.Errorf("error = %q, want it to contain %q", msg, want)
	}
	if !strings.HasPrefix(msg, "gitcred: ") {
		t.Errorf("error = %q, want prefix %q", msg, "gitcred: ")
	}
	if strings.ContainsAny(msg, "\n\r") {
		t.Errorf("error = %q, want a single line", msg)
	}
}

func TestReadRequestNeverQuotesSecrets(t *testing.T) {
	for _, key := range []string{"password", "credential", "oauth_refresh_token"} {
		for _, in := range []string{
			key + "=" + secret + "\r" + secret + "\n",
			key + "=" + secret + "\x00\n",
			key + "=" + secret + "\r",
			"=" + secret + "\n",
			key + "=" + secret + "\n" + strings.Repeat("x", 2*maxLineBytes),
		} {
			_, err := ReadRequest(strings.NewReader(in))
			if err == nil {
				t.Fatalf("ReadRequest(%q) succeeded, want error", in)
			}
			if strings.Contains(err.Error(), secret[:8]) {
				t.Errorf("ReadRequest(%q) error %q quotes the secret", in, err)
			}
		}
	}
}

type errReader struct{ err error }

func (r errReader) Read([]byte) (int, error) { return 0, r.err }

func TestReadRequestIOError(t *testing.T) {
	boom := errors.New("boom")
	_, err := ReadRequest(io.MultiReader(strings.NewReader("host=x\n"), errReader{boom}))
	if !errors.Is(err, boom) {
		t.Fatalf("ReadRequest() error = %v, want it to wrap %v", err, boom)
	}
	checkErr(t, err, "gitcred: reading request: boom")
}

func TestHasCapability(t *testing.T) {
	req := Request{Capabilities: []string{"authtype", "state"}}
	for name, want := range map[string]bool{"authtype": true, "state": true, "auth": false, "": false} {
		if got := req.HasCapability(name); got != want {
			t.Errorf("HasCapability(%q) = %v, want %v", name, got, want)
		}
	}
	if (Request{}).HasCapability("authtype") {
		t.Error("HasCapability on an empty request = true")
	}
}

func TestURL(t *testing.T) {
	tests := []struct {
		req  Request
		want string
	}{
		{Request{Protocol: "https", Host: "example.com"}, "https://example.com"},
		{Request{Protocol: "https", Host: "example.com:8443", Path: "org/repo.git"}, "https://example.com:8443/org/repo.git"},
		{Request{Protocol: "https", Host: "example.com", Username: "me"}, "https://example.com"},
		{Request{Protocol: "https"}, ""},
		{Request{Host: "example.com", Path: "x"}, ""},
		{Request{Protocol: "cert", Path: "home/me/cert.p12"}, ""},
	}
	for _, tt := range tests {
		if got := tt.req.URL(); got != tt.want {
			t.Errorf("%+v.URL() = %q, want %q", tt.req, got, tt.want)
		}
	}
}

func TestResponseEmpty(t *testing.T) {
	tests := []struct {
		resp Response
		want bool
	}{
		{Response{}, true},
		{Response{AuthType: "Bearer"}, true},
		{Response{Ephemeral: true, PasswordExpiry: time.Unix(5, 0)}, true},
		{Response{Username: "u"}, false},
		{Response{Password: "p"}, false},
		{Response{Credential: "c"}, false},
		{Response{Quit: true}, false},
	}
	for _, tt := range tests {
		if got := tt.resp.Empty(); got != tt.want {
			t.Errorf("%+v.Empty() = %v, want %v", tt.resp, got, tt.want)
		}
	}
}

func TestWriteResponse(t *testing.T) {
	capable := Request{Protocol: "https", Host: "x", Capabilities: []string{"authtype"}}
	plain := Request{Protocol: "https", Host: "x"}
	expiry := time.Date(2030, 1, 2, 3, 4, 5, 0, time.FixedZone("CET", 3600))
	both := Response{
		Username: "oauth2", Password: "tok",
		AuthType: "Bearer", Credential: "tok", Ephemeral: true,
		PasswordExpiry: expiry,
	}

	tests := []struct {
		name    string
		req     Request
		resp    Response
		want    string
		wantErr string
	}{
		{name: "empty writes nothing", req: capable, resp: Response{}, want: ""},
		{
			name: "authtype alone is empty", req: capable,
			resp: Response{AuthType: "Bearer", Ephemeral: true}, want: "",
		},
		{
			name: "username and password",
			req:  plain, resp: Response{Username: "u", Password: "p"},
			want: "username=u\npassword=p\n",
		},
		{name: "password only", req: plain, resp: Response{Password: "p"}, want: "password=p\n"},
		{
			name: "expiry in unix seconds, UTC",
			req:  plain, resp: Response{Username: "u", Password: "p", PasswordExpiry: expiry},
			want: "username=u\npassword=p\npassword_expiry_utc=1893549845\n",
		},
		{
			name: "expiry at the epoch is sent as already expired, not as never",
			req:  plain, resp: Response{Password: "p", PasswordExpiry: time.Unix(0, 0)},
			want: "password=p\npassword_expiry_utc=1\n",
		},
		{
			name: "expiry before the epoch",
			req:  plain, resp: Response{Password: "p", PasswordExpiry: time.Unix(-100, 0)},
			want: "password=p\npassword_expiry_utc=1\n",
		},
		{
			name: "capable request gets capability first and no username/password",
			req:  capable, resp: both,
			want: "capability[]=authtype\nauthtype=Bearer\ncredential=tok\nephemeral=1\npassword_expiry_utc=1893549845\n",
		},
		{
			name: "capable request, not ephemeral",
			req:  capable, resp: Response{AuthType: "Bearer", Credential: "tok"},
			want: "capability[]=authtype\nauthtype=Bearer\ncredential=tok\n",
		},
		{
			name: "capability among others",
			req:  Request{Capabilities: []string{"state", "authtype"}},
			resp: Response{AuthType: "Basic", Credential: "dTpw"},
			want: "capability[]=authtype\nauthtype=Basic\ncredential=dTpw\n",
		},
		{
			name: "old git gets username/password, never authtype",
			req:  plain, resp: both,
			want: "username=oauth2\npassword=tok\npassword_expiry_utc=1893549845\n",
		},
		{
			name: "capable request but handler has no credential",
			req:  capable, resp: Response{Username: "u", Password: "p"},
			want: "username=u\npassword=p\n",
		},
		{
			name: "credential git cannot take: nothing",
			req:  plain, resp: Response{AuthType: "Bearer", Credential: "tok", Ephemeral: true, PasswordExpiry: expiry},
			want: "",
		},
		{name: "quit alone", req: plain, resp: Response{Quit: true}, want: "quit=1\n"},
		{
			name: "quit comes last",
			req:  capable, resp: Response{AuthType: "Bearer", Credential: "tok", Quit: true},
			want: "capability[]=authtype\nauthtype=Bearer\ncredential=tok\nquit=1\n",
		},
		{
			name: "quit with a credential old git cannot take",
			req:  plain, resp: Response{AuthType: "Bearer", Credential: "tok", Quit: true},
			want: "quit=1\n",
		},
		{
			name: "values may contain = and spaces",
			req:  plain, resp: Response{Username: "a b", Password: "x=y="},
			want: "username=a b\npassword=x=y=\n",
		},
		{
			name: "credential without authtype", req: capable,
			resp: Response{Credential: "tok"}, wantErr: "both authtype and credential",
		},
		{
			name: "authtype without credential", req: capable,
			resp: Response{Username: "u", AuthType: "Bearer"}, wantErr: "both authtype and credential",
		},
	}
	// Injection: every field, every forbidden byte, whatever the request.
	for _, field := range []string{"username", "password", "authtype", "credential"} {
		for _, bad := range []struct{ name, s string }{{"LF", "\n"}, {"CR", "\r"}, {"NUL", "\x00"}, {"CRLF", "\r\n"}} {
			resp := Response{Username: "u", Password: "p", AuthType: "Bearer", Credential: "c"}
			v := secret + bad.s + "quit=1"
			switch field {
			case "username":
				resp.Username = v
			case "password":
				resp.Password = v
			case "authtype":
				resp.AuthType = v
			case "credential":
				resp.Credential = v
			}
			for _, req := range []Request{plain, capable} {
				tests = append(tests, struct {
					name    string
					req     Request
					resp    Response
					want    string
					wantErr string
				}{
					name:    "inject " + bad.name + " in " + field,
					req:     req,
					resp:    resp,
					wantErr: "response " + field + " contains a newline, carriage return or NUL",
				})
			}
		}
	}

	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var w countingWriter
			err := WriteResponse(&w, tt.req, tt.resp)
			if tt.wantErr != "" {
				if err == nil {
					t.Fatalf("WriteResponse() wrote %q, want error containing %q", w.String(), tt.wantErr)
				}
				checkErr(t, err, tt.wantErr)
				if strings.Contains(err.Error(), secret) {
					t.Errorf("error %q quotes the value", err)
				}
				if w.Len() != 0 {
					t.Errorf("WriteResponse() wrote %q on error, want nothing", w.String())
				}
				return
			}
			if err != nil {
				t.Fatalf("WriteResponse() error = %v", err)
			}
			if diff := cmp.Diff(tt.want, w.String()); diff != "" {
				t.Errorf("WriteResponse() mismatch (-want +got):\n%s", diff)
			}
			if want := min(1, len(tt.want)); w.writes != want {
				t.Errorf("WriteResponse() made %d Write calls, want %d", w.writes, want)
			}
		})
	}
}

// countingWriter records what was written and in how many calls.
type countingWriter struct {
	strings.Builder
	writes int
}

func (w *countingWriter) Write(p []byte) (int, error) {
	w.writes++
	return w.Builder.Write(p)
}

type failingWriter struct{ err error }

func (w failingWriter) Write([]byte) (int, error) { return 0, w.err }

func TestWriteResponseWriterError(t *testing.T) {
	boom := errors.New("disk full")
	err := WriteResponse(failingWriter{boom}, Request{}, Response{Password: "p"})
	if !errors.Is(err, boom) {
		t.Fatalf("WriteResponse() error = %v, want it to wrap %v", err, boom)
	}
	checkErr(t, err, "gitcred: writing response")
}

// TestRoundTrip checks that what WriteResponse writes is read back by the
// same grammar git uses (ReadRequest implements it), field for field.
func TestRoundTrip(t *testing.T) {
	expiry := time.Unix(1893549845, 0)
	tests := []struct {
		name string
		req  Request
		resp Response
		want Request
	}{
		{
			name: "password",
			req:  Request{Protocol: "https", Host: "x"},
			resp: Response{Username: "oauth2", Password: "a=b c", PasswordExpiry: expiry},
			want: Request{Username: "oauth2", Password: "a=b c", PasswordExpiryUTC: "1893549845"},
		},
		{
			name: "authtype",
			req:  Request{Capabilities: []string{"authtype"}},
			resp: Response{AuthType: "Bearer", Credential: "tok", Ephemeral: true, PasswordExpiry: expiry, Quit: true},
			want: Request{
				Capabilities: []string{"authtype"}, AuthType: "Bearer", Credential: "tok",
				Ephemeral: true, PasswordExpiryUTC: "1893549845", Unknown: []string{"quit"},
			},
		},
		{
			name: "unicode and long values",
			req:  Request{},
			resp: Response{Username: "ünïcødé", Password: strings.Repeat("t", maxLineBytes-len("password=")-1)},
			want: Request{Username: "ünïcødé", Password: strings.Repeat("t", maxLineBytes-len("password=")-1)},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var b strings.Builder
			if err := WriteResponse(&b, tt.req, tt.resp); err != nil {
				t.Fatalf("WriteResponse() error = %v", err)
			}
			got, err := ReadRequest(strings.NewReader(b.String()))
			if err != nil {
				t.Fatalf("ReadRequest(%q) error = %v", b.String(), err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("round trip mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestSplitArgs(t *testing.T) {
	tests := []struct {
		args       []string
		wantFlags  []string
		wantAction string
	}{
		{nil, nil, ""},
		{[]string{}, nil, ""},
		{[]string{"get"}, []string{}, "get"},
		{[]string{"--profile", "x", "get"}, []string{"--profile", "x"}, "get"},
		{[]string{"--profile=work", "erase"}, []string{"--profile=work"}, "erase"},
		{[]string{"--verbose"}, []string{"--verbose"}, ""},
		{[]string{"--profile", "x", "-v"}, []string{"--profile", "x", "-v"}, ""},
		{[]string{"future-op"}, []string{}, "future-op"},
	}
	for _, tt := range tests {
		flags, action := SplitArgs(tt.args)
		if diff := cmp.Diff(tt.wantFlags, flags); diff != "" {
			t.Errorf("SplitArgs(%q) flags mismatch (-want +got):\n%s", tt.args, diff)
		}
		if action != tt.wantAction {
			t.Errorf("SplitArgs(%q) action = %q, want %q", tt.args, action, tt.wantAction)
		}
	}

	// Appending to the flags must not clobber the caller's action.
	args := []string{"-a", "get"}
	flags, _ := SplitArgs(args)
	_ = append(flags, "-b")
	if args[1] != "get" {
		t.Errorf("append to flags overwrote args: %q", args)
	}
}

// fakeHandler records its calls and answers with canned values.
type fakeHandler struct {
	resp  Response
	err   error
	calls []string
	reqs  []Request
}

func (h *fakeHandler) record(op string, req Request) {
	h.calls = append(h.calls, op)
	h.reqs = append(h.reqs, req)
}

func (h *fakeHandler) Get(_ context.Context, req Request) (Response, error) {
	h.record("get", req)
	return h.resp, h.err
}

func (h *fakeHandler) Store(_ context.Context, req Request) error {
	h.record("store", req)
	return h.err
}

func (h *fakeHandler) Erase(_ context.Context, req Request) error {
	h.record("erase", req)
	return h.err
}

// readTracker reports whether anyone read from it.
type readTracker struct {
	r    io.Reader
	read bool
}

func (r *readTracker) Read(p []byte) (int, error) {
	r.read = true
	return r.r.Read(p)
}

func TestRun(t *testing.T) {
	const good = "capability[]=authtype\nprotocol=https\nhost=git.example.com\npassword=" + secret + "\n\n"
	goodReq := Request{Protocol: "https", Host: "git.example.com", Password: secret, Capabilities: []string{"authtype"}}

	tests := []struct {
		name       string
		action     string
		stdin      string
		resp       Response
		err        error
		wantCode   int
		wantStdout string
		wantStderr string // exact
		wantCalls  []string
		wantReqs   []Request
		wantNoRead bool // stdin must not be touched
	}{
		{
			name: "get answers", action: "get", stdin: "protocol=https\nhost=x\n",
			resp:       Response{Username: "oauth2", Password: "tok", PasswordExpiry: time.Unix(1893549845, 0)},
			wantStdout: "username=oauth2\npassword=tok\npassword_expiry_utc=1893549845\n",
			wantCalls:  []string{"get"}, wantReqs: []Request{{Protocol: "https", Host: "x"}},
		},
		{
			name: "get with authtype", action: "get", stdin: good,
			resp:       Response{Username: "oauth2", Password: "tok", AuthType: "Bearer", Credential: "tok"},
			wantStdout: "capability[]=authtype\nauthtype=Bearer\ncredential=tok\n",
			wantCalls:  []string{"get"}, wantReqs: []Request{goodReq},
		},
		{
			name: "get with nothing to offer prints nothing", action: "get", stdin: good,
			wantCalls: []string{"get"}, wantReqs: []Request{goodReq},
		},
		{
			name: "get quit", action: "get", stdin: good, resp: Response{Quit: true},
			wantStdout: "quit=1\n", wantCalls: []string{"get"}, wantReqs: []Request{goodReq},
		},
		{
			name: "get handler error is one line", action: "get", stdin: good,
			resp:       Response{Password: "half"},
			err:        errors.New("token endpoint said:\n<html>\r\n\x1b[2Jbad</html>\n"),
			wantCode:   1,
			wantStderr: "mayfly: token endpoint said: <html>   [2Jbad</html>\n",
			wantCalls:  []string{"get"}, wantReqs: []Request{goodReq},
		},
		{
			name: "get response with injected newline", action: "get", stdin: good,
			resp:       Response{Username: "u", Password: "tok\nquit=1"},
			wantCode:   1,
			wantStderr: "mayfly: gitcred: response password contains a newline, carriage return or NUL\n",
			wantCalls:  []string{"get"}, wantReqs: []Request{goodReq},
		},
		{
			name: "get response with authtype but no credential", action: "get", stdin: good,
			resp:       Response{Password: "p", AuthType: "Bearer"},
			wantCode:   1,
			wantStderr: "mayfly: gitcred: response needs both authtype and credential, or neither\n",
			wantCalls:  []string{"get"}, wantReqs: []Request{goodReq},
		},
		{
			name: "get bad line", action: "get", stdin: "protocol=https\nhost=x\ngarbage\n",
			resp: Response{Password: "p"}, wantCode: 1,
			wantStderr: "mayfly: gitcred: line 3: invalid credential line: \"garbage\"\n",
		},
		{
			name: "get CR in secret", action: "get", stdin: "protocol=https\nhost=x\npassword=" + secret + "\rquit=1\n",
			resp: Response{Password: "p"}, wantCode: 1,
			wantStderr: "mayfly: gitcred: line 3: value of \"password\" contains a carriage return\n",
		},
		{
			name: "get missing host", action: "get", stdin: "protocol=https\n\n",
			resp: Response{Password: "p"}, wantCode: 1,
			wantStderr: "mayfly: gitcred: request has no host\n",
		},
		{
			name: "get missing protocol", action: "get", stdin: "host=x\n\n",
			resp: Response{Password: "p"}, wantCode: 1,
			wantStderr: "mayfly: gitcred: request has no protocol\n",
		},
		{
			name: "get empty stdin", action: "get", stdin: "",
			resp: Response{Password: "p"}, wantCode: 1,
			wantStderr: "mayfly: gitcred: request has no protocol\n",
		},
		{
			name: "get cert request has an empty host", action: "get", stdin: "protocol=cert\nhost=\npath=home/me/c.p12\n",
			resp: Response{Password: "p"}, wantCode: 1,
			wantStderr: "mayfly: gitcred: request has no host\n",
		},
		{
			name: "store", action: "store", stdin: good,
			resp: Response{Password: "ignored"}, wantCalls: []string{"store"}, wantReqs: []Request{goodReq},
		},
		{
			name: "store error", action: "store", stdin: good, err: errors.New("keychain locked"),
			wantCode: 1, wantStderr: "mayfly: keychain locked\n",
			wantCalls: []string{"store"}, wantReqs: []Request{goodReq},
		},
		{
			name: "store bad input", action: "store", stdin: "protocol=https\nhost=x\x00\n",
			wantCode: 1, wantStderr: "mayfly: gitcred: line 2: contains a NUL byte\n",
		},
		{
			name: "store missing host", action: "store", stdin: "protocol=https\n",
			wantCode: 1, wantStderr: "mayfly: gitcred: request has no host\n",
		},
		{
			name: "erase", action: "erase", stdin: good,
			wantCalls: []string{"erase"}, wantReqs: []Request{goodReq},
		},
		{
			name: "erase error", action: "erase", stdin: good, err: errors.New("no\nsuch"),
			wantCode: 1, wantStderr: "mayfly: no such\n",
			wantCalls: []string{"erase"}, wantReqs: []Request{goodReq},
		},
		{
			name: "erase bad input", action: "erase", stdin: "=x\n",
			wantCode: 1, wantStderr: "mayfly: gitcred: line 1: empty key\n",
		},
		{
			name: "capability", action: "capability", stdin: good,
			wantStdout: "version 0\ncapability authtype\n", wantNoRead: true,
		},
		{
			name: "no action", action: "", stdin: good, wantCode: 2,
			wantStderr: usage + "\n", wantNoRead: true,
		},
		{name: "unknown action is ignored", action: "list", stdin: good, wantNoRead: true},
		{name: "future action is ignored", action: "approve-harder", stdin: "garbage", wantNoRead: true},
		{name: "actions are case-sensitive", action: "GET", stdin: good, wantNoRead: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := &fakeHandler{resp: tt.resp, err: tt.err}
			stdin := &readTracker{r: strings.NewReader(tt.stdin)}
			var stdout countingWriter
			var stderr strings.Builder
			code := Run(context.Background(), tt.action, stdin, &stdout, &stderr, h)

			if code != tt.wantCode {
				t.Errorf("Run() = %d, want %d", code, tt.wantCode)
			}
			if diff := cmp.Diff(tt.wantStdout, stdout.String()); diff != "" {
				t.Errorf("stdout mismatch (-want +got):\n%s", diff)
			}
			if stdout.writes > 1 {
				t.Errorf("stdout got %d writes, want at most 1", stdout.writes)
			}
			if diff := cmp.Diff(tt.wantStderr, stderr.String()); diff != "" {
				t.Errorf("stderr mismatch (-want +got):\n%s", diff)
			}
			if code != 0 && strings.Count(stderr.String(), "\n") != 1 {
				t.Errorf("stderr = %q, want exactly one line on failure", stderr.String())
			}
			if strings.Contains(stderr.String(), secret) {
				t.Errorf("stderr %q leaks the secret", stderr.String())
			}
			if diff := cmp.Diff(tt.wantCalls, h.calls); diff != "" {
				t.Errorf("handler calls mismatch (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.wantReqs, h.reqs); diff != "" {
				t.Errorf("handler requests mismatch (-want +got):\n%s", diff)
			}
			if tt.wantNoRead && stdin.read {
				t.Error("stdin was read, want it untouched")
			}
		})
	}
}

func TestRunStdoutWriteError(t *testing.T) {
	h := &fakeHandler{resp: Response{Password: "p"}}
	var stderr strings.Builder
	code := Run(context.Background(), "get", strings.NewReader("protocol=https\nhost=x\n"), failingWriter{errors.New("broken pipe")}, &stderr, h)
	if code != 1 {
		t.Errorf("Run() = %d, want 1", code)
	}
	if want := "mayfly: gitcred: writing response: broken pipe\n"; stderr.String() != want {
		t.Errorf("stderr = %q, want %q", stderr.String(), want)
	}
}

func TestRunPassesContext(t *testing.T) {
	type key struct{}
	ctx := context.WithValue(context.Background(), key{}, "v")
	var got any
	h := ctxHandler(func(ctx context.Context) { got = ctx.Value(key{}) })
	for _, action := range []string{"get", "store", "erase"} {
		got = nil
		Run(ctx, action, strings.NewReader("protocol=https\nhost=x\n"), io.Discard, io.Discard, h)
		if got != "v" {
			t.Errorf("Run(%q) did not pass the context to the handler", action)
		}
	}
}

type ctxHandler func(context.Context)

func (f ctxHandler) Get(ctx context.Context, _ Request) (Response, error) {
	f(ctx)
	return Response{}, nil
}
func (f ctxHandler) Store(ctx context.Context, _ Request) error { f(ctx); return nil }
func (f ctxHandler) Erase(ctx context.Context, _ Request) error { f(ctx); return nil }

func TestSentinels(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want error
	}{
		{"host=x\n", ErrMissingProtocol},
		{"protocol=https\n", ErrMissingHost},
	} {
		_, err := readValid(strings.NewReader(tt.in))
		if !errors.Is(err, tt.want) {
			t.Errorf("readValid(%q) = %v, want %v", tt.in, err, tt.want)
		}
	}
}
