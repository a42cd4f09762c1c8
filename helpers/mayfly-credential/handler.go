package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/url"
	"path"
	"regexp"
	"strings"
	"sync"

	"github.com/mayflyhq/mayfly/agent/client"
	"github.com/mayflyhq/mayfly/agent/wire"
	"github.com/mayflyhq/mayfly/protocol/bazelcred"
)

// handler turns a get into one agent call.
type handler struct {
	profile string // --profile: serve this profile whatever the URI
	// do sends one request to the agent; tests replace it.
	do func(ctx context.Context, req wire.Request) (wire.Response, error)
}

// newHandler parses get's parameters. The spec lets a helper define
// optional parameters to get, never required ones ("get", "Parameters");
// Bazel passes none, so --profile is for scripts and wrappers.
func newHandler(params []string) (bazelcred.Handler, error) {
	fs := flag.NewFlagSet("mayfly-credential get", flag.ContinueOnError)
	// One line from bazelcred.Run, not the flag package's usage dump.
	fs.SetOutput(io.Discard)
	h := &handler{do: askAgent}
	fs.StringVar(&h.profile, "profile", "", "profile to use instead of matching the URI")
	if err := fs.Parse(params); err != nil {
		return nil, fmt.Errorf("get: %w (usage: get [--profile NAME])", err)
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("get: unexpected argument %q (usage: get [--profile NAME])", fs.Arg(0))
	}
	return h, nil
}

func askAgent(ctx context.Context, req wire.Request) (wire.Response, error) {
	c, err := client.New()
	if err != nil {
		return wire.Response{}, err
	}
	return c.Ask(ctx, req)
}

// Get answers with the profile's access token as a Bearer header (RFC 6750
// §2.1), and with the agent's expiry, which already has the profile's
// refresh margin taken off: Bazel never refreshes early (protocols.md §4.5).
func (h *handler) Get(ctx context.Context, req bazelcred.Request) (bazelcred.Response, error) {
	// Checked before the agent is asked, so that a request Mayfly cannot
	// serve neither starts the agent nor mints a token.
	if err := checkExtensions(req); err != nil {
		return bazelcred.Response{}, err
	}
	// A URI with user information brings its own credentials, and matches
	// no profile (config.Match: another parser might read its host
	// differently). It is not sent to the agent, whose answer would quote
	// it, password and all.
	if u, err := url.Parse(req.URI); err == nil && u.User != nil {
		return bazelcred.Response{}, &bazelcred.Error{Code: bazelcred.CodeNotFound, Message: "the URI carries user information: no profile serves it"}
	}
	consumer := "bazel"
	if req.Extended() {
		consumer = "json"
	}
	resp, err := h.do(ctx, wire.Request{Op: wire.OpToken, URL: req.MatchURL(), Profile: h.profile, Consumer: consumer})
	if err != nil {
		return bazelcred.Response{}, h.agentError(err)
	}
	if resp.Token == "" {
		return bazelcred.Response{}, errors.New("the agent answered without a token")
	}
	return bazelcred.Response{
		Headers: map[string][]string{"Authorization": {"Bearer " + resp.Token}},
		Expires: resp.Expiry,
	}, nil
}

// checkExtensions refuses, as unsupported, what the agent cannot do yet
// rather than ignore it: a caller that asks for a token for another
// audience or with other scopes and silently gets the profile's own token
// would send a token it believes is narrower than it is. Per-request
// audience, resource and scope come with token exchange (RFC 8693).
//
// method and interactive need no check: a Bearer token is the same for
// every method, and get never signs in, whatever interactive says (sign-in
// is `mayfly login`; without a session the answer is interaction_required).
func checkExtensions(req bazelcred.Request) error {
	if len(req.Audience) > 0 {
		return unsupported(`"audience"`)
	}
	if req.Scope != "" {
		return unsupported(`"scope"`)
	}
	for _, r := range req.Resource {
		// RFC 8707 §2: a resource names the service the token is for. The
		// profile's token serves the URI, so it serves a resource that the
		// URI lies within, and no other.
		if !within(req.MatchURL(), bazelcred.Request{URI: r}.MatchURL()) {
			return &bazelcred.Error{
				Code: bazelcred.CodeUnsupported,
				Message: `a "resource" that does not contain the "uri" is not supported yet: Mayfly gives each profile's own token ` +
					`(token exchange, RFC 8693, comes later); leave "resource" out or set it to the URI's origin`,
			}
		}
	}
	return nil
}

