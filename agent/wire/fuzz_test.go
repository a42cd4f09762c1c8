package wire_test

import (
	"bytes"
	"strings"
	"testing"

	"github.com/mayflyhq/mayfly/agent/wire"
)

// FuzzReadRequest feeds the agent's request decoder whatever a peer could
// send. It must never panic, never accept more than MaxLine bytes, and what
// it accepts must survive a round trip through Write unchanged.
func FuzzReadRequest(f *testing.F) {
	for _, seed := range []string{
		`{"v":1,"op":"token","url":"https://git.example/x.git","consumer":"git"}` + "\n",
		`{"v":1,"op":"erase","token":"abc","profile":"work"}` + "\n",
		`{"v":1,"op":"logout","all":true}` + "\n",
		`{"v":1,"op":"login","flow":"device","no_browser":true,"force_new":true}` + "\n",
		"",
		"\n",
		"\n\n\n",
		"{}",
		`{"v":1e400}` + "\n",
		`{"v":-1,"op":null,"url":["a"]}` + "\n",
		`{"op":"token","op":"stop"}` + "\n",
		`{"OP":"Token","Url":"x"}` + "\n",
		`{"url":"\ud800\u2028\u0000"}` + "\n",
		"{\"url\":\"\xff\xfe\"}\n",
		`[1,2,3]` + "\n",
		`"` + strings.Repeat("a", 5000) + `"` + "\n",
		`{"v":1}` + "\r\n",
		`{"v":1} trailing` + "\n",
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var req wire.Request
		if err := wire.NewReader(bytes.NewReader(data)).Read(&req); err != nil {
			return
		}
		if i := bytes.IndexByte(data, '\n'); i > wire.MaxLine || (i < 0 && len(data) > wire.MaxLine) {
			t.Fatalf("accepted a %d-byte line", i)
		}
		var buf bytes.Buffer
		if err := wire.Write(&buf, req); err != nil {
			t.Fatalf("Write of a decoded request: %v", err)
		}
		var again wire.Request
		if err := wire.NewReader(&buf).Read(&again); err != nil {
			t.Fatalf("re-reading %q: %v", buf.Bytes(), err)
		}
		if again != req {
			t.Fatalf("round trip changed the request:\n got %+v\nwant %+v", again, req)
		}
	})
}

// FuzzReadResponse does the same for what helpers read from the agent.
func FuzzReadResponse(f *testing.F) {
	for _, seed := range []string{
		`{"profile":"work","username":"oauth2","token":"t","expiry":"2030-01-02T03:04:05Z"}` + "\n",
		`{"error":{"code":"revoked","message":"run mayfly login"}}` + "\n",
		`{"event":"device","user_code":"ABCD","code_expiry":"2030-01-02T03:04:05+02:00"}` + "\n",
		`{"status":{"pid":1,"profiles":[{"name":"w","match":null}]}}` + "\n",
		`{"expiry":"not a time"}` + "\n",
		`{"error":null,"results":[{}]}` + "\n",
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var resp wire.Response
		if err := wire.NewReader(bytes.NewReader(data)).Read(&resp); err != nil {
			return
		}
		var buf bytes.Buffer
		if err := wire.Write(&buf, resp); err != nil {
			// A year outside 0–9999 decodes but cannot be encoded.
			return
		}
		var again wire.Response
		if err := wire.NewReader(&buf).Read(&again); err != nil {
			t.Fatalf("re-reading %q: %v", buf.Bytes(), err)
		}
	})
}
