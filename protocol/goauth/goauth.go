// Package goauth implements the command side of the go command's GOAUTH
// protocol (Go ≥ 1.24), as described by "go help goauth" and implemented in
// src/cmd/go/internal/auth (auth.go, userauth.go).
//
// GOAUTH holds ";"-separated entries. An entry other than off, netrc and
// "git DIR" is a command line: go splits it with cmd/internal/quoted and
// executes it without a shell. The value is the command line itself:
// "GOAUTH='/abs/mayfly-credential goauth'", not "command /abs/...".
//
// Go runs the command at most twice per URL prefix, and only for HTTPS
// requests (go-import "?go-get=1" lookups and GOPROXY fetches):
//
//   - once per go process, before its first HTTPS request, with no extra
//     argument and an empty stdin;
//   - after a request fails with a 4xx status, with the request's URL
//     appended as the last argument and the head of the response on stdin
//     (status line, one "Name: value" line per header, a blank line; no
//     body). Go then retries the request once with what the command printed.
//
// The command prints credential sets on stdout: one or more URL lines, a
// blank line, "Name: value" header lines, and a terminating blank line. Go
// stores each set's headers under every URL as a prefix ("https://" and a
// trailing "/" removed) and adds them to any request whose URL, walked up
// one "/" segment at a time, reaches that prefix. Empty output means "no
// credentials". Go keeps the credentials in memory for the one go process;
// the format has no expiry field.
//
// Go captures both stdout and stderr, and shows the command's stderr only
// under "go ... -x", when no GOAUTH entry produced a credential for the URL.
// A failing command otherwise just leaves the request unauthenticated.
//
// Like the other protocol packages, this one has two halves: a pure codec
// ([ParseArgs], [ReadResponseHead], [WriteCredentials]) and a dispatcher,
// [Run], which is the only place that turns errors into output and exit
// codes. It never touches os.*, the agent, OAuth or the network.
package goauth

import (
	"slices"
	"strings"
)

// Request is one run of the GOAUTH command.
type Request struct {
	// URL is the URL go failed to fetch: the last argument of a run that
	// follows a 4xx response. It is "" on the first run, which go makes
	// before any request, when it cannot know which host it will contact.
	URL string
	// Response is the head of the 4xx response, or nil when stdin was empty
	// (the first run, or a person running the command by hand).
	Response *Response
}

// Response is the head of an HTTP response as go writes it to the command's
// stdin (writeResponseToStdin in userauth.go).
type Response struct {
	Proto      string // "HTTP/1.1", "HTTP/2.0"
	StatusCode int    // 400..499 when go wrote it
	Reason     string // "Unauthorized"; may be empty
	// Header maps lowercased field names to their values. Go writes each
	// field once, with repeated values joined by ", "; a name repeated on
	// several lines is joined the same way.
	Header map[string]string
}

// AuthSchemes returns the authentication schemes the response's
// WWW-Authenticate challenges offer, lowercased, in order, without
// duplicates: ["bearer", "basic"] for `Bearer realm="a, b", Basic realm="c"`.
//
// The grammar is RFC 9110 §11.6.1: challenges and their auth-params are all
// separated by commas, so a comma-separated element is a new challenge when
// its first token is not followed by "=" (auth-param) and an auth-param
// otherwise. Quoted strings may hold commas and escaped quotes.
// https://www.rfc-editor.org/rfc/rfc9110#section-11.6.1
func (r *Response) AuthSchemes() []string {
	if r == nil {
		return nil
	}
	var schemes []string
	for _, elem := range splitQuoted(r.Header["www-authenticate"]) {
		elem = strings.TrimLeft(elem, " \t")
		n := 0
		for n < len(elem) && isTokenChar(elem[n]) {
			n++
		}
		if n == 0 {
			continue
		}
		if rest := strings.TrimLeft(elem[n:], " \t"); strings.HasPrefix(rest, "=") {
			continue // auth-param of the previous challenge
		}
		s := strings.ToLower(elem[:n])
		if !slices.Contains(schemes, s) {
			schemes = append(schemes, s)
		}
	}
	return schemes
}

// splitQuoted splits s at commas outside quoted strings.
func splitQuoted(s string) []string {
	var (
		out     []string
		start   int
		quoted  bool
		escaped bool
	)
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case escaped:
			escaped = false
		case quoted && c == '\\':
			escaped = true
		case c == '"':
			quoted = !quoted
		case c == ',' && !quoted:
			out = append(out, s[start:i])
			start = i + 1
		}
	}
	return append(out, s[start:])
}

// isTokenChar reports whether c may appear in an RFC 9110 token (§5.6.2),
// the grammar of header field names and authentication schemes.
func isTokenChar(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	}
	return strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0
}

// Credential is one set of the output: Header is sent with every request
// whose URL falls under one of Prefixes.
type Credential struct {
	// Prefixes are absolute https:// URLs. Go matches them on whole path
	// segments from the longest down, so "https://h/a" covers "https://h/a"
	// and "https://h/a/b" but not "https://h/ab".
	Prefixes []string
	// Header is written in order. A set without headers tells go to forget
	// what it holds for the prefixes (storeCredential in auth.go).
	Header []Field
}

// Field is one header line.
type Field struct {
	Name, Value string
}
