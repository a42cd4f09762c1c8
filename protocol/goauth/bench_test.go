package goauth_test

import (
	"context"
	"io"
	"strings"
	"testing"

	"github.com/mayflyhq/mayfly/protocol/goauth"
)

// What go writes on the command's stdin after a 401 from a private proxy.
const benchHead = "HTTP/2.0 401 Unauthorized\nContent-Type: text/plain; charset=utf-8\n" +
	"Www-Authenticate: Bearer realm=\"goproxy.corp.example\", error=\"invalid_token\"\nDate: Sun, 29 Nov 2026 12:00:00 GMT\n\n"

const benchURL = "https://goproxy.corp.example/corp.example/lib/@v/v1.2.3.zip"

// A JWT-sized token, as the agent hands out.
var benchToken = strings.Repeat("eyJhbGciOiJSUzI1NiJ9", 40)

func BenchmarkReadResponseHead(b *testing.B) {
	b.SetBytes(int64(len(benchHead)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := goauth.ReadResponseHead(strings.NewReader(benchHead)); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkWriteCredentials(b *testing.B) {
	sets := []goauth.Credential{{Prefixes: []string{benchURL}, Header: []goauth.Field{{Name: "Authorization", Value: "Bearer " + benchToken}}}}
	b.ReportAllocs()
	for b.Loop() {
		if err := goauth.WriteCredentials(io.Discard, sets); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRun is a whole run after a 4xx but for the agent.
func BenchmarkRun(b *testing.B) {
	ctx := context.Background()
	h := goauth.HandlerFunc(func(_ context.Context, req goauth.Request) ([]goauth.Credential, error) {
		return []goauth.Credential{{Prefixes: []string{req.URL}, Header: []goauth.Field{{Name: "Authorization", Value: "Bearer " + benchToken}}}}, nil
	})
	b.ReportAllocs()
	for b.Loop() {
		if code := goauth.Run(ctx, []string{benchURL}, strings.NewReader(benchHead), io.Discard, io.Discard, h); code != 0 {
			b.Fatalf("exit %d", code)
		}
	}
}
