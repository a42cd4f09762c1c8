package main

import (
	"context"
	"errors"
	"flag"
	"io"
	"strings"

	"github.com/mayflyhq/mayfly/agent/client"
	"github.com/mayflyhq/mayfly/agent/wire"
	"github.com/mayflyhq/mayfly/protocol/gitcred"
)

// handler turns git's requests into agent calls.
type handler struct {
	profile string // --profile: serve this profile whatever the URL
}

func newHandler(args []string) (*handler, error) {
	fs := flag.NewFlagSet("git-credential-mayfly", flag.ContinueOnError)
	// One line from main, not the flag package's usage dump: git shows
	// whatever a helper writes on stderr to the person.
	fs.SetOutput(io.Discard)
	h := &handler{}
	fs.StringVar(&h.profile, "profile", "", "profile to use instead of matching the URL")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	return h, nil
}

// Get answers with a token for the URL git asks about, or with nothing when
// no profile serves it, so git goes on to its next helper.
func (h *handler) Get(ctx context.Context, req gitcred.Request) (gitcred.Response, error) {
	if p := strings.ToLower(req.Protocol); p != "https" && p != "http" {
		return gitcred.Response{}, nil
	}
	c, err := client.New()
	if err != nil {
		return gitcred.Response{}, err
	}
	resp, err := c.Ask(ctx, wire.Request{Op: wire.OpToken, URL: req.URL(), Profile: h.profile, Consumer: "git"})
	var we *wire.Error
	if errors.As(err, &we) && we.Code == wire.CodeNoProfile && h.profile == "" {
		return gitcred.Response{}, nil
	}
	if err != nil {
		return gitcred.Response{}, err
	}
	return gitcred.Response{
		Username:       resp.Username,
		Password:       resp.Token,
		PasswordExpiry: resp.Expiry,
		// git ≥ 2.46 with capability[]=authtype: send the token as a Bearer
		// credential and mark it ephemeral so no storage helper keeps it.
		AuthType:   "Bearer",
		Credential: resp.Token,
		Ephemeral:  true,
	}, nil
}

// Store does nothing: git sends every helper the credential that worked,
// including the token we just minted, and persisting it is what Mayfly
// exists to avoid.
func (h *handler) Store(context.Context, gitcred.Request) error { return nil }

// Erase tells the agent that git's server rejected a token, so the agent
// drops it if it is the one it holds and mints a fresh one next time.
func (h *handler) Erase(ctx context.Context, req gitcred.Request) error {
	tok := req.Password
	if req.Credential != "" {
		tok = req.Credential
	}
	if tok == "" || req.URL() == "" {
		return nil
	}
	c, err := client.New()
	if err != nil {
		return err
	}
	c.Autostart = false // no agent, no token to drop
	_, err = c.Ask(ctx, wire.Request{Op: wire.OpErase, URL: req.URL(), Profile: h.profile, Token: tok, Consumer: "git"})
	if errors.Is(err, client.ErrNotRunning) {
		return nil
	}
	return err
}
