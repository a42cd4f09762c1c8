package config

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// patternEqual lets cmp compare Patterns, whose fields are unexported.
var patternEqual = cmp.Comparer(func(a, b Pattern) bool { return a == b })

func mustPattern(t *testing.T, s string) Pattern {
	t.Helper()
	p, err := ParsePattern(s)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestLoadGood(t *testing.T) {
	path := filepath.Join("testdata", "config", "good.toml")
	got, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	want := &Config{
		Path:  path,
		Store: "kernel-keyring",
		Agent: Agent{IdleTimeout: 2 * time.Hour, AlertRate: 0},
		Profiles: map[string]*Profile{
			"work": {
				Name:     "work",
				Issuer:   "https://login.corp.example/",
				ClientID: "mayfly",
				Scopes:   []string{"openid", "offline_access", "groups"},
				Flow:     FlowBrowser,
				Match: []Pattern{
					mustPattern(t, "https://git.corp.example/"),
					mustPattern(t, "registry.corp.example"),
					mustPattern(t, "*.corp.example"),
					mustPattern(t, "https://git.corp.example/org/"),
				},
				Username:      "x-access-token",
				Token:         TokenID,
				RefreshMargin: 5 * time.Minute,
				ClientAuth:    "none",
				AllowExec:     []string{"/usr/bin/git", "/usr/lib/git-core/git-remote-http*"},
			},
			"local": {
				Name:     "local",
				Issuer:   "http://127.0.0.1:5556/dex",
				ClientID: "mayfly-dev",
				Scopes:   []string{"openid", "offline_access"},
				Flow:     FlowDevice,
				Match: []Pattern{
					mustPattern(t, "http://127.0.0.1:8089/"),
					mustPattern(t, "[::1]:5000/team/"),
				},
				Username:      "oauth2",
				Token:         TokenAccess,
				RefreshMargin: 60 * time.Second,
				ClientAuth:    "none",
			},
		},
	}
	if diff := cmp.Diff(want, got, patternEqual); diff != "" {
		t.Errorf("Load(%q) mismatch (-want +got):\n%s", path, diff)
	}
	if diff := cmp.Diff([]string{"local", "work"}, got.ProfileNames()); diff != "" {
		t.Errorf("ProfileNames() mismatch (-want +got):\n%s", diff)
	}
}

func TestLoadMissingFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "mayfly", "config.toml")
	got, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	want := &Config{
		Path:     path,
		Store:    "auto",
		Agent:    Agent{IdleTimeout: 30 * time.Minute, AlertRate: 600},
		Profiles: map[string]*Profile{},
	}
	if diff := cmp.Diff(want, got, patternEqual); diff != "" {
		t.Errorf("Load(missing) mismatch (-want +got):\n%s", diff)
	}
	if got.Match("https://git.corp.example/") != nil {
		t.Error("Match on an empty config returned a profile")
	}
	if names := got.ProfileNames(); len(names) != 0 {
		t.Errorf("ProfileNames() = %q, want none", names)
	}
}

func TestLoadEmptyFileEqualsMissing(t *testing.T) {
	path := filepath.Join(t.TempDir(), "config.toml")
	if err := os.WriteFile(path, []byte("# nothing yet\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	got, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	want := &Config{Path: path, Store: "auto", Agent: Agent{IdleTimeout: 30 * time.Minute, AlertRate: 600}, Profiles: map[string]*Profile{}}
	if diff := cmp.Diff(want, got, patternEqual); diff != "" {
		t.Errorf("Load(empty) mismatch (-want +got):\n%s", diff)
	}
}

func TestLoadUnreadable(t *testing.T) {
	dir := t.TempDir()
	for _, tt := range []struct {
		name, path, want string
	}{
		{"directory", dir, "is a directory"},
		{"no path", "", "no file name"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Load(tt.path)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Load(%q) error = %v, want one containing %q", tt.path, err, tt.want)
			}
		})
	}
}

