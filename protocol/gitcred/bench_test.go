package gitcred_test

import (
	"context"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/mayflyhq/mayfly/protocol/gitcred"
)

// What git 2.46 sends a helper for `git fetch` over HTTPS after a 401.
const benchRequest = "capability[]=authtype\ncapability[]=state\nprotocol=https\nhost=git.corp.example\npath=team/app.git\n" +
	"wwwauth[]=Bearer realm=\"git.corp.example\"\n\n"

// A JWT-sized token, as the agent hands out.
var benchToken = strings.Repeat("eyJhbGciOiJSUzI1NiJ9", 40)

func BenchmarkReadRequest(b *testing.B) {
	b.SetBytes(int64(len(benchRequest)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := gitcred.ReadRequest(strings.NewReader(benchRequest)); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkWriteResponse(b *testing.B) {
	req, err := gitcred.ReadRequest(strings.NewReader(benchRequest))
	if err != nil {
		b.Fatal(err)
	}
	resp := gitcred.Response{Username: "oauth2", Password: benchToken, PasswordExpiry: time.Unix(1_900_000_000, 0),
		AuthType: "Bearer", Credential: benchToken, Ephemeral: true}
	b.ReportAllocs()
	for b.Loop() {
		if err := gitcred.WriteResponse(io.Discard, req, resp); err != nil {
			b.Fatal(err)
		}
	}
}

type benchHandler struct{ resp gitcred.Response }

func (h benchHandler) Get(context.Context, gitcred.Request) (gitcred.Response, error) {
	return h.resp, nil
}
func (benchHandler) Store(context.Context, gitcred.Request) error { return nil }
func (benchHandler) Erase(context.Context, gitcred.Request) error { return nil }

// BenchmarkRunGet is a whole `get` but for the agent: decode, dispatch,
// encode.
func BenchmarkRunGet(b *testing.B) {
	h := benchHandler{gitcred.Response{Username: "oauth2", Password: benchToken, PasswordExpiry: time.Unix(1_900_000_000, 0)}}
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if code := gitcred.Run(ctx, "get", strings.NewReader(benchRequest), io.Discard, io.Discard, h); code != 0 {
			b.Fatalf("exit %d", code)
		}
	}
}
