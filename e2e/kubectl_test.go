//go:build linux

package e2e

import (
	"bufio"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/mayflyhq/mayfly/agent/wire"
	"github.com/mayflyhq/mayfly/internal/testpeers"
)

// kubectlBin is the real kubectl (1.32 on the CI image; peers.md §3c).
func kubectlBin(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("kubectl")
	if err != nil {
		if os.Getenv("MAYFLY_REQUIRE_PEERS") == "1" {
			t.Fatalf("MAYFLY_REQUIRE_PEERS=1 but no kubectl: %v", err)
		}
		t.Skipf("no kubectl: %v", err)
	}
	return p
}

// profileStatus is `mayfly status --json` for one profile.
func (w *world) profileStatus(name string) wire.ProfileStatus {
	w.t.Helper()
	r := w.mustRun("mayfly", "status", "--json")
	var st wire.Status
	if err := json.Unmarshal([]byte(r.stdout), &st); err != nil {
		w.t.Fatalf("mayfly status --json: %v\n%s", err, r.stdout)
	}
	for _, p := range st.Profiles {
		if p.Name == name {
			return p
		}
	}
	w.t.Fatalf("mayfly status --json: no profile %s", name)
	return wire.ProfileStatus{}
}

// startKubeAPI starts the API server stand-in, accepting Dex's tokens for
// our client.
func startKubeAPI(t *testing.T, w *world) *testpeers.KubeAPI {
	t.Helper()
	k, err := testpeers.StartKubeAPI(context.Background(), w.dex.Issuer, testpeers.ClientID)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(k.Close)
	return k
}

// kubeProfiles writes a config with a "kube" profile for the API server,
// and, with git, the world's "corp" profile for the git server as well, so
// that the server URL has a choice to make.
func kubeProfiles(w *world, k *testpeers.KubeAPI, git bool, extra string) {
	cfg := fmt.Sprintf(`[agent]
idle_timeout = "10m"

[profiles.kube]
issuer = %q
client_id = %q
scopes = ["openid", "offline_access", "email", "profile"]
match = [%q]
%s`, w.dex.Issuer, testpeers.ClientID, k.URL+"/", extra)
	if git {
		cfg += fmt.Sprintf(`
[profiles.corp]
issuer = %q
client_id = %q
scopes = ["openid", "offline_access", "email", "profile"]
match = [%q]
`, w.dex.Issuer, testpeers.ClientID, w.git.URL+"/")
	}
	w.writeConfig(cfg)
}

// writeKubeconfig writes a kubeconfig whose user runs bin/kubectl-mayfly
// (protocols.md §3.1) in apiVersion client.authentication.k8s.io/<version>,
// with interactiveMode mode and the given args, and returns its path.
func (w *world) writeKubeconfig(name string, k *testpeers.KubeAPI, version, mode string, args ...string) string {
	w.t.Helper()
	q := func(v any) string { b, _ := json.Marshal(v); return string(b) } // JSON is YAML
	if args == nil {
		args = []string{}
	}
	kc := fmt.Sprintf(`apiVersion: v1
kind: Config
clusters:
- name: test
  cluster:
    server: %s
    certificate-authority-data: %s
contexts:
- name: test
  context: {cluster: test, user: mayfly}
current-context: test
users:
- name: mayfly
  user:
    exec:
      apiVersion: client.authentication.k8s.io/%s
      command: %s
      args: %s
      interactiveMode: %s
      provideClusterInfo: true
      installHint: %s
`, q(k.URL), base64.StdEncoding.EncodeToString(k.CAPEM), version, q(filepath.Join(binDir, "kubectl-mayfly")), q(args), mode,
		q("kubectl-mayfly is built into bin/ by `make build`"))
	p := filepath.Join(w.dir, name)
	if err := os.WriteFile(p, []byte(kc), 0o600); err != nil {
		w.t.Fatal(err)
	}
	return p
}

// kubectlVersion runs `kubectl get --raw /version` and checks the answer
// came from our API server.
func (w *world) kubectlVersion(kubeconfig string) {
	w.t.Helper()
	r := w.mustRun(kubectlBin(w.t), "--kubeconfig", kubeconfig, "get", "--raw", "/version")
	checkVersion(w.t, r.stdout)
}

