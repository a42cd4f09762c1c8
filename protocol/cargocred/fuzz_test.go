package cargocred

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"
)

var fuzzSeeds = []string{
	"",
	"\n",
	"null",
	"{}",
	`{"v":1,"registry":{"index-url":"sparse+http://127.0.0.1:8765/index/","name":"local","headers":["WWW-Authenticate: Cargo login_url=\"x\""]},"kind":"get","operation":"read","args":["--extra-arg"]}`,
	`{"v":1,"kind":"get","operation":"publish","name":"sample","vers":"0.1.0","cksum":"abc","registry":{"index-url":"u","name":null}}`,
	`{"v":1,"kind":"login","registry":{"index-url":"u"},"token":"t","login-url":"http://r/login","args":[]}`,
	`{"v":1,"kind":"logout","registry":{"index-url":"u"}}`,
	`{"v":4294967296,"kind":"get","registry":{"index-url":"u"}}`,
	`{"v":1,"kind":"get","operation":"read","registry":{"index-url":"u"},"v":2}`,
	`{"v":1,"kind":"\u0000","registry":{"index-url":"\ud800"}}`,
	"{\"v\":1,\"kind\":\"get\",\"operation\":\"read\",\"registry\":{\"index-url\":\"\xff\"}}",
	`[{"v":1}]`,
}

// FuzzDecodeRequest checks that the decoder never panics and that its errors
// are single "cargocred: " lines that quote nothing of the input.
func FuzzDecodeRequest(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		req, err := DecodeRequest(data)
		if err != nil {
			msg := err.Error()
			if strings.ContainsAny(msg, "\r\n") || !strings.HasPrefix(msg, "cargocred: ") {
				t.Fatalf("bad error message %q", msg)
			}
			return
		}
		if req.Kind == KindGet && req.Operation == "" && !bytes.Contains(data, []byte(`"operation"`)) {
			t.Fatalf("get without operation accepted: %q", data)
		}
	})
}

// FuzzRun feeds arbitrary request lines to the whole exchange, with a
// handler that echoes parts of the request back as a token. stdout must be
// the hello and then only whole lines, each an Ok or Err object that
// Cargo's serde definitions accept; the exit code must follow Run's
// contract.
func FuzzRun(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add(s + "\n" + s)
	}
	f.Fuzz(func(t *testing.T, stdin string) {
		h := HandlerFunc(func(_ context.Context, req Request) (Response, error) {
			switch {
			case req.Kind != KindGet:
				return Response{}, &Error{Kind: ErrOperationNotSupported, Message: req.Kind}
			case strings.HasPrefix(req.Registry.IndexURL, "x"):
				return Response{}, &Error{Kind: req.Registry.Name, Message: req.Operation, CausedBy: req.Args}
			}
			return Response{Token: "Bearer " + req.Registry.IndexURL, Cache: CacheExpires, Expiration: time.Unix(int64(len(stdin))+1, 0), OperationIndependent: true}, nil
		})
		var stdout, stderr bytes.Buffer
		code := Run(context.Background(), []string{"--cargo-plugin"}, strings.NewReader(stdin), &stdout, &stderr, h)
		out := stdout.String()
		if !strings.HasPrefix(out, `{"v":[1]}`+"\n") || !strings.HasSuffix(out, "\n") {
			t.Fatalf("stdout %q", out)
		}
		sc := bufio.NewScanner(strings.NewReader(out))
		sc.Buffer(nil, 4*MaxLine)
		sc.Scan()        // hello
		unsupported := 0 // operation-not-supported errors with a message, echoed on stderr
		for sc.Scan() {
			var m map[string]map[string]any
			if err := json.Unmarshal(sc.Bytes(), &m); err != nil || len(m) != 1 {
				t.Fatalf("line %q: %v", sc.Text(), err)
			}
			if ok, isOk := m["Ok"]; isOk {
				if ok["kind"] == KindGet && (ok["token"] == "" || ok["cache"] != CacheExpires || ok["expiration"] == nil) {
					t.Fatalf("bad get response %q", sc.Text())
				}
			} else if e, isErr := m["Err"]; !isErr {
				t.Fatalf("neither Ok nor Err: %q", sc.Text())
			} else if k := e["kind"]; k != ErrURLNotSupported && k != ErrNotFound && k != ErrOperationNotSupported && k != ErrOther {
				t.Fatalf("unknown error kind in %q", sc.Text())
			} else if k == ErrOperationNotSupported && e["message"] != nil {
				unsupported++
			}
		}
		lines := strings.Count(stderr.String(), "\n")
		if stderr.Len() > 0 && (!strings.HasPrefix(stderr.String(), "mayfly: ") || !strings.HasSuffix(stderr.String(), "\n")) {
			t.Fatalf("stderr %q", stderr.String())
		}
		switch code {
		case 0:
			if lines != unsupported {
				t.Fatalf("exit 0 with stderr %q for %d operation-not-supported errors", stderr.String(), unsupported)
			}
		case 1:
			if lines != unsupported+1 || !strings.Contains(out, `"Err"`) {
				t.Fatalf("exit 1: stdout %q stderr %q", out, stderr.String())
			}
		default:
			t.Fatalf("exit %d", code)
		}
	})
}
