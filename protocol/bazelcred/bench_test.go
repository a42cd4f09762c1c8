package bazelcred_test

import (
	"context"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/mayflyhq/mayfly/protocol/bazelcred"
)

// What Bazel sends for a remote cache call.
const benchRequest = `{"uri":"https://cache.corp.example/build.bazel.remote.execution.v2.ContentAddressableStorage/FindMissingBlobs"}`

// A JWT-sized token, as the agent hands out.
var benchToken = strings.Repeat("eyJhbGciOiJSUzI1NiJ9", 40)

func BenchmarkReadRequest(b *testing.B) {
	b.SetBytes(int64(len(benchRequest)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := bazelcred.ReadRequest(strings.NewReader(benchRequest)); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkWriteResponse(b *testing.B) {
	resp := bazelcred.Response{Headers: map[string][]string{"Authorization": {"Bearer " + benchToken}}, Expires: time.Unix(1_900_000_000, 0)}
	b.ReportAllocs()
	for b.Loop() {
		if err := bazelcred.WriteResponse(io.Discard, resp); err != nil {
			b.Fatal(err)
		}
	}
}

type benchHandler struct{}

func (benchHandler) Get(context.Context, bazelcred.Request) (bazelcred.Response, error) {
	return bazelcred.Response{Headers: map[string][]string{"Authorization": {"Bearer " + benchToken}}, Expires: time.Unix(1_900_000_000, 0)}, nil
}

// BenchmarkRunGet is a whole `get` but for the agent.
func BenchmarkRunGet(b *testing.B) {
	ctx := context.Background()
	newHandler := func([]string) (bazelcred.Handler, error) { return benchHandler{}, nil }
	b.ReportAllocs()
	for b.Loop() {
		if code := bazelcred.Run(ctx, []string{"get"}, strings.NewReader(benchRequest), io.Discard, io.Discard, newHandler); code != 0 {
			b.Fatalf("exit %d", code)
		}
	}
}
