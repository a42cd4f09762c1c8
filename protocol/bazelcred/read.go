package bazelcred

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"strings"
	"unicode/utf8"
)

// Limits on what ReadRequest accepts. The spec sets none; a real request is
// one URI of a few hundred bytes, and a helper must not buffer garbage
// without end.
const (
	// MaxRequestBytes bounds the whole request. Signed download URLs can
	// run to a few kilobytes; 64 KiB leaves room for them and the extensions.
	MaxRequestBytes = 64 << 10
	// maxListItems bounds audience, resource and capabilities.
	maxListItems = 32
	// maxMethodBytes bounds method: real methods are short words.
	maxMethodBytes = 64
	// maxUnknown bounds how many ignored field names are kept for logs.
	maxUnknown = 16
	// maxQuoted is how much of a field name an error may quote.
	maxQuoted = 40
)

// ReadRequest reads stdin to EOF and decodes the one request on it.
//
// It is strict about everything the spec and Mayfly define, and lenient only
// where the spec asks for it:
//
//   - the input is one JSON object (RFC 8259) in valid UTF-8, of at most
//     [MaxRequestBytes], with nothing but white space after it;
//   - field names are matched exactly (encoding/json would also take "URI")
//     and none may appear twice, since RFC 8259 §4 leaves duplicates'
//     meaning open and two parsers could pick different URIs;
//   - known fields must have their type (null is not a value of any of
//     them) and a valid value; "uri" is required and must be an absolute
//     URI with a host;
//   - unknown fields are ignored, whatever their value: "Credential Helpers
//     SHOULD NOT fail if the input contains additional properties" (spec,
//     "get", "Input"). Their names are kept in Request.Unknown.
//
// Errors are *[Error] with [CodeBadRequest], one line, and never quote a
// value: a URI can carry a signed URL's secret.
func ReadRequest(r io.Reader) (Request, error) {
	b, err := io.ReadAll(io.LimitReader(r, MaxRequestBytes+1))
	if err != nil {
		return Request{}, badRequest("reading the request: %v", err)
	}
	if len(b) > MaxRequestBytes {
		return Request{}, badRequest("request larger than %d KiB", MaxRequestBytes>>10)
	}
	return parseRequest(b)
}

func badRequest(format string, args ...any) *Error {
	return &Error{Code: CodeBadRequest, Message: "bazelcred: " + fmt.Sprintf(format, args...)}
}

func parseRequest(b []byte) (Request, error) {
	if !utf8.Valid(b) {
		return Request{}, badRequest("request is not valid UTF-8")
	}
	if len(bytes.TrimSpace(b)) == 0 {
		return Request{}, badRequest(`empty request: want a JSON object such as {"uri": "https://…"}`)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	tok, err := dec.Token()
	if err != nil {
		return Request{}, syntaxError(err)
	}
	if tok != json.Delim('{') {
		return Request{}, badRequest("request is %s, want a JSON object", describeToken(tok))
	}
	var (
		req  Request
		seen = map[string]bool{}
	)
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return Request{}, syntaxError(err)
		}
		key, ok := tok.(string)
		if !ok { // cannot happen: Token checks that object keys are strings
			return Request{}, badRequest("request is not a JSON object")
		}
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return Request{}, syntaxError(err)
		}
		if seen[key] {
			return Request{}, badRequest("field %s appears twice", quoteName(key))
		}
		seen[key] = true
		if err := setField(&req, key, bytes.TrimSpace(raw)); err != nil {
			return Request{}, err
		}
	}
	if _, err := dec.Token(); err != nil { // the closing '}'
		return Request{}, syntaxError(err)
	}
	// One document only. Token returns io.EOF when nothing but white space
	// is left, a token when a second document follows, and a syntax error
	// for anything else.
	switch _, err := dec.Token(); {
	case err == nil:
		return Request{}, badRequest("more than one JSON document: want exactly one object")
	case !errors.Is(err, io.EOF):
		return Request{}, badRequest("data after the JSON object")
	}
	if err := validate(req); err != nil {
		return Request{}, err
	}
	return req, nil
}

// setField decodes one known field into req, or records an unknown name.
func setField(req *Request, key string, raw json.RawMessage) error {
	var err error
	switch key {
	case "uri":
		req.URI, err = str(key, raw)
	case "method":
		// Checked here: validate cannot tell "" from absent, and "" is not
		// a method (RFC 9110 §9.1: a token is at least one character).
		if req.Method, err = str(key, raw); err == nil && req.Method == "" {
			err = badRequest(`field "method" is not an HTTP method`)
		}
	case "audience":
		req.Audience, err = strs(key, raw)
	case "resource":
		req.Resource, err = strs(key, raw)
	case "scope":
		req.Scope, err = str(key, raw)
	case "interactive":
		var v bool
		if v, err = boolean(key, raw); err == nil {
			req.Interactive = &v
		}
	case "capabilities":
		req.Capabilities, err = strs(key, raw)
	default:
		if len(req.Unknown) < maxUnknown {
			req.Unknown = append(req.Unknown, key)
		}
	}
	return err
}

func str(key string, raw json.RawMessage) (string, error) {
	if len(raw) == 0 || raw[0] != '"' {
		return "", typeError(key, "a string", raw)
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return "", badRequest("field %s: %v", quoteName(key), err)
	}
	return s, nil
}

