package bazelcred_test

import (
	"context"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/mayflyhq/mayfly/protocol/bazelcred"
)

// handler serves one host and has no session for it yet.
type handler struct{ signedIn bool }

func (h handler) Get(_ context.Context, req bazelcred.Request) (bazelcred.Response, error) {
	if !strings.HasPrefix(req.MatchURL(), "https://cache.corp.example/") {
		return bazelcred.Response{}, &bazelcred.Error{Code: bazelcred.CodeNotFound, Message: "no profile serves this URI"}
	}
	if !h.signedIn {
		return bazelcred.Response{}, &bazelcred.Error{
			Code:         bazelcred.CodeInteractionRequired,
			Message:      "not signed in to profile corp: run `mayfly login --profile corp`",
			LoginCommand: "mayfly login --profile corp",
		}
	}
	return bazelcred.Response{
		Headers: map[string][]string{"Authorization": {"Bearer eyJhbGciOi"}},
		Expires: time.Date(2026, 8, 22, 15, 4, 5, 0, time.UTC),
	}, nil
}

// What Bazel sees for a remote cache call (it sends gRPC URIs as https),
// for a public download on a host no profile serves, and, before sign-in,
// for the cache again: a non-zero exit, which fails the build, with the
// stderr line Bazel shows. The error object on stdout is for callers that
// know Mayfly's extensions.
func ExampleRun() {
	get := func(h handler, request string) {
		newHandler := func([]string) (bazelcred.Handler, error) { return h, nil }
		code := bazelcred.Run(context.Background(), []string{"get"}, strings.NewReader(request), os.Stdout, os.Stdout, newHandler)
		fmt.Println("exit", code)
	}
	get(handler{signedIn: true}, `{"uri": "https://cache.corp.example/build.bazel.remote.execution.v2.ContentAddressableStorage"}`)
	get(handler{signedIn: true}, `{"uri": "https://github.com/bazelbuild/rules_go/releases/download/v0.50.0/rules_go-v0.50.0.zip"}`)
	get(handler{}, `{"uri": "grpcs://cache.corp.example/build.bazel.remote.execution.v2.ActionCache/GetActionResult"}`)
	// Output:
	// {"headers":{"Authorization":["Bearer eyJhbGciOi"]},"expires":"2026-08-22T15:04:05Z"}
	// exit 0
	// {}
	// exit 0
	// {"error":{"code":"interaction_required","message":"not signed in to profile corp: run `mayfly login --profile corp`","login_command":"mayfly login --profile corp"}}
	// mayfly: not signed in to profile corp: run `mayfly login --profile corp`
	// exit 5
}

// A script or an AI tool asks with extensions, and wants to hear "not mine"
// as an error so it can try its next helper.
func ExampleWriteRequest() {
	interactive := false
	req := bazelcred.Request{
		URI:          "https://api.corp.example/v1/messages",
		Method:       "POST",
		Interactive:  &interactive,
		Capabilities: []string{bazelcred.CapNotFoundError},
	}
	if err := bazelcred.WriteRequest(os.Stdout, req); err != nil {
		fmt.Println(err)
	}
	// Output:
	// {"uri":"https://api.corp.example/v1/messages","method":"POST","interactive":false,"capabilities":["not_found_error"]}
}
