package keyaudit

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/BurntSushi/toml"
	"go.yaml.in/yaml/v3"
)

// parsers read the files whose format says what each secret is for.
var parsers = map[string]func(o Options, path string, data []byte) []Finding{
	"docker":            parseDocker,
	"git-credentials":   parseGitCredentials,
	"kubeconfig":        parseKubeconfig,
	"netrc":             parseNetrc,
	"aws":               parseAWS,
	"npmrc":             parseNpmrc,
	"pypirc":            parsePypirc,
	"cargo-credentials": parseCargoCredentials,
}

// DockerAuth is one entry of config.json auths.
type DockerAuth struct {
	Auth          string `json:"auth,omitempty"` // base64 of "user:password"
	Username      string `json:"username,omitempty"`
	Password      string `json:"password,omitempty"`
	IdentityToken string `json:"identitytoken,omitempty"`
}

// Credentials returns the user name and secret the entry holds; an
// identity token is returned as Docker's credential helpers carry it,
// with the user name "<token>" (protocols.md §2.2).
func (a DockerAuth) Credentials() (user, secret string) {
	if a.IdentityToken != "" {
		return "<token>", a.IdentityToken
	}
	if a.Auth != "" {
		dec, err := base64.StdEncoding.DecodeString(a.Auth)
		if err != nil {
			// Not base64: it is still a secret, kept as written.
			return "", a.Auth
		}
		user, pw, ok := strings.Cut(string(dec), ":")
		if !ok {
			return "", string(dec)
		}
		return user, pw
	}
	return a.Username, a.Password
}

func parseDocker(_ Options, path string, data []byte) []Finding {
	var cfg struct {
		Auths map[string]DockerAuth `json:"auths"`
	}
	if json.Unmarshal(data, &cfg) != nil {
		return nil
	}
	base := max(bytes.Index(data, []byte(`"auths"`)), 0)
	var out []Finding
	for _, server := range slices.Sorted(mapKeys(cfg.Auths)) {
		_, secret := cfg.Auths[server].Credentials()
		if secret == "" {
			continue
		}
		line := 0
		if i := bytes.Index(data[base:], jsonQuote(server)); i >= 0 {
			line = lineOf(data, base+i)
		}
		out = append(out, Finding{File: path, Line: line, Kind: "docker-auth", What: "Docker registry password (config.json auths)", Host: server, raw: secret})
	}
	return out
}

func jsonQuote(s string) []byte {
	b, _ := json.Marshal(s)
	return b
}

func mapKeys[V any](m map[string]V) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

// GitCredentialLine parses one line of ~/.git-credentials
// ("https://user:password@host/path"): the URL without the user, and the
// password. ok is false for a line without a password.
func GitCredentialLine(line string) (target, password string, ok bool) {
	line = strings.TrimSpace(line)
	if line == "" || strings.HasPrefix(line, "#") {
		return "", "", false
	}
	u, err := url.Parse(line)
	if err != nil || u.User == nil || u.Host == "" {
		return "", "", false
	}
	pw, set := u.User.Password()
	if !set || pw == "" {
		return "", "", false
	}
	return u.Scheme + "://" + u.Host + u.Path, pw, true
}

func parseGitCredentials(_ Options, path string, data []byte) []Finding {
	var out []Finding
	for i, line := range strings.Split(string(data), "\n") {
		target, pw, ok := GitCredentialLine(line)
		if !ok {
			continue
		}
		out = append(out, Finding{File: path, Line: i + 1, Kind: "git-credentials", What: "git password stored by the store helper", Host: target, raw: pw})
	}
	return out
}

// gitStoreFindings reports credential.helper=store in git's global
// configuration, from `git config --global --null --show-origin --list`
// output, and returns the files the store helpers write besides the
// defaults (--file).
func gitStoreFindings(o Options, out []byte, r *Report) []string {
	var extra []string
	recs := bytes.Split(out, []byte{0})
	for i := 0; i+1 < len(recs); i += 2 {
		origin, entry := string(recs[i]), string(recs[i+1])
		key, value, _ := strings.Cut(entry, "\n")
		lk := strings.ToLower(key)
		if !strings.HasPrefix(lk, "credential.") || !strings.HasSuffix(lk, ".helper") {
			continue
		}
		words := strings.Fields(value)
		if len(words) == 0 || words[0] != "store" && words[0] != "git-credential-store" {
			continue
		}
		file := strings.TrimPrefix(origin, "file:")
		line := 0
		if data, err := os.ReadFile(file); err == nil {
			for n, l := range strings.Split(string(data), "\n") {
				if k, v, ok := strings.Cut(l, "="); ok && strings.EqualFold(strings.TrimSpace(k), "helper") && strings.HasPrefix(strings.TrimSpace(v), "store") {
					line = n + 1
					break
				}
			}
		}
		f := Finding{File: file, Line: line, Kind: "git-credential-store", What: "git's store helper (" + key + "), which writes every password git uses to a plaintext file"}
		classify(o, &f)
		r.Findings = append(r.Findings, f)
		for j, w := range words {
			var p string
			switch {
			case strings.HasPrefix(w, "--file="):
				p = strings.TrimPrefix(w, "--file=")
			case w == "--file" && j+1 < len(words):
				p = words[j+1]
			}
			if p != "" {
				if rest, ok := strings.CutPrefix(p, "~/"); ok {
					p = filepath.Join(o.Home, rest)
				}
				extra = append(extra, p)
			}
		}
	}
	return extra
}

