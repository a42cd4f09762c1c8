package dockercred_test

import (
	"context"
	"io"
	"strings"
	"testing"

	"github.com/mayflyhq/mayfly/protocol/dockercred"
)

// A JWT-sized token, as the agent hands out.
var benchToken = strings.Repeat("eyJhbGciOiJSUzI1NiJ9", 40)

func BenchmarkReadServerURL(b *testing.B) {
	const in = "https://registry.corp.example:5000/v2/\n"
	b.SetBytes(int64(len(in)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := dockercred.ReadServerURL(strings.NewReader(in)); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkNormalize(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := dockercred.Normalize("https://registry.corp.example:5000/v2/"); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkReadCredentials(b *testing.B) {
	in := `{"ServerURL":"registry.corp.example","Username":"alice","Secret":"` + benchToken + `"}`
	b.SetBytes(int64(len(in)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := dockercred.ReadCredentials(strings.NewReader(in)); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkWriteCredentials(b *testing.B) {
	c := dockercred.Credentials{ServerURL: "registry.corp.example", Username: "oauth2", Secret: benchToken}
	b.ReportAllocs()
	for b.Loop() {
		if err := dockercred.WriteCredentials(io.Discard, c); err != nil {
			b.Fatal(err)
		}
	}
}

type benchHandler struct{}

func (benchHandler) Get(context.Context, string) (dockercred.Credentials, error) {
	return dockercred.Credentials{Username: "oauth2", Secret: benchToken}, nil
}
func (benchHandler) Store(context.Context, dockercred.Credentials) error { return nil }
func (benchHandler) Erase(context.Context, string) error                 { return nil }
func (benchHandler) List(context.Context) (map[string]string, error)     { return nil, nil }

// BenchmarkRunGet is a whole `get` but for the agent: read the server,
// normalize it, dispatch, encode.
func BenchmarkRunGet(b *testing.B) {
	ctx := context.Background()
	v := dockercred.Version{Name: "docker-credential-mayfly", Package: "github.com/mayflyhq/mayfly", Version: "bench"}
	b.ReportAllocs()
	for b.Loop() {
		if code := dockercred.Run(ctx, []string{"get"}, v, strings.NewReader("registry.corp.example"), io.Discard, benchHandler{}); code != 0 {
			b.Fatalf("exit %d", code)
		}
	}
}
