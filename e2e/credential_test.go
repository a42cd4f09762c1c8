//go:build linux

package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

// The Bazel/EngFlow credential-helper protocol as mayfly-credential speaks
// it (docs/credential-helper-protocol.md), and `mayfly token`, against Dex
// and the git server that accepts only Dex's tokens. Bazel itself is not on
// this machine, so the helper is driven as Bazel drives it: argv "get", one
// JSON object on stdin, EOF.

// credAnswer is one run of mayfly-credential, its stdout decoded.
type credAnswer struct {
	result
	fields map[string]json.RawMessage
	// Bearer is the token in headers.Authorization, "" if none.
	bearer string
	// err is the error object, if stdout held one.
	err struct {
		Code         string `json:"code"`
		Message      string `json:"message"`
		LoginCommand string `json:"login_command"`
	}
}

// credGet runs `mayfly-credential <args>` (args default to "get") with stdin
// and checks what every answer must be, whatever it says: stdout is exactly
// one JSON object and a newline, nothing before or after it; a success has
// nothing on stderr; a failure has one "mayfly: " line there, the same text
// as the error object's message, and a non-zero exit status that goes with
// its code. No answer is ever a panic.
func credGet(t *testing.T, w *world, stdin string, args ...string) credAnswer {
	t.Helper()
	if len(args) == 0 {
		args = []string{"get"}
	}
	a := credAnswer{result: w.run(stdin, "mayfly-credential", args...)}
	if strings.Contains(a.stderr, "panic") || strings.Contains(a.stderr, "goroutine ") {
		t.Fatalf("mayfly-credential %q: %s", args, a.stderr)
	}
	a.fields = strictObject(t, a.stdout)
	if raw, ok := a.fields["error"]; ok {
		if err := json.Unmarshal(raw, &a.err); err != nil {
			t.Fatalf("error object %s: %v", raw, err)
		}
		want := map[string]int{"other": 1, "usage": 2, "bad_request": 3, "not_found": 4, "interaction_required": 5, "unsupported": 6}
		if code, ok := want[a.err.Code]; !ok || code != a.code {
			t.Errorf("error code %q with exit %d", a.err.Code, a.code)
		}
		if a.stderr != "mayfly: "+a.err.Message+"\n" {
			t.Errorf("stderr %q, want the one line \"mayfly: %s\"", a.stderr, a.err.Message)
		}
		if len(a.fields) != 1 {
			t.Errorf("an error answer with other fields: %s", a.stdout)
		}
		return a
	}
	if a.code != 0 || a.stderr != "" {
		t.Errorf("an answer with exit %d and stderr %q: %s", a.code, a.stderr, a.stdout)
	}
	for k := range a.fields {
		if k != "headers" && k != "expires" {
			t.Errorf("answer has field %q: %s", k, a.stdout)
		}
	}
	if raw, ok := a.fields["headers"]; ok {
		var h map[string][]string
		if err := json.Unmarshal(raw, &h); err != nil {
			t.Fatalf("headers %s: %v", raw, err)
		}
		if len(h) != 1 || len(h["Authorization"]) != 1 || !strings.HasPrefix(h["Authorization"][0], "Bearer ") {
			t.Fatalf("headers: want one Authorization: Bearer value, got %d headers", len(h))
		}
		a.bearer = strings.TrimPrefix(h["Authorization"][0], "Bearer ")
	}
	return a
}

// strictObject decodes s as exactly one JSON object followed by one newline.
func strictObject(t *testing.T, s string) map[string]json.RawMessage {
	t.Helper()
	if !strings.HasSuffix(s, "\n") || strings.Count(s, "\n") != 1 {
		t.Fatalf("stdout %q: want one line", s)
	}
	dec := json.NewDecoder(strings.NewReader(s))
	var m map[string]json.RawMessage
	if err := dec.Decode(&m); err != nil || m == nil {
		t.Fatalf("stdout %q: not a JSON object: %v", s, err)
	}
	if _, err := dec.Token(); err != io.EOF {
		t.Fatalf("stdout %q: data after the JSON object", s)
	}
	return m
}

var wholeSecondUTC = regexp.MustCompile(`^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$`)

// gitAccepts asks the git server for the refs of app.git over HTTP with the
// token as a Bearer header, as a tool that got the helper's headers would.
func gitAccepts(t *testing.T, w *world, token string) bool {
	t.Helper()
	req, err := http.NewRequest("GET", w.git.URL+"/app.git/info/refs?service=git-upload-pack", nil)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode == http.StatusOK && bytes.Contains(body, []byte("# service=git-upload-pack"))
}

