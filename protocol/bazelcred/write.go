package bazelcred

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"
	"unicode/utf8"
)

// expiresLayout is RFC 3339 in UTC with whole seconds: what Bazel's
// yyyy-MM-dd'T'HH:mm:ssXXX pattern accepts (it fails on fractions).
const expiresLayout = "2006-01-02T15:04:05Z"

// maxMessageBytes bounds an error message on stdout and stderr.
const maxMessageBytes = 1000

// wireResponse is the response as it goes out, in the schema's field order.
type wireResponse struct {
	Headers map[string][]string `json:"headers,omitempty"`
	Expires string              `json:"expires,omitempty"`
}

type wireError struct {
	Error wireErrorBody `json:"error"`
}

type wireErrorBody struct {
	Code         Code   `json:"code"`
	Message      string `json:"message"`
	LoginCommand string `json:"login_command,omitempty"`
}

type wireRequest struct {
	URI          string   `json:"uri"`
	Method       string   `json:"method,omitempty"`
	Audience     []string `json:"audience,omitempty"`
	Resource     []string `json:"resource,omitempty"`
	Scope        string   `json:"scope,omitempty"`
	Interactive  *bool    `json:"interactive,omitempty"`
	Capabilities []string `json:"capabilities,omitempty"`
}

// WriteResponse writes resp as one JSON object and a newline, in one Write,
// or writes nothing and returns an error.
//
// The zero Response is "{}". Headers with no values are left out (the spec
// makes {"headers":{"h":[]}} the same as {}), and so is an empty headers
// object. It refuses, writing nothing:
//
//   - a header name that is not an RFC 9110 §5.1 field name (a token);
//   - a value with a control character other than tab, or invalid UTF-8
//     (RFC 9110 §5.5): a CR or LF would let a token inject a header of its
//     choosing into the tool's request, and encoding/json would silently
//     replace invalid UTF-8, handing out a different token;
//   - an expiry outside the years 0000 to 9999, which RFC 3339 cannot write.
func WriteResponse(w io.Writer, resp Response) error {
	b, err := encodeResponse(resp)
	if err != nil {
		return err
	}
	return write(w, b)
}

func encodeResponse(resp Response) ([]byte, error) {
	var out wireResponse
	for name, values := range resp.Headers {
		if !isToken(name) {
			return nil, fmt.Errorf("bazelcred: response header name %s is not a token", quoteName(name))
		}
		if len(values) == 0 {
			continue
		}
		for _, v := range values {
			if !utf8.ValidString(v) || strings.ContainsFunc(v, func(r rune) bool { return r != '\t' && (r < 0x20 || r == 0x7f) }) {
				return nil, fmt.Errorf("bazelcred: a value of response header %s has a control character or invalid UTF-8", quoteName(name))
			}
		}
		if out.Headers == nil {
			out.Headers = map[string][]string{}
		}
		out.Headers[name] = values
	}
	if !resp.Expires.IsZero() {
		t := resp.Expires.UTC().Truncate(time.Second)
		if t.Year() < 0 || t.Year() > 9999 {
			return nil, fmt.Errorf("bazelcred: response expiry %d is outside the years RFC 3339 can write", t.Year())
		}
		out.Expires = t.Format(expiresLayout)
	}
	return marshal(out)
}

// WriteError writes e as {"error": {…}} and a newline, in one Write. The
// message is made one line (control characters become spaces) and cut to
// 1000 bytes; an empty code is written as other.
func WriteError(w io.Writer, e *Error) error {
	b, err := marshal(wireError{Error: errorBody(e)})
	if err != nil {
		return err
	}
	return write(w, b)
}

func errorBody(e *Error) wireErrorBody {
	body := wireErrorBody{Code: e.Code, Message: oneLine(e.Message), LoginCommand: oneLine(e.LoginCommand)}
	if body.Code == "" {
		body.Code = CodeOther
	}
	if body.Message == "" {
		body.Message = string(body.Code)
	}
	return body
}

// WriteRequest writes req as one JSON object and a newline, in one Write:
// what a tool sends to a helper. It refuses, writing nothing, a request that
// [ReadRequest] would refuse. Unknown is not written.
func WriteRequest(w io.Writer, req Request) error {
	if err := validate(req); err != nil {
		return err
	}
	for _, s := range append(append(append([]string{req.URI, req.Method, req.Scope}, req.Audience...), req.Resource...), req.Capabilities...) {
		if !utf8.ValidString(s) {
			return badRequest("a field is not valid UTF-8")
		}
	}
	b, err := marshal(wireRequest{
		URI: req.URI, Method: req.Method, Audience: req.Audience, Resource: req.Resource,
		Scope: req.Scope, Interactive: req.Interactive, Capabilities: req.Capabilities,
	})
	if err != nil {
		return err
	}
	if len(b) > MaxRequestBytes {
		return badRequest("request larger than %d KiB", MaxRequestBytes>>10)
	}
	return write(w, b)
}

// marshal encodes v as one line of JSON. HTML characters are left as they
// are: the output is read by programs, and "\u003c" only makes it harder for
// a person to read.
func marshal(v any) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, fmt.Errorf("bazelcred: encode: %w", err)
	}
	return b.Bytes(), nil
}

func write(w io.Writer, b []byte) error {
	if _, err := w.Write(b); err != nil {
		return fmt.Errorf("bazelcred: write: %w", err)
	}
	return nil
}

// oneLine makes s safe to print as a single terminal line, at most
// maxMessageBytes long: handler errors can carry anything, and a newline or
// an escape sequence must not reach the person's screen as such. Invalid
// UTF-8 comes out of strings.Map as U+FFFD.
func oneLine(s string) string {
	s = strings.TrimSpace(strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) {
			return ' '
		}
		return r
	}, s))
	if len(s) > maxMessageBytes {
		cut := maxMessageBytes
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		s = s[:cut] + "..."
	}
	return s
}