func parseKubeconfig(o Options, path string, data []byte) []Finding {
	var doc yaml.Node
	if yaml.Unmarshal(data, &doc) != nil || doc.Kind != yaml.DocumentNode || len(doc.Content) == 0 {
		return nil
	}
	root := doc.Content[0]
	get := func(n *yaml.Node, key string) *yaml.Node {
		if n == nil || n.Kind != yaml.MappingNode {
			return nil
		}
		for i := 0; i+1 < len(n.Content); i += 2 {
			if n.Content[i].Value == key {
				return n.Content[i+1]
			}
		}
		return nil
	}
	items := func(n *yaml.Node) []*yaml.Node {
		if n == nil || n.Kind != yaml.SequenceNode {
			return nil
		}
		return n.Content
	}
	servers := map[string]string{}
	for _, c := range items(get(root, "clusters")) {
		if n, s := get(c, "name"), get(get(c, "cluster"), "server"); n != nil && s != nil {
			servers[n.Value] = s.Value
		}
	}
	// The server a user is used for: through the contexts naming it, the
	// one a profile serves if any.
	userServer := map[string]string{}
	for _, c := range items(get(root, "contexts")) {
		ctx := get(c, "context")
		u, cl := get(ctx, "user"), get(ctx, "cluster")
		if u == nil || cl == nil {
			continue
		}
		srv := servers[cl.Value]
		if userServer[u.Value] == "" || o.match(srv) != "" {
			userServer[u.Value] = srv
		}
	}
	var out []Finding
	add := func(n *yaml.Node, kind, what, user, secret string) {
		if n == nil || placeholder(secret) {
			return
		}
		out = append(out, Finding{File: path, Line: n.Line, Kind: kind, What: what + " (kubeconfig user " + user + ")", Host: userServer[user], raw: secret})
	}
	for _, u := range items(get(root, "users")) {
		name := ""
		if n := get(u, "name"); n != nil {
			name = n.Value
		}
		user := get(u, "user")
		if n := get(user, "token"); n != nil {
			add(n, "kube-token", "static bearer token", name, n.Value)
		}
		if n := get(user, "client-key-data"); n != nil {
			add(n, "kube-client-key", "client private key", name, n.Value)
		}
		if n := get(user, "client-key"); n != nil {
			// A path: the key is in that file, in plaintext.
			if key, err := os.ReadFile(n.Value); err == nil {
				add(n, "kube-client-key", "client private key in "+n.Value, name, strings.TrimSpace(string(key)))
			} else {
				add(n, "kube-client-key", "client private key in "+n.Value, name, n.Value)
			}
		}
		if n := get(user, "password"); n != nil {
			add(n, "kube-password", "basic-auth password", name, n.Value)
		}
		ap := get(get(user, "auth-provider"), "config")
		for _, k := range []string{"id-token", "refresh-token", "client-secret", "access-token"} {
			if n := get(ap, k); n != nil {
				add(n, "kube-auth-provider", "auth-provider "+k, name, n.Value)
			}
		}
	}
	return out
}

func parseNetrc(_ Options, path string, data []byte) []Finding {
	type tok struct {
		s    string
		line int
	}
	var toks []tok
	inMacro := false
	for i, line := range strings.Split(string(data), "\n") {
		if inMacro {
			if strings.TrimSpace(line) == "" {
				inMacro = false
			}
			continue
		}
		fields := strings.Fields(line)
		for _, f := range fields {
			if strings.HasPrefix(f, "#") {
				break
			}
			toks = append(toks, tok{f, i + 1})
			if f == "macdef" {
				// A macro runs to the next blank line; its
				// words are not tokens.
				inMacro = true
				break
			}
		}
	}
	var out []Finding
	machine := ""
	for i := 0; i < len(toks); i++ {
		switch toks[i].s {
		case "machine":
			if i+1 < len(toks) {
				machine = toks[i+1].s
				i++
			}
		case "default":
			machine = ""
		case "password":
			if i+1 < len(toks) {
				pw := toks[i+1]
				i++
				if placeholder(pw.s) {
					continue
				}
				what := "password in .netrc"
				if machine == "" {
					what = "default password in .netrc (sent to every host)"
				}
				out = append(out, Finding{File: path, Line: pw.line, Kind: "netrc-password", What: what, Host: machine, raw: pw.s})
			}
		}
	}
	return out
}

