package gitcred

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

var fuzzSeeds = []string{
	"",
	"\n\n\n",
	"==",
	"=",
	"protocol=https\nhost=x\n\n",
	"protocol=https\r\nhost=x\r\n\r\n",
	"a[]=\na[]=1\n",
	"capability[]=authtype\ncapability[]=\ncapability[]=state\n",
	"capability[]=authtype\nprotocol=https\nhost=x\nauthtype=Bearer\ncredential=c\nephemeral=1\n",
	"protocol=https\nhost=x\nusername=u\npassword=p\npassword_expiry_utc=99999999999999999999\n",
	"protocol=https\nhost=x\nusername=fail\n",
	"protocol=https\nhost=x\npath=inject\npassword=p\n",
	"protocol=https\nhost=x\ncontinue=true\n",
	"host=a\x00b\n",
	"\x00",
	"host=a\rb\n",
	"host=a\r",
	"\r\n",
	"no equals sign\n",
	"path=" + strings.Repeat("p", maxLineBytes) + "\n",
	strings.Repeat("k=v\n", maxRequestLines+1),
	"\xff\xfe\x00\x01garbage=\x80\x81\n\x1b[2J",
}

// FuzzReadRequest checks that the decoder never panics, that its errors are
// single lines, and that whatever it accepts can be answered: values it
// returns never trip WriteResponse's injection check.
func FuzzReadRequest(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		req, err := ReadRequest(bytes.NewReader(data))
		if err != nil {
			msg := err.Error()
			if strings.ContainsAny(msg, "\n\r") || !strings.HasPrefix(msg, "gitcred: ") {
				t.Fatalf("bad error message %q", msg)
			}
			return
		}
		values := append([]string{
			req.Protocol, req.Host, req.Path, req.Username, req.Password,
			req.PasswordExpiryUTC, req.OAuthRefreshToken, req.AuthType, req.Credential,
		}, req.Capabilities...)
		values = append(values, req.WWWAuth...)
		values = append(values, req.State...)
		values = append(values, req.Unknown...)
		for _, v := range values {
			if strings.ContainsAny(v, "\n\r\x00") {
				t.Fatalf("decoded value %q contains a forbidden byte", v)
			}
		}

		resp := Response{
			Username:       req.Username,
			Password:       req.Password,
			Ephemeral:      req.Ephemeral,
			Quit:           req.Continue,
			PasswordExpiry: time.Unix(int64(len(data)), 0),
		}
		if req.AuthType != "" && req.Credential != "" {
			resp.AuthType, resp.Credential = req.AuthType, req.Credential
		}
		var out bytes.Buffer
		if err := WriteResponse(&out, req, resp); err != nil {
			t.Fatalf("WriteResponse(%+v) error = %v", resp, err)
		}

		// What we write must read back as what we meant.
		back, err := ReadRequest(&out)
		if err != nil {
			t.Fatalf("re-reading %q: %v", out.String(), err)
		}
		var want Request
		switch {
		case resp.Empty():
		case req.HasCapability("authtype") && resp.Credential != "":
			want = Request{
				Capabilities: []string{"authtype"}, AuthType: resp.AuthType,
				Credential: resp.Credential, Ephemeral: resp.Ephemeral,
			}
		case resp.Username != "" || resp.Password != "":
			want = Request{Username: resp.Username, Password: resp.Password}
		}
		if want.Username != "" || want.Password != "" || want.Credential != "" {
			want.PasswordExpiryUTC = back.PasswordExpiryUTC
			if back.PasswordExpiryUTC == "" {
				t.Errorf("expiry missing from %q", out.String())
			}
		}
		if resp.Quit {
			want.Unknown = []string{"quit"}
		}
		if diff := cmp.Diff(want, back); diff != "" {
			t.Errorf("round trip of %q mismatch (-want +got):\n%s", out.String(), diff)
		}
	})
}

// echoHandler answers get with what it was sent, so that the fuzzer reaches
// every branch of WriteResponse, and fails in a few chosen ways.
type echoHandler struct{}

func (echoHandler) Get(_ context.Context, req Request) (Response, error) {
	if strings.HasPrefix(req.Username, "fail") {
		return Response{Password: "half"}, errors.New("handler failed:\n" + req.Path + "\r\n" + req.Username)
	}
	resp := Response{
		Username: req.Username, Password: req.Password,
		AuthType: req.AuthType, Credential: req.Credential,
		Ephemeral: req.Ephemeral, Quit: req.Continue,
	}
	if req.Path == "inject" {
		resp.Password += "\nquit=1"
	}
	return resp, nil
}
func (echoHandler) Store(context.Context, Request) error { return nil }
func (echoHandler) Erase(context.Context, Request) error { return nil }

// FuzzRun checks Run's promises on arbitrary stdin: stdout is empty whenever
// the exit code is non-zero and is otherwise a well-formed response; stderr
// holds at most one line.
func FuzzRun(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var stdout, stderr bytes.Buffer
		code := Run(context.Background(), "get", bytes.NewReader(data), &stdout, &stderr, echoHandler{})
		switch code {
		case 0:
			if stderr.Len() != 0 {
				t.Errorf("exit 0 with stderr %q", stderr.String())
			}
			if _, err := ReadRequest(bytes.NewReader(stdout.Bytes())); err != nil {
				t.Errorf("stdout %q does not parse: %v", stdout.String(), err)
			}
		case 1:
			if stdout.Len() != 0 {
				t.Errorf("exit 1 with stdout %q", stdout.String())
			}
			if s := stderr.String(); strings.Count(s, "\n") != 1 || !strings.HasSuffix(s, "\n") || !strings.HasPrefix(s, "mayfly: ") {
				t.Errorf("stderr = %q, want exactly one \"mayfly: \" line", s)
			}
		default:
			t.Errorf("Run(get) = %d, want 0 or 1", code)
		}
		if strings.Count(stderr.String(), "\n") > 1 || strings.Contains(stderr.String(), "\r") {
			t.Errorf("stderr has more than one line: %q", stderr.String())
		}
	})
}
