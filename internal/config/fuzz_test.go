package config

import (
	"strings"
	"testing"
)

func FuzzParse(f *testing.F) {
	for _, seed := range []string{
		"",
		matchConfig,
		"store = \"auto\"\n[agent]\nidle_timeout = \"30m\"\n",
		"[profiles.w]\nissuer = \"https://id.example\"\nclient_id = \"m\"\nmatch = [\"*.corp.example\", \"[::1]:5000/a/\"]\n",
		"[profiles.w]\nclient_secret = s3cr3t\n",
		"[[profiles]]\n",
		"profiles = 1\nagent = []\n",
		"[profiles.\"a\\nb\"]\nx = 1\n",
		"[profiles.w]\nissuer = {a = 1}\nmatch = [{b = 2}, 3]\n",
		"a = \"\"\"\nb\n\"\"\"\n=",
		"\ufeff[agent]\nIdle_Timeout = 1",
		"tpm = \"tcp:127.0.0.1:2321\"\nstore = \"tpm\"\n",
		"tpm = \"mssim:[::1]:65534\"\n",
		"tpm = \"unix:/run/s\u2028ock\"\n",
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		const path = "/fuzz/config.toml"
		c, err := Parse(path, data)
		if err != nil {
			msg := err.Error()
			if strings.ContainsAny(msg, "\n\r") {
				t.Fatalf("error spans lines: %q", msg)
			}
			if !strings.HasPrefix(msg, path+":") {
				t.Fatalf("error does not start with the path: %q", msg)
			}
			return
		}
		for name, p := range c.Profiles {
			if !validName(name) || p.Name != name {
				t.Fatalf("accepted profile name %q (Name %q)", name, p.Name)
			}
			if len(p.Match) == 0 {
				t.Fatalf("profile %q has no patterns", name)
			}
			for _, pat := range p.Match {
				again, err := ParsePattern(pat.String())
				if err != nil || again != pat {
					t.Fatalf("pattern %q does not round-trip: %v, %v", pat, again, err)
				}
			}
		}
	})
}

func FuzzMatch(f *testing.F) {
	for _, seed := range []struct{ pattern, target string }{
		{"https://git.corp.example/org/", "https://git.corp.example/org/repo.git"},
		{"*.corp.example", "https://a.b.corp.example:443/"},
		{"registry.corp.example:5000/team/", "registry.corp.example:5000/team/app"},
		{"[::1]:5000", "[0::1]:5000"},
		{"https://[2001:db8::1]/", "https://[2001:DB8::1]:443"},
		{"http://127.0.0.1:8089/", "http://127.0.0.1:8089/a/../b"},
		{"bp.example:443", "https://bp.example"},
		{"a.example", `https://x\@a.example/`},
		{"a.example", "://"},
		{"https://a.example/@scope/", "https://a.example/@scope/"},
		{"[::ffff:1.2.3.4]:80", "[::ffff:1.2.3.4]:80"},
	} {
		f.Add(seed.pattern, seed.target)
	}
	f.Fuzz(func(t *testing.T, pattern, target string) {
		p, err := ParsePattern(pattern)
		if err != nil {
			if strings.ContainsAny(err.Error(), "\n\r") {
				t.Fatalf("error spans lines: %q", err)
			}
			return
		}
		again, err := ParsePattern(p.String())
		if err != nil || again != p {
			t.Fatalf("ParsePattern(%q) = %q, which parses back as %q, %v", pattern, p, again, err)
		}
		c := &Config{Profiles: map[string]*Profile{"p": {Name: "p", Match: []Pattern{p}}}}
		got := c.Match(target)
		// A pattern without a wildcard, written as a target, matches.
		if !p.wildcard && got == nil && target == p.String() {
			t.Fatalf("pattern %q does not match itself as a target", p)
		}
	})
}
