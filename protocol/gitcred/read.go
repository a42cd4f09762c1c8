package gitcred

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
)

// Limits on what ReadRequest accepts.
const (
	// maxLineBytes is git's documented limit for one attribute line,
	// newline included (git-credential(1), "INPUT/OUTPUT FORMAT").
	maxLineBytes = 65535
	// maxRequestBytes and maxRequestLines bound the whole request. Git has
	// no such limit, but a real request is a dozen short lines: anything near
	// these numbers is garbage, and a helper must not buffer garbage forever.
	maxRequestBytes = 1 << 20
	maxRequestLines = 1000
	// maxQuoted is how much of an offending line an error may quote.
	maxQuoted = 40
)

// ReadRequest parses the key=value lines git writes, up to a blank line or
// EOF. Git's own reader (credential_read in credential.c) stops at either,
// so a request without the final blank line is valid.
//
// ReadRequest reads ahead through a buffer, so it may consume bytes of r
// past the blank line. Git closes stdin after the request, so nothing is
// lost in practice.
//
// Errors are single-line and never contain attribute values, which may be
// secrets. The only text quoted is the start of a line that has no "=".
func ReadRequest(r io.Reader) (Request, error) {
	// A request is a few short lines: a small buffer, which readLine
	// goes beyond for a long line, up to the limit.
	br := bufio.NewReaderSize(r, bufSize)
	var (
		req   Request
		total int
	)
	for n := 1; ; n++ {
		raw, err := readLine(br)
		if errors.Is(err, bufio.ErrBufferFull) || len(raw) > maxLineBytes {
			return Request{}, fmt.Errorf("gitcred: line %d: longer than %d bytes", n, maxLineBytes)
		}
		if err != nil && !errors.Is(err, io.EOF) {
			return Request{}, fmt.Errorf("gitcred: reading request: %w", err)
		}
		atEOF := err != nil
		if atEOF && len(raw) == 0 {
			return req, nil
		}
		total += len(raw)
		if n > maxRequestLines || total > maxRequestBytes {
			return Request{}, fmt.Errorf("gitcred: request longer than %d lines or %d bytes", maxRequestLines, maxRequestBytes)
		}

		// strbuf_getline strips "\n" and then one "\r" before it, so git
		// accepts CRLF line ends (helpers on Windows write them). A "\r"
		// at EOF with no "\n" after it is not a line end: it stays in the
		// value and is refused below.
		line := string(raw)
		if s, ok := strings.CutSuffix(line, "\n"); ok {
			line = strings.TrimSuffix(s, "\r")
		}
		if line == "" {
			return req, nil // a blank line ends the request
		}
		if err := parseLine(&req, line); err != nil {
			return Request{}, fmt.Errorf("gitcred: line %d: %w", n, err)
		}
		if atEOF {
			return req, nil
		}
	}
}

// bufSize is ReadRequest's buffer: more than a real request needs.
const bufSize = 4096

// readLine reads up to and including the next newline, or to EOF, as
// ReadSlice does, but beyond the buffer: until the line is complete or
// longer than maxLineBytes (and then with bufio.ErrBufferFull, unless the
// line ended right there). Only a long line is copied.
func readLine(br *bufio.Reader) ([]byte, error) {
	raw, err := br.ReadSlice('\n')
	if !errors.Is(err, bufio.ErrBufferFull) {
		return raw, err
	}
	line := append([]byte(nil), raw...)
	for errors.Is(err, bufio.ErrBufferFull) && len(line) <= maxLineBytes {
		raw, err = br.ReadSlice('\n')
		line = append(line, raw...)
	}
	return line, err
}

// parseLine applies one "key=value" line (line end already removed) to req.
// Its errors never include a value.
func parseLine(req *Request, line string) error {
	// Keys and values may not contain NUL (git-credential(1)); C git could
	// not even represent one, so a NUL means the input is not a request.
	if strings.IndexByte(line, 0) >= 0 {
		return errors.New("contains a NUL byte")
	}
	key, value, ok := strings.Cut(line, "=")
	if !ok {
		// Same wording as git's warning. Only the start of the line is
		// quoted: it has no "=", so it is not "password=...", but it could
		// still be something the user pasted by mistake.
		return fmt.Errorf("invalid credential line: %s", quoteStart(line))
	}
	if key == "" {
		return errors.New("empty key")
	}
	// Since the fix for CVE-2024-52006 git refuses to send a value with a
	// carriage return (credential.protectProtocol), because some readers
	// treat a lone CR as a line end and could be fed an injected attribute.
	if strings.IndexByte(key, '\r') >= 0 {
		return fmt.Errorf("key %s contains a carriage return", quoteStart(key))
	}
	if strings.IndexByte(value, '\r') >= 0 {
		return fmt.Errorf("value of %s contains a carriage return", quoteStart(key))
	}

	switch key {
	case "protocol":
		req.Protocol = value
	case "host":
		req.Host = value
	case "path":
		req.Path = value
	case "username":
		req.Username = value
	case "password":
		req.Password = value
	case "password_expiry_utc":
		req.PasswordExpiryUTC = value
	case "oauth_refresh_token":
		req.OAuthRefreshToken = value
	case "authtype":
		req.AuthType = value
	case "credential":
		req.Credential = value
	case "ephemeral":
		req.Ephemeral = parseBool(value)
	case "continue":
		req.Continue = parseBool(value)
	case "capability[]":
		req.Capabilities = appendOrReset(req.Capabilities, value)
	case "wwwauth[]":
		req.WWWAuth = appendOrReset(req.WWWAuth, value)
	case "state[]":
		req.State = appendOrReset(req.State, value)
	default:
		// Ignored so that newer git versions can add attributes
		// (gitcredentials(7)); the name is kept, once, for debug logs.
		// The request limits keep this linear scan small.
		if !slices.Contains(req.Unknown, key) {
			req.Unknown = append(req.Unknown, key)
		}
	}
	return nil
}

// appendOrReset implements git's multi-valued keys: "key[]=v" appends and a
// bare "key[]=" clears the list (git-credential(1)).
func appendOrReset(list []string, value string) []string {
	if value == "" {
		return nil
	}
	return append(list, value)
}

// parseBool accepts the two spellings git writes ("1") or documents
// ("true"). Git parses these keys with git_config_bool, which is
// case-insensitive, so "TRUE" is accepted too. Anything else is false.
func parseBool(v string) bool {
	return v == "1" || strings.EqualFold(v, "true")
}

// quoteStart quotes at most maxQuoted bytes of s with %q, so the result is
// always one short line whatever s contains.
func quoteStart(s string) string {
	if len(s) <= maxQuoted {
		return fmt.Sprintf("%q", s)
	}
	return fmt.Sprintf("%q...", s[:maxQuoted])
}
