package execcred_test

import (
	"context"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/mayflyhq/mayfly/protocol/execcred"
)

// What kubectl puts in KUBERNETES_EXEC_INFO with provideClusterInfo: true,
// with a CA bundle of a realistic size.
var benchExecInfo = `{"kind":"ExecCredential","apiVersion":"client.authentication.k8s.io/v1","spec":{"cluster":{` +
	`"server":"https://kube.corp.example:6443","certificate-authority-data":"` + strings.Repeat("TFMwdExTMUNSVWRKVGlCRFJWSlVTVVpKUTBGVVJTMHRMUzB0", 32) + `",` +
	`"config":{"audience":"kubernetes","issuer":"https://login.corp.example"}},"interactive":false}}`

// A JWT-sized token, as the agent hands out.
var benchToken = strings.Repeat("eyJhbGciOiJSUzI1NiJ9", 40)

func BenchmarkReadRequest(b *testing.B) {
	b.SetBytes(int64(len(benchExecInfo)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := execcred.ReadRequest(strings.NewReader(benchExecInfo)); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkWriteResponse(b *testing.B) {
	resp := execcred.Response{Token: benchToken, Expiry: time.Unix(1_900_000_000, 0)}
	b.ReportAllocs()
	for b.Loop() {
		if err := execcred.WriteResponse(io.Discard, execcred.V1, resp); err != nil {
			b.Fatal(err)
		}
	}
}

type benchHandler struct{}

func (benchHandler) Token(context.Context, execcred.Request) (execcred.Response, error) {
	return execcred.Response{Token: benchToken, Expiry: time.Unix(1_900_000_000, 0)}, nil
}

// BenchmarkRun is a whole plugin run but for the agent.
func BenchmarkRun(b *testing.B) {
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if code := execcred.Run(ctx, benchExecInfo, io.Discard, io.Discard, benchHandler{}); code != 0 {
			b.Fatalf("exit %d", code)
		}
	}
}
