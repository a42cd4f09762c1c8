package config

import (
	"strings"
	"testing"
)

func TestParsePattern(t *testing.T) {
	tests := []struct {
		in, want string
	}{
		{"https://git.corp.example/", "https://git.corp.example/"},
		{"https://git.corp.example", "https://git.corp.example/"},
		{"HTTPS://Git.Corp.Example/Org/", "https://git.corp.example/Org/"}, // paths keep their case
		{"https://git.corp.example:443/", "https://git.corp.example/"},
		{"http://git.corp.example:80/", "http://git.corp.example/"},
		{"http://git.corp.example:443/", "http://git.corp.example:443/"},
		{"https://git.corp.example:08443/", "https://git.corp.example:8443/"},
		{"https://git.corp.example/org", "https://git.corp.example/org/"},
		{"https://git.corp.example/org/repo.git", "https://git.corp.example/org/repo.git/"},
		{"https://*.corp.example/", "https://*.corp.example/"},
		{"http://127.0.0.1:8089/", "http://127.0.0.1:8089/"},
		{"https://[::1]:8443/", "https://[::1]:8443/"},
		{"https://[0:0:0::1]/", "https://[::1]/"},
		{"https://[2001:DB8::1]/", "https://[2001:db8::1]/"},
		{"registry.corp.example", "registry.corp.example"},
		{"registry.corp.example/", "registry.corp.example"},
		{"Registry.Corp.Example:5000", "registry.corp.example:5000"},
		{"registry.corp.example:443", "registry.corp.example:443"}, // no scheme, so no default port to drop
		{"registry.corp.example/team/", "registry.corp.example/team/"},
		{"registry.corp.example/team", "registry.corp.example/team/"},
		{"*.corp.example", "*.corp.example"},
		{"*.Corp.Example:8443/x", "*.corp.example:8443/x/"},
		{"[::1]:5000", "[::1]:5000"},
		{"[2001:db8::1]", "[2001:db8::1]"},
		{"10.1.2.3", "10.1.2.3"},
		{"localhost:5000", "localhost:5000"},
		{"my_host.corp.example", "my_host.corp.example"},
		{"xn--bcher-kva.example", "xn--bcher-kva.example"},
		{"https://npm.corp.example/@scope/", "https://npm.corp.example/@scope/"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			p, err := ParsePattern(tt.in)
			if err != nil {
				t.Fatal(err)
			}
			if got := p.String(); got != tt.want {
				t.Errorf("ParsePattern(%q).String() = %q, want %q", tt.in, got, tt.want)
			}
			again, err := ParsePattern(p.String())
			if err != nil || again != p {
				t.Errorf("ParsePattern(%q) = %v, %v; want it to give back the same pattern", p, again, err)
			}
		})
	}
}

func TestParsePatternErrors(t *testing.T) {
	tests := []struct {
		in, want string
	}{
		{"", "must not be empty"},
		{" git.corp.example", "spaces"},
		{"git.corp.example\n", "control characters"},
		{"ftp://files.corp.example/", "scheme must be http or https"},
		{"ssh://git.corp.example/", "scheme must be http or https"},
		{"https://", "missing host"},
		{"https:///org", "missing host"},
		{"/org", "missing host"},
		{":443", "missing host"},
		{"https://git.corp.example/?x=1", "query"},
		{"https://git.corp.example/#top", "fragment"},
		{"https://user@git.corp.example/", "user name or password"},
		{"git@git.corp.example:org/repo.git", "user name or password"},
		{"https://git.corp.example:0/", "port must be a number from 1 to 65535"},
		{"https://git.corp.example:65536/", "port must be a number"},
		{"https://git.corp.example:/", "port must be a number"},
		{"https://git.corp.example:+443/", "port must be a number"},
		{"https://git.corp.example:https/", "port must be a number"},
		{"https:git.corp.example", "port must be a number"},
		{"::1", "IPv6 addresses must be written in brackets"},
		{"[::1", "missing ]"},
		{"[::1]x", "unexpected text after ]"},
		{"[127.0.0.1]", "invalid IPv6 address"},
		{"[fe80::1%25eth0]", "invalid IPv6 address"},
		{"[not-an-address]", "invalid IPv6 address"},
		{"*", "leftmost label"},
		{"*.example", "at least two labels"},
		{"*.*.corp.example", "leftmost label"},
		{"git.*.example", "leftmost label"},
		{"*git.corp.example", "leftmost label"},
		{"*.10.0.0.1", "cannot be combined with an IP address"},
		{"git..corp.example", "each label"},
		{"git.corp.example.", "each label"},
		{strings.Repeat("a", 64) + ".example", "each label"},
		{strings.Repeat("a.", 127) + "example", "longer than 253"},
		{"bücher.example", "punycode"},
		{"git!.corp.example", `'!' is not allowed`},
		{"127.1", "not a valid host name or IPv4 address"},
		{"10.0.0.01", "not a valid host name or IPv4 address"},
		{"https://git.corp.example//org", "empty segments"},
		{"https://git.corp.example/org/../other", ". or .. segments"},
		{"registry.corp.example/./team", ". or .. segments"},
		{`registry.corp.example/a\\b`, `must not contain "\\"`},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			p, err := ParsePattern(tt.in)
			if err == nil {
				t.Fatalf("ParsePattern(%q) = %v, want an error containing %q", tt.in, p, tt.want)
			}
			if msg := err.Error(); !strings.Contains(msg, tt.want) || !strings.HasPrefix(msg, "config: ") {
				t.Errorf("ParsePattern(%q) error = %q, want one starting with \"config: \" and containing %q", tt.in, msg, tt.want)
			}
		})
	}
}

