package keyaudit

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// The fake keys below are made at run time from a fixed seed, so that
// this file holds no string that a scanner (this one included) would
// take for a key.

const (
	upper  = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	lower  = "abcdefghijklmnopqrstuvwxyz"
	digits = "0123456789"
	alnum  = upper + lower + digits
	b32    = upper + "234567"
)

type faker struct{ r *rand.Rand }

func newFaker() *faker { return &faker{rand.New(rand.NewPCG(7, 11))} }

func (f *faker) chars(n int, set string) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = set[f.r.IntN(len(set))]
	}
	return string(b)
}

// keys is one fake key of each format the tests plant.
type keys struct {
	githubPAT, openAI, anthropic, awsID, awsSecret, npm, pypi, cargo, slack string
	dockerPassword, gitPassword, kubeToken, netrcPassword                   string
	clientKeyPEM                                                            string
}

func makeKeys() keys {
	f := newFaker()
	return keys{
		githubPAT:      "gh" + "p_" + f.chars(36, alnum),
		openAI:         "sk-" + "proj-" + f.chars(74, alnum) + "T3Blbk" + "FJ" + f.chars(74, alnum),
		anthropic:      "sk-" + "ant-api03-" + f.chars(93, alnum) + "AA",
		awsID:          "AK" + "IA" + f.chars(16, b32),
		awsSecret:      f.chars(40, alnum+"/+"),
		npm:            "np" + "m_" + f.chars(36, alnum),
		pypi:           "pypi-" + "AgEIcHlwaS5vcmc" + f.chars(60, alnum),
		cargo:          "cio" + f.chars(32, alnum),
		slack:          "xo" + "xb-" + f.chars(12, digits) + "-" + f.chars(12, digits) + "-" + f.chars(24, alnum),
		dockerPassword: f.chars(24, alnum),
		gitPassword:    f.chars(28, alnum),
		kubeToken:      f.chars(48, lower+digits),
		netrcPassword:  f.chars(20, alnum),
		clientKeyPEM:   "-----BEGIN EC " + "PRIVATE KEY-----\n" + f.chars(64, alnum) + "\n" + f.chars(40, alnum) + "\n-----END EC PRIVATE KEY-----\n",
	}
}

