package dockercred

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode"
	"unicode/utf8"
)

// maxInput bounds what is read from stdin. A real request is a host name, or
// a JSON object holding a password or an identity token of a few kilobytes;
// anything near this size is garbage, and a helper must not buffer garbage
// without end.
const maxInput = 64 << 10

func readInput(r io.Reader) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(r, maxInput+1))
	if err != nil {
		return nil, fmt.Errorf("dockercred: reading the request: %w", err)
	}
	if len(b) > maxInput {
		return nil, fmt.Errorf("dockercred: request longer than %d bytes", maxInput)
	}
	return b, nil
}

// ReadServerURL reads the input of get and erase: the server address, raw,
// not JSON. The docker CLI writes it without a newline, other consumers with
// one; like the library (credentials.Get), ReadServerURL trims surrounding
// white space. An empty address is [ErrMissingServerURL].
//
// The address is returned as sent; [Normalize] turns it into a key.
func ReadServerURL(r io.Reader) (string, error) {
	b, err := readInput(r)
	if err != nil {
		return "", err
	}
	s := strings.TrimSpace(string(b))
	if s == "" {
		return "", ErrMissingServerURL
	}
	return s, nil
}

// ReadCredentials reads the input of store: one JSON object
// {"ServerURL":…,"Username":…,"Secret":…}, with the newline the docker CLI's
// encoder adds. Unknown fields are ignored, so that a consumer may add some
// (protocols.md §0.6); anything after the object other than white space is
// an error, as is input that is not valid UTF-8 (the JSON decoder would
// silently replace the bytes, changing the secret).
//
// As in the library (credentials.Store), a missing ServerURL is
// [ErrMissingServerURL] and a missing Username is [ErrMissingUsername],
// checked in that order. An empty Secret, or a Username with control
// characters, is an error too: neither is a credential worth keeping.
//
// Errors are single-line and never quote the input, which holds a secret.
func ReadCredentials(r io.Reader) (Credentials, error) {
	b, err := readInput(r)
	if err != nil {
		return Credentials{}, err
	}
	if !utf8.Valid(b) {
		return Credentials{}, errors.New("dockercred: store request is not valid UTF-8")
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	var c Credentials
	if err := dec.Decode(&c); err != nil {
		return Credentials{}, decodeError(err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return Credentials{}, errors.New("dockercred: store request has data after the JSON object")
	}
	switch {
	case strings.TrimSpace(c.ServerURL) == "":
		return Credentials{}, ErrMissingServerURL
	case c.Username == "":
		return Credentials{}, ErrMissingUsername
	case strings.ContainsFunc(c.Username, unicode.IsControl):
		return Credentials{}, errors.New("dockercred: the user name contains control characters")
	case c.Secret == "":
		return Credentials{}, errors.New("dockercred: no credentials secret")
	}
	return c, nil
}

// decodeError describes a JSON error without quoting the input.
func decodeError(err error) error {
	var (
		syn *json.SyntaxError
		typ *json.UnmarshalTypeError
	)
	switch {
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return errors.New(`dockercred: store request is not a complete JSON object {"ServerURL","Username","Secret"}`)
	case errors.As(err, &syn):
		return fmt.Errorf("dockercred: store request is not valid JSON (at byte %d)", syn.Offset)
	case errors.As(err, &typ) && typ.Field != "":
		return fmt.Errorf("dockercred: store request: %s must be a string", typ.Field)
	}
	return errors.New(`dockercred: store request is not a JSON object {"ServerURL","Username","Secret"}`)
}
