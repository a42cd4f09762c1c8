//go:build linux

package e2e

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mayflyhq/mayfly/internal/testpeers"
)

// cargoBin is the real cargo (1.95 on the CI image; peers.md §3e): on PATH,
// else where rustup puts it.
func cargoBin(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("cargo")
	if err != nil {
		if home, herr := os.UserHomeDir(); herr == nil && fileExists(filepath.Join(home, ".cargo", "bin", "cargo")) {
			return filepath.Join(home, ".cargo", "bin", "cargo")
		}
		if os.Getenv("MAYFLY_REQUIRE_PEERS") == "1" {
			t.Fatalf("MAYFLY_REQUIRE_PEERS=1 but no cargo: %v", err)
		}
		t.Skipf("no cargo (on PATH or in ~/.cargo/bin): %v", err)
	}
	return p
}

// TestCargo runs the real cargo against a sparse registry with
// auth-required that accepts only valid Dex tokens, with
// cargo-credential-mayfly as the registry's credential provider: `cargo
// fetch` fails before sign-in, naming the login command; succeeds after,
// with the crate checksum-verified; and a registry no profile serves never
// sees a token.
func TestCargo(t *testing.T) {
	cargo := cargoBin(t)
	w := newWorld(t, worldOptions{})
	reg, err := testpeers.StartCargoRegistry(context.Background(), w.dex.Issuer, testpeers.ClientID, w.dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(reg.Close)
	w.writeConfig(goauthConfig(w, reg.URL+"/"))

	// rustup's proxies find their toolchains under RUSTUP_HOME, which
	// defaults to the real ~/.rustup: keep it when the world moves HOME.
	if os.Getenv("RUSTUP_HOME") == "" {
		if home, err := os.UserHomeDir(); err == nil && fileExists(filepath.Join(home, ".rustup", "settings.toml")) {
			w.env = append(w.env, "RUSTUP_HOME="+filepath.Join(home, ".rustup"))
		}
	}
	if r := w.run("", cargo, "--version"); r.code != 0 {
		if os.Getenv("MAYFLY_REQUIRE_PEERS") == "1" {
			t.Fatalf("MAYFLY_REQUIRE_PEERS=1 but %s does not run: %s", cargo, r.stderr)
		}
		t.Skipf("%s does not run (no default toolchain?): %s", cargo, r.stderr)
	}
	home := cargoHome(t, w, "cargo-home", reg)
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
		var ee *exec.ExitError
		switch {
		case errors.As(err, &ee):
			code = ee.ExitCode()
		case err != nil:
			t.Fatalf("cargo fetch: %v", err)
		}
		return result{so.String(), se.String(), code}
	}

	// Before signing in: the provider's error reaches the person.
	r := fetch()
	if r.code == 0 {
		t.Fatalf("cargo fetch before signing in succeeded:\n%s", r.stderr)
	}
	t.Logf("before sign-in, cargo says:\n%s", r.stderr)
	if !strings.Contains(r.stderr, "mayfly login --profile corp") {
		t.Errorf("cargo fetch before signing in does not say how to sign in:\n%s", r.stderr)
	}
	if acc, rej := reg.Stats(); acc != 0 || rej != 0 {
		t.Errorf("before signing in, the registry saw %d good and %d bad credentials", acc, rej)
	}

	w.loginDevice()
	r = fetch()
	if r.code != 0 {
		t.Fatalf("cargo fetch: exit %d\n%s\nregistry log:\n%s", r.code, r.stderr, strings.Join(reg.Log(), "\n"))
	}
	got, err := filepath.Glob(filepath.Join(home, "registry", "cache", "*", reg.Crate+"-"+reg.Version+".crate"))
	if err != nil || len(got) != 1 {
		t.Fatalf("downloaded crate: %v, %v", got, err)
	}
	if b, err := os.ReadFile(got[0]); err != nil || !bytes.Equal(b, reg.CrateBytes()) {
		t.Errorf("downloaded crate %s differs from the one served (%v)", got[0], err)
	}
	if lock := mustRead(t, filepath.Join(project, "Cargo.lock")); !strings.Contains(lock, reg.CrateSum) {
		t.Errorf("Cargo.lock has no checksum %s:\n%s", reg.CrateSum, lock)
	}
	if strings.Contains(r.stdout+r.stderr, "eyJ") {
		t.Error("cargo's output holds what looks like a JWT")
	}
	// The token lives in cargo's memory only: no cargo:token file.
	if fileExists(filepath.Join(home, "credentials.toml")) || fileExists(filepath.Join(home, "credentials")) {
		t.Error("cargo wrote a credentials file")
	}
	log := reg.Log()
	t.Logf("registry log:\n%s", strings.Join(log, "\n"))
	acc, rej := reg.Stats()
	if acc < 3 || rej != 0 {
		t.Errorf("the registry saw %d good and %d bad credentials; want at least 3 good (config, index, crate), no bad", acc, rej)
	}
	for _, p := range []string{"/index/config.json", "/dl/" + reg.Crate + "-" + reg.Version + ".crate"} {
		if !slices.Contains(log, "GET "+p+" auth=bearer ok") {
			t.Errorf("no authenticated request for %s", p)
		}
	}

	// `cargo logout` has nothing to forget here; the person learns what
	// signs out instead (Cargo itself shows only the error's kind).
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c := w.cmd(ctx, cargo, "logout", "--registry", "corp")
	c.Dir = project
	if out, err := c.CombinedOutput(); err == nil || !strings.Contains(string(out), "sign out with `mayfly logout`") {
		t.Errorf("cargo logout: %v\n%s", err, out)
	}

	// A registry no profile serves: the provider says url-not-supported,
	// cargo has no other provider, and the registry never sees a token.
	w.writeConfig(goauthConfig(w, w.git.URL+"/"))
	cargoHome(t, w, "cargo-home2", reg)
	os.Remove(filepath.Join(project, "Cargo.lock"))
	r = fetch()
	if r.code == 0 {
		t.Fatalf("cargo fetch from a registry no profile serves succeeded:\n%s", r.stderr)
	}
	if !strings.Contains(r.stderr, "no credential providers could handle the request") {
		t.Errorf("cargo fetch from a registry no profile serves: want cargo's answer to url-not-supported:\n%s", r.stderr)
	}
	if acc2, rej2 := reg.Stats(); acc2 != acc || rej2 != rej {
		t.Errorf("a registry no profile serves got credentials:\n%s", strings.Join(reg.Log(), "\n"))
	}
}

// cargoHome writes a fresh CARGO_HOME in the world, with the registry and
// its provider configured as the README says, and points the world's
// environment at it.
func cargoHome(t *testing.T, w *world, name string, reg *testpeers.CargoRegistry) string {
	t.Helper()
	home := filepath.Join(w.dir, name)
	writeFiles(t, home, map[string]string{
		"config.toml": fmt.Sprintf("[registries.corp]\nindex = %q\ncredential-provider = [%q]\n",
			reg.IndexURL, filepath.Join(binDir, "cargo-credential-mayfly")),
	})
	w.env = append(w.env,
		"CARGO_HOME="+home,
		"CARGO_HTTP_CAINFO="+reg.CAFile, // trust the registry's test CA
		"CARGO_TERM_COLOR=never",
		"CARGO_NET_OFFLINE=false",
		"CARGO_REGISTRY_GLOBAL_CREDENTIAL_PROVIDERS=", // nothing inherited
	)
	return home
}

func writeFiles(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, body := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
}
