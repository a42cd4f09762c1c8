package cargocred

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
)

// MaxLine bounds one request line. Cargo's requests are a few hundred bytes
// (a 401's headers are the largest part); this only keeps a confused caller
// from making the provider buffer without end.
const MaxLine = 1 << 20

// WriteHello writes the hello line, {"v":[1]}: the first thing a provider
// says, before Cargo writes anything.
func WriteHello(w io.Writer) error {
	if _, err := io.WriteString(w, `{"v":[1]}`+"\n"); err != nil {
		return fmt.Errorf("cargocred: writing hello: %w", err)
	}
	return nil
}

// Reader reads Cargo's request lines.
type Reader struct{ r *bufio.Reader }

// NewReader returns a Reader on r.
func NewReader(r io.Reader) *Reader { return &Reader{bufio.NewReaderSize(r, 4096)} }

// Next reads and decodes the next request. It returns io.EOF when Cargo has
// closed stdin between requests, which is how Cargo says it is done. A last
// line without its "\n" is still decoded.
func (r *Reader) Next() (Request, error) {
	var line []byte
	for {
		chunk, err := r.r.ReadSlice('\n')
		line = append(line, chunk...)
		if len(line) > MaxLine {
			return Request{}, fmt.Errorf("cargocred: request longer than %d bytes", MaxLine)
		}
		if errors.Is(err, bufio.ErrBufferFull) {
			continue
		}
		if errors.Is(err, io.EOF) {
			if len(line) == 0 {
				return Request{}, io.EOF
			}
			break
		}
		if err != nil {
			return Request{}, fmt.Errorf("cargocred: reading request: %w", err)
		}
		break
	}
	return DecodeRequest(line)
}

// DecodeRequest decodes one request line. It follows the serde definitions
// of CredentialRequest in cargo-credential's lib.rs: field names are exact
// (encoding/json alone would also take "KIND"), unknown fields are ignored,
// and v, registry."index-url", kind and, for get, operation are required.
// Unknown kinds and operations are kept as sent, for [Run] to answer.
//
// Errors are single lines and quote nothing from the request, which may
// hold a token.
func DecodeRequest(line []byte) (Request, error) {
	var top map[string]json.RawMessage
	if err := json.Unmarshal(line, &top); err != nil || top == nil {
		return Request{}, errors.New("cargocred: request is not a JSON object")
	}
	var (
		req Request
		reg map[string]json.RawMessage
	)
	if err := required(top, "v", &req.V); err != nil {
		return Request{}, err
	}
	if err := required(top, "registry", &reg); err != nil || reg == nil {
		return Request{}, errors.New(`cargocred: request: "registry" is missing or not an object`)
	}
	if err := required(top, "kind", &req.Kind); err != nil {
		return Request{}, err
	}
	fields := []struct {
		m    map[string]json.RawMessage
		name string
		dst  any
	}{
		{reg, "name", &req.Registry.Name},
		{reg, "headers", &req.Registry.Headers},
		{top, "name", &req.CrateName},
		{top, "vers", &req.CrateVersion},
		{top, "cksum", &req.Cksum},
		{top, "token", &req.Token},
		{top, "login-url", &req.LoginURL},
		{top, "args", &req.Args},
	}
	if err := required(reg, "index-url", &req.Registry.IndexURL); err != nil {
		return Request{}, err
	}
	if req.Kind == KindGet {
		if err := required(top, "operation", &req.Operation); err != nil {
			return Request{}, err
		}
	}
	for _, f := range fields {
		if raw, ok := f.m[f.name]; ok {
			if err := json.Unmarshal(raw, f.dst); err != nil {
				return Request{}, fmt.Errorf("cargocred: request: %q has the wrong type", f.name)
			}
		}
	}
	if req.V < 0 || req.V > math.MaxUint32 {
		return Request{}, errors.New(`cargocred: request: "v" is out of range`)
	}
	return req, nil
}

