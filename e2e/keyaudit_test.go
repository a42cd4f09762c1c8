//go:build linux

package e2e

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mayflyhq/mayfly/internal/keyaudit"
)

// `mayfly audit` on a world's HOME, and `--fix` on the git and Docker
// cases: the plaintext goes, a backup stays, and the consumer still gets
// in, through Mayfly.

// auditJSON runs `mayfly audit --json args...` and decodes its report; it
// must exit 1 when it finds something and 0 when not.
func auditJSON(t *testing.T, w *world, args ...string) keyaudit.Report {
	t.Helper()
	r := w.run("", "mayfly", append([]string{"audit", "--json"}, args...)...)
	var rep keyaudit.Report
	if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil {
		t.Fatalf("mayfly audit --json: %v\n%s%s", err, r.stdout, r.stderr)
	}
	if want := min(len(rep.Findings), 1); r.code != want {
		t.Errorf("mayfly audit --json: exit %d with %d findings\n%s", r.code, len(rep.Findings), r.stderr)
	}
	return rep
}

func findingFor(rep keyaudit.Report, kind, host string) *keyaudit.Finding {
	for i, f := range rep.Findings {
		if f.Kind == kind && f.Host == host {
			return &rep.Findings[i]
		}
	}
	return nil
}

// auditEnv keeps the audit in the world's HOME whatever the outer
// environment names.
func auditEnv(w *world) {
	home := filepath.Join(w.dir, "home")
	w.env = append(w.env, "DOCKER_CONFIG="+filepath.Join(home, ".docker"), "KUBECONFIG="+filepath.Join(home, ".kube", "config"),
		"CARGO_HOME="+filepath.Join(home, ".cargo"), "NETRC=", "AWS_SHARED_CREDENTIALS_FILE=", "AWS_CONFIG_FILE=")
}

// TestAuditFixGit: a plaintext password for the git server that a profile
// serves is reported as replaceable; --fix refuses without a terminal or
// --yes; with --yes it removes that line only (keeping a backup), and git
// still clones, through Mayfly.
func TestAuditFixGit(t *testing.T) {
	w := newWorld(t, worldOptions{})
	auditEnv(w)
	home := filepath.Join(w.dir, "home")
	creds := filepath.Join(home, ".git-credentials")
	served := strings.Replace(w.git.URL, "://", "://alice:plaintext-git-password-1234@", 1)
	other := "https://bob:other-host-password-5678@git.other.example"
	writeFile(t, creds, served+"\n"+other+"\n", 0o600)
	w.mustRun("git", "config", "--global", "credential.helper", "store")
	// store now comes after Mayfly's helper in the file, so git would run
	// it after Mayfly's and write the token down: setup moves Mayfly's
	// section after it.
	if r := w.mustRun("mayfly", "setup", "git"); !strings.Contains(r.stdout, "updated") {
		t.Fatalf("mayfly setup git with store after Mayfly's helper: %s", r.stdout)
	}

	rep := auditJSON(t, w)
	f := findingFor(rep, "git-credentials", w.git.URL)
	if f == nil || f.Mayfly != keyaudit.CanReplace || f.Profile != "corp" || !f.Fixable || f.File != creds || f.Line != 1 {
		t.Fatalf("finding for the git server: %+v\nall: %+v", f, rep.Findings)
	}
	if g := findingFor(rep, "git-credentials", "https://git.other.example"); g == nil || g.Mayfly != keyaudit.NeedsProf || g.Fixable {
		t.Errorf("finding for the other host: %+v", g)
	}
	if findingFor(rep, "git-credential-store", "") == nil {
		t.Errorf("credential.helper=store not reported: %+v", rep.Findings)
	}
	out, _ := json.Marshal(rep)
	if strings.Contains(string(out), "plaintext-git-password") || strings.Contains(string(out), "other-host-password") {
		t.Fatal("the report shows a password")
	}

	// No terminal, no --yes: refused, nothing changed.
	r := w.run("", "mayfly", "audit", "--fix")
	if r.code == 0 || !strings.Contains(r.stderr, "--yes") {
		t.Errorf("--fix without a terminal: exit %d, %s", r.code, r.stderr)
	}
	if mustRead(t, creds) != served+"\n"+other+"\n" || len(backups(t, creds)) != 0 {
		t.Fatal("a refused --fix changed the file")
	}

	r = w.run("", "mayfly", "audit", "--fix", "--yes")
	if !strings.Contains(r.stderr, "remove the password for "+w.git.URL) || !strings.Contains(r.stderr, "fixed "+creds) {
		t.Errorf("--fix --yes said:\n%s", r.stderr)
	}
	if r.code != 1 {
		t.Errorf("--fix --yes: exit %d with the other host's password left", r.code)
	}
	if got := mustRead(t, creds); got != other+"\n" {
		t.Errorf("~/.git-credentials after --fix: %q", got)
	}
	if b := backups(t, creds); len(b) != 1 || !strings.Contains(mustRead(t, b[0]), "plaintext-git-password") {
		t.Errorf("backups: %q", b)
	}
	if after := auditJSON(t, w); findingFor(after, "git-credentials", w.git.URL) != nil {
		t.Error("the password is still reported after --fix")
	}

	// git still gets in, through Mayfly (newWorld's helper configuration).
	w.loginDevice()
	w.mustRun("git", "clone", "-q", w.git.URL+"/app.git", "app")
	if strings.Contains(mustRead(t, creds), "127.0.0.1") {
		t.Error("a token was stored back into ~/.git-credentials")
	}
}

