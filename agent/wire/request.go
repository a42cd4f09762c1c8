package wire

import (
	"fmt"
	"io"
	"strconv"
	"unicode/utf8"
)

// Hand-written codecs for the helpers' hot path: AppendRequest here, and
// [UnmarshalReply] in reply.go. A helper that sends requests and reads
// answers only through these links none of encoding/json's reflection,
// which cost the git helper an eighth of its run (bench/README.md, "Where
// the time goes"). Both are tested against encoding/json on every field
// of Request and Response (codec_test.go, and fuzzed), so a field added to
// either and not to these fails the tests.

// AppendRequest appends req as one JSON object, byte for byte what
// json.Marshal(req) returns (fields in order, omitempty, the same string
// escaping, including its HTML-safe \u003c, \u003e and \u0026).
func AppendRequest(b []byte, req Request) []byte {
	b = append(b, `{"v":`...)
	b = strconv.AppendInt(b, int64(req.V), 10)
	b = append(b, `,"op":`...)
	b = appendString(b, req.Op)
	for _, f := range [...]struct {
		key, value string
	}{
		{`,"config":`, req.Config},
		{`,"profile":`, req.Profile},
		{`,"url":`, req.URL},
		{`,"consumer":`, req.Consumer},
		{`,"token":`, req.Token},
		{`,"flow":`, req.Flow},
	} {
		if f.value != "" {
			b = appendString(append(b, f.key...), f.value)
		}
	}
	if req.All {
		b = append(b, `,"all":true`...)
	}
	if req.ForceNew {
		b = append(b, `,"force_new":true`...)
	}
	if req.NoBrowser {
		b = append(b, `,"no_browser":true`...)
	}
	for _, f := range [...]struct {
		key, value string
	}{
		{`,"namespace":`, req.Namespace},
		{`,"name":`, req.Name},
		{`,"username":`, req.Username},
		{`,"secret":`, req.Secret},
	} {
		if f.value != "" {
			b = appendString(append(b, f.key...), f.value)
		}
	}
	return append(b, '}')
}

// WriteRequest sends req as a JSON line, as Write(w, req) does.
func WriteRequest(w io.Writer, req Request) error {
	if _, err := w.Write(append(AppendRequest(make([]byte, 0, 512), req), '\n')); err != nil {
		return fmt.Errorf("wire: send: %w", err)
	}
	return nil
}

// appendString appends s as a JSON string the way encoding/json writes one
// (encode.go, appendString with escapeHTML): RFC 8259 escapes for '"', '\'
// and control characters (\b, \f, \n, \r, \t by name, the rest as \u00XX),
// <, > and & as \u003c, \u003e, \u0026, U+2028 and U+2029 escaped (they end
// a line in JavaScript), and every byte of invalid UTF-8 as \ufffd.
func appendString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		if c := s[i]; c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
		case r == '\u2028' || r == '\u2029':
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hex[r&0xf])
		default:
			i += size
			continue
		}
		i += size
		start = i
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
