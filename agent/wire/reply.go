package wire

import (
	"errors"
	"fmt"
	"strconv"
	"time"
	"unicode"
	"unicode/utf16"
	"unicode/utf8"
)

// ErrNested is returned by [UnmarshalReply] for an answer with a list or a
// status in it (Static, Results, Status), which only [Reader.Read]
// decodes. The answers to a token, an erase, a ping, a stop and a static
// get, set or erase never carry one.
var ErrNested = errors.New("the answer carries a list or a status: decode it with Read")

// ReadReply reads the next line, as Read does, and decodes it with
// [UnmarshalReply].
func (r *Reader) ReadReply(resp *Response) error {
	line, err := r.line()
	if err != nil {
		return err
	}
	if err := UnmarshalReply(line, resp); err != nil {
		return fmt.Errorf("wire: decode: %w", err)
	}
	return nil
}

// UnmarshalReply decodes one answer into resp as json.Unmarshal(data, resp)
// would (the same syntax checks, key matching without regard to case,
// last duplicate winning, unknown keys skipped, invalid UTF-8 and lone
// surrogates turned into U+FFFD, times through [time.Time.UnmarshalJSON]),
// for every field of Response but Static, Results and Status: an answer
// with one of those (other than null) fails with [ErrNested].
func UnmarshalReply(data []byte, resp *Response) error {
	d := decoder{data: data}
	d.space()
	if d.literal("null") { // as json.Unmarshal: null leaves a struct alone
		return d.end()
	}
	if err := d.object(1, func(key []byte) error { return d.replyField(resp, key) }); err != nil {
		return err
	}
	return d.end()
}

// replyField decodes the value of one key of an answer.
func (d *decoder) replyField(resp *Response, key []byte) error {
	var s *string
	var t *time.Time
	var buf [32]byte
	switch string(foldKey(buf[:0], key)) {
	case "ERROR":
		return d.errorValue(&resp.Error)
	case "PROFILE":
		s = &resp.Profile
	case "USERNAME":
		s = &resp.Username
	case "TOKEN":
		s = &resp.Token
	case "EXPIRY":
		t = &resp.Expiry
	case "EVENT":
		s = &resp.Event
	case "VERIFICATION_URI":
		s = &resp.VerificationURI
	case "VERIFICATION_URI_COMPLETE":
		s = &resp.VerificationURIComplete
	case "USER_CODE":
		s = &resp.UserCode
	case "AUTH_URL":
		s = &resp.AuthURL
	case "CODE_EXPIRY":
		t = &resp.CodeExpiry
	case "SUBJECT":
		s = &resp.Subject
	case "NOTE":
		s = &resp.Note
	case "STATIC":
		return d.nested(func() { resp.Static = nil })
	case "RESULTS":
		return d.nested(func() { resp.Results = nil })
	case "STATUS":
		return d.nested(func() { resp.Status = nil })
	default:
		return d.skip(2)
	}
	if s != nil {
		return d.stringValue(s)
	}
	start := d.off
	if err := d.skip(2); err != nil {
		return err
	}
	// encoding/json hands a time.Time the value's bytes as they are.
	return t.UnmarshalJSON(d.data[start:d.off])
}

// nested takes null for a field only Read decodes, which empties it as in
// encoding/json, and refuses anything else with ErrNested.
func (d *decoder) nested(empty func()) error {
	if !d.literal("null") {
		return ErrNested
	}
	empty()
	return nil
}

// errorValue decodes an Error object, or null, into *e. Like
// encoding/json, it decodes into the Error *e already points to.
func (d *decoder) errorValue(e **Error) error {
	if d.literal("null") {
		*e = nil
		return nil
	}
	if d.peek() != '{' {
		return d.typeError("an error object")
	}
	if *e == nil {
		*e = new(Error)
	}
	return d.object(2, func(key []byte) error {
		var buf [32]byte
		switch string(foldKey(buf[:0], key)) {
		case "CODE":
			return d.stringValue(&(*e).Code)
		case "MESSAGE":
			return d.stringValue(&(*e).Message)
		}
		return d.skip(3)
	})
}

// maxDepth is encoding/json's limit on nesting (scanner.go,
// maxNestingDepth), the outermost value counting as 1.
const maxDepth = 10000