func TestLoadTooLarge(t *testing.T) {
	path := filepath.Join(t.TempDir(), "config.toml")
	if err := os.WriteFile(path, []byte(strings.Repeat("#\n", maxFileSize)), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := Load(path)
	if err == nil || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), "larger than") {
		t.Errorf("Load(huge) error = %v, want one naming the file and its size", err)
	}
}

// badFiles maps each testdata/config/bad-*.toml, one per validation rule,
// to what its error must say besides the file's path.
var badFiles = map[string]struct {
	key    string   // the key named in the error
	reason []string // substrings of the reason
	absent []string // substrings that must not appear (secrets)
}{
	"bad-unknown-key.toml":             {key: "profiles.work.sopes", reason: []string{"unknown key", "scopes"}},
	"bad-key-case.toml":                {key: "profiles.work.Client_ID", reason: []string{"case-sensitive", `"client_id"`}},
	"bad-client-secret.toml":           {key: "profiles.work.client_secret", reason: []string{"Mayfly is a public client: a client secret does not belong in this file"}, absent: []string{"hunter2"}},
	"bad-client-secret-syntax.toml":    {key: ":4: profiles.work.client_secret", reason: []string{"public client"}, absent: []string{"hunter2"}},
	"bad-issuer-http-public.toml":      {key: "profiles.work.issuer", reason: []string{`http:// issuers are only allowed on loopback addresses (got "http://example.com")`}},
	"bad-issuer-http-private.toml":     {key: "profiles.work.issuer", reason: []string{"only allowed on loopback", "10.0.0.1"}},
	"bad-issuer-query.toml":            {key: "profiles.work.issuer", reason: []string{"must not have a query"}},
	"bad-issuer-missing.toml":          {key: "profiles.work.issuer", reason: []string{"missing"}},
	"bad-client-id-missing.toml":       {key: "profiles.work.client_id", reason: []string{"missing"}},
	"bad-client-id-empty.toml":         {key: "profiles.work.client_id", reason: []string{"must not be empty"}},
	"bad-match-missing.toml":           {key: "profiles.work.match", reason: []string{"missing"}},
	"bad-match-empty.toml":             {key: "profiles.work.match", reason: []string{"at least one"}},
	"bad-match-entry.toml":             {key: "profiles.work.match[1]", reason: []string{"scheme must be http or https", "ftp://files.corp.example/"}},
	"bad-match-wildcard.toml":          {key: "profiles.work.match[0]", reason: []string{"leftmost label"}},
	"bad-match-type.toml":              {key: "profiles.work.match", reason: []string{"must be an array of strings (got a string)"}},
	"bad-match-repeated.toml":          {key: "profiles.work.match[1]", reason: []string{"same pattern as match[0]"}},
	"bad-duplicate-pattern.toml":       {key: "profiles.beta.match[1]", reason: []string{`"https://git.corp.example/"`, `profile "alpha"`, `profile "beta"`, "arbitrary"}},
	"bad-flow.toml":                    {key: "profiles.work.flow", reason: []string{`must be "device" or "browser"`, "implicit"}},
	"bad-token.toml":                   {key: "profiles.work.token", reason: []string{`must be "access_token" or "id_token"`}},
	"bad-id-token-without-openid.toml": {key: "profiles.work.token", reason: []string{`needs the "openid" scope`}},
	"bad-scope.toml":                   {key: "profiles.work.scopes[1]", reason: []string{"not a scope", `"read write"`}},
	"bad-username.toml":                {key: "profiles.work.username", reason: []string{"newline"}},
	"bad-duration.toml":                {key: "profiles.work.refresh_margin", reason: []string{"not a duration", `"a minute"`}},
	"bad-duration-integer.toml":        {key: "agent.idle_timeout", reason: []string{"must be a duration string", "got an integer"}},
	"bad-refresh-margin-range.toml":    {key: "profiles.work.refresh_margin", reason: []string{"between 0s and 1h", `"-5s"`}},
	"bad-idle-timeout-range.toml":      {key: "agent.idle_timeout", reason: []string{"between 1s and 168h", `"169h"`}},
	"bad-profile-name.toml":            {key: `profiles."my work"`, reason: []string{"profile names must be 1 to 64"}},
	"bad-syntax.toml":                  {key: ":4:", reason: []string{"invalid TOML"}},
	"bad-store.toml":                   {key: "store", reason: []string{`"plaintext"`, "kernel-keyring"}},
	"bad-tpm.toml":                     {key: "tpm", reason: []string{`unknown kind "127.0.0.1"`, "tcp:HOST:PORT", `"127.0.0.1:2321"`}},
	"bad-agent-not-table.toml":         {key: "agent", reason: []string{"must be a table (got a string)"}},
	"bad-wrong-type.toml":              {key: "profiles.work.client_id", reason: []string{"must be a string (got an integer)"}},
	"bad-allow-exec-relative.toml":     {key: "profiles.work.allow_exec[1]", reason: []string{"must be an absolute path", `"git"`}},
	"bad-allow-exec-pattern.toml":      {key: "profiles.work.allow_exec[0]", reason: []string{"not a valid pattern", `"/usr/bin/[git"`}},
	"bad-allow-exec-empty.toml":        {key: "profiles.work.allow_exec", reason: []string{"at least one executable", "no restriction"}},
	"bad-alert-rate.toml":              {key: "agent.alert_rate", reason: []string{"between 0 (no alert) and 1000000", "-1"}},
}