// iniLines calls fn for each "key = value" line of an INI-style file with
// its section, lowercased key and 1-based line number.
func iniLines(data []byte, fn func(section, key, value string, line int)) {
	section := ""
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	n := 0
	for sc.Scan() {
		n++
		l := strings.TrimSpace(sc.Text())
		if l == "" || l[0] == '#' || l[0] == ';' {
			continue
		}
		if l[0] == '[' && strings.HasSuffix(l, "]") {
			section = strings.TrimSpace(l[1 : len(l)-1])
			continue
		}
		k, v, ok := strings.Cut(l, "=")
		if !ok {
			k, v, ok = strings.Cut(l, ":")
		}
		if !ok {
			continue
		}
		fn(section, strings.ToLower(strings.TrimSpace(k)), strings.Trim(strings.TrimSpace(v), `"'`), n)
	}
}

func parseAWS(_ Options, path string, data []byte) []Finding {
	var out []Finding
	iniLines(data, func(section, key, value string, line int) {
		kind, what := "", ""
		switch key {
		case "aws_secret_access_key":
			kind, what = "aws-secret-access-key", "AWS secret access key (profile "+section+")"
		case "aws_session_token", "aws_security_token":
			kind, what = "aws-session-token", "AWS session token (profile "+section+")"
		default:
			return
		}
		if placeholder(value) {
			return
		}
		out = append(out, Finding{File: path, Line: line, Kind: kind, What: what, raw: value})
	})
	return out
}

func parseNpmrc(_ Options, path string, data []byte) []Finding {
	var out []Finding
	for i, l := range strings.Split(string(data), "\n") {
		l = strings.TrimSpace(l)
		if l == "" || l[0] == '#' || l[0] == ';' {
			continue
		}
		k, v, ok := strings.Cut(l, "=")
		if !ok {
			continue
		}
		k, v = strings.TrimSpace(k), strings.Trim(strings.TrimSpace(v), `"'`)
		scope, field := "", k
		if j := strings.LastIndex(k, ":"); j >= 0 && strings.HasPrefix(k, "//") {
			scope, field = k[2:j], k[j+1:]
		}
		kind := ""
		switch field {
		case "_authToken":
			kind = "npm-token"
		case "_auth", "_password":
			kind = "npm-password"
		default:
			continue
		}
		if placeholder(v) {
			continue
		}
		host := ""
		if scope != "" {
			host = "https://" + strings.TrimSuffix(scope, "/")
		}
		out = append(out, Finding{File: path, Line: i + 1, Kind: kind, What: "npm registry credential (" + field + ")", Host: host, raw: v})
	}
	return out
}

func parsePypirc(_ Options, path string, data []byte) []Finding {
	repos := map[string]string{}
	iniLines(data, func(section, key, value string, _ int) {
		if key == "repository" {
			repos[section] = value
		}
	})
	var out []Finding
	iniLines(data, func(section, key, value string, line int) {
		if key != "password" || placeholder(value) {
			return
		}
		out = append(out, Finding{File: path, Line: line, Kind: "pypi-password", What: "package index password or token (" + section + ")", Host: repos[section], raw: value})
	})
	return out
}

func parseCargoCredentials(_ Options, path string, data []byte) []Finding {
	// The registries' index URLs are in config.toml next to it.
	var cfg struct {
		Registries map[string]struct {
			Index string `toml:"index"`
		} `toml:"registries"`
	}
	for _, name := range []string{"config.toml", "config"} {
		if b, err := os.ReadFile(filepath.Join(filepath.Dir(path), name)); err == nil {
			toml.Decode(string(b), &cfg)
			break
		}
	}
	var out []Finding
	section := ""
	for i, l := range strings.Split(string(data), "\n") {
		l = strings.TrimSpace(l)
		if strings.HasPrefix(l, "[") {
			section = strings.Trim(l, "[] ")
			continue
		}
		k, v, ok := strings.Cut(l, "=")
		if !ok || strings.TrimSpace(k) != "token" {
			continue
		}
		v = strings.Trim(strings.TrimSpace(v), `"'`)
		if placeholder(v) {
			continue
		}
		host := ""
		switch {
		case section == "registry":
			host = "https://crates.io"
		case strings.HasPrefix(section, "registries."):
			name := strings.Trim(strings.TrimPrefix(section, "registries."), `"'`)
			host = strings.TrimPrefix(strings.TrimPrefix(cfg.Registries[name].Index, "sparse+"), "registry+")
		}
		out = append(out, Finding{File: path, Line: i + 1, Kind: "cargo-token", What: fmt.Sprintf("cargo registry token [%s]", section), Host: host, raw: v})
	}
	return out
}