const matchConfig = `
[profiles.git]
issuer = "https://id.example"
client_id = "m"
match = ["https://git.corp.example/"]

[profiles.gitorg]
issuer = "https://id.example"
client_id = "m"
match = ["https://git.corp.example/org/"]

[profiles.gitteam]
issuer = "https://id.example"
client_id = "m"
match = ["https://git.corp.example/org/team"]

[profiles.wild]
issuer = "https://id.example"
client_id = "m"
match = ["*.corp.example"]

[profiles.euwild]
issuer = "https://id.example"
client_id = "m"
match = ["*.eu.corp.example"]

[profiles.registry]
issuer = "https://id.example"
client_id = "m"
match = ["registry.corp.example", "registry.corp.example:5000/team/"]

[profiles.local]
issuer = "http://localhost:5556"
client_id = "m"
match = ["http://127.0.0.1:8089/"]

[profiles.v6]
issuer = "https://id.example"
client_id = "m"
match = ["https://[::1]:8443/", "[2001:db8::1]"]

[profiles.barehost]
issuer = "https://id.example"
client_id = "m"
match = ["api.example"]

[profiles.urlhost]
issuer = "https://id.example"
client_id = "m"
match = ["https://api.example/"]

[profiles.urlport]
issuer = "https://id.example"
client_id = "m"
match = ["https://ported.example:8443/"]

[profiles.bareport]
issuer = "https://id.example"
client_id = "m"
match = ["bp.example:443"]

[profiles.wildport]
issuer = "https://id.example"
client_id = "m"
match = ["*.apps.example:8443/v1"]
`

