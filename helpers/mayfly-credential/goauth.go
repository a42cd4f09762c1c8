package main

import (
	"context"
	"encoding/base64"
	"errors"
	"io"
	"slices"

	"github.com/mayflyhq/mayfly/agent/client"
	"github.com/mayflyhq/mayfly/agent/wire"
	"github.com/mayflyhq/mayfly/protocol/goauth"
)

// runGOAUTH is "mayfly-credential goauth", the command a GOAUTH entry
// names (Go ≥ 1.24; protocol/goauth has the protocol). args are the
// arguments after "goauth": none on go's first run, the URL after a 4xx.
//
//	export GOAUTH='/abs/path/mayfly-credential goauth'   # the value is the command line itself
func runGOAUTH(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	return goauth.Run(ctx, args, stdin, stdout, stderr, goauthHandler{})
}

// goauthHandler answers go with a token for the URL it failed to fetch.
type goauthHandler struct{}

// Credentials answers nothing on go's first run, and the profile's token
// for exactly the failed URL after a 4xx.
//
// The first run comes before any request, with no URL: answering it would
// mean minting a token for every profile on every go command that touches
// the network, to hand to hosts go may never contact. Waiting for the 4xx
// costs one unauthenticated round trip per URL and lets the agent's match
// rules see the real URL.
//
// The credential is scoped to that URL and no wider. Go applies a prefix to
// every URL below it (longest prefix first, on "/" segments), while Mayfly
// picks the most specific pattern, wildcards included: a wider prefix could
// hand one profile's token to a path another profile serves. Each URL go
// fetches from a protected server therefore costs one 401 and one run of
// this command (a socket round trip; the agent caches the token).
//
// A URL no profile matches gets no credentials (go goes on, and fails with
// the server's 4xx). No session: the agent's one-line error, which names
// `mayfly login --profile NAME`; go shows it under -x.
func (goauthHandler) Credentials(ctx context.Context, req goauth.Request) ([]goauth.Credential, error) {
	if req.URL == "" {
		return nil, nil
	}
	c, err := client.New()
	if err != nil {
		return nil, err
	}
	resp, err := c.Ask(ctx, wire.Request{Op: wire.OpToken, URL: req.URL, Consumer: "go"})
	var we *wire.Error
	if errors.As(err, &we) && we.Code == wire.CodeNoProfile {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return []goauth.Credential{{
		Prefixes: []string{req.URL},
		Header:   []goauth.Field{{Name: "Authorization", Value: authorization(req.Response, resp.Username, resp.Token)}},
	}}, nil
}

// authorization is a Bearer header (RFC 6750 §2.1), unless the server's
// challenge offers Basic and not Bearer: module proxies and git hosts that
// take tokens as passwords (as git's credential helpers send them) answer
// "WWW-Authenticate: Basic", and get the profile's user name with the token
// as the password (RFC 7617 §2).
func authorization(r *goauth.Response, username, token string) string {
	schemes := r.AuthSchemes()
	if slices.Contains(schemes, "basic") && !slices.Contains(schemes, "bearer") {
		return "Basic " + base64.StdEncoding.EncodeToString([]byte(username+":"+token))
	}
	return "Bearer " + token
}
