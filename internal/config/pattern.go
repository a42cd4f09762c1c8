package config

import (
	"fmt"
	"net/netip"
	"path"
	"strconv"
	"strings"
	"unicode"
)

// Pattern is one entry of a profile's match list: the targets the profile
// serves. The zero Pattern matches nothing.
//
// Patterns are normalised when parsed, so two patterns that match the same
// targets compare equal with ==.
type Pattern struct {
	scheme   string // "http", "https", or "" for a bare host pattern
	host     string // lowercased; IPv6 without brackets; for a wildcard, the part after "*."
	wildcard bool   // host is "*." + host
	port     string // canonical decimal, "" when absent; never the default port of scheme
	path     string // "/" or a segment prefix without a trailing "/", such as "/org"
}

// ParsePattern parses one match entry. It accepts two forms:
//
//   - a URL with scheme http or https: "https://git.corp.example/org/",
//     "http://127.0.0.1:8089/", "https://*.corp.example/";
//   - a bare host, optionally with a port and a path: "registry.corp.example",
//     "registry.corp.example:5000/team/", "*.corp.example", "[::1]:5000".
//
// A wildcard "*." is allowed only as the whole leftmost label, and must be
// followed by at least two labels ("*.com" would hand tokens to half the
// internet). Hosts are lowercased, IPv6 addresses are written in canonical form,
// a URL's default port (https 443, http 80) is dropped, and "/org" and "/org/"
// are the same path prefix.
func ParsePattern(s string) (Pattern, error) {
	p, reason := parsePattern(s)
	if reason != "" {
		return Pattern{}, fmt.Errorf("config: match pattern %q: %s", s, reason)
	}
	return p, nil
}

// String returns the normalised form of p, which ParsePattern parses back to p.
func (p Pattern) String() string {
	if p.host == "" {
		return ""
	}
	var b strings.Builder
	if p.scheme != "" {
		b.WriteString(p.scheme)
		b.WriteString("://")
	}
	if p.wildcard {
		b.WriteString("*.")
	}
	b.WriteString(joinHostPort(p.host, p.port))
	switch {
	case p.path != "/":
		b.WriteString(p.path)
		b.WriteString("/")
	case p.scheme != "":
		b.WriteString("/")
	}
	return b.String()
}

