package setup

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func servesCorp(index string) bool { return strings.HasPrefix(index, "https://crates.corp.example/") }

func TestCargoConfig(t *testing.T) {
	const prov = "/opt/mayfly/cargo-credential-mayfly"
	old := `# cargo settings
[net]
git-fetch-with-cli = true

[registries.corp]   # the company registry
index = "sparse+https://crates.corp.example/index/"

[registries."corp-old"]
index = "sparse+https://crates.corp.example/old/"
credential-provider = "cargo:token"

[registries.public]
index = "sparse+https://crates.example/index/"
`
	got, notes, err := CargoConfig([]byte(old), servesCorp, prov)
	if err != nil {
		t.Fatal(err)
	}
	want := `# cargo settings
[net]
git-fetch-with-cli = true

[registries.corp]   # the company registry
credential-provider = ["/opt/mayfly/cargo-credential-mayfly"]
index = "sparse+https://crates.corp.example/index/"

[registries."corp-old"]
index = "sparse+https://crates.corp.example/old/"
credential-provider = ["/opt/mayfly/cargo-credential-mayfly"]

[registries.public]
index = "sparse+https://crates.example/index/"
`
	if diff := cmp.Diff(want, string(got)); diff != "" {
		t.Errorf("config.toml (-want +got):\n%s", diff)
	}
	if len(notes) != 0 {
		t.Errorf("notes: %q", notes)
	}
	again, _, err := CargoConfig(got, servesCorp, prov)
	if err != nil || string(again) != string(got) {
		t.Errorf("second run changed the file:\n%s", again)
	}

	// Nothing served: a note, no change.
	got, notes, _ = CargoConfig([]byte("[registries.public]\nindex = \"sparse+https://crates.example/index/\"\n"), servesCorp, prov)
	if len(notes) != 1 || !strings.Contains(notes[0], "no [registries.NAME]") || string(got) != "[registries.public]\nindex = \"sparse+https://crates.example/index/\"\n" {
		t.Errorf("unserved: %q %q", got, notes)
	}
	// A registry not written as its own table, or with a multi-line
	// provider: a note saying to edit it by hand, no change.
	for _, in := range []string{
		"[registries]\ncorp = { index = \"sparse+https://crates.corp.example/index/\" }\n",
		"[registries.corp]\nindex = \"sparse+https://crates.corp.example/index/\"\ncredential-provider = [\n  \"cargo:token\",\n]\n",
	} {
		got, notes, err := CargoConfig([]byte(in), servesCorp, prov)
		if err != nil || string(got) != in || len(notes) != 1 || !strings.Contains(notes[0], "by hand") {
			t.Errorf("%q: %q %q %v", in, got, notes, err)
		}
	}
	if _, _, err := CargoConfig([]byte("[registries.corp\n"), servesCorp, prov); err == nil {
		t.Error("bad TOML: no error")
	}
}

func TestCargoPlan(t *testing.T) {
	e := testEnv(t)
	dir := filepath.Join(e.Home, "cargohome")
	env := map[string]string{"CARGO_HOME": dir}
	e.Getenv = func(k string) string { return env[k] }
	os.MkdirAll(dir, 0o700)
	os.WriteFile(filepath.Join(dir, "config.toml"), []byte("[registries.corp]\nindex = \"sparse+https://crates.corp.example/index/\"\n"), 0o600)
	ps := testProfiles(t, `[profiles.corp]
issuer = "https://login.corp.example"
client_id = "c"
match = ["https://crates.corp.example/"]
`)
	p, err := Cargo(context.Background(), e, ps)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(p.New), `credential-provider = ["`+filepath.ToSlash(filepath.Join(e.BinDir, "cargo-credential-mayfly"))+`"]`) {
		t.Errorf("new config:\n%s", p.New)
	}
	if _, err := p.Apply(testNow); err != nil {
		t.Fatal(err)
	}
	if p2, err := Cargo(context.Background(), e, ps); err != nil || p2.Changed() {
		t.Errorf("second run: %v", err)
	}
}
