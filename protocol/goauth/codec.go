package goauth

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/url"
	"strconv"
	"strings"
)

// ErrUsage is returned (wrapped) by [ParseArgs] for arguments go would
// never pass.
var ErrUsage = errors.New("goauth: usage")

// maxHeadBytes bounds what [ReadResponseHead] accepts. Go's own client
// accepts response heads up to 10 MB (net/http.Transport's default
// MaxResponseHeaderBytes), but a 4xx worth retrying has a few hundred bytes
// of headers: this only keeps a confused caller from making the command
// buffer without end.
const maxHeadBytes = 1 << 20

// ParseArgs returns the URL in the arguments go passed after the configured
// command line: none on the first run, the failed request's URL after a 4xx
// (runAuthCommand in userauth.go appends it as the last argument).
//
// The URL must be an absolute https:// URL: go panics rather than run GOAUTH
// for any other scheme (AddCredentials in auth.go). Anything else, including
// a flag, wraps [ErrUsage]: this command takes no options, and an option
// added to the GOAUTH value would shift the URL go appends.
func ParseArgs(args []string) (string, error) {
	switch {
	case len(args) == 0:
		return "", nil
	case len(args) > 1:
		return "", fmt.Errorf("%w: %d arguments; go passes at most one, the URL", ErrUsage, len(args))
	case strings.HasPrefix(args[0], "-"):
		return "", fmt.Errorf("%w: unknown option %q", ErrUsage, truncate(args[0]))
	}
	if reason := urlReason(args[0]); reason != "" {
		return "", fmt.Errorf("%w: the argument %s", ErrUsage, reason)
	}
	return args[0], nil
}

// urlReason returns why s cannot be a GOAUTH URL, or "".
func urlReason(s string) string {
	if s == "" {
		return "is empty"
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c <= ' ' || c == 0x7f {
			return "contains a space or a control character"
		}
	}
	// The same parser go applies to the URL lines it reads back
	// (parseUserAuth in userauth.go).
	u, err := url.ParseRequestURI(s)
	switch {
	case err != nil:
		return "is not an absolute URL"
	case !strings.EqualFold(u.Scheme, "https"):
		return "is not an https:// URL (go sends GOAUTH credentials over https only)"
	case u.Host == "":
		return "has no host"
	case u.User != nil:
		return "has a user name in it"
	}
	return ""
}

// ReadResponseHead decodes what go writes on the command's stdin after a
// 4xx: the status line ("HTTP/1.1 401 Unauthorized"), one "Name: value" line
// per header field, and a blank line (writeResponseToStdin in userauth.go).
// It returns nil and no error for an empty stdin, which is what the first
// run gets.
//
// It reads r to EOF (go closes the pipe after the head), accepts "\r\n" as
// well as "\n" line ends and a head that ends at EOF without its blank line,
// and ignores anything after the blank line. Errors are single-line and
// quote no header value: a 4xx may carry cookies.
func ReadResponseHead(r io.Reader) (*Response, error) {
	data, err := io.ReadAll(io.LimitReader(r, maxHeadBytes+1))
	if err != nil {
		return nil, fmt.Errorf("goauth: reading stdin: %w", err)
	}
	if len(data) > maxHeadBytes {
		return nil, fmt.Errorf("goauth: stdin: response head longer than %d bytes", maxHeadBytes)
	}
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, nil
	}
	rest := string(data)
	next := func() (string, bool) {
		if rest == "" {
			return "", false
		}
		line, after, _ := strings.Cut(rest, "\n")
		rest = after
		return strings.TrimSuffix(line, "\r"), true
	}

	status, _ := next()
	resp, err := parseStatus(status)
	if err != nil {
		return nil, fmt.Errorf("goauth: stdin: line 1: %w", err)
	}
	resp.Header = map[string]string{}
	for n := 2; ; n++ {
		line, ok := next()
		if !ok || line == "" {
			return resp, nil
		}
		name, value, ok := strings.Cut(line, ":")
		if !ok || !isToken(name) {
			return nil, fmt.Errorf("goauth: stdin: line %d: not a \"Name: value\" header line", n)
		}
		name = strings.ToLower(name)
		value = strings.Trim(value, " \t")
		// RFC 9110 §5.5: a field value is visible characters, spaces and
		// tabs; a lone CR or another control byte is refused, as net/http
		// would, rather than passed on to the scheme parser.
		for i := 0; i < len(value); i++ {
			if c := value[i]; (c < ' ' && c != '\t') || c == 0x7f {
				return nil, fmt.Errorf("goauth: stdin: line %d: the header value contains a control character", n)
			}
		}
		if prev, dup := resp.Header[name]; dup {
			value = prev + ", " + value
		}
		resp.Header[name] = value
	}
}