func TestLoadBad(t *testing.T) {
	for name, tt := range badFiles {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join("testdata", "config", name)
			_, err := Load(path)
			if err == nil {
				t.Fatalf("Load(%q) succeeded, want an error", path)
			}
			msg := err.Error()
			t.Log(msg)
			if !strings.HasPrefix(msg, path+":") {
				t.Errorf("error %q does not start with the path", msg)
			}
			for _, want := range append([]string{tt.key}, tt.reason...) {
				if !strings.Contains(msg, want) {
					t.Errorf("error %q does not mention %q", msg, want)
				}
			}
			for _, bad := range tt.absent {
				if strings.Contains(msg, bad) {
					t.Errorf("error %q mentions %q", msg, bad)
				}
			}
			if strings.Contains(msg, "\n") {
				t.Errorf("error %q spans lines", msg)
			}
		})
	}
}

// TestBadFilesListed keeps badFiles and testdata in step, so that a new
// fixture cannot go unchecked.
func TestBadFilesListed(t *testing.T) {
	paths, err := filepath.Glob(filepath.Join("testdata", "config", "bad-*.toml"))
	if err != nil {
		t.Fatal(err)
	}
	var files, listed []string
	for _, p := range paths {
		files = append(files, filepath.Base(p))
	}
	for name := range badFiles {
		listed = append(listed, name)
	}
	slices.Sort(listed)
	if diff := cmp.Diff(listed, files); diff != "" {
		t.Errorf("badFiles and testdata differ (-badFiles +testdata):\n%s", diff)
	}
}

