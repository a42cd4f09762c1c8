// Package config loads and validates Mayfly's configuration file.
//
// Which file that is gets decided elsewhere: $MAYFLY_CONFIG if it is set,
// else $XDG_CONFIG_HOME/mayfly/config.toml. This package only reads the file
// it is given, validates all of it once, and returns a typed [Config], so the
// rest of Mayfly never sees an unchecked value. A bad file is refused with a
// one-line error naming the file, the key and the reason:
//
//	/home/u/.config/mayfly/config.toml: profiles.work.issuer: http:// issuers are only allowed on loopback addresses (got "http://example.com")
//
// The file is TOML:
//
//	store = "auto"                 # or tpm, secret-service, keychain, wincred, kernel-keyring, memory
//	tpm = ""                       # this machine's TPM; or "/dev/tpm0", "tcp:HOST:PORT", "unix:/PATH", "mssim:HOST:PORT"
//
//	[agent]
//	idle_timeout = "30m"           # 1s to 168h
//	alert_rate = 600               # tokens per minute per consumer and profile before an audit alert; 0: off
//
//	[profiles.work]
//	issuer = "https://login.corp.example"
//	client_id = "mayfly"
//	scopes = ["openid", "offline_access"]
//	flow = "device"                # or "browser"
//	match = ["https://git.corp.example/", "registry.corp.example", "*.corp.example"]
//	username = "oauth2"
//	token = "access_token"         # or "id_token"
//	refresh_margin = "60s"         # 0s to 1h
//	allow_exec = ["/usr/bin/git", "/usr/lib/git-core/*"]   # default: no restriction
//
// Only issuer, client_id and match are required; the values above are the
// defaults of the others, except allow_exec, which is unset by default. See [ParsePattern] for the match entries and
// [Config.Match] for how a target picks its profile.
package config

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"net/netip"
	"net/url"
	"os"
	"path"
	"reflect"
	"slices"
	"strings"
	"time"
	"unicode"

	"github.com/BurntSushi/toml"
)

// Config is a validated configuration file.
type Config struct {
	Path     string              // file it came from
	Store    string              // "auto" or a store name
	TPM      string              // "" for this machine's TPM, or a device path or emulator address
	Agent    Agent               // the local agent's settings
	Profiles map[string]*Profile // by name; never nil
}

// Agent holds the settings of the local agent.
type Agent struct {
	// IdleTimeout is how long the agent lives without a request.
	IdleTimeout time.Duration
	// AlertRate is how many tokens one consumer may receive for one
	// profile within a minute before the agent writes an alert to the
	// audit log; 0 turns the alert off.
	AlertRate int
}

// Profile is one OpenID provider and client, and the targets it serves.
type Profile struct {
	Name          string    // the key under [profiles]
	Issuer        string    // exactly as written: OIDC compares issuers as strings
	ClientID      string    // a public client: there is no secret
	Scopes        []string  // requested scopes
	Flow          string    // FlowDevice or FlowBrowser
	Match         []Pattern // in the order written
	Username      string    // handed to git and docker next to the token
	Token         string    // TokenAccess or TokenID: which token is handed out
	RefreshMargin time.Duration
	// AllowExec, when not nil, lists the executables (absolute paths, or
	// [path.Match] patterns) that may receive this profile's tokens: the
	// caller's executable or one of its ancestors' must match one. nil
	// means no restriction.
	AllowExec []string
	// DPoP binds the profile's tokens to the device key (RFC 9449).
	DPoP bool
	// ClientAuth is how the client authenticates at the token endpoint:
	// ClientAuthNone (a public client) or ClientAuthPrivateKeyJWT (a
	// confidential client registered with the device key, RFC 7523).
	ClientAuth string
	// RequireHardwareKey refuses a device key that is not in a TPM.
	RequireHardwareKey bool
	// Exchange maps a consumer ("git", "docker", "kubectl", ...) to the
	// narrower token it gets by token exchange (RFC 8693); consumers not
	// listed get the profile's own token.
	Exchange map[string]Exchange
}

// Exchange describes the token one consumer receives by token exchange.
type Exchange struct {
	Audience []string // RFC 8693 audience
	Resource []string // RFC 8693 resource: absolute URIs
	Scopes   []string // requested scope; empty: the provider decides
}

// UsesDeviceKey reports whether the profile's requests are signed by the
// device key.
func (p *Profile) UsesDeviceKey() bool {
	return p.DPoP || p.ClientAuth == ClientAuthPrivateKeyJWT || p.RequireHardwareKey
}

