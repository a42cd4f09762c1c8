// Package gitcred implements git's credential-helper wire protocol, as
// described in gitcredentials(7) and in the "INPUT/OUTPUT FORMAT" section of
// git-credential(1).
//
// Git runs a helper as "<helper> [flags] <action>" through the shell, where
// action is get, store or erase. It writes a list of key=value lines to the
// helper's stdin and closes it. For get, it reads key=value lines back from
// the helper's stdout and ignores the exit status.
//
// The package has two halves:
//
//   - a pure codec: [ReadRequest] decodes what git writes, [WriteResponse]
//     encodes an answer to get;
//   - a dispatcher: [Run] maps one action onto a [Handler] and is the only
//     place that turns errors into git's conventions (stderr text, exit code,
//     and nothing at all on stdout when something failed).
//
// It never touches os.* (stdin, stdout, args, exit), storage, OAuth or the
// network; the helper's main wires those in. stdout belongs to the protocol:
// anything else a helper wants to say goes to stderr.
package gitcred

import (
	"errors"
	"slices"
	"time"
)

// Sentinel errors returned (wrapped) by [Run]'s validation of a request.
// Git itself dies with "refusing to work with credential missing host field"
// (credential.c), so a request without these is never legitimate.
var (
	ErrMissingHost     = errors.New("gitcred: request has no host")
	ErrMissingProtocol = errors.New("gitcred: request has no protocol")
)

// Request is what git writes to a helper's stdin.
//
// Field names follow the attribute names of git-credential(1). Values are
// kept exactly as git sent them: the protocol has no quoting or escaping.
type Request struct {
	Protocol string // "https", "http", "cert", "smtp"...
	Host     string // host name including ":port" when git has one
	Path     string // only sent for http(s) when credential.useHttpPath is set
	Username string
	Password string

	// PasswordExpiryUTC is the raw value of password_expiry_utc (git >= 2.40),
	// Unix seconds. It is kept raw because git treats "0" and overflowing
	// values as "never expires" and a helper may want to tell them apart.
	PasswordExpiryUTC string

	// OAuthRefreshToken (git >= 2.41) is a secret: git only echoes it back to
	// helpers and never uses it itself.
	OAuthRefreshToken string

	// AuthType, Credential and Ephemeral come with capability[]=authtype
	// (git >= 2.46).
	AuthType   string
	Credential string
	Ephemeral  bool

	// Capabilities holds the capability[] values in order. As with every
	// key[] in git, an empty value clears the list collected so far.
	Capabilities []string
	WWWAuth      []string // wwwauth[]: WWW-Authenticate values after a 401 (git >= 2.41)
	State        []string // state[]: opaque values helpers returned earlier (git >= 2.46)
	Continue     bool     // continue: a multistage authentication is in progress

	// Unknown lists the names (never the values) of keys this package
	// ignored, in order of first appearance, for debug logging. Git tells
	// helpers to ignore unknown keys so that new attributes can be added
	// (gitcredentials(7)). Names are arbitrary bytes: log them with %q.
	Unknown []string
}

// HasCapability reports whether git announced capability[]=name.
func (r Request) HasCapability(name string) bool {
	return slices.Contains(r.Capabilities, name)
}

// URL returns "protocol://host", plus "/"+path when Path is set (git sends
// the path without its leading slash). It returns "" when the protocol or
// the host is missing.
//
// It is a key for lookups and logs, not a parsed URL: nothing is escaped.
func (r Request) URL() string {
	if r.Protocol == "" || r.Host == "" {
		return ""
	}
	u := r.Protocol + "://" + r.Host
	if r.Path != "" {
		u += "/" + r.Path
	}
	return u
}

// Response is what a helper prints for get.
type Response struct {
	Username string
	Password string

	// PasswordExpiry is sent as password_expiry_utc=<unix seconds> unless it
	// is the zero time. Git (>= 2.40) drops a password whose expiry is in
	// the past, and older versions ignore the key.
	PasswordExpiry time.Time

	// AuthType and Credential become "Authorization: <AuthType> <Credential>"
	// (git >= 2.46). They are written only when the request announced
	// capability[]=authtype, and must be set together.
	AuthType   string
	Credential string
	// Ephemeral asks git not to persist the credential (ephemeral=1). It is
	// part of the authtype capability and is only written with it.
	Ephemeral bool

	// Quit makes git stop at once: no other helper, no prompt (quit=1).
	Quit bool
}

// Empty reports whether the response has nothing to say. Printing nothing is
// the legal way for a helper to tell git "I have nothing for you, try the
// next helper" (gitcredentials(7)).
func (r Response) Empty() bool {
	return r.Username == "" && r.Password == "" && r.Credential == "" && !r.Quit
}
