package cargocred_test

import (
	"context"
	"os"
	"strings"
	"time"

	"github.com/mayflyhq/mayfly/protocol/cargocred"
)

// A provider answering `cargo fetch` from a sparse registry with
// auth-required: the hello, then a token that Cargo may reuse for any
// operation until it expires.
func Example() {
	stdin := strings.NewReader(`{"v":1,"registry":{"index-url":"sparse+https://crates.corp.example/index/","name":"corp"},"kind":"get","operation":"read","args":[]}` + "\n")
	h := cargocred.HandlerFunc(func(_ context.Context, req cargocred.Request) (cargocred.Response, error) {
		if req.Kind != cargocred.KindGet {
			return cargocred.Response{}, &cargocred.Error{Kind: cargocred.ErrOperationNotSupported, Message: "sign in with `mayfly login`"}
		}
		return cargocred.Response{
			Token:                "Bearer eyJhbGciOi.example",
			Cache:                cargocred.CacheExpires,
			Expiration:           time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC),
			OperationIndependent: true,
		}, nil
	})
	cargocred.Run(context.Background(), []string{"--cargo-plugin"}, stdin, os.Stdout, os.Stderr, h)
	// Output:
	// {"v":[1]}
	// {"Ok":{"kind":"get","token":"Bearer eyJhbGciOi.example","cache":"expires","expiration":1893456000,"operation_independent":true}}
}