// parsePattern returns the pattern, or a reason why s is not one.
func parsePattern(s string) (Pattern, string) {
	if s == "" {
		return Pattern{}, "must not be empty"
	}
	if hasSpaceOrControl(s) {
		return Pattern{}, "must not contain spaces or control characters"
	}
	var p Pattern
	rest := s
	if scheme, after, ok := strings.Cut(s, "://"); ok {
		p.scheme = strings.ToLower(scheme)
		if p.scheme != "http" && p.scheme != "https" {
			return Pattern{}, "the scheme must be http or https; leave it out to match both"
		}
		rest = after
	}
	if strings.Contains(rest, "?") {
		return Pattern{}, "must not have a query (?...)"
	}
	if strings.Contains(rest, "#") {
		return Pattern{}, "must not have a fragment (#...)"
	}
	authority, urlPath := rest, "/"
	if i := strings.IndexByte(rest, '/'); i >= 0 {
		authority, urlPath = rest[:i], rest[i:]
	}
	if strings.Contains(authority, "@") {
		return Pattern{}, "must not contain a user name or password (user@)"
	}
	host, port, reason := splitHostPort(authority)
	if reason != "" {
		return Pattern{}, reason
	}
	if wild, ok := strings.CutPrefix(host, "*."); ok {
		p.wildcard = true
		host = wild
		if strings.Count(host, ".") < 1 {
			return Pattern{}, "a wildcard must be followed by at least two labels, as in *.corp.example"
		}
		if _, err := netip.ParseAddr(host); err == nil {
			return Pattern{}, "a wildcard cannot be combined with an IP address"
		}
	}
	if reason := hostReason(host); reason != "" {
		return Pattern{}, reason
	}
	p.host = host
	if p.scheme != "" && port == defaultPort(p.scheme) {
		port = ""
	}
	p.port = port
	if strings.Contains(urlPath, `\`) {
		return Pattern{}, `the path must not contain "\\"`
	}
	if strings.Contains(urlPath, "//") {
		return Pattern{}, "the path must not contain empty segments (//)"
	}
	for seg := range strings.SplitSeq(urlPath, "/") {
		if seg == "." || seg == ".." {
			return Pattern{}, "the path must not contain . or .. segments"
		}
	}
	p.path = strings.TrimSuffix(urlPath, "/")
	if p.path == "" {
		p.path = "/"
	}
	return p, ""
}

// splitHostPort splits "host", "host:port", "[v6]" or "[v6]:port". It
// returns the host (lowercased, IPv6 canonical and without brackets), the
// port in canonical decimal or "", or a reason why authority is invalid. The
// host still needs checking with hostReason unless it is an IPv6 address.
func splitHostPort(authority string) (host, port, reason string) {
	if authority == "" {
		return "", "", "missing host"
	}
	hasPort := false
	if authority[0] == '[' {
		end := strings.IndexByte(authority, ']')
		if end < 0 {
			return "", "", "missing ] after IPv6 address"
		}
		host = authority[1:end]
		if after := authority[end+1:]; after != "" {
			if after[0] != ':' {
				return "", "", "unexpected text after ]"
			}
			port, hasPort = after[1:], true
		}
		addr, err := netip.ParseAddr(host)
		if err != nil || !addr.Is6() || addr.Zone() != "" {
			return "", "", "invalid IPv6 address in [...]"
		}
		host = addr.String()
	} else {
		host = authority
		if i := strings.LastIndexByte(authority, ':'); i >= 0 {
			host, port, hasPort = authority[:i], authority[i+1:], true
		}
		if strings.Contains(host, ":") {
			return "", "", "IPv6 addresses must be written in brackets, as in [::1]"
		}
		if host == "" {
			return "", "", "missing host"
		}
		host = strings.ToLower(host)
	}
	if hasPort {
		n, err := strconv.Atoi(port)
		if err != nil || port[0] < '0' || port[0] > '9' || n < 1 || n > 65535 {
			return "", "", "the port must be a number from 1 to 65535"
		}
		port = strconv.Itoa(n)
	}
	return host, port, ""
}

// hostReason says why host (already lowercased, without any "*.") is
// neither a DNS name nor an IP address, or returns "".
func hostReason(host string) string {
	if strings.Contains(host, ":") {
		return "" // an IPv6 address, checked by splitHostPort
	}
	if addr, err := netip.ParseAddr(host); err == nil && addr.Is4() {
		return ""
	}
	if strings.Contains(host, "*") {
		return "* is only allowed as the whole leftmost label, as in *.corp.example"
	}
	if len(host) > 253 {
		return "the host name is longer than 253 characters"
	}
	labels := strings.Split(host, ".")
	for _, label := range labels {
		if label == "" || len(label) > 63 {
			return "not a valid host name: each label between dots must have 1 to 63 characters"
		}
		for i := range len(label) {
			c := label[i]
			switch {
			case c >= 0x80:
				return "non-ASCII host names must be written in their xn-- (punycode) form"
			case c >= 'a' && c <= 'z', c >= '0' && c <= '9', c == '-', c == '_':
			default:
				return fmt.Sprintf("not a valid host name: %q is not allowed", c)
			}
		}
	}
	// No top-level domain is numeric, so this is a malformed IPv4 address
	// such as "127.1" or "10.0.0.01", which resolvers read in surprising ways.
	if strings.Trim(labels[len(labels)-1], "0123456789") == "" {
		return "not a valid host name or IPv4 address"
	}
	return ""
}

func joinHostPort(host, port string) string {
	if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	if port == "" {
		return host
	}
	return host + ":" + port
}

func defaultPort(scheme string) string {
	switch scheme {
	case "https":
		return "443"
	case "http":
		return "80"
	}
	return ""
}

func hasSpaceOrControl(s string) bool {
	return strings.ContainsFunc(s, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) })
}

// target is a parsed argument of [Config.Match].
type target struct {
	scheme string // lowercased, "" for a bare host
	host   string // as in Pattern
	port   string // "" when absent or the scheme's default
	path   string // "" when the target has no path
}

// parseTarget parses "scheme://host[:port][/path]" or "host[:port][/path]".
// It is stricter than URL parsers about the host: a target that another
// parser might read as a different host (one with a user name, a backslash,
// a stray character) matches nothing rather than the wrong profile.
func parseTarget(s string) (target, bool) {
	var t target
	rest := s
	if scheme, after, ok := strings.Cut(s, "://"); ok {
		if !validScheme(scheme) {
			return target{}, false
		}
		t.scheme = strings.ToLower(scheme)
		rest = after
	}
	if i := strings.IndexAny(rest, "?#"); i >= 0 {
		rest = rest[:i]
	}
	if hasSpaceOrControl(rest) || strings.Contains(rest, `\`) {
		return target{}, false // WHATWG URL parsers read "\" as "/"
	}
	authority := rest
	if i := strings.IndexByte(rest, '/'); i >= 0 {
		authority, t.path = rest[:i], rest[i:]
		// Resolve "." and ".." the way the server will, so that
		// "/org/../other" is matched as "/other".
		t.path = path.Clean(t.path)
	}
	if strings.Contains(authority, "@") {
		return target{}, false // targets carry no user name
	}
	host, port, reason := splitHostPort(authority)
	if reason != "" || hostReason(host) != "" {
		return target{}, false
	}
	t.host = host
	if port != defaultPort(t.scheme) {
		t.port = port
	}
	return t, true
}

// validScheme reports whether s is an RFC 3986 scheme:
// ALPHA *( ALPHA / DIGIT / "+" / "-" / "." ).
func validScheme(s string) bool {
	if s == "" {
		return false
	}
	for i := range len(s) {
		c := s[i] | 0x20 // lowercase letters; digits and "+-." are checked below unchanged
		switch {
		case c >= 'a' && c <= 'z':
		case i > 0 && (s[i] >= '0' && s[i] <= '9' || s[i] == '+' || s[i] == '-' || s[i] == '.'):
		default:
			return false
		}
	}
	return true
}

// matches reports whether p serves t.
func (p Pattern) matches(t target) bool {
	if p.host == "" {
		return false
	}
	switch {
	case p.scheme != "":
		if t.scheme != p.scheme {
			return false
		}
	case t.scheme != "" && t.scheme != "http" && t.scheme != "https":
		return false
	}
	if p.wildcard {
		if !strings.HasSuffix(t.host, "."+p.host) {
			return false
		}
	} else if t.host != p.host {
		return false
	}
	if p.port == "" {
		// t.port is "" for no port and for the scheme's default port.
		if t.port != "" {
			return false
		}
	} else {
		port := t.port
		if port == "" {
			port = defaultPort(t.scheme) // "" for a bare target, which then fails
		}
		if port != p.port {
			return false
		}
	}
	if t.path == "" {
		// git sends no path unless credential.useHttpPath is set; only
		// a pattern for the whole host can claim such a target.
		return p.path == "/"
	}
	return p.path == "/" || t.path == p.path || strings.HasPrefix(t.path, p.path+"/")
}

// beats reports whether p is more specific than q, both having matched the
// same target: an exact host beats a wildcard (and a longer wildcard a
// shorter one), then a longer path wins, then a pattern with a scheme beats a
// bare one, then one with a port beats one without.
func (p Pattern) beats(q Pattern) bool {
	if p.wildcard != q.wildcard {
		return !p.wildcard
	}
	if len(p.host) != len(q.host) {
		return len(p.host) > len(q.host) // both wildcards: more labels
	}
	if len(p.path) != len(q.path) {
		return len(p.path) > len(q.path)
	}
	if (p.scheme != "") != (q.scheme != "") {
		return p.scheme != ""
	}
	return p.port != "" && q.port == ""
}