func TestMatch(t *testing.T) {
	c, err := Parse("match.toml", []byte(matchConfig))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		target, want string // want is a profile name, "" for none
	}{
		// Host, path prefix and specificity by path.
		{"https://git.corp.example/", "git"},
		{"https://git.corp.example/other/repo.git", "git"},
		{"https://git.corp.example/org/repo.git", "gitorg"},
		{"https://git.corp.example/org", "gitorg"},
		{"https://git.corp.example/org/", "gitorg"},
		{"https://git.corp.example/organisation/repo.git", "git"}, // prefix on whole segments only
		{"https://git.corp.example/org/team/repo.git", "gitteam"},
		{"https://git.corp.example/org/team", "gitteam"},
		{"https://git.corp.example/org/teamwork", "gitorg"},
		{"https://git.corp.example/Org/repo.git", "git"}, // paths are case-sensitive
		{"https://git.corp.example/org/../other/r.git", "git"},
		{"https://git.corp.example/x/../org/r.git", "gitorg"},
		{"https://git.corp.example/org/repo.git?ref=main#top", "gitorg"},
		{"https://git.corp.example/org/@x", "gitorg"},

		// No path: only whole-host patterns.
		{"https://git.corp.example", "git"},
		{"registry.corp.example:5000", ""},

		// Case.
		{"HTTPS://GIT.Corp.Example/org/x", "gitorg"},
		{"REGISTRY.corp.example", "registry"},

		// Ports.
		{"https://git.corp.example:443/org/x", "gitorg"},
		{"https://git.corp.example:8443/", ""},
		{"http://127.0.0.1:8089/token", "local"},
		{"http://127.0.0.1/", ""},
		{"http://127.0.0.1:8090/", ""},
		{"https://ported.example/", ""},
		{"https://ported.example:8443/x", "urlport"},
		{"ported.example:8443", ""}, // URL pattern, bare target
		{"https://bp.example/", "bareport"},
		{"https://bp.example:443/", "bareport"},
		{"bp.example:443", "bareport"},
		{"bp.example", ""}, // bare target without port: no default port to infer
		{"http://bp.example/", ""},
		{"registry.corp.example:5000/team/app", "registry"},
		{"registry.corp.example:5001/team/app", ""},
		{"https://registry.corp.example:5000/team/app", "registry"},
		{"https://x.apps.example:8443/v1/pods", "wildport"},
		{"https://x.apps.example/v1/pods", ""}, // wildport needs port 8443

		// Schemes.
		{"http://git.corp.example/", "wild"}, // the https pattern does not match http; the bare wildcard does
		{"https://127.0.0.1:8089/", ""},
		{"git.corp.example", "wild"}, // URL patterns need a scheme
		{"https://registry.corp.example/v2/", "registry"},
		{"http://registry.corp.example/v2/", "registry"},
		{"ssh://registry.corp.example/", ""},
		{"api.example", "barehost"},
		{"http://api.example/", "barehost"},
		{"https://api.example/x", "urlhost"}, // scheme beats bare

		// Wildcards.
		{"https://a.corp.example/", "wild"},
		{"https://a.b.c.corp.example/", "wild"},
		{"https://corp.example/", ""},
		{"https://evilcorp.example/", ""},
		{"https://corp.example.evil.example/", ""},
		{"https://x.eu.corp.example/", "euwild"},  // longer wildcard wins
		{"https://eu.corp.example/", "wild"},      // "*.eu" needs a label before eu
		{"registry.corp.example/v2/", "registry"}, // exact beats wildcard

		// IPv6.
		{"https://[::1]:8443/x", "v6"},
		{"https://[0:0::1]:8443/", "v6"},
		{"https://[::1]/", ""},
		{"[2001:DB8::1]", "v6"},
		{"[2001:db8::1]:443", ""},
		{"https://[2001:db8::1]:443/", "v6"},
		{"http://[2001:db8::1]/", "v6"},

		// Malformed or ambiguous targets match nothing.
		{"", ""},
		{"https://", ""},
		{"://git.corp.example/", ""},
		{"https://user@git.corp.example/", ""},
		{`https://evil.example\@git.corp.example/`, ""},
		{"https://git.corp.example:99999/", ""},
		{"https://git.corp.example:/", ""},
		{"https://*.corp.example/", ""},
		{"https://git corp.example/", ""},
		{"https://git.corp.example\n/", ""},
		{"https://::1/", ""},
	}
	for _, tt := range tests {
		t.Run(tt.target, func(t *testing.T) {
			got := ""
			if p := c.Match(tt.target); p != nil {
				got = p.Name
			}
			if got != tt.want {
				t.Errorf("Match(%q) = %q, want %q", tt.target, got, tt.want)
			}
		})
	}
}

func TestMatchNilConfig(t *testing.T) {
	var c *Config
	if p := c.Match("https://git.corp.example/"); p != nil {
		t.Errorf("(*Config)(nil).Match = %v, want nil", p)
	}
	if names := c.ProfileNames(); names != nil {
		t.Errorf("(*Config)(nil).ProfileNames() = %q, want nil", names)
	}
}

func TestZeroPattern(t *testing.T) {
	var p Pattern
	if s := p.String(); s != "" {
		t.Errorf("Pattern{}.String() = %q, want \"\"", s)
	}
	c := &Config{Profiles: map[string]*Profile{"z": {Name: "z", Match: []Pattern{p}}}}
	if got := c.Match("https://git.corp.example/"); got != nil {
		t.Errorf("the zero Pattern matched, giving %q", got.Name)
	}
}
