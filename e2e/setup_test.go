//go:build linux

package e2e

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mayflyhq/mayfly/internal/testpeers"
)

// `mayfly setup` against the real consumers: each gets its configuration
// from setup alone, then obtains a token through Mayfly from a server that
// accepts only the provider's tokens; a second run changes nothing.

// backups lists path's setup backups.
func backups(t *testing.T, path string) []string {
	t.Helper()
	m, err := filepath.Glob(path + ".mayfly-backup-*")
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// setupTwice runs `mayfly setup args...` once expecting a change and once
// expecting none, and checks the file is the same after the second run.
func setupTwice(t *testing.T, w *world, path string, args ...string) {
	t.Helper()
	r := w.mustRun("mayfly", append([]string{"setup"}, args...)...)
	if !strings.Contains(r.stdout, path) || strings.Contains(r.stdout, "already set up") {
		t.Fatalf("mayfly setup %s: %s%s", strings.Join(args, " "), r.stdout, r.stderr)
	}
	first := mustRead(t, path)
	nBackups := len(backups(t, path))
	r = w.mustRun("mayfly", append([]string{"setup"}, args...)...)
	if want := path + " is already set up; nothing changed"; !strings.Contains(r.stdout, want) {
		t.Errorf("second mayfly setup %s: %q, want %q", strings.Join(args, " "), r.stdout, want)
	}
	if mustRead(t, path) != first {
		t.Errorf("the second mayfly setup %s changed %s", strings.Join(args, " "), path)
	}
	if n := len(backups(t, path)); n != nBackups {
		t.Errorf("the second mayfly setup %s made a backup", strings.Join(args, " "))
	}
}

// TestSetupGit: with no credential configuration, git cannot clone from the
// server; `mayfly setup git --dry-run` shows the change and writes
// nothing; `mayfly setup git` writes it (keeping a backup); after sign-in
// git clones with no other configuration; a second setup is a no-op.
func TestSetupGit(t *testing.T) {
	w := newWorld(t, worldOptions{})
	// Undo the hand-written configuration newWorld adds, and leave
	// something of the person's own in the file.
	w.mustRun("git", "config", "--global", "--unset-all", "credential."+w.git.URL+".helper")
	w.mustRun("git", "config", "--global", "user.name", "Setup Test")
	gitconfig := filepath.Join(w.dir, "home", ".gitconfig")
	before := mustRead(t, gitconfig)
	w.loginDevice()

	url := w.git.URL + "/app.git"
	if r := w.run("", "git", "clone", "-q", url, "before"); r.code == 0 {
		t.Fatal("git cloned with no credential helper configured")
	}

	r := w.mustRun("mayfly", "setup", "git", "--dry-run")
	helper := filepath.Join(binDir, "git-credential-mayfly")
	for _, want := range []string{"--- " + gitconfig, "+++ " + gitconfig, "+[credential \"" + w.git.URL + "\"]", "+\thelper = \n", "+\thelper = " + helper + "\n", "dry run"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("mayfly setup git --dry-run: no %q in\n%s", want, r.stdout)
		}
	}
	if mustRead(t, gitconfig) != before || len(backups(t, gitconfig)) != 0 {
		t.Fatal("--dry-run changed the file")
	}

	setupTwice(t, w, gitconfig, "git")
	if b := backups(t, gitconfig); len(b) != 1 || mustRead(t, b[0]) != before {
		t.Errorf("backups %q: want one holding the old file", b)
	}
	if got := w.mustRun("git", "config", "--global", "user.name").stdout; got != "Setup Test\n" {
		t.Errorf("user.name after setup: %q", got)
	}
	w.mustRun("git", "clone", "-q", url, "after")
	if got := mustRead(t, filepath.Join(w.work, "after", "README.md")); got != "# app\n" {
		t.Errorf("cloned README.md: %q", got)
	}
	if accepted, _ := w.git.Stats(); accepted == 0 {
		t.Error("the git server accepted no token")
	}
}

