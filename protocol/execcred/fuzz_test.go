package execcred

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"
)

var fuzzSeeds = []string{
	"",
	" ",
	"{}",
	"null",
	"[]",
	`"ExecCredential"`,
	`{"kind":"ExecCredential","apiVersion":"client.authentication.k8s.io/v1","spec":{"interactive":false}}`,
	`{"kind":"ExecCredential","apiVersion":"client.authentication.k8s.io/v1beta1","spec":{"interactive":true}}`,
	`{"kind":"ExecCredential","apiVersion":"client.authentication.k8s.io/v1","spec":{"cluster":{"server":"https://127.0.0.1:6443","certificate-authority-data":"LS0t","config":{"audience":"kubernetes"}},"interactive":false}}`,
	`{"kind":"ExecCredential","apiVersion":"client.authentication.k8s.io/v1beta1","spec":{"cluster":{"server":"https://x","tls-server-name":"k","insecure-skip-tls-verify":true,"proxy-url":"http://p","disable-compression":true,"config":null}}}`,
	`{"kind":"ExecCredential","apiVersion":"client.authentication.k8s.io/v1alpha1","spec":{}}`,
	`{"kind":"ExecCredential","apiVersion":"client.authentication.k8s.io/v1","status":{"expirationTimestamp":"yesterday"}}`,
	`{"kind":"ExecCredential","apiVersion":"client.authentication.k8s.io/v1","spec":{"cluster":{"certificate-authority-data":"%%%"}}}`,
	`{"kind":"ExecCredential","apiVersion":"x\n\u001b[2J"}`,
	`{"kind":"ExecCredential","apiVersion":"client.authentication.k8s.io/v1","spec":{"interactive":1}}`,
	`{"kind":"ExecCredential","apiVersion":"client.authentication.k8s.io/v1"}{}`,
	"\xff\xfe\x00{",
}

// FuzzReadRequest checks that the decoder never panics, that its errors are
// single "execcred: " lines, and that whatever it accepts can be answered:
// the answer is one JSON line in the version asked for, carrying the token.
func FuzzReadRequest(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		req, err := ReadRequest(bytes.NewReader(data))
		if err != nil {
			msg := err.Error()
			if strings.ContainsAny(msg, "\n\r") || !strings.HasPrefix(msg, "execcred: ") {
				t.Fatalf("bad error message %q", msg)
			}
			return
		}
		if req.APIVersion != V1 && req.APIVersion != V1beta1 {
			t.Fatalf("accepted apiVersion %q", req.APIVersion)
		}
		if req.Cluster != nil && req.Cluster.Config != nil && !json.Valid(req.Cluster.Config) {
			t.Fatalf("cluster config %q is not JSON", req.Cluster.Config)
		}
		var out bytes.Buffer
		// Any valid UTF-8 token comes back unchanged (the agent's are ASCII).
		resp := Response{Token: "tok" + strings.ToValidUTF8(string(data), ""), Expiry: time.Unix(int64(len(data)), 0)}
		if err := WriteResponse(&out, req.APIVersion, resp); err != nil {
			t.Fatalf("WriteResponse: %v", err)
		}
		var back struct {
			APIVersion string `json:"apiVersion"`
			Kind       string `json:"kind"`
			Status     struct {
				Token               string    `json:"token"`
				ExpirationTimestamp time.Time `json:"expirationTimestamp"`
			} `json:"status"`
		}
		if err := json.Unmarshal(out.Bytes(), &back); err != nil {
			t.Fatalf("answer %q: %v", out.String(), err)
		}
		if back.APIVersion != req.APIVersion || back.Kind != Kind || !back.Status.ExpirationTimestamp.Equal(resp.Expiry) {
			t.Errorf("answer %q to %+v", out.String(), req)
		}
		if back.Status.Token != resp.Token {
			t.Errorf("token came back as %q, want %q", back.Status.Token, resp.Token)
		}
		if bytes.Count(out.Bytes(), []byte("\n")) != 1 {
			t.Errorf("answer is not one line: %q", out.String())
		}
	})
}

// FuzzRun checks Run's promises on any KUBERNETES_EXEC_INFO: exit 0 with a
// complete answer and a silent stderr, or exit 1 with nothing on stdout and
// exactly one line on stderr.
func FuzzRun(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add(s, false)
	}
	f.Fuzz(func(t *testing.T, info string, handlerFails bool) {
		h := fuzzHandler(func(req Request) (Response, error) {
			if handlerFails {
				return Response{Token: "half"}, errors.New("handler failed:\n" + info)
			}
			server := ""
			if req.Cluster != nil {
				server = req.Cluster.Server
			}
			return Response{Token: "t" + server}, nil
		})
		var stdout, stderr bytes.Buffer
		switch code := Run(context.Background(), info, &stdout, &stderr, h); code {
		case 0:
			if stderr.Len() != 0 {
				t.Errorf("exit 0 with stderr %q", stderr.String())
			}
			if !json.Valid(stdout.Bytes()) || !bytes.HasSuffix(stdout.Bytes(), []byte("}\n")) {
				t.Errorf("exit 0 with stdout %q", stdout.String())
			}
		case 1:
			if stdout.Len() != 0 {
				t.Errorf("exit 1 with stdout %q", stdout.String())
			}
			if s := stderr.String(); strings.Count(s, "\n") != 1 || !strings.HasSuffix(s, "\n") || !strings.HasPrefix(s, "mayfly: ") || strings.Contains(s, "\r") {
				t.Errorf("stderr = %q, want exactly one \"mayfly: \" line", s)
			}
		default:
			t.Errorf("Run = %d, want 0 or 1", code)
		}
	})
}

type fuzzHandler func(Request) (Response, error)

func (f fuzzHandler) Token(_ context.Context, req Request) (Response, error) { return f(req) }