// decoder reads JSON the way encoding/json's scanner and decoder do, for
// the answers UnmarshalReply decodes.
type decoder struct {
	data []byte
	off  int
}

func (d *decoder) peek() byte {
	if d.off < len(d.data) {
		return d.data[d.off]
	}
	return 0
}

func (d *decoder) space() {
	for d.off < len(d.data) {
		switch d.data[d.off] {
		case ' ', '\t', '\n', '\r':
			d.off++
		default:
			return
		}
	}
}

// end checks that only white space follows the value.
func (d *decoder) end() error {
	d.space()
	if d.off < len(d.data) {
		return d.syntaxError("after the top-level value")
	}
	return nil
}

func (d *decoder) syntaxError(where string) error {
	if d.off >= len(d.data) {
		return errors.New("unexpected end of JSON input")
	}
	return fmt.Errorf("invalid character %s %s (offset %d)", strconv.QuoteRuneToASCII(rune(d.data[d.off])), where, d.off)
}

func (d *decoder) typeError(want string) error {
	if d.off >= len(d.data) {
		return errors.New("unexpected end of JSON input")
	}
	return fmt.Errorf("want %s at offset %d", want, d.off)
}

// literal consumes lit (true, false or null) if it comes next.
func (d *decoder) literal(lit string) bool {
	if len(d.data)-d.off >= len(lit) && string(d.data[d.off:d.off+len(lit)]) == lit {
		d.off += len(lit)
		return true
	}
	return false
}

// object reads an object at the given depth, calling field with each key
// once the colon after it is read; field must read the value.
func (d *decoder) object(depth int, field func(key []byte) error) error {
	if d.peek() != '{' {
		return d.typeError("an object")
	}
	if depth > maxDepth {
		return errors.New("exceeded max depth")
	}
	d.off++
	d.space()
	if d.peek() == '}' {
		d.off++
		return nil
	}
	for {
		if d.peek() != '"' {
			return d.syntaxError("looking for the beginning of an object key")
		}
		key, err := d.str()
		if err != nil {
			return err
		}
		d.space()
		if d.peek() != ':' {
			return d.syntaxError("after an object key")
		}
		d.off++
		d.space()
		if err := field(key); err != nil {
			return err
		}
		d.space()
		switch d.peek() {
		case ',':
			d.off++
			d.space()
		case '}':
			d.off++
			return nil
		default:
			return d.syntaxError("after an object key:value pair")
		}
	}
}

// stringValue decodes a string, or null (which leaves *s alone).
func (d *decoder) stringValue(s *string) error {
	switch d.peek() {
	case '"':
		b, err := d.str()
		if err != nil {
			return err
		}
		*s = string(b)
		return nil
	case 'n':
		if d.literal("null") {
			return nil
		}
	}
	return d.typeError("a string")
}

// skip reads and checks one value of any kind at the given depth.
func (d *decoder) skip(depth int) error {
	switch c := d.peek(); {
	case c == '"':
		_, err := d.str()
		return err
	case c == '{':
		return d.object(depth, func([]byte) error { return d.skip(depth + 1) })
	case c == '[':
		if depth > maxDepth {
			return errors.New("exceeded max depth")
		}
		d.off++
		d.space()
		if d.peek() == ']' {
			d.off++
			return nil
		}
		for {
			if err := d.skip(depth + 1); err != nil {
				return err
			}
			d.space()
			switch d.peek() {
			case ',':
				d.off++
				d.space()
			case ']':
				d.off++
				return nil
			default:
				return d.syntaxError("after an array element")
			}
		}
	case c == '-' || '0' <= c && c <= '9':
		return d.number()
	case d.literal("true"), d.literal("false"), d.literal("null"):
		return nil
	}
	return d.syntaxError("looking for the beginning of a value")
}

// number reads a number as RFC 8259 §6 spells one.
func (d *decoder) number() error {
	digits := func() int {
		n := 0
		for d.off < len(d.data) && '0' <= d.data[d.off] && d.data[d.off] <= '9' {
			d.off++
			n++
		}
		return n
	}
	if d.peek() == '-' {
		d.off++
	}
	switch c := d.peek(); {
	case c == '0':
		d.off++
	case '1' <= c && c <= '9':
		digits()
	default:
		return d.syntaxError("in numeric literal")
	}
	if d.peek() == '.' {
		d.off++
		if digits() == 0 {
			return d.syntaxError("after decimal point in numeric literal")
		}
	}
	if c := d.peek(); c == 'e' || c == 'E' {
		d.off++
		if c := d.peek(); c == '+' || c == '-' {
			d.off++
		}
		if digits() == 0 {
			return d.syntaxError("in exponent of numeric literal")
		}
	}
	return nil
}