// TestSetupDocker: crane pushes and pulls, and the docker CLI and skopeo
// read, through the credHelpers entry `mayfly setup docker` wrote, against
// a registry that takes only the provider's tokens.
func TestSetupDocker(t *testing.T) {
	d := newDockerWorld(t)
	host := d.reg.Host
	cfg := filepath.Join(d.cfgDir, "config.json")
	d.dockerConfig(map[string]any{"psFormat": "table {{.ID}}"})
	layer := layerTar(t, filepath.Join(d.dir, "tmp", "layer.tar"), "set up by mayfly\n")
	d.loginDevice()
	if r := d.run("", d.tools.crane, "append", "-f", layer, "-t", host+"/demo:v1"); r.code == 0 {
		t.Fatal("crane pushed with no credential helper configured")
	}

	setupTwice(t, d.world, cfg, "docker")
	got := mustRead(t, cfg)
	for _, want := range []string{`"psFormat": "table {{.ID}}"`, `"credHelpers": {`, fmt.Sprintf("%q: \"mayfly\"", host)} {
		if !strings.Contains(got, want) {
			t.Errorf("config.json has no %s:\n%s", want, got)
		}
	}
	d.tool("", d.tools.crane, "append", "-f", layer, "-t", host+"/demo:v1")
	flat := d.tool("", d.tools.crane, "export", host+"/demo:v1", "-").stdout
	if got := exportedFile(t, []byte(flat)); got != "set up by mayfly\n" {
		t.Errorf("pulled %q", got)
	}
	// The docker CLI and skopeo read the same entry.
	d.tool("", d.tools.docker, "manifest", "inspect", "--insecure", host+"/demo:v1")
	d.tool("", d.tools.skopeo, "inspect", "--tls-verify=false", "docker://"+host+"/demo:v1")
}

// TestSetupKube: a kubeconfig whose context uses a static token is
// rewired by `mayfly setup kube` to the exec plugin; kubectl then reaches
// the API server with the provider's tokens.
func TestSetupKube(t *testing.T) {
	kubectl := kubectlBin(t)
	w := newWorld(t, worldOptions{})
	k := startKubeAPI(t, w)
	kubeProfiles(w, k, true, "")
	kc := filepath.Join(w.dir, "home", ".kube", "config")
	if err := os.MkdirAll(filepath.Dir(kc), 0o700); err != nil {
		t.Fatal(err)
	}
	old := fmt.Sprintf(`# written by hand
apiVersion: v1
kind: Config
clusters:
- name: test
  cluster:
    server: %s
    certificate-authority-data: %s
contexts:
- name: test
  context: {cluster: test, user: static}
current-context: test
users:
- name: static
  user:
    token: not-accepted-anywhere
`, k.URL, base64.StdEncoding.EncodeToString(k.CAPEM))
	if err := os.WriteFile(kc, []byte(old), 0o600); err != nil {
		t.Fatal(err)
	}
	w.env = append(w.env, "KUBECONFIG="+kc)
	if r := w.run("", kubectl, "get", "--raw", "/version"); r.code == 0 {
		t.Fatal("kubectl got through with the static token")
	}
	w.loginDevice("--profile", "kube")

	setupTwice(t, w, kc, "kube")
	got := mustRead(t, kc)
	for _, want := range []string{"# written by hand\n", "user: mayfly-kube", "command: " + filepath.Join(binDir, "kubectl-mayfly"), "interactiveMode: IfAvailable", "installHint:"} {
		if !strings.Contains(got, want) {
			t.Errorf("kubeconfig has no %q:\n%s", want, got)
		}
	}
	r := w.mustRun(kubectl, "get", "--raw", "/version")
	checkVersion(t, r.stdout)
	if accepted, _ := k.Stats(); accepted == 0 {
		t.Error("the API server accepted no token")
	}
}

