package goauth_test

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strings"

	"github.com/mayflyhq/mayfly/protocol/goauth"
)

// The second run of GOAUTH='/abs/mayfly-credential goauth': a GOPROXY
// answered 401, so go appended the URL and wrote the response head on
// stdin. The handler answers with a bearer token for that URL; go retries
// the request with the header.
func Example() {
	args := []string{"https://proxy.corp.example/corp.example/lib/@v/v1.2.0.zip"}
	stdin := strings.NewReader("HTTP/2.0 401 Unauthorized\n" +
		"Www-Authenticate: Bearer realm=\"proxy\"\n" +
		"\n")

	h := goauth.HandlerFunc(func(_ context.Context, req goauth.Request) ([]goauth.Credential, error) {
		if req.URL == "" {
			return nil, nil // the first run: no URL yet
		}
		auth := "Bearer eyJhbGciOi.example"
		if !slices.Contains(req.Response.AuthSchemes(), "bearer") {
			auth = "Basic b2F1dGgyOmV5SmhiR2NpT2kuZXhhbXBsZQ==" // oauth2:<token>
		}
		return []goauth.Credential{{
			Prefixes: []string{req.URL},
			Header:   []goauth.Field{{Name: "Authorization", Value: auth}},
		}}, nil
	})
	code := goauth.Run(context.Background(), args, stdin, os.Stdout, os.Stderr, h)
	fmt.Println("exit", code)
	// Output:
	// https://proxy.corp.example/corp.example/lib/@v/v1.2.0.zip
	//
	// Authorization: Bearer eyJhbGciOi.example
	//
	// exit 0
}