// TestParseErrors covers rules whose fixtures would add little: each input
// is a complete file.
func TestParseErrors(t *testing.T) {
	const head = "[profiles.w]\nissuer = \"https://id.example\"\nclient_id = \"m\"\nmatch = [\"h.example\"]\n"
	tests := []struct {
		name, data, want string
	}{
		{"unknown top-level key", "stores = \"auto\"", `stores: unknown key (known keys here: store, tpm, agent, profiles)`},
		{"tpm relative path", "tpm = \"dev/tpmrm0\"", `tpm: not a TPM: leave it out`},
		{"tpm tcp without port", "tpm = \"tcp:127.0.0.1\"", "tpm: must be tcp:HOST:PORT"},
		{"tpm tcp port zero", "tpm = \"tcp:127.0.0.1:0\"", "tpm: the port must be a number from 1 to 65535"},
		{"tpm mssim last port", "tpm = \"mssim:127.0.0.1:65535\"", "from 1 to 65534"},
		{"tpm unix relative", "tpm = \"unix:swtpm.sock\"", "tpm: must be unix:/absolute/path"},
		{"tpm not a string", "tpm = 2321", "tpm: must be a string"},
		{"tpm control", "tpm = \"/dev/tpm\\u0000\"", "tpm: must not contain control characters"},
		{"unknown agent key", "[agent]\nidle = \"1m\"", "agent.idle: unknown key (known keys here: idle_timeout, alert_rate)"},
		{"unknown dotted key", "agent.x.y = 1", "agent.x.y: unknown key"},
		{"unknown nested table", head + "[profiles.w.extra]\na = 1", "profiles.w.extra: unknown key"},
		{"secret at top level", "client_secret = \"x\"", "client_secret: Mayfly is a public client"},
		{"secret nested in a profile", head + "[profiles.w.oauth]\nclientSecret = \"x\"", "profiles.w.oauth.clientSecret: Mayfly is a public client"},
		{"secret case-folded", head + "Client-Secret = \"x\"", "profiles.w.Client-Secret: Mayfly is a public client"},
		{"table key in wrong case", "[Profiles.w]\nissuer = \"x\"", "Profiles: unknown key (keys are case-sensitive"},
		{"profiles not a table", "profiles = 1", "profiles: must be a table (got an integer)"},
		{"profiles array of tables", "[[profiles]]\nissuer = \"x\"", "profiles: must be a table (got an array of tables)"},
		{"profile not a table", "[profiles]\nw = \"x\"", "profiles.w: must be a table (got a string)"},
		{"profile array of tables", "[[profiles.w]]\nissuer = \"x\"", "profiles.w: must be a table (got an array of tables)"},
		{"inline table for a string", "[profiles.w]\nissuer = {url = \"x\"}", "profiles.w.issuer: must be a string (got a table)"},
		{"table inside match", "[profiles.w]\nissuer = \"https://id.example\"\nclient_id = \"m\"\nmatch = [{host = \"x\"}]", "profiles.w.match[0]: must be a string (got a table)"},
		{"number in match", "[profiles.w]\nissuer = \"https://id.example\"\nclient_id = \"m\"\nmatch = [\"h.example\", 1]", "profiles.w.match[1]: must be a string (got an integer)"},
		{"duplicate key", "store = \"auto\"\nstore = \"keyring\"", "test.toml:2: store: invalid TOML"},
		{"empty store", "store = \"\"", `store: must be "auto" or one of tpm, secret-service, keychain, wincred, kernel-keyring, memory (got "")`},
		{"idle timeout zero", "[agent]\nidle_timeout = \"0\"", "agent.idle_timeout: must be between 1s and 168h"},
		{"empty profile name", "[profiles.\"\"]\nissuer = \"x\"", `profiles."": profile names`},
		{"long profile name", "[profiles." + strings.Repeat("a", 65) + "]\nissuer = \"x\"", "profile names must be 1 to 64"},
		{"issuer empty", "[profiles.w]\nissuer = \"\"", "profiles.w.issuer: must not be empty"},
		{"issuer relative", "[profiles.w]\nissuer = \"login.corp.example\"", "must be an https:// URL"},
		{"issuer ftp", "[profiles.w]\nissuer = \"ftp://login.corp.example\"", "must be an https:// URL"},
		{"issuer userinfo", "[profiles.w]\nissuer = \"https://u:p@login.corp.example\"", "must not contain a user name"},
		{"issuer fragment", "[profiles.w]\nissuer = \"https://login.corp.example/#x\"", "must not have a fragment"},
		{"issuer empty query", "[profiles.w]\nissuer = \"https://login.corp.example/?\"", "must not have a query"},
		{"issuer bad port", "[profiles.w]\nissuer = \"https://login.corp.example:70000\"", "port must be a number"},
		{"issuer no host", "[profiles.w]\nissuer = \"https:///path\"", "must be of the form"},
		{"issuer bad host", "[profiles.w]\nissuer = \"https://login_corp!.example\"", "profiles.w.issuer:"},
		{"issuer http on 127.1", "[profiles.w]\nissuer = \"http://127.1/\"", "not a valid host name or IPv4 address"},
		{"issuer space", "[profiles.w]\nissuer = \"https://login.corp.example/a b\"", "must not contain spaces"},
		{"client id control", "[profiles.w]\nissuer = \"https://id.example\"\nclient_id = \"m\\u0007\"", "must not contain control characters"},
		{"scopes empty", head + "scopes = []", "profiles.w.scopes: must list at least one scope"},
		{"scope empty", head + "scopes = [\"\"]", "profiles.w.scopes[0]: not a scope"},
		{"scope quote", head + "scopes = ['a\"b']", "profiles.w.scopes[0]: not a scope"},
		{"scope twice", head + "scopes = [\"openid\", \"openid\"]", `profiles.w.scopes[1]: "openid" is already scopes[0]`},
		{"username empty", head + "username = \"\"", "profiles.w.username: must not be empty"},
		{"username NUL", head + "username = \"a\\u0000\"", "profiles.w.username: must not contain"},
		{"username CR", head + "username = \"a\\rb\"", "profiles.w.username: must not contain"},
		{"refresh margin integer", head + "refresh_margin = 60", "profiles.w.refresh_margin: must be a duration string"},
		{"flow wrong type", head + "flow = true", "profiles.w.flow: must be a string (got a boolean)"},
		{"scopes wrong type", head + "scopes = \"openid\"", "profiles.w.scopes: must be an array of strings (got a string)"},
		{"date for a string", head + "token = 2024-01-01", "profiles.w.token: must be a string (got a date or time)"},
		{"alert rate string", "[agent]\nalert_rate = \"600\"", "agent.alert_rate: must be an integer"},
		{"alert rate too high", "[agent]\nalert_rate = 1000001", "agent.alert_rate: must be between 0"},
		{"allow_exec string", head + "allow_exec = \"/usr/bin/git\"", "profiles.w.allow_exec: must be an array of strings (got a string)"},
		{"allow_exec empty entry", head + "allow_exec = [\"\"]", "profiles.w.allow_exec[0]: must not be empty"},
		{"allow_exec dot dot", head + "allow_exec = [\"/usr/bin/../bin/git\"]", "profiles.w.allow_exec[0]: must be a clean path"},
		{"allow_exec trailing slash", head + "allow_exec = [\"/usr/bin/\"]", "profiles.w.allow_exec[0]: must be a clean path"},
		{"allow_exec Windows dot dot", head + "allow_exec = ['C:\\a\\..\\git.exe']", "profiles.w.allow_exec[0]: must be a clean path"},
		{"allow_exec twice", head + "allow_exec = [\"/usr/bin/git\", \"/usr/bin/git\"]", "profiles.w.allow_exec[1]: same entry as allow_exec[0]"},
		{"allow_exec control", head + "allow_exec = [\"/usr/bin/g\\u0007\"]", "profiles.w.allow_exec[0]: must not contain control"},
		{"dpop string", head + "dpop = \"yes\"", "profiles.w.dpop: must be true or false (got a string)"},
		{"client_auth secret", head + "client_auth = \"client_secret_basic\"", `profiles.w.client_auth: must be "none" (a public client) or "private_key_jwt"`},
		{"require_hardware_key int", head + "require_hardware_key = 1", "profiles.w.require_hardware_key: must be true or false"},
		{"exchange unknown consumer", head + "[profiles.w.exchange.gti]\naudience = \"x\"", `profiles.w.exchange.gti: unknown key`},
		{"exchange unknown key", head + "[profiles.w.exchange.git]\naudiences = \"x\"", `profiles.w.exchange.git.audiences: unknown key (known keys here: audience, resource, scopes)`},
		{"exchange empty", head + "[profiles.w.exchange.git]", `profiles.w.exchange.git: names no audience, resource or scopes`},
		{"exchange relative resource", head + "[profiles.w.exchange.git]\nresource = \"git.example\"", `profiles.w.exchange.git.resource[0]: must be an absolute URI`},
		{"exchange bad scope", head + "[profiles.w.exchange.kubectl]\nscopes = [\"a b\"]", `profiles.w.exchange.kubectl.scopes[0]: not a scope`},
		{"exchange not a table", head + "exchange = 1", `profiles.w.exchange: must be a table`},
		{"match empty string", "[profiles.w]\nissuer = \"https://id.example\"\nclient_id = \"m\"\nmatch = [\"\"]", "profiles.w.match[0]: must not be empty"},
		{"secret in profile name is fine, bad name is not", "[profiles.\"client secret\"]\nissuer = \"x\"", "profile names must be"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse("test.toml", []byte(tt.data))
			if err == nil {
				t.Fatalf("Parse succeeded, want an error containing %q", tt.want)
			}
			if msg := err.Error(); !strings.HasPrefix(msg, "test.toml:") || !strings.Contains(msg, tt.want) || strings.Contains(msg, "\n") {
				t.Errorf("Parse error = %q, want one line starting with the path and containing %q", msg, tt.want)
			}
		})
	}
}