// Values of [Profile.Flow] and [Profile.Token].
const (
	FlowDevice  = "device"  // RFC 8628 device authorization grant
	FlowBrowser = "browser" // authorization code with PKCE and a loopback redirect

	TokenAccess = "access_token"
	TokenID     = "id_token"

	ClientAuthNone          = "none"
	ClientAuthPrivateKeyJWT = "private_key_jwt"
)

// Consumers are the names helpers give the agent, which key
// [Profile.Exchange].
var Consumers = []string{"git", "docker", "kubectl", "bazel", "json", "go", "cargo", "token"}

// Defaults and limits.
const (
	defaultStore         = "auto"
	defaultIdleTimeout   = 30 * time.Minute
	minIdleTimeout       = time.Second
	maxIdleTimeout       = 168 * time.Hour
	defaultRefreshMargin = 60 * time.Second
	maxRefreshMargin     = time.Hour
	defaultUsername      = "oauth2"
	defaultAlertRate     = 600
	maxAlertRate         = 1_000_000
	maxNameLen           = 64

	// maxFileSize guards against MAYFLY_CONFIG=/dev/zero and the like; real
	// files are a few hundred bytes.
	maxFileSize = 1 << 20
)

// stores are the accepted values of store besides "auto". Some have no
// backend yet; they are accepted so that a file written for a later version
// is not refused by this one for naming them.
var stores = []string{"tpm", "secret-service", "keychain", "wincred", "kernel-keyring", "memory"}

var defaultScopes = []string{"openid", "offline_access"}

// Load reads and validates the file at path. A missing file is not an error:
// it returns an empty Config (no profiles, default settings) with that Path,
// so that `mayfly status` can say "no profiles configured in PATH".
func Load(path string) (*Config, error) {
	if path == "" {
		return nil, errors.New("config: no file name given")
	}
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return Parse(path, nil)
	}
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	if len(data) > maxFileSize {
		return nil, fmt.Errorf("%s: larger than %d bytes, which no Mayfly configuration is", path, maxFileSize)
	}
	return Parse(path, data)
}

