package cargocred_test

import (
	"context"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/mayflyhq/mayfly/protocol/cargocred"
)

// What cargo sends for `cargo fetch` from a sparse registry with
// auth-required, after a 401 that carried a login URL.
const benchRequest = `{"v":1,"registry":{"index-url":"sparse+https://crates.corp.example/index/","name":"corp",` +
	`"headers":["HTTP/1.1 401 Unauthorized","WWW-Authenticate: Cargo login_url=\"https://crates.corp.example/me\""]},` +
	`"kind":"get","operation":"read","args":[]}`

// A JWT-sized token, as the agent hands out.
var benchToken = strings.Repeat("eyJhbGciOiJSUzI1NiJ9", 40)

func BenchmarkDecodeRequest(b *testing.B) {
	line := []byte(benchRequest)
	b.SetBytes(int64(len(line)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := cargocred.DecodeRequest(line); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkWriteResponse(b *testing.B) {
	resp := cargocred.Response{Kind: cargocred.KindGet, Token: "Bearer " + benchToken, Cache: cargocred.CacheExpires,
		Expiration: time.Unix(1_900_000_000, 0), OperationIndependent: true}
	b.ReportAllocs()
	for b.Loop() {
		if err := cargocred.WriteResponse(io.Discard, resp); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRun is a whole provider run but for the agent: the hello, one
// request, its answer.
func BenchmarkRun(b *testing.B) {
	ctx := context.Background()
	h := cargocred.HandlerFunc(func(context.Context, cargocred.Request) (cargocred.Response, error) {
		return cargocred.Response{Token: "Bearer " + benchToken, Cache: cargocred.CacheExpires, Expiration: time.Unix(1_900_000_000, 0), OperationIndependent: true}, nil
	})
	b.ReportAllocs()
	for b.Loop() {
		if code := cargocred.Run(ctx, []string{"--cargo-plugin"}, strings.NewReader(benchRequest+"\n"), io.Discard, io.Discard, h); code != 0 {
			b.Fatalf("exit %d", code)
		}
	}
}
