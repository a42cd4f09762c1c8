//go:build linux

package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mayflyhq/mayfly/internal/testpeers"
)

// TestGOAUTH runs the real go command (≥ 1.24) against an HTTPS module
// proxy that serves a module only to valid Dex tokens, with GOAUTH naming
// `mayfly-credential goauth` (peers.md §3d): `go mod download` fails before
// sign-in, with the hint under -x; succeeds after; and a proxy that no
// profile serves never sees a token.
func TestGOAUTH(t *testing.T) {
	w := newWorld(t, worldOptions{})
	proxy, err := testpeers.StartGoProxy(context.Background(), w.dex.Issuer, testpeers.ClientID, w.dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(proxy.Close)
	w.writeConfig(goauthConfig(w, proxy.URL+"/"))

	// The value of GOAUTH is the command line itself: no "command" word
	// (peers.md §3d), and go splits it with its own quoting rules.
	bin := filepath.Join(binDir, "mayfly-credential")
	if strings.ContainsAny(bin, " \t'\";") {
		t.Skipf("GOAUTH cannot name %q without quoting that this test does not do", bin)
	}
	modcache := filepath.Join(w.dir, "gomodcache")
	w.env = append(w.env,
		"GOAUTH="+bin+" goauth",
		"GOPROXY="+proxy.URL,
		"SSL_CERT_FILE="+proxy.CAFile, // go trusts the proxy's test CA, and only it
		"GOSUMDB=off",                 // the module is on no checksum database
		"GOPRIVATE=", "GONOPROXY=", "GONOSUMDB=", "GOINSECURE=", "GOVCS=",
		"GOFLAGS=-modcacherw", // so the test can delete the cache
		"GOTOOLCHAIN=local",
		"GOPATH="+filepath.Join(w.dir, "gopath"),
		"GOCACHE="+filepath.Join(w.dir, "gocache"),
		"GOMODCACHE="+modcache,
	)
	target := proxy.Module + "@" + proxy.Version

	// The command exists and is quiet on go's first run: no URL, empty
	// stdin, nothing to say.
	if r := w.run("", bin, "goauth"); r.code != 0 || r.stdout != "" || r.stderr != "" {
		t.Fatalf("mayfly-credential goauth (go's first run): exit %d, stdout %q, stderr %q; does main.go dispatch \"goauth\" to runGOAUTH?", r.code, r.stdout, r.stderr)
	}

	// Before signing in: the proxy says 401, go runs the helper with the
	// URL, the helper fails, and go shows why under -x.
	r := w.run("", "go", "mod", "download", "-x", "-json", target)
	if r.code == 0 {
		t.Fatalf("go mod download before signing in succeeded:\n%s", r.stdout)
	}
	t.Logf("before sign-in, go says:\n%s", r.stderr)
	if !strings.Contains(r.stderr, "GOAUTH encountered errors") || !strings.Contains(r.stderr, "mayfly login --profile corp") {
		t.Errorf("go mod download -x before signing in does not say how to sign in:\n%s", r.stderr)
	}
	if acc, rej := proxy.Stats(); acc != 0 || rej != 0 {
		t.Errorf("before signing in, the proxy saw %d good and %d bad credentials", acc, rej)
	}

	w.loginDevice()
	seen := len(proxy.Log())
	r = w.run("", "go", "mod", "download", "-x", "-json", target)
	if r.code != 0 {
		t.Fatalf("go mod download: exit %d\n%s\n%s\nproxy log:\n%s", r.code, r.stdout, r.stderr, strings.Join(proxy.Log(), "\n"))
	}
	var dl struct{ Path, Version, Zip, Dir, Error string }
	if err := json.Unmarshal([]byte(r.stdout), &dl); err != nil || dl.Error != "" {
		t.Fatalf("go mod download -json: %v %q\n%s", err, dl.Error, r.stdout)
	}
	if zip, err := os.ReadFile(dl.Zip); err != nil || !bytes.Equal(zip, proxy.Zip()) {
		t.Errorf("module zip %s: %v, same as served: %v", dl.Zip, err, bytes.Equal(zip, proxy.Zip()))
	}
	if b, err := os.ReadFile(filepath.Join(dl.Dir, "hello.go")); err != nil || !strings.Contains(string(b), "hello from behind Mayfly") {
		t.Errorf("extracted module: %q, %v", b, err)
	}
	if strings.Contains(r.stdout+r.stderr, "eyJ") {
		t.Error("go's output holds what looks like a JWT")
	}
	// Each file was asked for once without credentials (the first run of
	// the helper answers nothing), then once with a token that verified.
	// Nothing was ever sent that did not verify.
	checkLazyAuth(t, proxy.Log()[seen:], "/"+proxy.Module+"/@v/"+proxy.Version+".zip", "/"+proxy.Module+"/@v/"+proxy.Version+".mod", "/"+proxy.Module+"/@v/"+proxy.Version+".info")
	acc, rej := proxy.Stats()
	if acc < 3 || rej != 0 {
		t.Errorf("the proxy saw %d good and %d bad credentials; want at least 3 good, no bad\n%s", acc, rej, strings.Join(proxy.Log(), "\n"))
	}

	t.Logf("proxy log:\n%s", strings.Join(proxy.Log(), "\n"))

	// A proxy no profile serves gets no token, even with a session.
	w.writeConfig(goauthConfig(w, w.git.URL+"/"))
	w.env = append(w.env, "GOMODCACHE="+filepath.Join(w.dir, "gomodcache2"))
	if r := w.run("", "go", "mod", "download", "-json", target); r.code == 0 {
		t.Fatalf("go mod download from a proxy no profile serves succeeded:\n%s", r.stdout)
	}
	if acc2, rej2 := proxy.Stats(); acc2 != acc || rej2 != rej {
		t.Errorf("a proxy no profile serves got credentials:\n%s", strings.Join(proxy.Log(), "\n"))
	}
}

// goauthConfig is the world's profile, matching match.
func goauthConfig(w *world, match string) string {
	return fmt.Sprintf(`[agent]
idle_timeout = "10m"

[profiles.corp]
issuer = %q
client_id = %q
scopes = ["openid", "offline_access", "email", "profile"]
match = [%q]
`, w.dex.Issuer, testpeers.ClientID, match)
}

// checkLazyAuth checks, in a request log of the test servers, that each of
// paths was first requested without credentials and then with a token that
// verified, exactly once.
func checkLazyAuth(t *testing.T, log []string, paths ...string) {
	t.Helper()
	for _, p := range paths {
		var seq []string
		for _, line := range log {
			if f := strings.Fields(line); len(f) >= 3 && f[1] == p {
				seq = append(seq, strings.Join(f[2:], " "))
			}
		}
		if len(seq) != 2 || seq[0] != "auth=none none" || seq[1] != "auth=bearer ok" {
			t.Errorf("requests for %s: %q, want one without credentials, then one with a good bearer token", p, seq)
		}
	}
}