func checkVersion(t *testing.T, out string) {
	t.Helper()
	var v struct{ GitVersion string }
	if err := json.Unmarshal([]byte(out), &v); err != nil || v.GitVersion != "v1.32.0-mayfly-test" {
		t.Fatalf("kubectl get --raw /version: %q (%v)", out, err)
	}
}

// runPlugin runs bin/kubectl-mayfly as kubectl would, with execInfo in
// KUBERNETES_EXEC_INFO.
func (w *world) runPlugin(execInfo string, args ...string) result {
	w.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c := w.cmd(ctx, "kubectl-mayfly", args...)
	c.Env = append(c.Env, "KUBERNETES_EXEC_INFO="+execInfo)
	var so, se strings.Builder
	c.Stdout, c.Stderr = &so, &se
	err := c.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		w.t.Fatal(err)
	}
	return result{so.String(), se.String(), code}
}

func execInfo(k *testpeers.KubeAPI, interactive bool) string {
	return fmt.Sprintf(`{"kind":"ExecCredential","apiVersion":"client.authentication.k8s.io/v1","spec":{"cluster":{"server":%q,"certificate-authority-data":%q},"interactive":%v}}`,
		k.URL, base64.StdEncoding.EncodeToString(k.CAPEM), interactive)
}

// TestKubectl: real kubectl against an HTTPS API server that accepts only
// the provider's valid tokens, through the exec plugin. Before sign-in
// kubectl's error names the command to run; after it, kubectl works; a
// long-lived kubectl (kubectl proxy) runs the plugin again once the
// expirationTimestamp has passed and gets a fresh token, refreshed once at
// the provider, without ever sending an expired one.
func TestKubectl(t *testing.T) {
	if testing.Short() {
		t.Skip("waits for a token to expire")
	}
	kubectl := kubectlBin(t)
	w := newWorld(t, worldOptions{ttl: 20 * time.Second})
	k := startKubeAPI(t, w)
	kubeProfiles(w, k, true, "")
	never := w.writeKubeconfig("never.yaml", k, "v1", "Never")
	ifAvailable := w.writeKubeconfig("ifavailable.yaml", k, "v1", "IfAvailable")

	// No session: kubectl fails, and what it shows names the command for
	// the profile the server URL picked. stdin is not a terminal, so with
	// IfAvailable the plugin may not sign in either.
	for _, kc := range []string{never, ifAvailable} {
		r := w.run("", kubectl, "--kubeconfig", kc, "get", "--raw", "/version")
		if r.code == 0 || r.stdout != "" {
			t.Fatalf("%s, not signed in: exit %d, stdout %q", filepath.Base(kc), r.code, r.stdout)
		}
		if !strings.Contains(r.stderr, "mayfly login --profile kube") {
			t.Errorf("%s, not signed in: kubectl's error does not name `mayfly login --profile kube`:\n%s", filepath.Base(kc), r.stderr)
		}
		// kubectl's own words for a failed plugin (protocols.md §3.3).
		if !strings.Contains(r.stderr, "kubectl-mayfly failed with exit code 1") {
			t.Errorf("%s: kubectl did not report the plugin's exit code:\n%s", filepath.Base(kc), r.stderr)
		}
	}
	if a, rej := k.Stats(); a != 0 || rej != 0 {
		t.Errorf("before sign-in the API server saw %d accepted and %d rejected tokens", a, rej)
	}

	w.loginDevice("--profile", "kube")
	w.kubectlVersion(ifAvailable)
	r := w.mustRun(kubectl, "--kubeconfig", never, "get", "--raw", "/api")
	if !strings.Contains(r.stdout, `"APIVersions"`) {
		t.Errorf("kubectl get --raw /api: %s", r.stdout)
	}
	// A kubeconfig in v1beta1 gets its answer in v1beta1, or kubectl
	// would refuse it ("plugin returned version ...").
	w.kubectlVersion(w.writeKubeconfig("v1beta1.yaml", k, "v1beta1", "Never"))

	// What the plugin answers: the token, and an expiry before the token's
	// own, by the margin (a quarter of Dex's 20 s lifetime).
	pr := w.runPlugin(execInfo(k, false))
	if pr.code != 0 || pr.stderr != "" {
		t.Fatalf("kubectl-mayfly: exit %d, stderr %q", pr.code, pr.stderr)
	}
	var ec struct {
		APIVersion string `json:"apiVersion"`
		Status     struct {
			Token               string    `json:"token"`
			ExpirationTimestamp time.Time `json:"expirationTimestamp"`
		} `json:"status"`
	}
	if err := json.Unmarshal([]byte(pr.stdout), &ec); err != nil || ec.APIVersion != "client.authentication.k8s.io/v1" || ec.Status.Token == "" {
		t.Fatalf("kubectl-mayfly stdout: %v", err)
	}
	st := w.profileStatus("kube")
	if ahead := st.AccessExpiry.Sub(ec.Status.ExpirationTimestamp); ahead < 4*time.Second || ahead > 7*time.Second {
		t.Errorf("expirationTimestamp is %s before the token's expiry, want about 5s", ahead)
	}

	// A long-lived kubectl: the first request runs the plugin, then kubectl
	// keeps the token until expirationTimestamp.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	proxy := w.cmd(ctx, kubectl, "--kubeconfig", ifAvailable, "proxy", "--port=0")
	stdout, err := proxy.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var proxyErr strings.Builder
	proxy.Stderr = &proxyErr
	if err := proxy.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { cancel(); proxy.Wait() }()
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if m := regexp.MustCompile(`Starting to serve on (\S+)`).FindStringSubmatch(sc.Text()); m != nil {
				addr <- m[1]
			}
		}
		io.Copy(io.Discard, stdout)
	}()
	var base string
	select {
	case a := <-addr:
		base = "http://" + a
	case <-time.After(30 * time.Second):
		t.Fatalf("kubectl proxy did not start: %s", proxyErr.String())
	}
	get := func() {
		t.Helper()
		resp, err := http.Get(base + "/version")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("through kubectl proxy: %s: %s\nkubectl: %s\nAPI server: %q", resp.Status, body, proxyErr.String(), k.Log())
		}
		checkVersion(t, string(body))
	}
	get()
	if n := k.Tokens(); n != 1 {
		t.Errorf("before expiry the API server saw %d distinct tokens, want 1", n)
	}

	t.Logf("waiting %s for the access token to expire", time.Until(st.AccessExpiry).Round(time.Second))
	time.Sleep(time.Until(st.AccessExpiry) + time.Second)
	refreshes := w.dex.Grants("refresh_token")
	get()
	if got := w.dex.Grants("refresh_token") - refreshes; got != 1 {
		t.Errorf("after expiry: %d refresh grants at the provider, want 1", got)
	}
	if n := k.Tokens(); n != 2 {
		t.Errorf("after expiry the API server saw %d distinct tokens, want 2", n)
	}
	if _, rej := k.Stats(); rej != 0 {
		t.Errorf("kubectl sent %d tokens the API server refused (an expired one?): %q", rej, k.Log())
	}

	// A new kubectl gets the same, still fresh, token from the agent.
	w.kubectlVersion(never)
	if n := k.Tokens(); n != 2 {
		t.Errorf("a second kubectl made the API server see %d distinct tokens, want 2", n)
	}
	if got := w.dex.Grants("refresh_token") - refreshes; got != 1 {
		t.Errorf("%d refresh grants, want still 1", got)
	}
}