// str reads a string and returns its value, unescaped as encoding/json
// does it (decode.go, unquoteBytes): control characters are refused,
// invalid UTF-8 becomes U+FFFD byte by byte, and so does a \u escape of a
// surrogate that is not the first of a valid pair.
func (d *decoder) str() ([]byte, error) {
	d.off++ // the opening quote
	start := d.off
	// The common case: nothing to unescape or repair.
	for d.off < len(d.data) {
		c := d.data[d.off]
		if c == '"' {
			d.off++
			return d.data[start : d.off-1], nil
		}
		if c == '\\' || c < 0x20 || c >= utf8.RuneSelf {
			break
		}
		d.off++
	}
	out := append([]byte(nil), d.data[start:d.off]...)
	for d.off < len(d.data) {
		c := d.data[d.off]
		switch {
		case c == '"':
			d.off++
			return out, nil
		case c < 0x20:
			return nil, d.syntaxError("in string literal")
		case c < utf8.RuneSelf && c != '\\':
			out = append(out, c)
			d.off++
		case c >= utf8.RuneSelf:
			r, size := utf8.DecodeRune(d.data[d.off:])
			out = utf8.AppendRune(out, r)
			d.off += size
		default: // a backslash
			d.off++
			switch e := d.peek(); e {
			case '"', '\\', '/':
				out = append(out, e)
				d.off++
			case 'b':
				out = append(out, '\b')
				d.off++
			case 'f':
				out = append(out, '\f')
				d.off++
			case 'n':
				out = append(out, '\n')
				d.off++
			case 'r':
				out = append(out, '\r')
				d.off++
			case 't':
				out = append(out, '\t')
				d.off++
			case 'u':
				r := d.hex4(d.off + 1)
				if r < 0 {
					return nil, d.syntaxError("in \\u hexadecimal character escape")
				}
				d.off += 5
				if utf16.IsSurrogate(r) {
					// The next escape completes the pair, or is left for
					// the next round.
					if d.peek() == '\\' && d.off+1 < len(d.data) && d.data[d.off+1] == 'u' {
						if r2 := d.hex4(d.off + 2); r2 >= 0 {
							if dec := utf16.DecodeRune(r, r2); dec != unicode.ReplacementChar {
								out = utf8.AppendRune(out, dec)
								d.off += 6
								continue
							}
						}
					}
					r = unicode.ReplacementChar
				}
				out = utf8.AppendRune(out, r)
			default:
				return nil, d.syntaxError("in string escape code")
			}
		}
	}
	return nil, d.syntaxError("in string literal")
}

// hex4 decodes the four hex digits at i, or returns -1.
func (d *decoder) hex4(i int) rune {
	if i+4 > len(d.data) {
		return -1
	}
	var r rune
	for _, c := range d.data[i : i+4] {
		switch {
		case '0' <= c && c <= '9':
			c -= '0'
		case 'a' <= c && c <= 'f':
			c = c - 'a' + 10
		case 'A' <= c && c <= 'F':
			c = c - 'A' + 10
		default:
			return -1
		}
		r = r*16 + rune(c)
	}
	return r
}

// foldKey appends to out a key folded the way encoding/json matches keys to fields
// (fold.go, foldName): ASCII letters upper-cased, and any other rune
// replaced by the smallest rune of its Unicode fold set, so that "Token",
// "TOKEN" and "to\u212Aen" (a Kelvin sign) all name the field "token".
func foldKey(out, key []byte) []byte {
	for i := 0; i < len(key); {
		if c := key[i]; c < utf8.RuneSelf {
			if 'a' <= c && c <= 'z' {
				c -= 'a' - 'A'
			}
			out = append(out, c)
			i++
			continue
		}
		r, n := utf8.DecodeRune(key[i:])
		for {
			r2 := unicode.SimpleFold(r)
			if r2 <= r {
				r = r2
				break
			}
			r = r2
		}
		out = utf8.AppendRune(out, r)
		i += n
	}
	return out
}