func TestParseAccepts(t *testing.T) {
	const tail = "client_id = \"m\"\nmatch = [\"h.example\"]\n"
	tests := []struct {
		name, data string
		check      func(*Config) bool
	}{
		{"store memory", "store = \"memory\"", func(c *Config) bool { return c.Store == "memory" }},
		{"reserved store", "store = \"tpm\"", func(c *Config) bool { return c.Store == "tpm" }},
		{"tpm default", "", func(c *Config) bool { return c.TPM == "" }},
		{"tpm empty", "tpm = \"\"", func(c *Config) bool { return c.TPM == "" }},
		{"tpm device", "tpm = \"/dev/tpm0\"", func(c *Config) bool { return c.TPM == "/dev/tpm0" }},
		{"tpm swtpm tcp", "tpm = \"tcp:127.0.0.1:2321\"", func(c *Config) bool { return c.TPM == "tcp:127.0.0.1:2321" }},
		{"tpm swtpm unix", "tpm = \"unix:/run/swtpm/sock\"", func(c *Config) bool { return c.TPM == "unix:/run/swtpm/sock" }},
		{"tpm mssim", "tpm = \"mssim:[::1]:2321\"", func(c *Config) bool { return c.TPM == "mssim:[::1]:2321" }},
		{"idle timeout bounds", "[agent]\nidle_timeout = \"168h\"", func(c *Config) bool { return c.Agent.IdleTimeout == 168*time.Hour }},
		{"inline agent table", "agent = {idle_timeout = \"1s\"}", func(c *Config) bool { return c.Agent.IdleTimeout == time.Second }},
		{"http localhost issuer", "[profiles.w]\nissuer = \"http://LocalHost:8080\"\n" + tail, func(c *Config) bool { return c.Profiles["w"].Issuer == "http://LocalHost:8080" }},
		{"http ::1 issuer", "[profiles.w]\nissuer = \"http://[::1]:8080/\"\n" + tail, func(c *Config) bool { return c.Profiles["w"] != nil }},
		{"http 127.0.0.2 issuer", "[profiles.w]\nissuer = \"http://127.0.0.2/\"\n" + tail, func(c *Config) bool { return c.Profiles["w"] != nil }},
		{"zero refresh margin", "[profiles.w]\nissuer = \"https://id.example\"\n" + tail + "refresh_margin = \"0s\"", func(c *Config) bool { return c.Profiles["w"].RefreshMargin == 0 }},
		{"dotted profile name", "[profiles.\"corp.prod_1-a\"]\nissuer = \"https://id.example\"\n" + tail, func(c *Config) bool { return c.Profiles["corp.prod_1-a"].Name == "corp.prod_1-a" }},
		{"dotted keys", "profiles.w.issuer = \"https://id.example\"\nprofiles.w.client_id = \"m\"\nprofiles.w.match = [\"h.example\"]", func(c *Config) bool { return c.Profiles["w"] != nil }},
		{"same host, other path in two profiles", "[profiles.a]\nissuer = \"https://id.example\"\nclient_id = \"m\"\nmatch = [\"https://git.example/a/\"]\n[profiles.b]\nissuer = \"https://id.example\"\nclient_id = \"m\"\nmatch = [\"https://git.example/b/\", \"git.example\"]", func(c *Config) bool { return len(c.Profiles) == 2 }},
		{"alert rate off", "[agent]\nalert_rate = 0", func(c *Config) bool { return c.Agent.AlertRate == 0 }},
		{"alert rate default", "", func(c *Config) bool { return c.Agent.AlertRate == 600 }},
		{"allow_exec patterns", "[profiles.w]\nissuer = \"https://id.example\"\n" + tail + "allow_exec = [\"/usr/bin/git\", \"/opt/*/bin/tool-[ab]\", \"/\"]", func(c *Config) bool { return len(c.Profiles["w"].AllowExec) == 3 }},
		{"allow_exec on Windows", "[profiles.w]\nissuer = \"https://id.example\"\n" + tail + "allow_exec = ['C:\\Program Files\\Git\\cmd\\git.exe', \"c:/tools/*.exe\"]", func(c *Config) bool { return len(c.Profiles["w"].AllowExec) == 2 }},
		{"allow_exec unset", "[profiles.w]\nissuer = \"https://id.example\"\n" + tail, func(c *Config) bool { return c.Profiles["w"].AllowExec == nil }},
		{"device key options", "[profiles.w]\nissuer = \"https://id.example\"\n" + tail + "dpop = true\nclient_auth = \"private_key_jwt\"\nrequire_hardware_key = true",
			func(c *Config) bool {
				p := c.Profiles["w"]
				return p.DPoP && p.ClientAuth == ClientAuthPrivateKeyJWT && p.RequireHardwareKey && p.UsesDeviceKey()
			}},
		{"no device key by default", "[profiles.w]\nissuer = \"https://id.example\"\n" + tail, func(c *Config) bool { return !c.Profiles["w"].UsesDeviceKey() }},
		{"exchange per consumer", "[profiles.w]\nissuer = \"https://id.example\"\n" + tail +
			"[profiles.w.exchange.git]\naudience = \"git\"\n[profiles.w.exchange.kubectl]\naudience = [\"k8s\", \"k8s-2\"]\nresource = [\"https://k8s.example/\"]\nscopes = [\"openid\"]",
			func(c *Config) bool {
				e := c.Profiles["w"].Exchange
				return len(e) == 2 && e["git"].Audience[0] == "git" && len(e["kubectl"].Audience) == 2 && e["kubectl"].Resource[0] == "https://k8s.example/"
			}},
		{"byte order mark", "\ufeffstore = \"auto\"", func(c *Config) bool { return c.Store == "auto" }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Parse("test.toml", []byte(tt.data))
			if err != nil {
				t.Fatal(err)
			}
			if !tt.check(c) {
				t.Errorf("Parse(%q) = %+v, which fails the check", tt.data, c)
			}
		})
	}
}

func TestProfileScopesNotShared(t *testing.T) {
	c, err := Parse("test.toml", []byte("[profiles.a]\nissuer = \"https://id.example\"\nclient_id = \"m\"\nmatch = [\"a.example\"]\n[profiles.b]\nissuer = \"https://id.example\"\nclient_id = \"m\"\nmatch = [\"b.example\"]\n"))
	if err != nil {
		t.Fatal(err)
	}
	c.Profiles["a"].Scopes[0] = "changed"
	if got := c.Profiles["b"].Scopes[0]; got != "openid" {
		t.Errorf("changing one profile's default scopes changed another's to %q", got)
	}
	if got := defaultScopes[0]; got != "openid" {
		t.Errorf("changing a profile's scopes changed the defaults to %q", got)
	}
}
