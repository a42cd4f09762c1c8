package keyaudit

import (
	"math"
	"regexp"
	"strings"
	"sync"
)

// rule is one known key format.
//
// The table below is derived from gitleaks' default configuration,
// config/gitleaks.toml of github.com/zricethezav/gitleaks/v8 v8.30.1 (MIT
// licence, Copyright (c) 2019 Zachary Rice): the rule ids, regular
// expressions, entropy thresholds, keywords and allow lists are theirs,
// restricted to the rules with a distinctive format that a developer's
// machine is likely to hold. gitleaks itself is not linked: as a library it
// brings some sixty modules (cobra, viper, archive readers, a WASM runtime)
// into the mayfly binary for a table of regular expressions. To update,
// compare this table with a newer config/gitleaks.toml.
//
// gitleaks writes most patterns as `\b(CORE)(?:[\x60'"\s;]|\\[nr]|$)`;
// here that is core plus bounded, so that binaries, where strings are
// stored back to back with no separator, can be matched on the core alone.
type rule struct {
	id       string
	what     string // the kind of key, for people
	core     string // the secret itself
	bounded  bool   // in text, the secret stands alone (gitleaks' boundary)
	entropy  float64
	keywords []string // lowercase; the rule runs only where one occurs
	allow    []string // secrets matching any of these are examples, not keys
	// inBinary says the format is distinctive enough to look for in a
	// binary's strings, where anything that is not a long fixed prefix
	// matches noise (hashes, base64 tables, build IDs).
	inBinary bool

	text, bin *regexp.Regexp
	allowRE   []*regexp.Regexp
}

// tail is gitleaks' right-hand boundary of a bounded secret.
const tail = `(?:[\x60'"\s;,]|\\[nr]|$)`

// rules compiles the table on first use: `mayfly` is one binary, and its
// agent and every other command would otherwise pay for some hundred
// regular expressions (3 MB, 15 ms) at start-up.
var rules = sync.OnceValue(func() []*rule { return compile(ruleTable) })