func unsupported(field string) *bazelcred.Error {
	return &bazelcred.Error{
		Code: bazelcred.CodeUnsupported,
		Message: "a per-request " + field + " is not supported yet: Mayfly gives each profile's own token " +
			"(token exchange, RFC 8693, comes later); leave " + field + " out, or configure a profile for that service",
	}
}

// within reports whether uri lies within resource: same scheme, host and
// port, and resource's path a prefix of uri's on whole segments ("/api"
// contains "/api" and "/api/v1", not "/apiv1"). Paths are cleaned first,
// as the server will ("/api/../admin" is not within "/api").
func within(uri, resource string) bool {
	u, err1 := url.Parse(uri)
	r, err2 := url.Parse(resource)
	if err1 != nil || err2 != nil || u.Host == "" || r.Host == "" || r.User != nil || u.User != nil {
		return false
	}
	if !strings.EqualFold(u.Scheme, r.Scheme) || !strings.EqualFold(hostPort(u), hostPort(r)) {
		return false
	}
	rp := cleanPath(r.Path)
	return rp == "/" || cleanPath(u.Path) == rp || strings.HasPrefix(cleanPath(u.Path), rp+"/")
}

func cleanPath(p string) string {
	if p == "" {
		return "/"
	}
	return path.Clean("/" + p)
}

// hostPort is u's host and port, with the scheme's default port made explicit.
func hostPort(u *url.URL) string {
	port := u.Port()
	if port == "" {
		switch strings.ToLower(u.Scheme) {
		case "https":
			port = "443"
		case "http":
			port = "80"
		}
	}
	return u.Hostname() + ":" + port
}

// agentError maps the agent's error codes onto the protocol's.
func (h *handler) agentError(err error) error {
	var we *wire.Error
	if !errors.As(err, &we) {
		return err // no agent, a cancelled context...: other
	}
	switch we.Code {
	case wire.CodeNoProfile:
		if h.profile != "" {
			// The profile named on the command line does not exist: a
			// broken set-up, which must fail even for a plain Bazel.
			return &bazelcred.Error{Code: bazelcred.CodeOther, Message: we.Message}
		}
		return &bazelcred.Error{Code: bazelcred.CodeNotFound, Message: we.Message}
	case wire.CodeLoginRequired, wire.CodeRevoked:
		return &bazelcred.Error{Code: bazelcred.CodeInteractionRequired, Message: we.Message, LoginCommand: h.loginCommand(we.Message)}
	}
	return &bazelcred.Error{Code: bazelcred.CodeOther, Message: we.Message}
}

// loginRE finds the sign-in command in the agent's message ("… run `mayfly
// login --profile corp`"), with a profile name as config allows them. It is
// compiled on first use, for an error message: compiled at start, it cost
// every run of the helper a fifth of a hello-world's time (bench/README.md).
var loginRE = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile("`(mayfly login --profile [A-Za-z0-9._-]{1,64})`")
})

// loginCommand is the command that signs in to the profile that served the
// request. wire.Error carries no profile name, so without --profile it is
// read from the agent's message, and falls back to a bare `mayfly login`.
func (h *handler) loginCommand(msg string) string {
	if h.profile != "" {
		return "mayfly login --profile " + h.profile
	}
	if m := loginRE().FindStringSubmatch(msg); m != nil {
		return m[1]
	}
	return "mayfly login"
}