// TestKubectlIDToken: a profile with token = "id_token", for API servers
// that authenticate OIDC ID tokens, also works, named by --profile.
func TestKubectlIDToken(t *testing.T) {
	kubectl := kubectlBin(t)
	w := newWorld(t, worldOptions{})
	k := startKubeAPI(t, w)
	kubeProfiles(w, k, true, `token = "id_token"`+"\n")
	kc := w.writeKubeconfig("kubeconfig.yaml", k, "v1", "Never", "--profile", "kube")
	w.loginDevice("--profile", "kube")
	r := w.mustRun(kubectl, "--kubeconfig", kc, "get", "--raw", "/version")
	checkVersion(t, r.stdout)
	// At least one: the kubectl on Debian's CI image is a dispatcher that
	// asks for /version itself before running the real kubectl.
	if a, rej := k.Stats(); a < 1 || rej != 0 {
		t.Errorf("API server: %d accepted, %d rejected: %q", a, rej, k.Log())
	}
}

// TestKubectlSignIn: when kubectl hands the plugin a terminal
// (spec.interactive, interactiveMode IfAvailable with a terminal on stdin),
// the plugin signs in there with the device flow, on stderr, and kubectl
// goes on with the token. First the plugin alone, to see its stdout holds
// only the ExecCredential; then real kubectl under a pseudo-terminal.
func TestKubectlSignIn(t *testing.T) {
	kubectl := kubectlBin(t)
	script, err := exec.LookPath("script")
	if err != nil {
		t.Skipf("no script(1) to give kubectl a terminal: %v", err)
	}
	w := newWorld(t, worldOptions{})
	k := startKubeAPI(t, w)
	kubeProfiles(w, k, false, "") // one profile: the agent signs in to it without --profile
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	// The plugin as kubectl runs it, with interactive: true.
	c := w.cmd(ctx, "kubectl-mayfly")
	c.Env = append(c.Env, "KUBERNETES_EXEC_INFO="+execInfo(k, true))
	var stdout strings.Builder
	c.Stdout = &stdout
	shown := w.approveFrom(c, c.StderrPipe)
	if err := c.Wait(); err != nil {
		t.Fatalf("kubectl-mayfly: %v\n%s", err, shown)
	}
	var ec struct {
		Kind   string                 `json:"kind"`
		Status struct{ Token string } `json:"status"`
	}
	if err := json.Unmarshal([]byte(stdout.String()), &ec); err != nil || ec.Kind != "ExecCredential" || ec.Status.Token == "" {
		t.Errorf("stdout is not just an ExecCredential (%v):\n%s", err, stdout.String())
	}
	if !strings.Contains(shown, "Signed in to kube") {
		t.Errorf("stderr:\n%s", shown)
	}

	// Real kubectl with a terminal on stdin, after signing out.
	w.mustRun("mayfly", "logout", "--profile", "kube")
	kc := w.writeKubeconfig("kubeconfig.yaml", k, "v1", "IfAvailable")
	cmdline := fmt.Sprintf("'%s' --kubeconfig '%s' get --raw /version", kubectl, kc)
	sc := w.cmd(ctx, script, "-qec", cmdline, "/dev/null")
	out := w.approveFrom(sc, sc.StdoutPipe) // the terminal: kubectl's stdout and the plugin's stderr
	if err := sc.Wait(); err != nil {
		t.Fatalf("kubectl under script: %v\n%s", err, out)
	}
	if !strings.Contains(out, `"gitVersion":"v1.32.0-mayfly-test"`) || !strings.Contains(out, "Signed in to kube") {
		t.Errorf("terminal:\n%s", out)
	}
	if a, rej := k.Stats(); a < 1 || rej != 0 {
		t.Errorf("API server: %d accepted, %d rejected", a, rej)
	}
}

// approveFrom starts c, reads what pipe shows the person, and approves
// at Dex the one device code in it. It returns what was shown, once the
// pipe is drained; the caller then waits for c.
func (w *world) approveFrom(c *exec.Cmd, pipe func() (io.ReadCloser, error)) string {
	w.t.Helper()
	r, err := pipe()
	if err != nil {
		w.t.Fatal(err)
	}
	if err := c.Start(); err != nil {
		w.t.Fatal(err)
	}
	var shown strings.Builder
	approved := make(chan error, 1)
	codes := 0
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		line := strings.TrimRight(sc.Text(), "\r")
		shown.WriteString(line + "\n")
		if m := userCodeRE.FindStringSubmatch(line); m != nil {
			codes++
			go func() { approved <- w.dex.ApproveDevice(context.Background(), m[1]) }()
		}
	}
	if codes != 1 {
		w.t.Errorf("%d device codes shown, want 1:\n%s", codes, shown.String())
	} else if err := <-approved; err != nil {
		w.t.Error(err)
	}
	return shown.String()
}