var ruleTable = []rule{
	{id: "1password-service-account-token", what: "1Password service account token", core: `ops_eyJ[a-zA-Z0-9+/]{250,}={0,3}`, entropy: 4, keywords: []string{"ops_"}, inBinary: true},
	{id: "age-secret-key", what: "age secret key", core: `AGE-SECRET-KEY-1[QPZRY9X8GF2TVDW0S3JN54KHCE6MUA7L]{58}`, keywords: []string{"age-secret-key-1"}, inBinary: true},
	{id: "anthropic-admin-api-key", what: "Anthropic admin API key", core: `sk-ant-admin01-[a-zA-Z0-9_\-]{93}AA`, bounded: true, keywords: []string{"sk-ant-admin01"}, inBinary: true},
	{id: "anthropic-api-key", what: "Anthropic API key", core: `sk-ant-api03-[a-zA-Z0-9_\-]{93}AA`, bounded: true, keywords: []string{"sk-ant-api03"}, inBinary: true},
	{id: "aws-access-token", what: "AWS access key ID", core: `(?:A3T[A-Z0-9]|AKIA|ASIA|ABIA|ACCA)[A-Z2-7]{16}`, bounded: true, entropy: 3, keywords: []string{"a3t", "akia", "asia", "abia", "acca"}, allow: []string{`.+EXAMPLE$`}, inBinary: true},
	{id: "azure-ad-client-secret", what: "Azure AD client secret", core: `[a-zA-Z0-9_~.]{3}\dQ~[a-zA-Z0-9_~.-]{31,34}`, bounded: true, entropy: 3, keywords: []string{"q~"}},
	{id: "databricks-api-token", what: "Databricks API token", core: `dapi[a-f0-9]{32}(?:-\d)?`, bounded: true, entropy: 3, keywords: []string{"dapi"}},
	{id: "digitalocean-pat", what: "DigitalOcean personal access token", core: `dop_v1_[a-f0-9]{64}`, bounded: true, entropy: 3, keywords: []string{"dop_v1_"}, inBinary: true},
	{id: "doppler-api-token", what: "Doppler API token", core: `dp\.pt\.(?i:[a-z0-9]{43})`, entropy: 2, keywords: []string{"dp.pt."}, inBinary: true},
	{id: "gcp-api-key", what: "Google Cloud API key", core: `AIza[\w-]{35}`, bounded: true, entropy: 4, keywords: []string{"aiza"}, inBinary: true},
	{id: "github-app-token", what: "GitHub App token", core: `(?:ghu|ghs)_[0-9a-zA-Z]{36}`, entropy: 3, keywords: []string{"ghu_", "ghs_"}, inBinary: true},
	{id: "github-fine-grained-pat", what: "GitHub fine-grained personal access token", core: `github_pat_\w{82}`, entropy: 3, keywords: []string{"github_pat_"}, inBinary: true},
	{id: "github-oauth", what: "GitHub OAuth access token", core: `gho_[0-9a-zA-Z]{36}`, entropy: 3, keywords: []string{"gho_"}, inBinary: true},
	{id: "github-pat", what: "GitHub personal access token", core: `ghp_[0-9a-zA-Z]{36}`, entropy: 3, keywords: []string{"ghp_"}, inBinary: true},
	{id: "github-refresh-token", what: "GitHub refresh token", core: `ghr_[0-9a-zA-Z]{36}`, entropy: 3, keywords: []string{"ghr_"}, inBinary: true},
	{id: "gitlab-pat-routable", what: "GitLab personal access token", core: `glpat-[0-9a-zA-Z_-]{27,300}\.[0-9a-z]{2}[0-9a-z]{7}`, entropy: 4, keywords: []string{"glpat-"}, inBinary: true},
	{id: "gitlab-pat", what: "GitLab personal access token", core: `glpat-[\w-]{20}`, entropy: 3, keywords: []string{"glpat-"}, inBinary: true},
	{id: "gitlab-ptt", what: "GitLab pipeline trigger token", core: `glptt-[0-9a-f]{40}`, entropy: 3, keywords: []string{"glptt-"}, inBinary: true},
	{id: "gitlab-rrt", what: "GitLab runner registration token", core: `GR1348941[\w-]{20}`, entropy: 3, keywords: []string{"gr1348941"}, inBinary: true},
	{id: "gitlab-runner-authentication-token", what: "GitLab runner authentication token", core: `glrt-[0-9a-zA-Z_\-]{20}`, entropy: 3, keywords: []string{"glrt-"}, inBinary: true},
	{id: "grafana-cloud-api-token", what: "Grafana Cloud API token", core: `(?i:glc_[A-Za-z0-9+/]{32,400}={0,3})`, bounded: true, entropy: 3, keywords: []string{"glc_"}},
	{id: "grafana-service-account-token", what: "Grafana service account token", core: `(?i:glsa_[A-Za-z0-9]{32}_[A-Fa-f0-9]{8})`, bounded: true, entropy: 3, keywords: []string{"glsa_"}, inBinary: true},
	{id: "hashicorp-tf-api-token", what: "HashiCorp Terraform API token", core: `(?i:[a-z0-9]{14})\.atlasv1\.(?i:[a-z0-9\-_=]{60,70})`, entropy: 3.5, keywords: []string{"atlasv1"}, inBinary: true},
	{id: "heroku-api-key-v2", what: "Heroku API key", core: `HRKU-AA[0-9a-zA-Z_-]{58}`, bounded: true, entropy: 4, keywords: []string{"hrku-aa"}, inBinary: true},
	{id: "huggingface-access-token", what: "Hugging Face access token", core: `hf_(?i:[a-z]{34})`, bounded: true, entropy: 2, keywords: []string{"hf_"}},
	{id: "jwt", what: "JSON Web Token", core: `ey[a-zA-Z0-9]{17,}\.ey[a-zA-Z0-9\/\\_-]{17,}\.(?:[a-zA-Z0-9\/\\_-]{10,}={0,2})?`, bounded: true, entropy: 3, keywords: []string{"ey"}},
	{id: "linear-api-key", what: "Linear API key", core: `lin_api_(?i:[a-z0-9]{40})`, entropy: 2, keywords: []string{"lin_api_"}, inBinary: true},
	{id: "notion-api-token", what: "Notion API token", core: `ntn_[0-9]{11}[A-Za-z0-9]{32}[A-Za-z0-9]{3}`, bounded: true, entropy: 4, keywords: []string{"ntn_"}, inBinary: true},
	{id: "npm-access-token", what: "npm access token", core: `(?i:npm_[a-z0-9]{36})`, bounded: true, entropy: 2, keywords: []string{"npm_"}, inBinary: true},
	{id: "openai-api-key", what: "OpenAI API key", core: `sk-(?:proj|svcacct|admin)-(?:[A-Za-z0-9_-]{74}|[A-Za-z0-9_-]{58})T3BlbkFJ(?:[A-Za-z0-9_-]{74}|[A-Za-z0-9_-]{58})|sk-[a-zA-Z0-9]{20}T3BlbkFJ[a-zA-Z0-9]{20}`, bounded: true, entropy: 3, keywords: []string{"t3blbkfj"}, inBinary: true},
	{id: "perplexity-api-key", what: "Perplexity API key", core: `pplx-[a-zA-Z0-9]{48}`, bounded: true, entropy: 4, keywords: []string{"pplx-"}, inBinary: true},
	{id: "postman-api-token", what: "Postman API token", core: `PMAK-(?i:[a-f0-9]{24}\-[a-f0-9]{34})`, bounded: true, entropy: 3, keywords: []string{"pmak-"}, inBinary: true},
	{id: "private-key", what: "private key", core: `(?i)-----BEGIN[ A-Z0-9_-]{0,100}PRIVATE KEY(?: BLOCK)?-----[\s\S-]{64,}?KEY(?: BLOCK)?-----`, keywords: []string{"-----begin"}, inBinary: true},
	{id: "pulumi-api-token", what: "Pulumi API token", core: `pul-[a-f0-9]{40}`, bounded: true, entropy: 2, keywords: []string{"pul-"}, inBinary: true},
	{id: "pypi-upload-token", what: "PyPI upload token", core: `pypi-AgEIcHlwaS5vcmc[\w-]{50,1000}`, entropy: 3, keywords: []string{"pypi-ageichlwas5vcmc"}, inBinary: true},
	{id: "rubygems-api-token", what: "RubyGems API token", core: `rubygems_[a-f0-9]{48}`, bounded: true, entropy: 2, keywords: []string{"rubygems_"}, inBinary: true},
	{id: "sendgrid-api-token", what: "SendGrid API token", core: `SG\.(?i:[a-z0-9=_\-\.]{66})`, bounded: true, entropy: 2, keywords: []string{"sg."}},
	{id: "sentry-user-token", what: "Sentry user token", core: `sntryu_[a-f0-9]{64}`, bounded: true, entropy: 3.5, keywords: []string{"sntryu_"}, inBinary: true},
	{id: "shopify-access-token", what: "Shopify access token", core: `shpat_[a-fA-F0-9]{32}`, entropy: 2, keywords: []string{"shpat_"}, inBinary: true},
	{id: "slack-app-token", what: "Slack app-level token", core: `(?i:xapp-\d-[A-Z0-9]+-\d+-[a-z0-9]+)`, entropy: 2, keywords: []string{"xapp"}},
	{id: "slack-bot-token", what: "Slack bot token", core: `xoxb-[0-9]{10,13}-[0-9]{10,13}[a-zA-Z0-9-]*`, entropy: 3, keywords: []string{"xoxb"}, inBinary: true},
	{id: "slack-user-token", what: "Slack user token", core: `xox[pe](?:-[0-9]{10,13}){3}-[a-zA-Z0-9-]{28,34}`, entropy: 2, keywords: []string{"xoxp-", "xoxe-"}, inBinary: true},
	{id: "slack-webhook-url", what: "Slack webhook URL", core: `(?:https?://)?hooks.slack.com/(?:services|workflows|triggers)/[A-Za-z0-9+/]{43,56}`, keywords: []string{"hooks.slack.com"}, inBinary: true},
	{id: "stripe-access-token", what: "Stripe API key", core: `(?:sk|rk)_(?:test|live|prod)_[a-zA-Z0-9]{10,99}`, bounded: true, entropy: 2, keywords: []string{"sk_test", "sk_live", "sk_prod", "rk_test", "rk_live", "rk_prod"}},
	{id: "twilio-api-key", what: "Twilio API key", core: `SK[0-9a-fA-F]{32}`, entropy: 3, keywords: []string{"sk"}},
	{id: "vault-batch-token", what: "HashiCorp Vault batch token", core: `hvb\.[\w-]{138,300}`, bounded: true, entropy: 4, keywords: []string{"hvb."}, inBinary: true},
	{id: "vault-service-token", what: "HashiCorp Vault service token", core: `hvs\.[\w-]{90,120}|s\.(?i:[a-z0-9]{24})`, bounded: true, entropy: 3.5, keywords: []string{"hvs.", "s."}, allow: []string{`^s\.[A-Za-z]{24}$`}},
	// Not in gitleaks v8.30.1: Docker Hub personal access tokens, which
	// `docker login` writes into config.json.
	{id: "dockerhub-pat", what: "Docker Hub personal access token", core: `dckr_pat_[A-Za-z0-9_-]{27}`, bounded: true, entropy: 3, keywords: []string{"dckr_pat_"}, inBinary: true},
}

