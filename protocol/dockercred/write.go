package dockercred

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"unicode/utf8"
)

// WriteCredentials writes get's answer: one JSON object and a newline, as
// the library's encoder does. The consumer uses the address it asked for
// whatever ServerURL says (some helpers leave it out; protocols.md §2.2).
//
// A Username or Secret that is not valid UTF-8 is an error: JSON cannot
// carry it, and the encoder would silently replace bytes of the secret.
func WriteCredentials(w io.Writer, c Credentials) error {
	for _, s := range []string{c.ServerURL, c.Username, c.Secret} {
		if !utf8.ValidString(s) {
			return errors.New("dockercred: the credentials are not valid UTF-8")
		}
	}
	return writeJSON(w, c)
}

// WriteList writes list's answer: a JSON object from server address to user
// name, "{}" when there is none. Keys come out sorted, so the output is
// stable.
func WriteList(w io.Writer, servers map[string]string) error {
	if servers == nil {
		servers = map[string]string{}
	}
	for k, v := range servers {
		if !utf8.ValidString(k) || !utf8.ValidString(v) {
			return errors.New("dockercred: a listed server or user name is not valid UTF-8")
		}
	}
	return writeJSON(w, servers)
}

// writeJSON encodes v and writes it with a single Write, so a consumer never
// reads half a document. HTML escaping is off: "<token>" stays readable
// (both forms decode the same).
func writeJSON(w io.Writer, v any) error {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return fmt.Errorf("dockercred: encoding the answer: %w", err)
	}
	if _, err := w.Write(buf.Bytes()); err != nil {
		return fmt.Errorf("dockercred: writing the answer: %w", err)
	}
	return nil
}