func write(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

// servedBy is a profile "corp" serving git.corp.example,
// registry.corp.example and k8s.corp.example:6443.
func servedBy(url string) string {
	for _, p := range []string{"https://git.corp.example/", "https://registry.corp.example/", "https://k8s.corp.example:6443/"} {
		if strings.HasPrefix(url+"/", p) || strings.HasPrefix(url, p) {
			return "corp"
		}
	}
	return ""
}

func testOptions(home string) Options {
	return Options{
		Home:   home,
		Getenv: func(string) string { return "" },
		Match:  servedBy,
		GitConfig: func(context.Context) ([]byte, error) {
			return []byte("file:" + filepath.Join(home, ".gitconfig") + "\x00user.name\nA\x00file:" + filepath.Join(home, ".gitconfig") + "\x00credential.helper\nstore\x00"), nil
		},
	}
}

// seedHome writes plaintext credentials of eleven kinds into home.
func seedHome(t *testing.T, home string, k keys) {
	b64 := func(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }
	write(t, filepath.Join(home, ".docker", "config.json"), `{
	"auths": {
		"registry.corp.example": {"auth": "`+b64("alice:"+k.dockerPassword)+`"},
		"ghcr.io": {"auth": "`+b64("bob:"+k.githubPAT)+`"}
	},
	"credsStore": "desktop"
}`)
	write(t, filepath.Join(home, ".git-credentials"), "https://alice:"+k.gitPassword+"@git.corp.example\nhttps://bob:"+k.githubPAT+"@github.com\n")
	write(t, filepath.Join(home, ".gitconfig"), "[user]\n\tname = A\n[credential]\n\thelper = store\n")
	write(t, filepath.Join(home, ".kube", "config"), `apiVersion: v1
kind: Config
clusters:
- name: corp
  cluster:
    server: https://k8s.corp.example:6443
- name: lab
  cluster:
    server: https://lab.example
contexts:
- name: corp
  context: {cluster: corp, user: corp-admin}
- name: lab
  context: {cluster: lab, user: lab-admin}
users:
- name: corp-admin
  user:
    token: `+k.kubeToken+`
- name: lab-admin
  user:
    client-certificate-data: Y2VydA==
    client-key-data: `+b64(k.clientKeyPEM)+`
`)
	write(t, filepath.Join(home, ".netrc"), "machine api.example.com\n  login deploy\n  password "+k.netrcPassword+"\n")
	write(t, filepath.Join(home, ".aws", "credentials"), "[default]\naws_access_key_id = "+k.awsID+"\naws_secret_access_key = "+k.awsSecret+"\nregion = eu-west-1\n")
	write(t, filepath.Join(home, ".npmrc"), "registry=https://registry.npmjs.org/\n//registry.npmjs.org/:_authToken="+k.npm+"\n")
	write(t, filepath.Join(home, ".env"), "DEBUG=1\nOPENAI_API_KEY="+k.openAI+"\n")
	write(t, filepath.Join(home, ".bashrc"), "alias ll='ls -l'\nexport GITHUB_TOKEN="+k.githubPAT+"\nexport PATH=$HOME/bin:$PATH\n")
	write(t, filepath.Join(home, ".zshrc"), "export SLACK_BOT="+k.slack+"\n")
	write(t, filepath.Join(home, ".pypirc"), "[distutils]\nindex-servers = pypi\n\n[pypi]\nusername = __token__\npassword = "+k.pypi+"\n")
	write(t, filepath.Join(home, ".cargo", "credentials.toml"), "[registry]\ntoken = \""+k.cargo+"\"\n")
}

type found struct {
	File, Kind, Host, Mayfly string
	Line                     int
}

func summarize(home string, fs []Finding) []found {
	var out []found
	for _, f := range fs {
		rel, _ := filepath.Rel(home, f.File)
		out = append(out, found{filepath.ToSlash(rel), f.Kind, f.Host, f.Mayfly, f.Line})
	}
	return out
}

// TestSeededHome is the acceptance: every planted credential is
// reported with its kind and file, and no secret is printed whole.
func TestSeededHome(t *testing.T) {
	home := t.TempDir()
	k := makeKeys()
	seedHome(t, home, k)
	r := ScanDefaults(context.Background(), testOptions(home))
	want := []found{
		{".aws/credentials", "aws-access-token", "", CannotHelp, 2},
		{".aws/credentials", "aws-secret-access-key", "", CannotHelp, 3},
		{".bashrc", "github-pat", "", CannotHelp, 2},
		{".cargo/credentials.toml", "cargo-token", "https://crates.io", NeedsProf, 2},
		{".docker/config.json", "docker-auth", "ghcr.io", CanStore, 4},
		{".docker/config.json", "docker-auth", "registry.corp.example", CanReplace, 3},
		{".env", "openai-api-key", "", CannotHelp, 2},
		{".git-credentials", "git-credentials", "https://git.corp.example", CanReplace, 1},
		{".git-credentials", "git-credentials", "https://github.com", NeedsProf, 2},
		{".gitconfig", "git-credential-store", "", NeedsProf, 4},
		{".kube/config", "kube-token", "https://k8s.corp.example:6443", CanReplace, 18},
		{".kube/config", "kube-client-key", "https://lab.example", NeedsProf, 22},
		{".netrc", "netrc-password", "api.example.com", NeedsProf, 3},
		{".npmrc", "npm-token", "https://registry.npmjs.org", CannotHelp, 2},
		{".pypirc", "pypi-password", "", CannotHelp, 6},
		{".zshrc", "slack-bot-token", "", CannotHelp, 1},
	}
	got := summarize(home, r.Findings)
	slices.SortFunc(got, func(a, b found) int { return strings.Compare(a.File+fmt.Sprint(a.Line), b.File+fmt.Sprint(b.Line)) })
	slices.SortFunc(want, func(a, b found) int { return strings.Compare(a.File+fmt.Sprint(a.Line), b.File+fmt.Sprint(b.Line)) })
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("findings (-want +got):\n%s", diff)
	}
	kinds := map[string]bool{}
	for _, f := range r.Findings {
		kinds[f.Kind] = true
		if f.Remediation == "" || f.What == "" {
			t.Errorf("%s:%d: no remediation or description", f.File, f.Line)
		}
	}
	if len(kinds) < 10 {
		t.Errorf("%d kinds, want at least 10", len(kinds))
	}
	assertNoSecret(t, r, k)
	for _, f := range r.Findings {
		wantFix := f.Kind == "docker-auth" || f.Kind == "git-credentials" && f.Mayfly == CanReplace
		if f.Fixable != wantFix {
			t.Errorf("%s %s: fixable %v", f.Kind, f.Host, f.Fixable)
		}
	}
}

