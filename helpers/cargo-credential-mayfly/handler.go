package main

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/mayflyhq/mayfly/agent/client"
	"github.com/mayflyhq/mayfly/agent/wire"
	"github.com/mayflyhq/mayfly/protocol/cargocred"
)

// handler turns Cargo's requests into agent calls.
type handler struct{}

// Perform answers get with the token of the profile that serves the
// registry's index URL. login and logout are Mayfly's business, not
// Cargo's: there is no registry token to store or forget.
func (handler) Perform(ctx context.Context, req cargocred.Request) (cargocred.Response, error) {
	switch req.Kind {
	case cargocred.KindLogin:
		return cargocred.Response{}, &cargocred.Error{Kind: cargocred.ErrOperationNotSupported,
			Message: "Mayfly keeps no registry token: sign in with `mayfly login` (add --profile NAME to choose the profile)"}
	case cargocred.KindLogout:
		return cargocred.Response{}, &cargocred.Error{Kind: cargocred.ErrOperationNotSupported,
			Message: "Mayfly keeps no registry token: sign out with `mayfly logout` (add --profile NAME to choose the profile)"}
	}
	// Arguments after the path in credential-provider come here, not on
	// argv. None are defined: the index URL picks the profile, and a typo
	// must not pass silently.
	if len(req.Args) > 0 {
		return cargocred.Response{}, fmt.Errorf("cargo-credential-mayfly takes no arguments, got %q: the registry's index URL picks the profile", req.Args[0])
	}
	// A sparse index is "sparse+https://host/index/"; a git index is the
	// repository's URL (protocol reference, "Registry information").
	// Profiles match the URL without the prefix.
	index := strings.TrimPrefix(req.Registry.IndexURL, "sparse+")
	if scheme, _, _ := strings.Cut(index, "://"); !strings.EqualFold(scheme, "https") && !strings.EqualFold(scheme, "http") {
		return cargocred.Response{}, &cargocred.Error{Kind: cargocred.ErrURLNotSupported,
			Message: "Mayfly serves http(s) registries only"}
	}
	c, err := client.New()
	if err != nil {
		return cargocred.Response{}, err
	}
	resp, err := c.Ask(ctx, wire.Request{Op: wire.OpToken, URL: index, Consumer: "cargo"})
	var we *wire.Error
	if errors.As(err, &we) && we.Code == wire.CodeNoProfile {
		// Cargo tries its next provider on url-not-supported: this index
		// is not one Mayfly serves. (not-found would make Cargo say "run
		// cargo login", which cannot help here.)
		return cargocred.Response{}, &cargocred.Error{Kind: cargocred.ErrURLNotSupported, Message: we.Message}
	}
	if err != nil {
		// Not signed in or revoked: the agent's message names
		// `mayfly login --profile NAME`, and Cargo shows it.
		return cargocred.Response{}, err
	}
	out := cargocred.Response{
		// Cargo sends the token as the whole Authorization value and adds
		// no scheme (protocol reference, "Get success response"); an OAuth
		// access token goes with "Bearer " (RFC 6750 §2.1).
		Token: "Bearer " + resp.Token,
		Cache: cargocred.CacheExpires, Expiration: resp.Expiry,
		// One token serves reads, publishes and yanks alike: what it may
		// do is the registry's decision.
		OperationIndependent: true,
	}
	if resp.Expiry.IsZero() {
		out.Cache = cargocred.CacheNever // no known expiry: ask again each time
	}
	return out, nil
}