// parseStatus parses "HTTP/x.y NNN reason"; go writes res.Proto, a space and
// res.Status, which is the code, a space and the reason phrase.
func parseStatus(line string) (*Response, error) {
	proto, rest, _ := strings.Cut(line, " ")
	version, ok := strings.CutPrefix(proto, "HTTP/")
	if !ok || version == "" || strings.Trim(version, "0123456789.") != "" {
		return nil, errors.New(`not an HTTP status line ("HTTP/1.1 401 Unauthorized")`)
	}
	code, reason, _ := strings.Cut(rest, " ")
	n, err := strconv.Atoi(code)
	if err != nil || len(code) != 3 || n < 100 {
		return nil, errors.New("the status code is not three digits")
	}
	for i := 0; i < len(reason); i++ {
		if c := reason[i]; (c < ' ' && c != '\t') || c == 0x7f {
			return nil, errors.New("the reason phrase contains a control character")
		}
	}
	return &Response{Proto: proto, StatusCode: n, Reason: reason}, nil
}

// WriteCredentials writes sets in the format go parses (parseUserAuth in
// userauth.go): for each set, its URLs one per line, a blank line, its
// header lines, and a blank line. Writing no sets writes nothing, which go
// reads as "no credentials".
//
// Everything is checked before the first byte is written, so w never gets a
// partial answer: go would reject the whole output for one bad line
// ("invalid format: invalid header line"), or worse, a value holding a
// newline could add lines of its own.
func WriteCredentials(w io.Writer, sets []Credential) error {
	var b bytes.Buffer
	for i, set := range sets {
		if len(set.Prefixes) == 0 {
			return fmt.Errorf("goauth: credential set %d has no URL", i)
		}
		for _, p := range set.Prefixes {
			if reason := urlReason(p); reason != "" {
				return fmt.Errorf("goauth: credential set %d: a URL %s", i, reason)
			}
			b.WriteString(p)
			b.WriteByte('\n')
		}
		b.WriteByte('\n')
		for _, f := range set.Header {
			if !isToken(f.Name) {
				return fmt.Errorf("goauth: credential set %d: header name %q is not a token", i, truncate(f.Name))
			}
			// Go trims the value and checks it with httpguts'
			// ValidHeaderFieldValue: no control character but tab. Refuse
			// what it would change or refuse; never quote the value.
			if !validValue(f.Value) {
				return fmt.Errorf("goauth: credential set %d: the value of %s has a control character or surrounding space", i, f.Name)
			}
			b.WriteString(f.Name)
			b.WriteString(": ")
			b.WriteString(f.Value)
			b.WriteByte('\n')
		}
		b.WriteByte('\n')
	}
	if b.Len() == 0 {
		return nil
	}
	if _, err := w.Write(b.Bytes()); err != nil {
		return fmt.Errorf("goauth: writing credentials: %w", err)
	}
	return nil
}

func isToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !isTokenChar(s[i]) {
			return false
		}
	}
	return true
}

func validValue(s string) bool {
	if strings.Trim(s, " \t") != s {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; (c < ' ' && c != '\t') || c == 0x7f {
			return false
		}
	}
	return true
}

// truncate shortens what an error quotes from its input.
func truncate(s string) string {
	const max = 40
	if len(s) > max {
		return s[:max] + "..."
	}
	return s
}