// TestAuditFixDocker: config.json auths for the registry a profile serves
// and for an unmanaged one. --fix drops the first password, moves the
// second into Mayfly's secret store, names docker-credential-mayfly in
// credHelpers for both, and keeps a backup; crane then pushes to both.
func TestAuditFixDocker(t *testing.T) {
	d := newDockerWorld(t)
	auditEnv(d.world)
	d.env = append(d.env, "DOCKER_CONFIG="+d.cfgDir)
	cfg := filepath.Join(d.cfgDir, "config.json")
	b64 := func(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }
	stale := "stale-registry-token-0123456789"
	d.dockerConfig(map[string]any{
		"auths": map[string]any{
			d.static.Host: map[string]string{"auth": b64(staticUser + ":" + staticPassword)},
			d.reg.Host:    map[string]string{"auth": b64("oauth2:" + stale)},
		},
	})

	rep := auditJSON(t, d.world)
	if f := findingFor(rep, "docker-auth", d.static.Host); f == nil || f.Mayfly != keyaudit.CanStore || !f.Fixable {
		t.Errorf("unmanaged registry: %+v", f)
	}
	if f := findingFor(rep, "docker-auth", d.reg.Host); f == nil || f.Mayfly != keyaudit.CanReplace || f.Profile != "corp" {
		t.Errorf("managed registry: %+v", f)
	}

	r := d.run("", "mayfly", "audit", "--fix", "--yes")
	for _, want := range []string{"move the password for " + d.static.Host + " into Mayfly's secret store", "remove the password for " + d.reg.Host, "fixed " + cfg} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("--fix --yes: no %q in\n%s", want, r.stderr)
		}
	}
	if r.code != 0 {
		t.Errorf("--fix --yes: exit %d (everything was fixable)\n%s", r.code, r.stdout)
	}
	got := mustRead(t, cfg)
	if strings.Contains(got, b64(staticUser+":"+staticPassword)) || strings.Contains(got, b64("oauth2:"+stale)) {
		t.Fatalf("config.json still holds a password:\n%s", got)
	}
	d.noAuthInConfig(d.static.Host)
	d.noAuthInConfig(d.reg.Host)
	for _, h := range []string{d.static.Host, d.reg.Host} {
		if !strings.Contains(got, fmt.Sprintf("%q: \"mayfly\"", h)) {
			t.Errorf("config.json names no helper for %s:\n%s", h, got)
		}
	}
	if b := backups(t, cfg); len(b) != 1 {
		t.Errorf("backups: %q", b)
	}
	if keys := d.staticKeys(); len(keys) != 1 || keys[0] != "static/docker/"+d.static.Host {
		t.Errorf("secret store keys: %q", keys)
	}
	if after := auditJSON(t, d.world); len(after.Findings) != 0 {
		t.Errorf("after --fix: %+v", after.Findings)
	}

	// The credentials still work, through Mayfly.
	layer := layerTar(t, filepath.Join(d.dir, "tmp", "layer.tar"), "moved by mayfly audit --fix\n")
	d.tool("", d.tools.crane, "append", "-f", layer, "-t", d.static.Host+"/demo:v1")
	d.loginDevice()
	d.tool("", d.tools.crane, "append", "-f", layer, "-t", d.reg.Host+"/demo:v1")
}

func writeFile(t *testing.T, path, content string, mode os.FileMode) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), mode); err != nil {
		t.Fatal(err)
	}
}