// lsRemoteWithHeader runs real git with the header and no credential helper
// at all (an empty global config), so that success proves the header alone
// authenticates. The header goes through git's environment config, not
// argv, where other users could read it.
func lsRemoteWithHeader(t *testing.T, w *world, header string) result {
	t.Helper()
	c := w.cmd(t.Context(), "git", "ls-remote", w.git.URL+"/app.git")
	c.Env = append(slices.Clone(c.Env), "GIT_CONFIG_GLOBAL=/dev/null",
		"GIT_CONFIG_COUNT=1", "GIT_CONFIG_KEY_0=http.extraHeader", "GIT_CONFIG_VALUE_0="+header)
	var so, se bytes.Buffer
	c.Stdout, c.Stderr = &so, &se
	code := 0
	if err := c.Run(); err != nil {
		code = -1
		if c.ProcessState != nil {
			code = c.ProcessState.ExitCode()
		}
	}
	return result{so.String(), se.String(), code}
}

// TestCredentialHelper drives mayfly-credential get as Bazel does, before
// and after sign-in, and proves that the header it returns is what the
// real git server accepts; then the extensions.
func TestCredentialHelper(t *testing.T) {
	w := newWorld(t, worldOptions{})
	uri := w.git.URL + "/app.git"
	get := func(uri string) string { return fmt.Sprintf(`{"uri":%q}`, uri) }
	elsewhere := "https://mirror.elsewhere.example/rules_go-v0.50.0.zip"

	// Before sign-in: a typed error and a non-zero exit, which fails a
	// plain Bazel, with the login command on the stderr line Bazel shows.
	a := credGet(t, w, get(uri))
	if a.code != 5 || a.err.Code != "interaction_required" || a.err.LoginCommand != "mayfly login --profile corp" {
		t.Fatalf("before sign-in: exit %d, %+v", a.code, a.err)
	}
	if !strings.Contains(a.stderr, "mayfly login --profile corp") {
		t.Errorf("before sign-in: stderr %q does not name the login command", a.stderr)
	}
	// A URI no profile serves is "{}", exit 0, whether signed in or not:
	// the base spec's "no credentials needed", so a public download on a
	// routed domain still works. With not_found_error, it is an error.
	if a := credGet(t, w, get(elsewhere)); a.stdout != "{}\n" || a.code != 0 {
		t.Errorf("unmatched URI: exit %d, %q", a.code, a.stdout)
	}
	a = credGet(t, w, fmt.Sprintf(`{"uri":%q,"capabilities":["not_found_error"]}`, elsewhere))
	if a.code != 4 || a.err.Code != "not_found" {
		t.Errorf("unmatched URI with not_found_error: exit %d, %+v", a.code, a.err)
	}

	w.loginDevice()
	a = credGet(t, w, get(uri))
	if a.code != 0 || a.bearer == "" {
		t.Fatalf("after sign-in: exit %d, %s %s", a.code, a.stdout, a.stderr)
	}
	token := a.bearer
	var expires string
	if err := json.Unmarshal(a.fields["expires"], &expires); err != nil || !wholeSecondUTC.MatchString(expires) {
		t.Fatalf("expires %s: want RFC 3339 UTC in whole seconds (%v)", a.fields["expires"], err)
	}
	exp, _ := time.Parse(time.RFC3339, expires)
	st := w.status()
	// Bazel never refreshes early: expires must come before the token's
	// real expiry (by the margin, a quarter of Dex's minute), and after now.
	if ahead := st.AccessExpiry.Sub(exp); ahead < 10*time.Second || ahead > 21*time.Second || time.Until(exp) <= 0 {
		t.Errorf("expires %s is %s before the token's expiry %s; want about 15s, in the future", expires, ahead, st.AccessExpiry.UTC())
	}

	// The header is what the git server takes: over HTTP, and through real
	// git with no credential helper at all.
	if gitAccepts(t, w, "") || gitAccepts(t, w, "not-a-token") {
		t.Fatal("the git server accepts requests without a valid token")
	}
	if !gitAccepts(t, w, token) {
		t.Errorf("the git server refused the helper's Bearer token; log:\n%s", strings.Join(w.git.Log(), "\n"))
	}
	if r := lsRemoteWithHeader(t, w, "Authorization: Bearer "+token); r.code != 0 || !strings.Contains(r.stdout, "refs/heads/") {
		t.Errorf("git ls-remote with the helper's header: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if r := lsRemoteWithHeader(t, w, "Authorization: Bearer not-a-token"); r.code == 0 {
		t.Error("git ls-remote with a bad header succeeded")
	}

	// The forms other tools send: Bazel's gRPC "https://authority/Service"
	// has its own test above; the spec's grpc(s)://…/Service/Method maps to
	// the HTTP transport; query and fragment never change the profile.
	host := strings.TrimPrefix(w.git.URL, "http://")
	for _, u := range []string{
		"grpc://" + host + "/build.bazel.remote.execution.v2.ActionCache/GetActionResult",
		uri + "/info/refs?service=git-upload-pack#x",
	} {
		if a := credGet(t, w, get(u)); a.bearer != token {
			t.Errorf("%s: exit %d, not the profile's token: %s", u, a.code, a.stderr)
		}
	}

	// Extensions that need nothing from the agent are served, and fields
	// the helper does not know are ignored (spec: "SHOULD NOT fail").
	full := fmt.Sprintf(`{"uri":%q,"method":"GET","interactive":false,"resource":[%q],"capabilities":["not_found_error","dpop"],"client":{"name":"e2e"}}`, uri, w.git.URL)
	if a := credGet(t, w, full); a.bearer != token {
		t.Errorf("request with extensions: exit %d %s", a.code, a.stderr)
	}
	// What the agent cannot do yet is refused, never silently ignored.
	for name, req := range map[string]string{
		"audience":         fmt.Sprintf(`{"uri":%q,"audience":["https://other.example"]}`, uri),
		"scope":            fmt.Sprintf(`{"uri":%q,"scope":"repo:write"}`, uri),
		"another resource": fmt.Sprintf(`{"uri":%q,"resource":["https://other.example/"]}`, uri),
	} {
		if a := credGet(t, w, req); a.code != 6 || a.err.Code != "unsupported" || !strings.Contains(a.err.Message, "not supported yet") {
			t.Errorf("%s: exit %d, %+v", name, a.code, a.err)
		}
	}

	// --profile serves a profile whatever the URI; a missing one fails even
	// a plain Bazel, since the set-up is broken.
	if a := credGet(t, w, get(elsewhere), "get", "--profile", "corp"); a.bearer != token {
		t.Errorf("--profile corp: exit %d %s", a.code, a.stderr)
	}
	if a := credGet(t, w, get(uri), "get", "--profile", "nope"); a.code != 1 || a.err.Code != "other" {
		t.Errorf("--profile nope: exit %d, %+v", a.code, a.err)
	}

	// Signed out: interaction_required again.
	w.mustRun("mayfly", "logout", "--profile", "corp")
	if a := credGet(t, w, get(uri)); a.code != 5 || a.err.LoginCommand != "mayfly login --profile corp" {
		t.Errorf("after sign-out: exit %d, %+v", a.code, a.err)
	}
}

// TestCredentialMalformedInput feeds mayfly-credential what no tool sends.
// Each gets the protocol's error signal: exit 3 (2 for the command line),
// the bad_request (usage) error object as the whole of stdout, one line on
// stderr; none panics, starts the agent or writes to the store.
func TestCredentialMalformedInput(t *testing.T) {
	w := newWorld(t, worldOptions{})
	uri := fmt.Sprintf("%q", w.git.URL+"/app.git")
	keysBefore := sessionKeys(t, w)
	sock := filepath.Join(w.dir, "run", "mayfly", "agent.sock")

	bad := map[string]string{
		"empty":                "",
		"white space":          " \n",
		"garbage":              "this is not a request\n",
		"git's protocol":       "protocol=https\nhost=" + strings.TrimPrefix(w.git.URL, "http://") + "\n\n",
		"binary":               "\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\xff\xfe",
		"1 MiB":                `{"uri":"` + w.git.URL + "/" + strings.Repeat("a", 1<<20) + `"}`,
		"1 MiB of white space": `{"uri":` + uri + `}` + strings.Repeat(" ", 1<<20),
		"two documents":        `{"uri":` + uri + `}{"uri":` + uri + `}`,
		"two lines":            `{"uri":` + uri + "}\n" + `{"uri":` + uri + "}\n",
		"trailing garbage":     `{"uri":` + uri + `} x`,
		"truncated":            `{"uri":` + uri,
		"array":                `[` + uri + `]`,
		"bare string":          uri,
		"null":                 `null`,
		"no uri":               `{}`,
		"uri in other case":    `{"URI":` + uri + `}`,
		"uri a number":         `{"uri":42}`,
		"uri null":             `{"uri":null}`,
		"uri an array":         `{"uri":[` + uri + `]}`,
		"relative uri":         `{"uri":"/app.git"}`,
		"duplicate uri":        `{"uri":"https://elsewhere.example/","uri":` + uri + `}`,
		"invalid UTF-8":        "{\"uri\":\"" + w.git.URL + "/\xff\"}",
		"audience a string":    `{"uri":` + uri + `,"audience":"x"}`,
		"interactive a string": `{"uri":` + uri + `,"interactive":"false"}`,
		"scope a number":       `{"uri":` + uri + `,"scope":1}`,
		"resource relative":    `{"uri":` + uri + `,"resource":["/x"]}`,
	}
	for name, in := range bad {
		a := credGet(t, w, in)
		if a.code != 3 || a.err.Code != "bad_request" {
			t.Errorf("%s: exit %d, %+v", name, a.code, a.err)
		}
		if len(a.stderr) > 300 {
			t.Errorf("%s: a %d-byte error line", name, len(a.stderr))
		}
	}
	for name, args := range map[string][]string{
		"no command":      {},
		"unknown command": {"store"},
		"flag first":      {"--profile", "corp", "get"},
		"unknown flag":    {"get", "--nope"},
		"extra argument":  {"get", "x"},
	} {
		// credGet's default is "get"; run the binary directly for an empty argv.
		var a credAnswer
		if len(args) == 0 {
			a = credAnswer{result: w.run(`{"uri":`+uri+`}`, "mayfly-credential")}
			obj := strictObject(t, a.stdout)
			json.Unmarshal(obj["error"], &a.err)
		} else {
			a = credGet(t, w, `{"uri":`+uri+`}`, args...)
		}
		if a.code != 2 || a.err.Code != "usage" || strings.Count(a.stderr, "\n") != 1 {
			t.Errorf("%s: exit %d, %+v, stderr %q", name, a.code, a.err, a.stderr)
		}
	}
	if _, err := os.Stat(sock); err == nil {
		t.Errorf("malformed input started the agent")
	}
	if after := sessionKeys(t, w); !maps.Equal(keysBefore, after) {
		t.Errorf("malformed input changed the store: %v -> %v", keysBefore, after)
	}
}

// TestTokenCommand: `mayfly token` prints the bare token and a newline, as
// Claude Code's apiKeyHelper (run with /bin/sh) and scripts need, and the git
// server accepts it; without a session it prints nothing on stdout and one
// stderr line naming the login command.
func TestTokenCommand(t *testing.T) {
	w := newWorld(t, worldOptions{})
	url := w.git.URL + "/app.git"

	for _, args := range [][]string{{"token", "--profile", "corp"}, {"token"}, {"token", url}} {
		r := w.run("", "mayfly", args...)
		if r.code == 0 || r.stdout != "" {
			t.Errorf("%q before sign-in: exit %d, stdout %q", args, r.code, r.stdout)
		}
		if strings.Count(r.stderr, "\n") != 1 || !strings.HasPrefix(r.stderr, "mayfly token: ") || !strings.Contains(r.stderr, "mayfly login --profile corp") {
			t.Errorf("%q before sign-in: stderr %q, want one line naming `mayfly login --profile corp`", args, r.stderr)
		}
	}

	w.loginDevice()
	r := w.mustRun("mayfly", "token", "--profile", "corp")
	if !regexp.MustCompile(`^[A-Za-z0-9._~+/=-]+\n$`).MatchString(r.stdout) || r.stderr != "" {
		t.Fatalf("mayfly token: stdout is not exactly one token line (%d bytes), stderr %q", len(r.stdout), r.stderr)
	}
	token := strings.TrimSuffix(r.stdout, "\n")
	if !gitAccepts(t, w, token) {
		t.Errorf("the git server refused the token from mayfly token; log:\n%s", strings.Join(w.git.Log(), "\n"))
	}
	if r := lsRemoteWithHeader(t, w, "Authorization: Bearer "+token); r.code != 0 {
		t.Errorf("git ls-remote with the token: exit %d\n%s", r.code, r.stderr)
	}
	// The other ways to name the profile, and the way Claude Code runs it:
	// the same token line. mayfly-credential gets the same cached token.
	for _, cmd := range [][]string{
		{"mayfly", "token"},
		{"mayfly", "token", url},
		{"/bin/sh", "-c", "mayfly token --profile corp"},
	} {
		if r := w.mustRun(cmd[0], cmd[1:]...); r.stdout != token+"\n" || r.stderr != "" {
			t.Errorf("%q: not the same single token line (stderr %q)", cmd, r.stderr)
		}
	}
	if a := credGet(t, w, fmt.Sprintf(`{"uri":%q}`, url)); a.bearer != token {
		t.Errorf("mayfly-credential and mayfly token disagree")
	}

	for name, args := range map[string][]string{
		"unmatched URL":    {"token", "https://elsewhere.example/"},
		"missing profile":  {"token", "--profile", "nope"},
		"profile and URL":  {"token", "--profile", "corp", url},
		"two URLs":         {"token", url, url},
		"profile no value": {"token", "--profile"},
	} {
		r := w.run("", "mayfly", args...)
		if r.code == 0 || r.stdout != "" || r.stderr == "" {
			t.Errorf("%s: exit %d, stdout %q, stderr %q", name, r.code, r.stdout, r.stderr)
		}
	}
}