// assertNoSecret checks that the report, as JSON, holds no planted
// secret, nor any 8-character piece of one.
func assertNoSecret(t *testing.T, r Report, k keys) {
	t.Helper()
	b, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{k.githubPAT, k.openAI, k.anthropic, k.awsSecret, k.npm, k.pypi, k.cargo, k.slack, k.dockerPassword, k.gitPassword, k.kubeToken, k.netrcPassword} {
		for i := 0; i+9 <= len(s); i += 4 {
			if strings.Contains(string(b), s[i:i+9]) {
				t.Fatalf("the report holds a piece of a secret (%q...)", s[:4])
			}
		}
	}
}

// TestDecoyHome holds look-alike strings in the same files: variable
// references, documentation examples, keys one character short, entries
// without a password. Nothing is reported.
func TestDecoyHome(t *testing.T) {
	home := t.TempDir()
	f := newFaker()
	write(t, filepath.Join(home, ".docker", "config.json"), `{"auths": {"registry.corp.example": {}}, "credHelpers": {"registry.corp.example": "mayfly"}}`)
	write(t, filepath.Join(home, ".git-credentials"), "# none here\nhttps://alice@git.corp.example\nhttps://git.corp.example/app.git\n")
	write(t, filepath.Join(home, ".gitconfig"), "[credential]\n\thelper = cache --timeout 900\n")
	write(t, filepath.Join(home, ".kube", "config"), `apiVersion: v1
kind: Config
users:
- name: corp
  user:
    exec:
      apiVersion: client.authentication.k8s.io/v1
      command: kubectl-mayfly
      args: [--profile, corp]
- name: docs
  user:
    token: <your-token-here>
`)
	write(t, filepath.Join(home, ".netrc"), "machine example.com login anonymous\nmachine other.example login x password ${NETRC_PASSWORD}\n")
	write(t, filepath.Join(home, ".aws", "credentials"), "[default]\naws_access_key_id = AKIA"+"IOSFODNN7EXAMPLE\naws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCY"+"EXAMPLEKEY\n")
	write(t, filepath.Join(home, ".npmrc"), "//registry.npmjs.org/:_authToken=${NPM_TOKEN}\n")
	write(t, filepath.Join(home, ".env"), strings.Join([]string{
		"OPENAI_API_KEY=sk-" + "proj-" + f.chars(40, alnum), // no T3BlbkFJ, too short
		"ANTHROPIC_API_KEY=your-api-key-here",
		"API_KEY=changeme",
		"SECRET_KEY=" + strings.Repeat("a", 32),
		"DATABASE_PASSWORD=${DB_PASSWORD}",
		"AUTH_TOKEN_URL=https://login.example/oauth/token",
		"SESSION_TOKEN_TTL=3600",
		"STRIPE_KEY=sk_" + "live_" + strings.Repeat("x", 24),
		"",
	}, "\n"))
	write(t, filepath.Join(home, ".bashrc"), strings.Join([]string{
		"export GITHUB_TOKEN=$(gh auth token)",
		"export OLD_TOKEN=gh" + "p_" + f.chars(35, alnum) + " # one short",
		"export HISTSIZE=100000",
		"export PATH=$HOME/go/bin:$PATH",
		"alias k=kubectl",
		"",
	}, "\n"))
	write(t, filepath.Join(home, ".pypirc"), "[pypi]\nusername = __token__\n")
	write(t, filepath.Join(home, ".cargo", "credentials.toml"), "[registry]\ntoken = \"\"\n")
	o := testOptions(home)
	o.GitConfig = func(context.Context) ([]byte, error) {
		return []byte("file:" + filepath.Join(home, ".gitconfig") + "\x00credential.helper\ncache --timeout 900\x00"), nil
	}
	r := ScanDefaults(context.Background(), o)
	if len(r.Findings) != 0 {
		b, _ := json.MarshalIndent(r.Findings, "", "  ")
		t.Errorf("decoy home: %s", b)
	}
	if len(r.Scanned) < 10 {
		t.Errorf("scanned only %q", r.Scanned)
	}
}