// hostURL turns a finding's host into a URL for [Options.Match]: a bare
// host is served over HTTPS.
func hostURL(host string) string {
	if strings.Contains(host, "://") {
		return host
	}
	return "https://" + host
}

// classify says what Mayfly can do about a finding, and what to do.
func classify(o Options, f *Finding) {
	if f.Mayfly != "" {
		return
	}
	if f.Host != "" {
		f.Profile = o.match(hostURL(f.Host))
	}
	served := func(replace, otherwise string) {
		if f.Profile != "" {
			f.Mayfly, f.Remediation = CanReplace, fmt.Sprintf("profile %s serves %s: %s", f.Profile, f.Host, replace)
		} else {
			f.Mayfly, f.Remediation = NeedsProf, otherwise
		}
	}
	switch f.Kind {
	case "docker-auth":
		f.Fixable = true
		if f.Profile != "" {
			f.Mayfly = CanReplace
			f.Remediation = fmt.Sprintf("profile %s mints short-lived tokens for %s: `mayfly audit --fix` removes this password and names docker-credential-mayfly in credHelpers", f.Profile, f.Host)
		} else {
			f.Mayfly = CanStore
			f.Remediation = "`mayfly audit --fix` moves it into Mayfly's secret store and names docker-credential-mayfly in credHelpers; better still, replace it with a credential the registry lets expire"
		}
	case "git-credentials":
		f.Fixable = f.Profile != ""
		served("`mayfly audit --fix` removes this line; `mayfly setup git` makes git ask Mayfly for it",
			fmt.Sprintf("add a profile for %s if it accepts your identity provider's tokens (then `mayfly audit --fix` removes this line); otherwise revoke this password there", f.Host))
	case "git-credential-store":
		f.Mayfly = NeedsProf
		f.Remediation = "run `git config --global --unset-all credential.helper store` and `mayfly setup git`, so no password git uses is written to a file"
	case "kube-token", "kube-client-key", "kube-password", "kube-auth-provider":
		served("`mayfly setup kube` adds a user that gets short-lived tokens and points this cluster's contexts at it; then delete this user and revoke the credential on the cluster",
			"if the API server accepts your identity provider's tokens, a profile for it replaces this (`mayfly setup kube`); otherwise use an exec plugin with short-lived credentials and revoke this one")
	case "netrc-password":
		served("remove this entry; `mayfly setup git` and `mayfly setup go` make git and Go ask Mayfly instead",
			"if the host accepts your identity provider's tokens, a profile for it replaces this entry; otherwise revoke the password and use a credential helper")
	case "cargo-token":
		served("`mayfly setup cargo` names cargo-credential-mayfly for this registry; then remove the token (`cargo logout`)",
			"if the registry accepts your identity provider's tokens, a profile for it replaces this token (`mayfly setup cargo`); otherwise use a token with an expiry and `cargo logout` this one")
	case "aws-secret-access-key", "aws-session-token":
		f.Mayfly = CannotHelp
		f.Remediation = "use short-lived AWS credentials (IAM Identity Center with `aws sso login`, or credential_process), then deactivate and delete this access key"
	case "npm-token", "npm-password":
		f.Mayfly = CannotHelp
		f.Remediation = "npm has no credential helper: use a granular token with an expiry, read from the environment (_authToken=${NPM_TOKEN}), and revoke this one"
	case "pypi-password":
		f.Mayfly = CannotHelp
		f.Remediation = "publish with trusted publishing (OIDC) or keep the token in a keyring, and revoke this one at the index"
	case "generic-secret":
		f.Mayfly = CannotHelp
		f.Remediation = "if this is a live credential, rotate it, and load it at run time from a secret manager (or `mayfly token` where a profile serves the API) rather than a file"
	default:
		f.Mayfly = CannotHelp
		f.Remediation = "rotate this " + f.What + " at its issuer, and load keys at run time from a secret manager (or `mayfly token` where a profile serves the API) rather than a file"
	}
}