// TestSetupGo: `go mod download` from an HTTPS proxy that takes only the
// provider's tokens, with GOAUTH from the go env file `mayfly setup go`
// wrote (and no GOAUTH in the environment).
func TestSetupGo(t *testing.T) {
	w := newWorld(t, worldOptions{})
	proxy, err := testpeers.StartGoProxy(context.Background(), w.dex.Issuer, testpeers.ClientID, w.dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(proxy.Close)
	w.writeConfig(goauthConfig(w, proxy.URL+"/"))
	goenv := filepath.Join(w.dir, "config", "go", "env") // $XDG_CONFIG_HOME/go/env
	w.env = append(w.env,
		"GOAUTH=", "GOENV=", // the file's value counts
		"GOPROXY="+proxy.URL,
		"SSL_CERT_FILE="+proxy.CAFile,
		"GOSUMDB=off",
		"GOPRIVATE=", "GONOPROXY=", "GONOSUMDB=", "GOINSECURE=", "GOVCS=",
		"GOFLAGS=-modcacherw",
		"GOTOOLCHAIN=local",
		"GOPATH="+filepath.Join(w.dir, "gopath"),
		"GOCACHE="+filepath.Join(w.dir, "gocache"),
		"GOMODCACHE="+filepath.Join(w.dir, "gomodcache"),
	)
	target := proxy.Module + "@" + proxy.Version
	w.loginDevice()
	if r := w.run("", "go", "mod", "download", "-json", target); r.code == 0 {
		t.Fatal("go mod download succeeded with no GOAUTH")
	}

	setupTwice(t, w, goenv, "go")
	want := "GOAUTH=" + filepath.Join(binDir, "mayfly-credential") + " goauth; netrc"
	if got := strings.TrimSpace(w.mustRun("go", "env", "GOAUTH").stdout); "GOAUTH="+got != want {
		t.Errorf("go env GOAUTH = %q, want %q", got, strings.TrimPrefix(want, "GOAUTH="))
	}
	w.mustRun("go", "mod", "download", "-json", target)
	if acc, _ := proxy.Stats(); acc == 0 {
		t.Error("the proxy accepted no token")
	}
}

// TestSetupCargo: `cargo fetch` from a sparse registry with auth-required
// that takes only the provider's tokens, with the credential-provider
// `mayfly setup cargo` wrote into the registry's table.
func TestSetupCargo(t *testing.T) {
	cargo := cargoBin(t)
	w := newWorld(t, worldOptions{})
	reg, err := testpeers.StartCargoRegistry(context.Background(), w.dex.Issuer, testpeers.ClientID, w.dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(reg.Close)
	w.writeConfig(goauthConfig(w, reg.URL+"/"))
	if os.Getenv("RUSTUP_HOME") == "" {
		if home, err := os.UserHomeDir(); err == nil && fileExists(filepath.Join(home, ".rustup", "settings.toml")) {
			w.env = append(w.env, "RUSTUP_HOME="+filepath.Join(home, ".rustup"))
		}
	}
	if r := w.run("", cargo, "--version"); r.code != 0 {
		t.Skipf("%s does not run: %s", cargo, r.stderr)
	}
	home := cargoHome(t, w, "cargo-home", reg)
	cfg := filepath.Join(home, "config.toml")
	// cargoHome names the provider; start from the table without it.
	writeFile(t, cfg, fmt.Sprintf("# the company registry\n[registries.corp]\nindex = %q\n\n[net]\nretry = 1\n", reg.IndexURL), 0o600)
	project := filepath.Join(w.work, "consumer")
	writeFiles(t, project, map[string]string{
		"Cargo.toml": fmt.Sprintf("[package]\nname = \"consumer\"\nversion = \"0.1.0\"\nedition = \"2021\"\n\n"+
			"[dependencies]\n%s = { version = %q, registry = \"corp\" }\n", reg.Crate, reg.Version),
		"src/lib.rs": "",
	})
	fetch := func() result {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		c := w.cmd(ctx, cargo, "fetch")
		c.Dir = project
		var so, se bytes.Buffer
		c.Stdout, c.Stderr = &so, &se
		err := c.Run()
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatalf("cargo fetch: %v", err)
		}
		return result{so.String(), se.String(), code}
	}
	w.loginDevice()
	if r := fetch(); r.code == 0 {
		t.Fatal("cargo fetch succeeded with no credential provider")
	}

	setupTwice(t, w, cfg, "cargo")
	got := mustRead(t, cfg)
	want := fmt.Sprintf("# the company registry\n[registries.corp]\ncredential-provider = [%q]\nindex = %q\n\n[net]\nretry = 1\n", filepath.Join(binDir, "cargo-credential-mayfly"), reg.IndexURL)
	if got != want {
		t.Errorf("config.toml:\n%s\nwant:\n%s", got, want)
	}
	if r := fetch(); r.code != 0 {
		t.Fatalf("cargo fetch: exit %d\n%s\nregistry log:\n%s", r.code, r.stderr, strings.Join(reg.Log(), "\n"))
	}
	if acc, rej := reg.Stats(); acc == 0 || rej != 0 {
		t.Errorf("the registry saw %d good and %d bad credentials", acc, rej)
	}
}