func compile(rs []rule) []*rule {
	out := make([]*rule, len(rs))
	for i := range rs {
		r := &rs[i]
		if r.bounded {
			r.text = regexp.MustCompile(`\b(` + r.core + `)` + tail)
		} else {
			r.text = regexp.MustCompile(`(` + r.core + `)`)
		}
		r.bin = regexp.MustCompile(r.core)
		for _, a := range r.allow {
			r.allowRE = append(r.allowRE, regexp.MustCompile(a))
		}
		out[i] = r
	}
	return out
}

// wanted reports whether a match of r is a key: random enough, and not
// one of the rule's known examples.
func (r *rule) wanted(secret string) bool {
	if r.entropy > 0 && entropy(secret) < r.entropy {
		return false
	}
	for _, a := range r.allowRE {
		if a.MatchString(secret) {
			return false
		}
	}
	return !placeholder(secret)
}

// hasKeyword reports whether lower (lowercased text) holds a keyword of r.
func (r *rule) hasKeyword(lower string) bool {
	for _, k := range r.keywords {
		if strings.Contains(lower, k) {
			return true
		}
	}
	return len(r.keywords) == 0
}

// entropy is the Shannon entropy of s in bits per character, as gitleaks
// computes it.
func entropy(s string) float64 {
	if s == "" {
		return 0
	}
	counts := map[rune]int{}
	n := 0
	for _, c := range s {
		counts[c]++
		n++
	}
	var h float64
	for _, c := range counts {
		p := float64(c) / float64(n)
		h -= p * math.Log2(p)
	}
	return h
}