// TestBinary builds a Go program with a key in it and finds the key in
// the binary, and nothing in the same program built without it.
func TestBinary(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a program")
	}
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("no go")
	}
	k := makeKeys()
	dir := t.TempDir()
	build := func(name, value string) string {
		src := filepath.Join(dir, name)
		write(t, filepath.Join(src, "go.mod"), "module example.com/"+name+"\n\ngo 1.21\n")
		write(t, filepath.Join(src, "main.go"), `package main

import (
	"fmt"
	"os"
)

var apiKey = "`+value+`"

func main() {
	if len(os.Args) > 1 {
		fmt.Println(apiKey)
	}
}
`)
		out := filepath.Join(dir, name+".bin")
		cmd := exec.Command("go", "build", "-o", out, ".")
		cmd.Dir = src
		cmd.Env = append(os.Environ(), "GOWORK=off", "GOFLAGS=", "CGO_ENABLED=0")
		if b, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("go build: %v\n%s", err, b)
		}
		return out
	}
	bin := build("withkey", k.anthropic)
	r := ScanPaths(context.Background(), testOptions(dir), []string{bin})
	if len(r.Findings) != 1 {
		t.Fatalf("findings in the binary: %+v", r.Findings)
	}
	f := r.Findings[0]
	if f.Kind != "anthropic-api-key" || f.File != bin || f.Offset <= 0 || f.Line != 0 || f.Mayfly != CannotHelp {
		t.Errorf("finding: %+v", f)
	}
	if want := k.anthropic[:4] + "…" + k.anthropic[len(k.anthropic)-4:]; f.Secret != want {
		t.Errorf("secret shown as %q, want %q", f.Secret, want)
	}
	data, _ := os.ReadFile(bin)
	if got := string(data[f.Offset : f.Offset+int64(len(k.anthropic))]); got != k.anthropic {
		t.Errorf("offset %d does not point at the key", f.Offset)
	}
	clean := build("nokey", "not a key at all")
	if r := ScanPaths(context.Background(), testOptions(dir), []string{clean}); len(r.Findings) != 0 {
		t.Errorf("findings in a binary without a key: %+v", r.Findings)
	}
}

// TestTree scans a repository-like tree: files are recognised by name,
// .git is skipped.
func TestTree(t *testing.T) {
	k := makeKeys()
	root := t.TempDir()
	write(t, filepath.Join(root, "app", "settings.py"), "DEBUG = True\nSTRIPE_SECRET = '"+k.githubPAT+"'\n")
	write(t, filepath.Join(root, "deploy", "kubeconfig.yaml"), "apiVersion: v1\nkind: Config\nusers:\n- name: ci\n  user:\n    token: "+k.kubeToken+"\n")
	write(t, filepath.Join(root, "ci", ".docker", "config.json"), `{"auths":{"r.example":{"username":"u","password":"`+k.dockerPassword+`"}}}`)
	write(t, filepath.Join(root, ".git", "config"), "[remote]\n\turl = https://x:"+k.gitPassword+"@h.example/r.git\n")
	write(t, filepath.Join(root, "keys", "id_ec"), k.clientKeyPEM)
	write(t, filepath.Join(root, "config", "app.yaml"), "db:\n  password: "+k.netrcPassword+"\n  password_file: /run/secrets/db\n")
	r := ScanPaths(context.Background(), Options{}, []string{root})
	got := summarize(root, r.Findings)
	want := []found{
		{"app/settings.py", "github-pat", "", CannotHelp, 2},
		{"ci/.docker/config.json", "docker-auth", "r.example", CanStore, 1},
		{"config/app.yaml", "generic-secret", "", CannotHelp, 2},
		{"deploy/kubeconfig.yaml", "kube-token", "", NeedsProf, 6},
		{"keys/id_ec", "private-key", "", CannotHelp, 1},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("findings (-want +got):\n%s", diff)
	}
	assertNoSecret(t, r, k)
}

