package dockercred

import (
	"fmt"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// HubServer is the key of Docker Hub's credentials. Docker Hub is the one
// registry whose key is a URL rather than a bare host: the docker CLI
// (registry.IndexServer) and go-containerregistry (authn.DefaultAuthKey)
// both ask for exactly this string (protocols.md §2.1).
const HubServer = "https://index.docker.io/v1/"

// hubHosts are the names under which consumers ask for Docker Hub.
var hubHosts = map[string]bool{"index.docker.io": true, "docker.io": true, "registry-1.docker.io": true}

const (
	// maxServerURL bounds a server address: a host plus, from crane's
	// credsStore lookups, a repository path.
	maxServerURL = 4096
	// maxHost is a DNS name (253) plus ":65535", with room for brackets.
	maxHost = 264
)

// Normalize returns the key under which the credentials of serverURL are
// kept, so that the spellings consumers use for one registry are one entry
// (protocols.md §2.5: helpers and callers disagree on "https://host", "host"
// and Docker Hub's URL, and a mismatch is a spurious "credentials not found";
// docker/cli#3665, hashicorp/nomad#8316):
//
//   - surrounding white space is dropped (the library trims get's input);
//   - an http:// or https:// scheme is dropped, since a registry's
//     credentials do not depend on the transport (the docker CLI's
//     credentials.ConvertToHostname does the same);
//   - a path is dropped: crane, given credsStore, asks for "host/repo"
//     before "host", and `docker login https://host/v2/` means "host";
//   - the host is lowercased; a port is kept, as the docker CLI keeps it;
//   - index.docker.io, docker.io and registry-1.docker.io become [HubServer].
//
// So "https://Registry.Example:5000/v2/" and "registry.example:5000" both
// give "registry.example:5000". Normalize(Normalize(s)) == Normalize(s).
//
// An empty address is [ErrMissingServerURL]. An address with white space or
// control characters inside, another scheme, a user name, or a host that is
// not a DNS name or an IP address with an optional port, is an error: no
// consumer sends one, and such a key must not reach a store.
func Normalize(serverURL string) (string, error) {
	s := strings.TrimSpace(serverURL)
	switch {
	case s == "":
		return "", ErrMissingServerURL
	case len(s) > maxServerURL:
		return "", fmt.Errorf("dockercred: server address longer than %d bytes", maxServerURL)
	case !utf8.ValidString(s):
		return "", fmt.Errorf("dockercred: server address is not valid UTF-8")
	case strings.ContainsFunc(s, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }):
		return "", fmt.Errorf("dockercred: server address contains white space or control characters")
	}
	rest := s
	if scheme, after, ok := strings.Cut(s, "://"); ok {
		if l := strings.ToLower(scheme); l != "https" && l != "http" {
			return "", fmt.Errorf("dockercred: server address scheme must be https or http")
		}
		rest = after
	}
	host := rest
	if i := strings.IndexAny(rest, "/?#"); i >= 0 {
		host = rest[:i]
	}
	// Refuse non-ASCII before lowercasing: strings.ToLower maps some
	// non-ASCII letters (the Kelvin sign) to ASCII ones, which would make
	// two different hosts one key.
	if strings.ContainsFunc(host, func(r rune) bool { return r >= utf8.RuneSelf }) {
		return "", fmt.Errorf("dockercred: server address: non-ASCII host names must be written in their xn-- (punycode) form")
	}
	host = strings.ToLower(host)
	if reason := hostReason(host); reason != "" {
		return "", fmt.Errorf("dockercred: server address: %s", reason)
	}
	if hubHosts[host] {
		return HubServer, nil
	}
	return host, nil
}

// hostReason says why host ("name", "name:port", "[v6]" or "[v6]:port",
// already lowercased) cannot be a registry's host, or returns "".
func hostReason(host string) string {
	if host == "" {
		return "no host"
	}
	if len(host) > maxHost {
		return fmt.Sprintf("host longer than %d bytes", maxHost)
	}
	if strings.Contains(host, "@") {
		return "must not contain a user name (user@)"
	}
	name, port := host, ""
	if strings.HasPrefix(host, "[") {
		end := strings.IndexByte(host, ']')
		if end < 0 {
			return "missing ] after an IPv6 address"
		}
		name = host[1:end]
		if name == "" || strings.Trim(name, "0123456789abcdef:.") != "" {
			return "not an IPv6 address in [...]"
		}
		after := host[end+1:]
		if after != "" {
			if after[0] != ':' {
				return "unexpected text after ]"
			}
			port = after[1:]
			if port == "" {
				return "empty port"
			}
		}
	} else {
		if i := strings.IndexByte(host, ':'); i >= 0 {
			name, port = host[:i], host[i+1:]
			if port == "" {
				return "empty port"
			}
		}
		if name == "" {
			return "no host"
		}
		for _, r := range name {
			if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '.' || r == '-' || r == '_') {
				return fmt.Sprintf("%q is not allowed in a host name", r)
			}
		}
	}
	if port != "" {
		n, err := strconv.Atoi(port)
		if err != nil || port[0] < '0' || port[0] > '9' || n < 1 || n > 65535 {
			return "the port must be a number from 1 to 65535"
		}
	}
	return ""
}
