//go:build linux

package e2e

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mayflyhq/mayfly/agent/wire"
	"github.com/mayflyhq/mayfly/backends/keyring"
	"github.com/mayflyhq/mayfly/internal/testpeers"
)

// The Docker credential-helper protocol (protocols.md §2) as the real
// consumers speak it (peers.md §3b): crane v0.22.1, skopeo 1.9.3 and the
// docker CLI (no daemon), against a distribution registry v3 whose token
// server accepts only Dex's access tokens, and a second registry with a
// plain password (htpasswd) that no profile manages.

// dockerTools are the consumers and the registry.
type dockerTools struct {
	registry, crane, skopeo, docker string
}

func findDockerTools(t *testing.T) dockerTools {
	t.Helper()
	var tools dockerTools
	var err error
	tools.registry, tools.crane, err = testpeers.FindRegistry()
	for _, p := range []struct {
		name string
		dst  *string
	}{{"skopeo", &tools.skopeo}, {"docker", &tools.docker}} {
		if err != nil {
			break
		}
		*p.dst, err = exec.LookPath(p.name)
	}
	if err != nil {
		if os.Getenv("MAYFLY_REQUIRE_PEERS") == "1" {
			t.Fatalf("MAYFLY_REQUIRE_PEERS=1 but %v (run scripts/install-peers.sh)", err)
		}
		t.Skipf("docker peers: %v (run scripts/install-peers.sh)", err)
	}
	return tools
}

// staticPassword is the unmanaged registry's password for alice; the bcrypt
// line is Dex's example hash of it, since registry v3 reads bcrypt only.
const (
	staticUser     = "alice"
	staticPassword = "password"
	staticHash     = "$2a$10$2b2cU8CPhOTaGrs1HRQuAueS7JTT5ZHsHSzYiFPm1leZck7Mc8T4W"
)

// dockerWorld is a world with the two registries and a DOCKER_CONFIG.
type dockerWorld struct {
	*world
	tools  dockerTools
	reg    *testpeers.Registry // token auth: Dex's tokens only; profile "corp" manages it
	static *testpeers.Registry // htpasswd: alice/password; no profile
	cfgDir string              // DOCKER_CONFIG
}

