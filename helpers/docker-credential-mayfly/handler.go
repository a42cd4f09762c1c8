package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/mayflyhq/mayfly/agent/client"
	"github.com/mayflyhq/mayfly/agent/wire"
	"github.com/mayflyhq/mayfly/protocol/dockercred"
)

// namespace is where the agent keeps Docker's static credentials.
const namespace = "docker"

// handler turns Docker's requests into agent calls. Every server it gets
// is a key from dockercred.Normalize: a bare "host[:port]", or Docker Hub's
// URL.
type handler struct {
	stderr io.Writer // notes for the person; stdout belongs to the protocol
}

// tokenURL is what the agent matches against the profiles' patterns. Docker
// says nothing about the scheme, and registries speak HTTPS (plain HTTP
// only for "insecure" ones), so a bare-host pattern ("registry.corp.example",
// "localhost:5000") and an https:// pattern both serve a registry.
func tokenURL(server string) string {
	if strings.Contains(server, "://") {
		return server // Docker Hub's key is already a URL
	}
	return "https://" + server
}

// do sends one request to the agent, starting it if need be. Only a list
// has an answer that client.Ask, the hot path's call, cannot decode.
func do(ctx context.Context, req wire.Request) (wire.Response, error) {
	c, err := client.New()
	if err != nil {
		return wire.Response{}, err
	}
	req.Consumer = "docker"
	if req.Op == wire.OpStaticList {
		return c.Do(ctx, req)
	}
	return c.Ask(ctx, req)
}

// token asks the agent for a token for server. A *wire.Error with code
// wire.CodeNoProfile means no profile manages it.
func token(ctx context.Context, server string) (wire.Response, error) {
	return do(ctx, wire.Request{Op: wire.OpToken, URL: tokenURL(server)})
}

func code(err error) string {
	var we *wire.Error
	if errors.As(err, &we) {
		return we.Code
	}
	return ""
}

// Get answers with a fresh access token as the password when a profile
// manages server: the registry's token server takes it in Basic auth and
// exchanges it for a registry token (there is no identity token, which
// no consumer would refresh and store back; peers.md §3b). Otherwise it
// answers with the static credentials `docker login` stored, or with the
// not-found message, which Docker takes as "go on anonymously".
func (h *handler) Get(ctx context.Context, server string) (dockercred.Credentials, error) {
	resp, err := token(ctx, server)
	switch code(err) {
	case "":
		if err != nil {
			return dockercred.Credentials{}, err
		}
		user := resp.Username
		if user == "" {
			user = "oauth2"
		}
		return dockercred.Credentials{Username: user, Secret: resp.Token}, nil
	case wire.CodeNoProfile:
		// Not managed: the static store below.
	default:
		// login_required and revoked name `mayfly login --profile NAME`;
		// the message reaches the person inside Docker's error
		// (protocols.md §2.3: on stdout, exit 1).
		return dockercred.Credentials{}, fmt.Errorf("registry %s: %w", server, err)
	}
	resp, err = do(ctx, wire.Request{Op: wire.OpStaticGet, Namespace: namespace, Name: server})
	if code(err) == wire.CodeNotFound {
		return dockercred.Credentials{}, dockercred.ErrNotFound
	}
	if err != nil {
		return dockercred.Credentials{}, err
	}
	return dockercred.Credentials{Username: resp.Username, Secret: resp.Token}, nil
}

// Store keeps the credentials `docker login` verified, in the agent's
// secret store, for a registry no profile manages.
//
// For a managed registry it stores nothing and says so on stderr, but
// succeeds: the registry accepted the login, and the next pull gets a
// fresh token from the profile anyway, so failing would only make Docker
// print "Error saving credentials" over a login that works. (Docker itself
// calls store with the token get just minted when `docker login` runs
// without -u; keeping that would defeat short-lived tokens.)
func (h *handler) Store(ctx context.Context, cr dockercred.Credentials) error {
	resp, err := token(ctx, cr.ServerURL)
	switch code(err) {
	case "":
		if err != nil {
			return err
		}
		fmt.Fprintf(h.stderr, "docker-credential-mayfly: %s is managed by Mayfly profile %s, which mints short-lived tokens for it: nothing was stored\n", cr.ServerURL, resp.Profile)
		return nil
	case wire.CodeLoginRequired, wire.CodeRevoked, wire.CodeProvider:
		// A profile matched but has no token right now; the message
		// names it and says what to do.
		fmt.Fprintf(h.stderr, "docker-credential-mayfly: %s is managed by a Mayfly profile (%s): nothing was stored\n", cr.ServerURL, err)
		return nil
	case wire.CodeNoProfile:
	default:
		return err
	}
	_, err = do(ctx, wire.Request{Op: wire.OpStaticSet, Namespace: namespace, Name: cr.ServerURL, Username: cr.Username, Secret: cr.Secret})
	return err
}

// Erase forgets the static credentials of server (`docker logout`).
// Forgetting nothing is not an error: `docker logout` calls erase for
// registries it never logged in to through this helper, and twice per
// logout (peers.md §3b). It does not sign out of a profile: that is
// `mayfly logout`.
func (h *handler) Erase(ctx context.Context, server string) error {
	_, err := do(ctx, wire.Request{Op: wire.OpStaticErase, Namespace: namespace, Name: server})
	if code(err) == wire.CodeNotFound {
		return nil
	}
	return err
}

// List returns the registries with static credentials. Registries that
// profiles manage are not listed: they have no stored credentials, and
// listing them would make `docker` fetch a token for each.
func (h *handler) List(ctx context.Context) (map[string]string, error) {
	resp, err := do(ctx, wire.Request{Op: wire.OpStaticList, Namespace: namespace})
	if err != nil {
		return nil, err
	}
	out := make(map[string]string, len(resp.Static))
	for _, e := range resp.Static {
		out[e.Name] = e.Username
	}
	return out, nil
}