func strs(key string, raw json.RawMessage) ([]string, error) {
	if len(raw) == 0 || raw[0] != '[' {
		return nil, typeError(key, "an array of strings", raw)
	}
	var items []json.RawMessage
	if err := json.Unmarshal(raw, &items); err != nil {
		return nil, badRequest("field %s: %v", quoteName(key), err)
	}
	if len(items) > maxListItems {
		return nil, badRequest("field %s: more than %d items", quoteName(key), maxListItems)
	}
	out := make([]string, 0, len(items))
	for _, it := range items {
		it = bytes.TrimSpace(it)
		if len(it) == 0 || it[0] != '"' {
			return nil, typeError(key, "an array of strings", it)
		}
		var s string
		if err := json.Unmarshal(it, &s); err != nil {
			return nil, badRequest("field %s: %v", quoteName(key), err)
		}
		out = append(out, s)
	}
	return out, nil
}

func boolean(key string, raw json.RawMessage) (bool, error) {
	switch string(raw) {
	case "true":
		return true, nil
	case "false":
		return false, nil
	}
	return false, typeError(key, "true or false", raw)
}

func typeError(key, want string, raw json.RawMessage) *Error {
	return badRequest("field %s must be %s, not %s", quoteName(key), want, describeRaw(raw))
}

// describeRaw names the JSON type of a value, never the value itself.
func describeRaw(raw json.RawMessage) string {
	if len(raw) == 0 {
		return "nothing"
	}
	switch raw[0] {
	case '"':
		return "a string"
	case '{':
		return "an object"
	case '[':
		return "an array"
	case 't', 'f':
		return "a boolean"
	case 'n':
		return "null"
	}
	return "a number"
}

func describeToken(tok json.Token) string {
	switch tok.(type) {
	case json.Delim:
		return "an array"
	case string:
		return "a string"
	case bool:
		return "a boolean"
	case nil:
		return "null"
	}
	return "a number"
}

// syntaxError reports malformed JSON. encoding/json's messages quote at most
// one character of the input, never a value.
func syntaxError(err error) *Error {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return badRequest("request is not valid JSON: unexpected end of input")
	}
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return badRequest("request is not valid JSON: %v (at byte %d)", se, se.Offset)
	}
	return badRequest("request is not valid JSON: %v", err)
}

// validate checks the values of the fields, for requests read and written.
func validate(req Request) error {
	if req.URI == "" {
		return badRequest(`field "uri" is missing or empty`)
	}
	if !absoluteURI(req.URI, true) {
		return badRequest(`field "uri" is not an absolute URI with a host`)
	}
	// A method is a token (RFC 9110 §9.1).
	if req.Method != "" && (len(req.Method) > maxMethodBytes || !isToken(req.Method)) {
		return badRequest(`field "method" is not an HTTP method`)
	}
	for _, a := range req.Audience {
		// RFC 8693 §2.1: the logical name of the target service; any
		// string, but a name with control characters is not one.
		if a == "" || hasControl(a) {
			return badRequest(`field "audience" has an empty item or one with control characters`)
		}
	}
	for _, r := range req.Resource {
		// RFC 8707 §2: "an absolute URI … MUST NOT include a fragment".
		if !absoluteURI(r, false) || strings.Contains(r, "#") {
			return badRequest(`field "resource" has an item that is not an absolute URI without a fragment`)
		}
	}
	if req.Scope != "" && !validScope(req.Scope) {
		return badRequest(`field "scope" is not a space-separated list of scope tokens (RFC 6749 section 3.3)`)
	}
	for _, c := range req.Capabilities {
		if c == "" || hasControl(c) {
			return badRequest(`field "capabilities" has an empty item or one with control characters`)
		}
	}
	return nil
}

// absoluteURI reports whether s is an absolute URI (RFC 3986 §4.3), with an
// authority when needHost is set. Spaces and control characters are never
// part of a URI (RFC 3986 §2).
func absoluteURI(s string, needHost bool) bool {
	if hasControl(s) || strings.ContainsRune(s, ' ') {
		return false
	}
	u, err := url.Parse(s)
	if err != nil || u.Scheme == "" {
		return false
	}
	return !needHost || u.Host != ""
}

// validScope checks scope = scope-token *( SP scope-token ), with
// scope-token = 1*( %x21 / %x23-5B / %x5D-7E ) (RFC 6749 §3.3).
func validScope(s string) bool {
	for tok := range strings.SplitSeq(s, " ") {
		if tok == "" {
			return false
		}
		for i := range len(tok) {
			c := tok[i]
			if c < 0x21 || c == 0x22 || c == 0x5c || c > 0x7e {
				return false
			}
		}
	}
	return true
}

// isToken reports whether s is an RFC 9110 §5.6.2 token:
// 1*tchar, tchar = "!" / "#" / "$" / "%" / "&" / "'" / "*" / "+" / "-" /
// "." / "^" / "_" / "`" / "|" / "~" / DIGIT / ALPHA.
func isToken(s string) bool {
	if s == "" {
		return false
	}
	for i := range len(s) {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0:
		default:
			return false
		}
	}
	return true
}

func hasControl(s string) bool {
	return strings.ContainsFunc(s, func(r rune) bool { return r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) })
}

// quoteName quotes at most maxQuoted bytes of a field name, so an error is
// always one short line.
func quoteName(s string) string {
	if len(s) <= maxQuoted {
		return fmt.Sprintf("%q", s)
	}
	cut := maxQuoted
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return fmt.Sprintf("%q...", s[:cut])
}