func newDockerWorld(t *testing.T) *dockerWorld {
	t.Helper()
	tools := findDockerTools(t)
	// Dex's access tokens live 20 s, so the test can wait for one to expire.
	w := newWorld(t, worldOptions{ttl: 20 * time.Second})
	ctx := context.Background()
	d := &dockerWorld{world: w, tools: tools, cfgDir: filepath.Join(w.dir, "docker")}
	for _, dir := range []string{"registry", "registry-static", "docker"} {
		if err := os.MkdirAll(filepath.Join(w.dir, dir), 0o700); err != nil {
			t.Fatal(err)
		}
	}
	var err error
	d.reg, err = testpeers.StartRegistry(ctx, testpeers.RegistryOptions{
		Bin: tools.registry, Dir: filepath.Join(w.dir, "registry"), Issuer: w.dex.Issuer, Audience: testpeers.ClientID,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(d.reg.Close)
	d.static, err = testpeers.StartRegistry(ctx, testpeers.RegistryOptions{
		Bin: tools.registry, Dir: filepath.Join(w.dir, "registry-static"), Users: map[string]string{staticUser: staticHash},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(d.static.Close)
	// The kernel keyring outlives the test: drop what a failed run left.
	t.Cleanup(func() { keyring.New("mayfly:").Delete(context.Background(), "static/docker/"+d.static.Host) })

	w.writeConfig(fmt.Sprintf(`[agent]
idle_timeout = "10m"

[profiles.corp]
issuer = %q
client_id = %q
scopes = ["openid", "offline_access", "email", "profile"]
match = [%q]
`, w.dex.Issuer, testpeers.ClientID, d.reg.Host))
	w.env = append(w.env, "DOCKER_CONFIG="+d.cfgDir)
	return d
}

// dockerConfig writes DOCKER_CONFIG/config.json.
func (d *dockerWorld) dockerConfig(v any) {
	d.t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		d.t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(d.cfgDir, "config.json"), b, 0o600); err != nil {
		d.t.Fatal(err)
	}
}

// tool runs a consumer and fails the test unless it succeeds.
func (d *dockerWorld) tool(stdin string, bin string, args ...string) result {
	d.t.Helper()
	r := d.run(stdin, bin, args...)
	if r.code != 0 {
		d.t.Fatalf("%s %s: exit %d\nstdout: %s\nstderr: %s\ntoken server:\n%s",
			filepath.Base(bin), strings.Join(args, " "), r.code, r.stdout, r.stderr, strings.Join(d.reg.TokenLog(), "\n"))
	}
	return r
}

// helper runs docker-credential-mayfly and checks what every answer must
// be: exit 0 or 1; on 1 exactly one line on stdout (protocols.md §2.3) and
// nothing on stderr; never a panic.
func (d *dockerWorld) helper(stdin string, args ...string) result {
	d.t.Helper()
	r := d.run(stdin, "docker-credential-mayfly", args...)
	if strings.Contains(r.stdout+r.stderr, "panic") || strings.Contains(r.stdout+r.stderr, "goroutine ") {
		d.t.Fatalf("docker-credential-mayfly %q: %s%s", args, r.stdout, r.stderr)
	}
	switch r.code {
	case 0:
	case 1:
		if strings.Count(r.stdout, "\n") != 1 || !strings.HasSuffix(r.stdout, "\n") || r.stderr != "" {
			d.t.Errorf("docker-credential-mayfly %q: exit 1 with stdout %q, stderr %q; want one line on stdout", args, r.stdout, r.stderr)
		}
	default:
		d.t.Errorf("docker-credential-mayfly %q: exit %d", args, r.code)
	}
	return r
}

// get runs the helper's get and decodes the answer strictly: one JSON
// object with exactly the protocol's fields, then a newline (style.md R16).
func (d *dockerWorld) get(server string) (map[string]string, result) {
	d.t.Helper()
	r := d.helper(server, "get")
	if r.code != 0 {
		return nil, r
	}
	return strictJSON[map[string]string](d.t, r.stdout, "ServerURL", "Username", "Secret"), r
}

// strictJSON decodes s as exactly one JSON document and a newline; with
// keys, it must be an object with exactly those.
func strictJSON[T any](t *testing.T, s string, keys ...string) T {
	t.Helper()
	var v T
	dec := json.NewDecoder(strings.NewReader(s))
	if err := dec.Decode(&v); err != nil {
		t.Fatalf("stdout %q: %v", s, err)
	}
	if rest := s[dec.InputOffset():]; rest != "\n" {
		t.Fatalf("stdout %q: %q after the JSON document", s, rest)
	}
	if len(keys) > 0 {
		var m map[string]json.RawMessage
		json.Unmarshal([]byte(s), &m)
		if got := slices.Sorted(maps.Keys(m)); !slices.Equal(got, slices.Sorted(slices.Values(keys))) {
			t.Fatalf("stdout %q has keys %v, want %v", s, got, keys)
		}
	}
	return v
}

func (d *dockerWorld) staticList() map[string]string {
	d.t.Helper()
	r := d.helper("unused", "list")
	if r.code != 0 {
		d.t.Fatalf("docker-credential-mayfly list: %q", r.stdout)
	}
	return strictJSON[map[string]string](d.t, r.stdout)
}

// statusStatic is the static part of `mayfly status --json`.
func (d *dockerWorld) statusStatic() []wire.StaticEntry {
	d.t.Helper()
	r := d.mustRun("mayfly", "status", "--json")
	var st wire.Status
	if err := json.Unmarshal([]byte(r.stdout), &st); err != nil {
		d.t.Fatalf("mayfly status --json: %v\n%s", err, r.stdout)
	}
	for i := range st.Static {
		st.Static[i].Saved = time.Time{}
	}
	return st.Static
}

// staticKeys lists the keyring's static Docker entries for this world's
// registries (other tests use other ports).
func (d *dockerWorld) staticKeys() []string {
	d.t.Helper()
	keys, err := keyring.New("mayfly:").List(context.Background())
	if err != nil {
		d.t.Fatal(err)
	}
	var out []string
	for _, k := range keys {
		if k == "static/docker/"+d.static.Host || k == "static/docker/"+d.reg.Host {
			out = append(out, k)
		}
	}
	return out
}

// layerTar is a one-file layer for crane append.
func layerTar(t *testing.T, path, content string) string {
	t.Helper()
	var b bytes.Buffer
	tw := tar.NewWriter(&b)
	if err := tw.WriteHeader(&tar.Header{Name: "mayfly/", Typeflag: tar.TypeDir, Mode: 0o755}); err != nil {
		t.Fatal(err)
	}
	if err := tw.WriteHeader(&tar.Header{Name: "mayfly/hello.txt", Mode: 0o644, Size: int64(len(content))}); err != nil {
		t.Fatal(err)
	}
	tw.Write([]byte(content))
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// exportedFile reads mayfly/hello.txt from `crane export` output.
func exportedFile(t *testing.T, flat []byte) string {
	t.Helper()
	tr := tar.NewReader(bytes.NewReader(flat))
	for {
		h, err := tr.Next()
		if err != nil {
			t.Fatalf("crane export: no mayfly/hello.txt: %v", err)
		}
		if h.Name == "mayfly/hello.txt" {
			var b bytes.Buffer
			b.ReadFrom(tr)
			return b.String()
		}
	}
}

// TestDockerMalformedInput feeds docker-credential-mayfly what no consumer
// sends: each gets one message on stdout and exit 1 (protocols.md §2.3),
// with the protocol's fixed strings where they apply, no panic, and neither
// starts the agent nor reaches the store.
func TestDockerMalformedInput(t *testing.T) {
	d := newDockerWorld(t)
	sock := filepath.Join(d.dir, "run", "mayfly", "agent.sock")
	mib := strings.Repeat("a", 1<<20)
	for _, tc := range []struct {
		name, stdin string
		args        []string
		want        string // the whole stdout; "" for any "mayfly: " line
	}{
		{"get: garbage", "\x89PNG\r\n\x1a\n\x00\x00 garbage", []string{"get"}, ""},
		{"get: 1 MiB", mib, []string{"get"}, "mayfly: dockercred: request longer than 65536 bytes\n"},
		{"get: empty", "", []string{"get"}, "no credentials server URL\n"},
		{"get: another scheme", "ftp://" + d.reg.Host, []string{"get"}, ""},
		{"get: a user name", "alice@" + d.reg.Host, []string{"get"}, ""},
		{"erase: garbage", "not a\x00host", []string{"erase"}, ""},
		{"erase: 1 MiB", mib, []string{"erase"}, "mayfly: dockercred: request longer than 65536 bytes\n"},
		{"erase: empty", "\n", []string{"erase"}, "no credentials server URL\n"},
		{"store: garbage", "this is not JSON", []string{"store"}, ""},
		{"store: 1 MiB", `{"ServerURL":"` + d.static.Host + `","Username":"alice","Secret":"` + mib + `"}`, []string{"store"}, "mayfly: dockercred: request longer than 65536 bytes\n"},
		{"store: bad JSON", `{"ServerURL":"` + d.static.Host + `","Username":"alice","Secret":`, []string{"store"}, ""},
		{"store: two documents", `{"ServerURL":"` + d.static.Host + `","Username":"alice","Secret":"pw"}{}`, []string{"store"}, ""},
		{"store: not a string", `{"ServerURL":"` + d.static.Host + `","Username":"alice","Secret":1}`, []string{"store"}, ""},
		{"store: no ServerURL", `{"Username":"alice","Secret":"pw"}`, []string{"store"}, "no credentials server URL\n"},
		{"store: no Username", `{"ServerURL":"` + d.static.Host + `","Secret":"pw"}`, []string{"store"}, "no credentials username\n"},
		{"store: no Secret", `{"ServerURL":"` + d.static.Host + `","Username":"alice"}`, []string{"store"}, ""},
		{"store: bad server", `{"ServerURL":"a host","Username":"alice","Secret":"pw"}`, []string{"store"}, ""},
		{"no action", "", nil, ""},
		{"two actions", d.reg.Host, []string{"get", "list"}, ""},
		{"unknown action", d.reg.Host, []string{"frobnicate"}, ""},
	} {
		r := d.helper(tc.stdin, tc.args...)
		if r.code != 1 {
			t.Errorf("%s: exit %d, want 1 (stdout %q)", tc.name, r.code, r.stdout)
			continue
		}
		if tc.want != "" && r.stdout != tc.want {
			t.Errorf("%s: stdout %q, want %q", tc.name, r.stdout, tc.want)
		}
		if tc.want == "" && (!strings.HasPrefix(r.stdout, "mayfly: ") || len(r.stdout) > 300) {
			t.Errorf("%s: stdout %q, want one short \"mayfly: \" line", tc.name, r.stdout)
		}
	}
	if _, err := os.Stat(sock); err == nil {
		t.Errorf("malformed input started the agent")
	}

	// With the agent running and a credential stored, malformed input
	// still changes nothing.
	d.helper(`{"ServerURL":"`+d.static.Host+`","Username":"alice","Secret":"`+staticPassword+`"}`, "store")
	before, keysBefore := d.staticList(), d.staticKeys()
	for _, in := range []string{
		`{"ServerURL":"` + d.static.Host + `","Username":"mallory","Secret":`,
		`{"ServerURL":"` + d.static.Host + `","Secret":"other"}`,
		`{"ServerURL":"` + d.static.Host + `","Username":"mallory","Secret":"` + mib + `"}`,
		`{"ServerURL":"` + d.static.Host + `","Username":"mallory","Secret":""}`,
		`{"ServerURL":"` + d.static.Host + " x" + `","Username":"mallory","Secret":"other"}`,
	} {
		if r := d.helper(in, "store"); r.code != 1 {
			t.Errorf("store %.60q: exit %d", in, r.code)
		}
	}
	for _, in := range []string{d.static.Host + "\x00", "ftp://" + d.static.Host, mib} {
		if r := d.helper(in, "erase"); r.code != 1 {
			t.Errorf("erase %.60q: exit %d", in, r.code)
		}
	}
	if after := d.staticList(); !maps.Equal(before, after) {
		t.Errorf("malformed input changed the list: %v -> %v", before, after)
	}
	if creds, _ := d.get(d.static.Host); creds["Username"] != "alice" || creds["Secret"] != staticPassword {
		t.Errorf("malformed input changed the stored credential: user %q", creds["Username"])
	}
	if after := d.staticKeys(); !slices.Equal(keysBefore, after) {
		t.Errorf("malformed input changed the keyring: %v -> %v", keysBefore, after)
	}
	d.helper(d.static.Host, "erase")
}

// TestDocker is the acceptance for Docker: crane, skopeo and the
// docker CLI pull and push through docker-credential-mayfly, named in
// credHelpers and in credsStore, against a registry that accepts only
// Dex's tokens, across an access token's expiry; `docker login` and
// `docker logout` keep an unmanaged registry's password in Mayfly's store
// and never in a file.
func TestDocker(t *testing.T) {
	if testing.Short() {
		t.Skip("waits for a token to expire")
	}
	d := newDockerWorld(t)
	tools := d.tools
	host := d.reg.Host
	layer := layerTar(t, filepath.Join(d.dir, "tmp", "layer.tar"), "hello from behind Mayfly\n")

	// The registry really demands Dex's tokens: nothing configured, crane
	// is turned away; with Mayfly but signed out, the helper's message
	// names the login command (on stdout, which crane quotes).
	d.dockerConfig(map[string]any{})
	if r := d.run("", tools.crane, "manifest", host+"/demo:v1"); r.code == 0 || !strings.Contains(r.stderr, "UNAUTHORIZED") {
		t.Fatalf("anonymous crane manifest: exit %d, %s", r.code, r.stderr)
	}
	deliberate := d.reg.TokenLog() // refusals the test asks for
	d.dockerConfig(map[string]any{"credHelpers": map[string]string{host: "mayfly"}})
	if r := d.helper(host, "get"); r.code != 1 || !strings.Contains(r.stdout, "mayfly login --profile corp") {
		t.Fatalf("get before login: exit %d, stdout %q", r.code, r.stdout)
	}
	if r := d.run("", tools.crane, "append", "-f", layer, "-t", host+"/demo:v1"); r.code == 0 || !strings.Contains(r.stderr, "mayfly login --profile corp") {
		t.Fatalf("crane append before login: exit %d, %s", r.code, r.stderr)
	}

	d.loginDevice()

	// The helper itself: a token for the managed registry under each
	// spelling (protocols.md §2.5), the exact not-found text otherwise.
	creds, _ := d.get(host)
	if creds["Username"] != "oauth2" || creds["Secret"] == "" || creds["ServerURL"] != host {
		t.Fatalf("get %s: %v", host, creds)
	}
	for _, spelling := range []string{"https://" + host, "http://" + strings.ToUpper(host) + "/v2/", host + "/demo\n"} {
		if other, r := d.get(spelling); other["Secret"] != creds["Secret"] || other["ServerURL"] != strings.TrimSpace(spelling) {
			t.Errorf("get %q: %q", spelling, r.stdout)
		}
	}
	if _, r := d.get("unknown.example:5000"); r.code != 1 || r.stdout != "credentials not found in native keychain\n" {
		t.Errorf("get for an unknown registry: exit %d, stdout %q", r.code, r.stdout)
	}

	// (a) credHelpers: crane pushes and pulls, skopeo inspects and copies,
	// docker inspects a manifest.
	{
		d.dockerConfig(map[string]any{"credHelpers": map[string]string{host: "mayfly"}})
		d.tool("", tools.crane, "append", "-f", layer, "-t", host+"/demo:v1")
		d.tool("", tools.crane, "manifest", host+"/demo:v1")
		if got := exportedFile(t, []byte(d.tool("", tools.crane, "export", host+"/demo:v1", "-").stdout)); got != "hello from behind Mayfly\n" {
			t.Errorf("crane export: %q", got)
		}
		// skopeo reads $DOCKER_CONFIG/config.json's credHelpers; the
		// registry is plain HTTP.
		d.tool("", tools.skopeo, "inspect", "--tls-verify=false", "docker://"+host+"/demo:v1")
		d.tool("", tools.skopeo, "--insecure-policy", "copy", "--src-tls-verify=false", "--dest-tls-verify=false",
			"docker://"+host+"/demo:v1", "docker://"+host+"/demo:skopeo")
		d.tool("", tools.crane, "manifest", host+"/demo:skopeo")
		d.tool("", tools.docker, "manifest", "inspect", "--insecure", host+"/demo:v1")
	}

	// (b) credsStore.
	{
		// skopeo ignores credsStore (peers.md §3b), so only crane and
		// docker here. crane asks for "host/demo" first, then "host":
		// both are one key.
		d.dockerConfig(map[string]any{"credsStore": "mayfly"})
		d.tool("", tools.crane, "append", "-f", layer, "-t", host+"/demo:store")
		d.tool("", tools.crane, "manifest", host+"/demo:store")
		d.tool("", tools.docker, "manifest", "inspect", "--insecure", host+"/demo:store")

		// `docker login` of the managed registry (with a Dex token, the
		// only password its token server takes): the registry accepts
		// it, docker says Login Succeeded, and the helper stores nothing,
		// saying so on stderr (a minted token must not be kept).
		tok, _ := d.get(host)
		r := d.tool(tok["Secret"], tools.docker, "login", host, "-u", "oauth2", "--password-stdin")
		if !strings.Contains(r.stdout+r.stderr, "Login Succeeded") || !strings.Contains(r.stderr, "managed by Mayfly profile corp") {
			t.Errorf("docker login %s: stdout %q, stderr %q", host, r.stdout, r.stderr)
		}
		if l := d.staticList(); len(l) != 0 {
			t.Errorf("docker login of a managed registry stored %v", l)
		}
		d.noAuthInConfig(host)
	}

	// (c) After Dex's access token expired.
	{
		// Wait until every Dex token the token server has seen expired;
		// then each consumer still works, with a refreshed token.
		seen := d.reg.ProviderTokenExpiries()
		if len(seen) == 0 {
			t.Fatal("the token server saw no Dex token")
		}
		old, _ := d.get(host)
		last := slices.MaxFunc(append(seen, dockerTokenExpiry(t, old["Secret"])), time.Time.Compare)
		time.Sleep(time.Until(last) + 2*time.Second)
		refreshes := d.dex.Grants("refresh_token")

		// The token server refuses an expired token: without Mayfly, a
		// token saved in config.json stops working.
		before := len(d.reg.TokenLog())
		d.dockerConfig(map[string]any{"auths": map[string]any{host: map[string]string{
			"auth": base64.StdEncoding.EncodeToString([]byte("oauth2:" + old["Secret"])),
		}}})
		if r := d.run("", tools.crane, "manifest", host+"/demo:v1"); r.code == 0 || !strings.Contains(r.stderr, "UNAUTHORIZED") {
			t.Errorf("crane with the expired token: exit %d, %s", r.code, r.stderr)
		}
		for _, line := range d.reg.TokenLog()[before:] {
			if !strings.Contains(line, "token is expired") {
				t.Errorf("token server, for the expired token: %s", line)
			}
		}
		deliberate = append(deliberate, d.reg.TokenLog()[before:]...)

		d.dockerConfig(map[string]any{"credHelpers": map[string]string{host: "mayfly"}})
		d.tool("", tools.crane, "manifest", host+"/demo:v1")
		d.tool("", tools.skopeo, "inspect", "--tls-verify=false", "docker://"+host+"/demo:skopeo")
		d.tool("", tools.docker, "manifest", "inspect", "--insecure", host+"/demo:v1")
		d.dockerConfig(map[string]any{"credsStore": "mayfly"})
		d.tool("", tools.crane, "append", "-f", layer, "-t", host+"/demo:after-expiry")

		if got := d.dex.Grants("refresh_token"); got <= refreshes {
			t.Errorf("no refresh at Dex after expiry (%d before, %d after)", refreshes, got)
		}
		now := d.reg.ProviderTokenExpiries()
		if len(now) <= len(seen) || !now[len(now)-1].After(last) {
			t.Errorf("the token server saw no new Dex token after expiry: %v -> %v", seen, now)
		}
	}

	// (d) A registry no profile manages, with a password.
	{
		shost := d.static.Host
		d.dockerConfig(map[string]any{"credsStore": "mayfly"})
		r := d.tool(staticPassword, tools.docker, "login", shost, "-u", staticUser, "--password-stdin")
		if !strings.Contains(r.stdout, "Login Succeeded") {
			t.Errorf("docker login %s: %q", shost, r.stdout)
		}
		d.noAuthInConfig(shost)
		d.noPasswordInFiles()
		if got, want := d.staticList(), map[string]string{shost: staticUser}; !maps.Equal(got, want) {
			t.Errorf("list = %v, want %v", got, want)
		}
		if got, want := d.statusStatic(), []wire.StaticEntry{{Namespace: "docker", Name: shost, Username: staticUser}}; !slices.Equal(got, want) {
			t.Errorf("mayfly status --json static = %v, want %v", got, want)
		}
		if got := d.staticKeys(); !slices.Equal(got, []string{"static/docker/" + shost}) {
			t.Errorf("keyring: %v", got)
		}
		// The stored password serves the consumers, through get's
		// fallback: the registry has no profile.
		d.tool("", tools.crane, "append", "-f", layer, "-t", shost+"/demo:v1")
		d.tool("", tools.docker, "manifest", "inspect", "--insecure", shost+"/demo:v1")
		d.dockerConfig(map[string]any{"credHelpers": map[string]string{shost: "mayfly"}})
		d.tool("", tools.skopeo, "inspect", "--tls-verify=false", "docker://"+shost+"/demo:v1")
		d.dockerConfig(map[string]any{"credsStore": "mayfly"})

		d.tool("", tools.docker, "logout", shost)
		if l := d.staticList(); len(l) != 0 {
			t.Errorf("list after logout = %v", l)
		}
		if st := d.statusStatic(); len(st) != 0 {
			t.Errorf("mayfly status --json static after logout = %v", st)
		}
		if _, r := d.get(shost); r.stdout != "credentials not found in native keychain\n" {
			t.Errorf("get after logout: %q", r.stdout)
		}
		if r := d.run("", tools.crane, "manifest", shost+"/demo:v1"); r.code == 0 {
			t.Errorf("crane manifest after logout succeeded")
		}
		// Erasing what is not there is fine: docker logout does it twice.
		if r := d.helper(shost, "erase"); r.code != 0 {
			t.Errorf("erase of nothing: exit %d, %q", r.code, r.stdout)
		}
	}

	// The token server refused nothing Mayfly handed out: only the
	// deliberate anonymous and expired-token attempts.
	granted, refused := d.reg.TokenStats()
	if granted == 0 {
		t.Error("the token server granted nothing")
	}
	t.Logf("token server: %d granted, %d refused", granted, refused)
	for _, line := range d.reg.TokenLog() {
		if !strings.HasSuffix(line, " ok") && !slices.Contains(deliberate, line) {
			t.Errorf("token server refused a request: %s", line)
		}
	}
}

// dockerTokenExpiry reads the exp claim of one of Dex's access tokens.
func dockerTokenExpiry(t *testing.T, jwt string) time.Time {
	t.Helper()
	parts := strings.Split(jwt, ".")
	if len(parts) != 3 {
		t.Fatalf("not a JWT: %d parts", len(parts))
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	var claims struct {
		Exp int64 `json:"exp"`
	}
	if err != nil || json.Unmarshal(payload, &claims) != nil || claims.Exp == 0 {
		t.Fatalf("no exp in the token's claims: %v", err)
	}
	return time.Unix(claims.Exp, 0)
}

// noAuthInConfig checks that config.json holds no secret for host: with a
// credential helper docker writes at most an empty "auths" entry.
func (d *dockerWorld) noAuthInConfig(host string) {
	d.t.Helper()
	b, err := os.ReadFile(filepath.Join(d.cfgDir, "config.json"))
	if err != nil {
		d.t.Fatal(err)
	}
	var cfg struct {
		Auths map[string]map[string]any `json:"auths"`
	}
	if err := json.Unmarshal(b, &cfg); err != nil {
		d.t.Fatalf("config.json: %v\n%s", err, b)
	}
	if a := cfg.Auths[host]; len(a) != 0 {
		d.t.Errorf("config.json keeps %v for %s", slices.Sorted(maps.Keys(a)), host)
	}
}

// passwordRE finds the unmanaged registry's password as a word, or in the
// base64 "user:password" form docker's plaintext "auths" would use.
var passwordRE = regexp.MustCompile(`(^|[^A-Za-z0-9_])` + staticPassword + `($|[^A-Za-z0-9_])|` +
	regexp.QuoteMeta(base64.StdEncoding.EncodeToString([]byte(staticUser+":"+staticPassword))))

// noPasswordInFiles greps every file under the world (HOME, XDG folders,
// DOCKER_CONFIG, TMPDIR, the agent's log, the registries' folders) for the
// password. Dex's folder is left out: Dex writes only there, and its log
// says "local passwords enabled" (the bcrypt line has to be for the word
// "password", and registry v3 reads nothing but bcrypt).
func (d *dockerWorld) noPasswordInFiles() {
	d.t.Helper()
	canary := filepath.Join(d.dir, "tmp", "canary")
	os.WriteFile(canary, []byte(`{"Secret":"`+staticPassword+`"}`), 0o600)
	found, files := false, 0
	filepath.WalkDir(d.dir, func(p string, e fs.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		if e.IsDir() && p == filepath.Join(d.dir, "dex") {
			return filepath.SkipDir
		}
		if !e.Type().IsRegular() {
			return nil
		}
		files++
		b, err := os.ReadFile(p)
		if err != nil || !passwordRE.Match(b) {
			return nil
		}
		if p == canary {
			found = true
			return nil
		}
		d.t.Errorf("the password is in %s", p)
		return nil
	})
	os.Remove(canary)
	if !found || files < 5 {
		d.t.Errorf("the grep is broken: canary found %v, %d files", found, files)
	}
}