func TestRedact(t *testing.T) {
	for in, want := range map[string]string{
		"abcdefghijklmnopqrstuvwxyz": "abcd…wxyz",
		"abcdefghijklmnop":           "abcd…mnop",
		"abcdefghij":                 "ab…ij",
		"hunter2":                    "…",
		"":                           "…",
	} {
		if got := Redact(in); got != want {
			t.Errorf("Redact(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestGeneric(t *testing.T) {
	f := newFaker()
	random := f.chars(24, alnum)
	for _, tc := range []struct {
		line string
		want bool
	}{
		{"API_KEY=" + random, true},
		{"export OPENAI_KEY=" + random, true},
		{"SSH_KEY=/home/me/.ssh/" + random, false},
		{"KEYBOARD=" + random, false},
		{"export SERVICE_TOKEN=\"" + random + "\"", true},
		{"client_secret: " + random, true},
		{`"password": "` + random + `",`, true},
		{"db.password=" + random + " # prod", true},
		{"API_KEY=" + strings.ToLower(f.chars(24, lower)), false}, // letters only: a word
		{"TOKEN_URL=" + random, false},
		{"token_sha256=" + f.chars(64, "0123456789abcdef"), false},
		{"PUBLIC_KEY=" + random, false},
		{"API_KEY=${API_KEY}", false},
		{"SECRET=abc123", false}, // too short
		{"NAME=" + random, false},
	} {
		got := len(scanText("f", []byte(tc.line+"\n"))) > 0
		if got != tc.want {
			t.Errorf("%q: found %v, want %v", tc.line, got, tc.want)
		}
	}
}

func TestEntropy(t *testing.T) {
	if e := entropy("aaaa"); e != 0 {
		t.Errorf("entropy(aaaa) = %v", e)
	}
	if e := entropy("abcd"); e != 2 {
		t.Errorf("entropy(abcd) = %v", e)
	}
}

// TestRulesCompileAndMatch checks each rule against a key of its shape,
// so a typo in the table shows.
func TestRulesMatchTheirShape(t *testing.T) {
	k := makeKeys()
	samples := map[string]string{
		"github-pat":        k.githubPAT,
		"openai-api-key":    k.openAI,
		"anthropic-api-key": k.anthropic,
		"aws-access-token":  k.awsID,
		"npm-access-token":  k.npm,
		"pypi-upload-token": k.pypi,
		"slack-bot-token":   k.slack,
		"private-key":       k.clientKeyPEM,
	}
	for id, s := range samples {
		var r *rule
		for _, x := range rules() {
			if x.id == id {
				r = x
			}
		}
		if r == nil {
			t.Fatalf("no rule %s", id)
		}
		s = strings.TrimSpace(s)
		if m := r.text.FindStringSubmatch(" " + s + "\n"); m == nil || m[1] != s || !r.wanted(m[1]) {
			t.Errorf("%s: text rule does not take its own shape: %v", id, m != nil)
		}
		// In a binary, a key of open-ended length takes in what
		// follows it; it must at least start where the key does.
		if r.inBinary && !strings.HasPrefix(r.bin.FindString("xx"+s+"yy"), s) {
			t.Errorf("%s: binary rule does not take its own shape", id)
		}
	}
}