// Parse validates data as if read from path, which is used only in errors
// and as [Config.Path].
func Parse(path string, data []byte) (*Config, error) {
	var raw rawFile
	md, err := toml.Decode(string(data), &raw)
	if perr, ok := errors.AsType[toml.ParseError](err); ok {
		return nil, syntaxError(path, data, perr)
	}
	v := validator{path: path, md: md}
	if err := v.checkKeys(); err != nil {
		return nil, err
	}
	if err != nil {
		// checkKeys has ruled out every shape the decoder refuses; this
		// is a backstop.
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if err := v.checkUndecoded(); err != nil {
		return nil, err
	}
	return v.build(&raw)
}

// ProfileNames returns the names of the profiles, sorted.
func (c *Config) ProfileNames() []string {
	if c == nil {
		return nil
	}
	names := make([]string, 0, len(c.Profiles))
	for name := range c.Profiles {
		names = append(names, name)
	}
	slices.Sort(names)
	return names
}

// Match picks the profile serving target, or returns nil.
//
// target is either a URL "scheme://host[:port][/path]" (git, kubectl) or a
// bare "host[:port][/path]" (docker server names). A pattern matches when:
//
//   - the host is the same, case-insensitively; "*.corp.example" matches
//     subdomains at any depth, but not corp.example itself;
//   - a URL pattern has the same scheme; a bare pattern matches http, https
//     and bare targets;
//   - a pattern without a port matches a target with no port or the
//     scheme's default one (https 443, http 80); a pattern with a port needs
//     that port, which a URL target without a port has if it is its scheme's
//     default;
//   - the pattern's path is a prefix of the target's on whole segments:
//     "/org" and "/org/" match "/org" and "/org/repo.git" but not
//     "/organisation". A target without a path (git drops it unless
//     credential.useHttpPath is set) matches only patterns for the whole host.
//
// Among matching patterns the most specific wins: an exact host beats a
// wildcard (and a longer wildcard a shorter one), then the longer path wins,
// then a URL pattern beats a bare one, then a pattern with a port beats one
// without. Load refuses files where two profiles share a pattern, so the
// winner is never a toss-up.
//
// A target with a user name, a backslash or a malformed host matches
// nothing: another parser might read its host differently.
func (c *Config) Match(target string) *Profile {
	if c == nil || len(c.Profiles) == 0 {
		return nil
	}
	t, ok := parseTarget(target)
	if !ok {
		return nil
	}
	var (
		best    *Profile
		bestPat Pattern
	)
	for _, name := range c.ProfileNames() {
		prof := c.Profiles[name]
		for _, p := range prof.Match {
			if p.matches(t) && (best == nil || p.beats(bestPat)) {
				best, bestPat = prof, p
			}
		}
	}
	return best
}

// The raw* types mirror the file. Leaves are [value]s, so that a value of
// the wrong type is reported by the validator, naming the key, rather than
// by the decoder in terms of Go types; tables are structs and maps, so that
// [toml.MetaData.Undecoded] finds unknown keys.
type (
	rawFile struct {
		Store    value                 `toml:"store"`
		TPM      value                 `toml:"tpm"`
		Agent    rawAgent              `toml:"agent"`
		Profiles map[string]rawProfile `toml:"profiles"`
	}
	rawAgent struct {
		IdleTimeout value `toml:"idle_timeout"`
		AlertRate   value `toml:"alert_rate"`
	}
	rawProfile struct {
		Issuer        value                  `toml:"issuer"`
		ClientID      value                  `toml:"client_id"`
		Scopes        value                  `toml:"scopes"`
		Flow          value                  `toml:"flow"`
		Match         value                  `toml:"match"`
		Username      value                  `toml:"username"`
		Token         value                  `toml:"token"`
		RefreshMargin value                  `toml:"refresh_margin"`
		AllowExec     value                  `toml:"allow_exec"`
		DPoP          value                  `toml:"dpop"`
		ClientAuth    value                  `toml:"client_auth"`
		RequireHWKey  value                  `toml:"require_hardware_key"`
		Exchange      map[string]rawExchange `toml:"exchange"`
	}
	rawExchange struct {
		Audience value `toml:"audience"`
		Resource value `toml:"resource"`
		Scopes   value `toml:"scopes"`
	}
)

// value is one leaf of the file, as the decoder produced it.
type value struct {
	v   any
	set bool
}

// UnmarshalTOML implements [toml.Unmarshaler].
func (v *value) UnmarshalTOML(data any) error {
	v.v, v.set = data, true
	return nil
}

// Key names of each table, from the struct tags.
var (
	topKeys     = tomlKeys[rawFile]()
	agentKeys   = tomlKeys[rawAgent]()
	profileKeys = tomlKeys[rawProfile]()
	exchKeys    = tomlKeys[rawExchange]()
)

func tomlKeys[T any]() []string {
	t := reflect.TypeFor[T]()
	keys := make([]string, t.NumField())
	for i := range keys {
		keys[i] = t.Field(i).Tag.Get("toml")
	}
	return keys
}

// schema returns the key names allowed in the table at parent, or nil if
// parent is not a table of the file format (or is [profiles], whose keys are
// profile names).
func schema(parent toml.Key) []string {
	switch {
	case len(parent) == 0:
		return topKeys
	case len(parent) == 1 && parent[0] == "agent":
		return agentKeys
	case len(parent) == 2 && parent[0] == "profiles":
		return profileKeys
	case len(parent) == 3 && parent[0] == "profiles" && parent[2] == "exchange":
		return Consumers
	case len(parent) == 4 && parent[0] == "profiles" && parent[2] == "exchange":
		return exchKeys
	}
	return nil
}

// isTable reports whether key names a table of the file format.
func isTable(key toml.Key) bool {
	switch len(key) {
	case 1:
		return key[0] == "agent" || key[0] == "profiles"
	case 2:
		return key[0] == "profiles"
	case 3, 4:
		return key[0] == "profiles" && key[2] == "exchange"
	}
	return false
}

// isSecretKey reports whether a key component looks like a client secret:
// client_secret, clientSecret, client-secret, "client secret"...
func isSecretKey(k string) bool {
	return strings.Contains(squash(k), "clientsecret")
}

// squash lowercases s and drops the separators people put between words.
func squash(s string) string {
	return strings.Map(func(r rune) rune {
		switch r {
		case '_', '-', ' ', '.', '"', '\'':
			return -1
		}
		return r
	}, strings.ToLower(s))
}

const secretReason = "Mayfly is a public client: a client secret does not belong in this file"

// syntaxError reports a TOML syntax error with the file and line.
func syntaxError(path string, data []byte, perr toml.ParseError) error {
	msg := oneLine(perr.Message)
	// The parser quotes what it choked on, which may be the secret itself.
	if isSecretKey(perr.LastKey) || isSecretKey(lineAt(data, perr.Position.Line)) {
		msg = "details not shown, as this line seems to hold a client secret; " + secretReason
	}
	prefix := fmt.Sprintf("%s:%d: ", path, perr.Position.Line)
	if perr.LastKey != "" {
		prefix += oneLine(perr.LastKey) + ": "
	}
	return fmt.Errorf("%sinvalid TOML: %s", prefix, msg)
}

// lineAt returns line n (from 1) of data, or "".
func lineAt(data []byte, n int) string {
	for i, line := range strings.Split(string(data), "\n") {
		if i+1 == n {
			return line
		}
	}
	return ""
}

// oneLine makes sure a message from elsewhere stays on one line.
func oneLine(s string) string {
	if !strings.ContainsAny(s, "\r\n\u0085\u2028\u2029") {
		return s
	}
	q := fmt.Sprintf("%q", s)
	return q[1 : len(q)-1]
}

type validator struct {
	path string
	md   toml.MetaData
}

func (v *validator) errorf(key, format string, args ...any) error {
	return fmt.Errorf("%s: %s: %s", v.path, key, fmt.Sprintf(format, args...))
}

// checkKeys refuses, in this order: a client secret anywhere; a known key
// in the wrong case (the decoder would quietly accept "Issuer"); a table
// that is not a table (the decoder would quietly ignore "profiles = 1").
// It needs only the keys the parser saw, so it works even if decoding failed.
func (v *validator) checkKeys() error {
	keys := v.md.Keys()
	for _, key := range keys {
		for i, k := range key {
			profileName := i == 1 && key[0] == "profiles"
			if !profileName && isSecretKey(k) {
				return v.errorf(key.String(), "%s", secretReason)
			}
		}
	}
	for _, key := range keys {
		for i := range key {
			names := schema(key[:i])
			if names == nil || slices.Contains(names, key[i]) {
				continue
			}
			for _, name := range names {
				if strings.EqualFold(name, key[i]) {
					return v.errorf(key[:i+1].String(), "unknown key (keys are case-sensitive: did you mean %q?)", name)
				}
			}
		}
	}
	for _, key := range keys {
		if isTable(key) {
			if typ := v.md.Type(key...); typ != "Hash" {
				return v.errorf(key.String(), "must be a table (got %s)", describeType(typ))
			}
		}
	}
	return nil
}

// checkUndecoded refuses keys the decoder did not use. Keys inside a leaf,
// such as the fields of an inline table where a string belongs, are left to
// the type checks, which give the better message.
func (v *validator) checkUndecoded() error {
	for _, key := range v.md.Undecoded() {
		if v.insideLeaf(key) {
			continue
		}
		if names := schema(key[:len(key)-1]); names != nil {
			return v.errorf(key.String(), "unknown key (known keys here: %s)", strings.Join(names, ", "))
		}
		return v.errorf(key.String(), "unknown key")
	}
	return nil
}

func (v *validator) insideLeaf(key toml.Key) bool {
	for i := 1; i < len(key); i++ {
		if names := schema(key[:i-1]); names != nil && slices.Contains(names, key[i-1]) && !isTable(key[:i]) {
			return true
		}
	}
	return false
}

func (v *validator) build(raw *rawFile) (*Config, error) {
	c := &Config{
		Path:     v.path,
		Store:    defaultStore,
		Agent:    Agent{IdleTimeout: defaultIdleTimeout, AlertRate: defaultAlertRate},
		Profiles: make(map[string]*Profile, len(raw.Profiles)),
	}
	if raw.Store.set {
		s, err := v.str("store", raw.Store)
		if err != nil {
			return nil, err
		}
		if s != defaultStore && !slices.Contains(stores, s) {
			return nil, v.errorf("store", "must be %q or one of %s (got %q)", defaultStore, strings.Join(stores, ", "), s)
		}
		c.Store = s
	}
	if raw.TPM.set {
		s, err := v.str("tpm", raw.TPM)
		if err != nil {
			return nil, err
		}
		if reason := tpmReason(s); reason != "" {
			return nil, v.errorf("tpm", "%s (got %q)", reason, s)
		}
		c.TPM = s
	}
	if raw.Agent.IdleTimeout.set {
		d, err := v.duration("agent.idle_timeout", raw.Agent.IdleTimeout, minIdleTimeout, maxIdleTimeout)
		if err != nil {
			return nil, err
		}
		c.Agent.IdleTimeout = d
	}
	if raw.Agent.AlertRate.set {
		n, ok := raw.Agent.AlertRate.v.(int64)
		if !ok {
			return nil, v.errorf("agent.alert_rate", "must be an integer: tokens per minute, 0 for no alert (got %s)", describe(raw.Agent.AlertRate.v))
		}
		if n < 0 || n > maxAlertRate {
			return nil, v.errorf("agent.alert_rate", "must be between 0 (no alert) and %d tokens per minute (got %d)", maxAlertRate, n)
		}
		c.Agent.AlertRate = int(n)
	}

	names := make([]string, 0, len(raw.Profiles))
	for name := range raw.Profiles {
		names = append(names, name)
	}
	slices.Sort(names)
	owner := make(map[Pattern]string) // pattern → name of the profile listing it
	for _, name := range names {
		prof, err := v.profile(name, raw.Profiles[name])
		if err != nil {
			return nil, err
		}
		for i, p := range prof.Match {
			if other, dup := owner[p]; dup {
				return nil, v.errorf(fmt.Sprintf("%s[%d]", keyOf(name, "match"), i),
					"pattern %q is in both profile %q and profile %q, so which one serves it would be arbitrary", p, other, name)
			}
		}
		for _, p := range prof.Match {
			owner[p] = name
		}
		c.Profiles[name] = prof
	}
	return c, nil
}

func keyOf(profile, field string) string {
	return toml.Key{"profiles", profile, field}.String()
}

func (v *validator) profile(name string, raw rawProfile) (*Profile, error) {
	if !validName(name) {
		return nil, v.errorf(toml.Key{"profiles", name}.String(),
			"profile names must be 1 to %d letters, digits, '.', '_' or '-'", maxNameLen)
	}
	key := func(field string) string { return keyOf(name, field) }
	p := &Profile{
		Name:          name,
		Scopes:        slices.Clone(defaultScopes),
		Flow:          FlowDevice,
		Username:      defaultUsername,
		Token:         TokenAccess,
		RefreshMargin: defaultRefreshMargin,
	}
	var err error

	if !raw.Issuer.set {
		return nil, v.errorf(key("issuer"), "missing: every profile needs the URL of its OpenID provider")
	}
	if p.Issuer, err = v.str(key("issuer"), raw.Issuer); err != nil {
		return nil, err
	}
	if reason := issuerReason(p.Issuer); reason != "" {
		return nil, v.errorf(key("issuer"), "%s (got %q)", reason, p.Issuer)
	}

	if !raw.ClientID.set {
		return nil, v.errorf(key("client_id"), "missing: every profile needs the client ID registered with its provider")
	}
	if p.ClientID, err = v.str(key("client_id"), raw.ClientID); err != nil {
		return nil, err
	}
	switch {
	case p.ClientID == "":
		return nil, v.errorf(key("client_id"), "must not be empty")
	case hasControl(p.ClientID):
		return nil, v.errorf(key("client_id"), "must not contain control characters (got %q)", p.ClientID)
	}

	if raw.Scopes.set {
		if p.Scopes, err = v.strs(key("scopes"), raw.Scopes); err != nil {
			return nil, err
		}
		if len(p.Scopes) == 0 {
			return nil, v.errorf(key("scopes"), "must list at least one scope; leave it out for the default %q", defaultScopes)
		}
		for i, s := range p.Scopes {
			if !validScope(s) {
				return nil, v.errorf(fmt.Sprintf("%s[%d]", key("scopes"), i),
					"not a scope: scopes are non-empty and printable ASCII without spaces, '\"' or '\\' (got %q)", s)
			}
			// Duplicates would give one grant two cache entries.
			if j := slices.Index(p.Scopes, s); j < i {
				return nil, v.errorf(fmt.Sprintf("%s[%d]", key("scopes"), i), "%q is already scopes[%d]", s, j)
			}
		}
	}

	if raw.Flow.set {
		if p.Flow, err = v.str(key("flow"), raw.Flow); err != nil {
			return nil, err
		}
		if p.Flow != FlowDevice && p.Flow != FlowBrowser {
			return nil, v.errorf(key("flow"), "must be %q or %q (got %q)", FlowDevice, FlowBrowser, p.Flow)
		}
	}

	if !raw.Match.set {
		return nil, v.errorf(key("match"), `missing: list the URLs or hosts this profile serves, as in match = ["https://git.corp.example/"]`)
	}
	entries, err := v.strs(key("match"), raw.Match)
	if err != nil {
		return nil, err
	}
	if len(entries) == 0 {
		return nil, v.errorf(key("match"), "must list at least one URL or host")
	}
	for i, s := range entries {
		pat, reason := parsePattern(s)
		if reason != "" {
			return nil, v.errorf(fmt.Sprintf("%s[%d]", key("match"), i), "%s (got %q)", reason, s)
		}
		if j := slices.Index(p.Match, pat); j >= 0 {
			return nil, v.errorf(fmt.Sprintf("%s[%d]", key("match"), i), "same pattern as match[%d] (%s)", j, pat)
		}
		p.Match = append(p.Match, pat)
	}

	if raw.Username.set {
		if p.Username, err = v.str(key("username"), raw.Username); err != nil {
			return nil, err
		}
		switch {
		case p.Username == "":
			return nil, v.errorf(key("username"), "must not be empty; leave it out for the default %q", defaultUsername)
		case strings.ContainsAny(p.Username, "\n\r\x00"):
			// git's credential protocol is line-based, and C strings end at NUL.
			return nil, v.errorf(key("username"), "must not contain newline, carriage return or NUL characters (got %q)", p.Username)
		}
	}

	if raw.Token.set {
		if p.Token, err = v.str(key("token"), raw.Token); err != nil {
			return nil, err
		}
		if p.Token != TokenAccess && p.Token != TokenID {
			return nil, v.errorf(key("token"), "must be %q or %q (got %q)", TokenAccess, TokenID, p.Token)
		}
	}
	// An ID token is only issued for the openid scope (OpenID Connect Core 1.0 §3.1.2.1).
	if p.Token == TokenID && !slices.Contains(p.Scopes, "openid") {
		return nil, v.errorf(key("token"), "%q needs the \"openid\" scope, which scopes leaves out", TokenID)
	}

	if raw.RefreshMargin.set {
		if p.RefreshMargin, err = v.duration(key("refresh_margin"), raw.RefreshMargin, 0, maxRefreshMargin); err != nil {
			return nil, err
		}
	}

	if raw.AllowExec.set {
		if p.AllowExec, err = v.strs(key("allow_exec"), raw.AllowExec); err != nil {
			return nil, err
		}
		if len(p.AllowExec) == 0 {
			// An empty list would refuse every caller, which nobody means:
			// such a profile is better removed.
			return nil, v.errorf(key("allow_exec"), "must list at least one executable; leave it out for no restriction")
		}
		for i, e := range p.AllowExec {
			if reason := execReason(e); reason != "" {
				return nil, v.errorf(fmt.Sprintf("%s[%d]", key("allow_exec"), i), "%s (got %q)", reason, e)
			}
			if j := slices.Index(p.AllowExec, e); j < i {
				return nil, v.errorf(fmt.Sprintf("%s[%d]", key("allow_exec"), i), "same entry as allow_exec[%d]", j)
			}
		}
	}
	if raw.DPoP.set {
		b, ok := raw.DPoP.v.(bool)
		if !ok {
			return nil, v.errorf(key("dpop"), "must be true or false (got %s)", describe(raw.DPoP.v))
		}
		p.DPoP = b
	}
	p.ClientAuth = ClientAuthNone
	if raw.ClientAuth.set {
		if p.ClientAuth, err = v.str(key("client_auth"), raw.ClientAuth); err != nil {
			return nil, err
		}
		if p.ClientAuth != ClientAuthNone && p.ClientAuth != ClientAuthPrivateKeyJWT {
			return nil, v.errorf(key("client_auth"), "must be %q (a public client) or %q (signed by the device key; see `mayfly key show`) (got %q)",
				ClientAuthNone, ClientAuthPrivateKeyJWT, p.ClientAuth)
		}
	}
	if raw.RequireHWKey.set {
		b, ok := raw.RequireHWKey.v.(bool)
		if !ok {
			return nil, v.errorf(key("require_hardware_key"), "must be true or false (got %s)", describe(raw.RequireHWKey.v))
		}
		p.RequireHardwareKey = b
	}
	if len(raw.Exchange) > 0 {
		p.Exchange = make(map[string]Exchange, len(raw.Exchange))
		consumers := slices.Sorted(maps.Keys(raw.Exchange)) // first error is always the same one
		for _, consumer := range consumers {
			re := raw.Exchange[consumer]
			if !slices.Contains(Consumers, consumer) {
				return nil, v.errorf(toml.Key{"profiles", name, "exchange", consumer}.String(), "unknown key (consumers here: %s)", strings.Join(Consumers, ", "))
			}
			ek := func(field string) string { return toml.Key{"profiles", name, "exchange", consumer, field}.String() }
			var ex Exchange
			if re.Audience.set {
				if ex.Audience, err = v.strOrStrs(ek("audience"), re.Audience); err != nil {
					return nil, err
				}
			}
			if re.Resource.set {
				if ex.Resource, err = v.strOrStrs(ek("resource"), re.Resource); err != nil {
					return nil, err
				}
				for i, r := range ex.Resource {
					// RFC 8693 §2.1: an absolute URI without a fragment.
					if u, perr := url.Parse(r); perr != nil || !u.IsAbs() || u.Fragment != "" {
						return nil, v.errorf(fmt.Sprintf("%s[%d]", ek("resource"), i), "must be an absolute URI without a fragment (got %q)", r)
					}
				}
			}
			if re.Scopes.set {
				if ex.Scopes, err = v.strs(ek("scopes"), re.Scopes); err != nil {
					return nil, err
				}
				for i, sc := range ex.Scopes {
					if !validScope(sc) {
						return nil, v.errorf(fmt.Sprintf("%s[%d]", ek("scopes"), i), "not a scope (got %q)", sc)
					}
				}
			}
			if len(ex.Audience) == 0 && len(ex.Resource) == 0 && len(ex.Scopes) == 0 {
				return nil, v.errorf(toml.Key{"profiles", name, "exchange", consumer}.String(), "names no audience, resource or scopes: say what the %s token is for, or remove the table", consumer)
			}
			p.Exchange[consumer] = ex
		}
	}
	return p, nil
}

// strOrStrs accepts one string or a list of them.
func (v *validator) strOrStrs(key string, val value) ([]string, error) {
	if s, ok := val.v.(string); ok {
		if s == "" || hasControl(s) {
			return nil, v.errorf(key, "must not be empty or hold control characters (got %q)", s)
		}
		return []string{s}, nil
	}
	out, err := v.strs(key, val)
	if err != nil {
		return nil, err
	}
	if len(out) == 0 {
		return nil, v.errorf(key, "must name at least one value")
	}
	for i, s := range out {
		if s == "" || hasControl(s) {
			return nil, v.errorf(fmt.Sprintf("%s[%d]", key, i), "must not be empty or hold control characters (got %q)", s)
		}
	}
	return out, nil
}

// execReason says why s is not an acceptable allow_exec entry, or returns "".
// Entries are absolute slash-separated paths, where *, ? and [...] match as
// in [path.Match]: "*" stays within one folder.
func execReason(s string) string {
	switch {
	case s == "":
		return "must not be empty"
	case hasControl(s):
		return "must not contain control characters"
	case isWindowsAbs(s):
		// C:/Program Files/Git/cmd/git.exe, or with backslashes: the
		// agent compares Windows paths in any case and with \ and / alike,
		// so the check is on the slash form.
		s = strings.ReplaceAll(s, `\`, "/")
		if path.Clean(s) != s {
			return "must be a clean path, without \"//\", \".\", \"..\" or a trailing separator"
		}
	case !strings.HasPrefix(s, "/"):
		return "must be an absolute path such as \"/usr/bin/git\" (on Windows \"C:/Program Files/Git/cmd/git.exe\"), or a pattern such as \"/usr/lib/git-core/*\""
	case path.Clean(s) != s:
		return "must be a clean path, without \"//\", \".\", \"..\" or a trailing \"/\""
	}
	if _, err := path.Match(s, ""); err != nil {
		return "not a valid pattern: " + err.Error()
	}
	return ""
}

// isWindowsAbs reports whether s is a drive-letter absolute path, C:\ or C:/.
func isWindowsAbs(s string) bool {
	return len(s) >= 3 && s[1] == ':' && (s[2] == '/' || s[2] == '\\') &&
		('a' <= s[0]|0x20 && s[0]|0x20 <= 'z')
}

func (v *validator) str(key string, val value) (string, error) {
	s, ok := val.v.(string)
	if !ok {
		return "", v.errorf(key, "must be a string (got %s)", describe(val.v))
	}
	return s, nil
}

func (v *validator) strs(key string, val value) ([]string, error) {
	arr, ok := val.v.([]any)
	if !ok {
		return nil, v.errorf(key, "must be an array of strings (got %s)", describe(val.v))
	}
	out := make([]string, len(arr))
	for i, e := range arr {
		s, ok := e.(string)
		if !ok {
			return nil, v.errorf(fmt.Sprintf("%s[%d]", key, i), "must be a string (got %s)", describe(e))
		}
		out[i] = s
	}
	return out, nil
}

func (v *validator) duration(key string, val value, lo, hi time.Duration) (time.Duration, error) {
	s, ok := val.v.(string)
	if !ok {
		// The decoder would take an integer as nanoseconds, which
		// nobody means.
		return 0, v.errorf(key, "must be a duration string such as \"30m\" or \"1h30m\" (got %s)", describe(val.v))
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, v.errorf(key, "not a duration such as \"30m\" or \"1h30m\" (got %q)", s)
	}
	if d < lo || d > hi {
		return 0, v.errorf(key, "must be between %s and %s (got %q)", fmtDuration(lo), fmtDuration(hi), s)
	}
	return d, nil
}

// fmtDuration formats d without zero minutes and seconds: "168h", not "168h0m0s".
func fmtDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = s[:len(s)-2]
	}
	if strings.HasSuffix(s, "h0m") {
		s = s[:len(s)-2]
	}
	return s
}

// describe names the TOML type of a decoded value, for error messages.
func describe(v any) string {
	switch v.(type) {
	case string:
		return "a string"
	case int64:
		return "an integer"
	case float64:
		return "a float"
	case bool:
		return "a boolean"
	case []map[string]any:
		return "an array of tables"
	case []any:
		return "an array"
	case map[string]any:
		return "a table"
	default:
		return "a date or time" // time.Time, for all four TOML date and time types
	}
}

// describeType names a type as given by [toml.MetaData.Type].
func describeType(typ string) string {
	switch typ {
	case "String":
		return "a string"
	case "Integer":
		return "an integer"
	case "Float":
		return "a float"
	case "Bool":
		return "a boolean"
	case "Array":
		return "an array"
	case "ArrayHash":
		return "an array of tables"
	}
	return "a date or time"
}

// issuerReason says why s is not an acceptable issuer URL, or returns "".
func issuerReason(s string) string {
	if s == "" {
		return "must not be empty"
	}
	if hasSpaceOrControl(s) {
		return "must not contain spaces or control characters"
	}
	u, err := url.Parse(s)
	switch {
	case err != nil:
		return "not a URL"
	case u.Scheme != "https" && u.Scheme != "http":
		return "must be an https:// URL"
	case u.Opaque != "" || u.Host == "" || u.Hostname() == "":
		return "must be of the form https://host[:port][/path]"
	case u.User != nil:
		return "must not contain a user name or password"
	case u.RawQuery != "" || u.ForceQuery:
		return "must not have a query (?...)"
	case strings.Contains(s, "#"):
		return "must not have a fragment (#...)"
	case strings.HasSuffix(u.Host, ":"):
		return "the port must be a number from 1 to 65535"
	}
	if host := u.Hostname(); !strings.Contains(host, ":") {
		if reason := hostReason(strings.ToLower(host)); reason != "" {
			return reason
		}
	}
	if port := u.Port(); port != "" {
		if _, port, reason := splitHostPort("x:" + port); reason != "" || port == "" {
			return "the port must be a number from 1 to 65535"
		}
	}
	if u.Scheme == "http" && !isLoopback(u.Hostname()) {
		// Tokens and authorization codes would cross the network in clear.
		return "http:// issuers are only allowed on loopback addresses"
	}
	return ""
}

// isLoopback reports whether host is "localhost" or a loopback address
// (127.0.0.0/8, ::1).
func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	addr, err := netip.ParseAddr(host)
	return err == nil && addr.Unmap().IsLoopback()
}

// validName reports whether name is 1 to 64 of [A-Za-z0-9._-].
func validName(name string) bool {
	if name == "" || len(name) > maxNameLen {
		return false
	}
	for i := range len(name) {
		c := name[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// validScope reports whether s is a scope-token:
// 1*( %x21 / %x23-5B / %x5D-7E ), https://datatracker.ietf.org/doc/html/rfc6749#section-3.3
func validScope(s string) bool {
	if s == "" {
		return false
	}
	for i := range len(s) {
		c := s[i]
		if c < 0x21 || c > 0x7e || c == '"' || c == '\\' {
			return false
		}
	}
	return true
}

func hasControl(s string) bool {
	return strings.ContainsFunc(s, unicode.IsControl)
}