// required decodes the field name of m into dst; null counts as missing.
func required(m map[string]json.RawMessage, name string, dst any) error {
	raw, ok := m[name]
	if !ok || bytes.Equal(bytes.TrimSpace(raw), []byte("null")) {
		return fmt.Errorf("cargocred: request: %q is missing", name)
	}
	if err := json.Unmarshal(raw, dst); err != nil {
		return fmt.Errorf("cargocred: request: %q has the wrong type", name)
	}
	return nil
}

// Wire forms, in the order cargo-credential serializes them.
type (
	okLine struct {
		Ok any `json:"Ok"`
	}
	errLine struct {
		Err errBody `json:"Err"`
	}
	getBody struct {
		Kind                 string `json:"kind"`
		Token                string `json:"token"`
		Cache                string `json:"cache"`
		Expiration           *int64 `json:"expiration,omitempty"`
		OperationIndependent bool   `json:"operation_independent"`
	}
	kindBody struct {
		Kind string `json:"kind"`
	}
	errBody struct {
		Kind     string   `json:"kind"`
		Message  string   `json:"message,omitempty"`
		CausedBy []string `json:"caused-by,omitempty"`
	}
)

// WriteResponse writes resp as an {"Ok":{...}} line. It checks resp first
// and writes nothing when it is not a valid answer: a get needs a token
// that can be an HTTP header value, and a cache control Cargo knows, with
// an expiration for "expires" (Cargo fails with "missing field
// `expiration`" without one).
func WriteResponse(w io.Writer, resp Response) error {
	var body any
	switch resp.Kind {
	case KindGet:
		if resp.Token == "" || !validHeaderValue(resp.Token) {
			return errors.New("cargocred: the token is empty or has a control character or surrounding space")
		}
		g := getBody{Kind: KindGet, Token: resp.Token, Cache: resp.Cache, OperationIndependent: resp.OperationIndependent}
		switch resp.Cache {
		case CacheNever, CacheSession:
		case CacheExpires:
			if resp.Expiration.Unix() <= 0 {
				return errors.New(`cargocred: cache "expires" needs an expiration`)
			}
			exp := resp.Expiration.Unix()
			g.Expiration = &exp
		default:
			return fmt.Errorf("cargocred: unknown cache control %q", resp.Cache)
		}
		body = g
	case KindLogin, KindLogout:
		body = kindBody{resp.Kind}
	default:
		return fmt.Errorf("cargocred: unknown response kind %q", resp.Kind)
	}
	return writeLine(w, okLine{body})
}

// WriteError writes e as an {"Err":{...}} line. An unknown or empty kind is
// sent as other, which Cargo shows; message and caused-by are made single
// lines of text.
func WriteError(w io.Writer, e *Error) error {
	b := errBody{Kind: e.Kind, Message: oneLine(e.Message)}
	switch e.Kind {
	case ErrURLNotSupported, ErrNotFound, ErrOperationNotSupported, ErrOther:
	default:
		b.Kind = ErrOther
	}
	if b.Kind == ErrOther && b.Message == "" {
		b.Message = "credential provider failed"
	}
	for _, c := range e.CausedBy {
		b.CausedBy = append(b.CausedBy, oneLine(c))
	}
	return writeLine(w, errLine{b})
}

// writeLine encodes v as one line and writes it with a single Write, so
// Cargo never reads half a message.
func writeLine(w io.Writer, v any) error {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false) // "<" stays "<": serde reads both, people read this
	if err := enc.Encode(v); err != nil {
		return fmt.Errorf("cargocred: encoding: %w", err)
	}
	if _, err := w.Write(b.Bytes()); err != nil {
		return &writeError{err}
	}
	return nil
}

// writeError is a failure to write, as opposed to a response that was
// refused before anything was written.
type writeError struct{ err error }

func (e *writeError) Error() string { return "cargocred: writing response: " + e.err.Error() }
func (e *writeError) Unwrap() error { return e.err }

// validHeaderValue refuses what curl would send as a broken header (control
// characters, so no line ends) and what it would trim (surrounding space).
func validHeaderValue(s string) bool {
	if s != "" && (s[0] == ' ' || s[0] == '\t' || s[len(s)-1] == ' ' || s[len(s)-1] == '\t') {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; (c < ' ' && c != '\t') || c == 0x7f {
			return false
		}
	}
	return true
}