// placeholder reports whether v is obviously not a secret: a variable or
// template reference, an example, or a run of one character.
func placeholder(v string) bool {
	v = strings.Trim(strings.TrimSpace(v), `"'`)
	if v == "" {
		return true
	}
	switch {
	case strings.HasPrefix(v, "$"), strings.HasPrefix(v, "%") && strings.HasSuffix(v, "%"),
		strings.HasPrefix(v, "<") && strings.HasSuffix(v, ">"), strings.HasPrefix(v, "{{"):
		return true
	case strings.Contains(v, "EXAMPLE"), strings.Contains(strings.ToLower(v), "example"):
		return true
	}
	lower := strings.ToLower(v)
	for _, w := range []string{"changeme", "change-me", "placeholder", "your_", "your-", "yourtoken", "replace_me", "replaceme", "redacted", "dummy", "xxxxxxxx", "********", "........"} {
		if strings.Contains(lower, w) {
			return true
		}
	}
	first := v[0]
	return strings.Trim(v, string(first)) == ""
}

// Generic assignments: a name that says secret, an assignment, and a
// value that looks random. gitleaks' generic-api-key rule does the same
// with a longer list of exceptions; this is its core, with its entropy
// threshold (3.5 bits per character).
//
// Compiled on first use: the counted repetitions make assignRE cost ~9 ms
// and 150 KB at start-up, which every `mayfly` command and the agent would
// pay for an audit they do not run.
var (
	assignRE = sync.OnceValue(func() *regexp.Regexp {
		return regexp.MustCompile(`(?im)(?:^|[\s;{,(])(?:export\s+)?["']?([A-Za-z0-9_.-]*(?:api[_.-]?key|apikey|secret|token|passw(?:or)?d|passwd|pwd|credential|auth[_.-]?key|access[_.-]?key|private[_.-]?key|[_.-]key\b)[A-Za-z0-9_.-]*)["']?[ \t]*(?::=|=>|=|:)[ \t]*["'\x60]?([A-Za-z0-9_+/=.~-]{16,200})["'\x60]?[ \t]*(?:[;,#)}\r]|$)`)
	})
	// Names that hold no secret although they contain a word above.
	assignNotRE = sync.OnceValue(func() *regexp.Regexp {
		return regexp.MustCompile(`(?i)(?:_|-|\.|^)(?:url|uri|endpoint|name|id|file|path|dir|size|length|len|type|kind|header|prefix|env|count|ttl|expiry|expires|timeout|helper|command|cmd)$|public|csrf|tokenizer|sha\d*|hash|digest|checksum|fingerprint`)
	})
	genericMinEntropy = 3.5
)

// ownedPrefixes start values that a key format above recognises: such a
// value that the format did not take is a malformed key (one character
// short, a documentation example), not a random secret.
var ownedPrefixes = func() []string {
	out := []string{"sk-proj-", "sk-svcacct-", "sk-admin-", "sk-ant-", "akia", "asia"}
	for _, r := range ruleTable { // the keywords, not the compiled rules

		for _, k := range r.keywords {
			if len(k) >= 4 && strings.ContainsAny(k[len(k)-1:], "_-.") {
				out = append(out, k)
			}
		}
	}
	return out
}()

// genericSecret reports whether value, assigned to name, looks like a key.
func genericSecret(name, value string) bool {
	if assignNotRE().MatchString(name) || placeholder(value) {
		return false
	}
	lower := strings.ToLower(value)
	for _, p := range ownedPrefixes {
		if strings.HasPrefix(lower, p) {
			return false
		}
	}
	// gitleaks: a value of letters only is a word, not a key.
	if strings.Trim(value, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ_.-") == "" {
		return false
	}
	// A path or a version is not a key.
	if strings.HasPrefix(value, "/") || strings.HasPrefix(value, "./") || strings.HasPrefix(value, "~/") {
		return false
	}
	return entropy(value) >= genericMinEntropy
}
