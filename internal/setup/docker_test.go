package setup

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestDockerRegistries(t *testing.T) {
	regs, notes := DockerRegistries(testProfiles(t, twoProfiles+`
[profiles.hub]
issuer = "https://hub.example"
client_id = "c"
match = ["docker.io"]
`))
	want := []string{"git.corp.example", "registry.corp.example:5000", "code.corp.example", dockerHub, "127.0.0.1:8089"}
	if diff := cmp.Diff(want, regs); diff != "" {
		t.Errorf("registries (-want +got):\n%s", diff)
	}
	if len(notes) != 2 || !strings.Contains(notes[0], "*.corp.example") || !strings.Contains(notes[1], "/team-a") {
		t.Errorf("notes: %q", notes)
	}
}

func TestDockerConfig(t *testing.T) {
	old := `{
	"auths": {
		"registry.corp.example:5000": {
			"auth": "YWxpY2U6c2VjcmV0"
		},
		"other.example": {}
	},
	"psFormat": "table {{.ID}}\t<{{.Names}}>",
	"credHelpers": {
		"gcr.io": "gcloud"
	},
	"experimental": "enabled",
	"proxies": {"default": {"httpProxy": "http://proxy:3128", "noProxy": "*.corp"}}
}`
	regs := []string{"registry.corp.example:5000", "127.0.0.1:8089"}
	got, notes, err := DockerConfig([]byte(old), regs, "mayfly")
	if err != nil {
		t.Fatal(err)
	}
	want := `{
	"auths": {
		"registry.corp.example:5000": {
			"auth": "YWxpY2U6c2VjcmV0"
		},
		"other.example": {}
	},
	"psFormat": "table {{.ID}}\t<{{.Names}}>",
	"credHelpers": {
		"gcr.io": "gcloud",
		"registry.corp.example:5000": "mayfly",
		"127.0.0.1:8089": "mayfly"
	},
	"experimental": "enabled",
	"proxies": {
		"default": {
			"httpProxy": "http://proxy:3128",
			"noProxy": "*.corp"
		}
	}
}`
	if diff := cmp.Diff(want, string(got)); diff != "" {
		t.Errorf("config.json (-want +got):\n%s", diff)
	}
	// Every value is the same JSON as before, plus the new entries.
	var before, after map[string]any
	json.Unmarshal([]byte(old), &before)
	json.Unmarshal(got, &after)
	before["credHelpers"].(map[string]any)["registry.corp.example:5000"] = "mayfly"
	before["credHelpers"].(map[string]any)["127.0.0.1:8089"] = "mayfly"
	if diff := cmp.Diff(before, after); diff != "" {
		t.Errorf("values changed (-want +got):\n%s", diff)
	}
	if len(notes) != 1 || !strings.Contains(notes[0], "registry.corp.example:5000") || strings.Contains(notes[0], "YWxp") {
		t.Errorf("notes: %q", notes)
	}

	// Idempotent: the second run returns the same bytes.
	again, _, err := DockerConfig(got, regs, "mayfly")
	if err != nil || string(again) != string(got) {
		t.Errorf("second run changed the file:\n%s", again)
	}
	// A helper of another name for one of ours is replaced.
	other := strings.Replace(string(got), `"127.0.0.1:8089": "mayfly"`, `"127.0.0.1:8089": "pass"`, 1)
	fixed, _, _ := DockerConfig([]byte(other), regs, "mayfly")
	if string(fixed) != string(got) {
		t.Errorf("replacing another helper:\n%s", fixed)
	}

	// An empty or missing file; a two-space indented one keeps its indent.
	if got, _, _ := DockerConfig(nil, regs[:1], "mayfly"); string(got) != "{\n\t\"credHelpers\": {\n\t\t\"registry.corp.example:5000\": \"mayfly\"\n\t}\n}\n" {
		t.Errorf("new file: %q", got)
	}
	if got, _, _ := DockerConfig([]byte("{\n  \"a\": 1\n}\n"), regs[:1], "mayfly"); string(got) != "{\n  \"a\": 1,\n  \"credHelpers\": {\n    \"registry.corp.example:5000\": \"mayfly\"\n  }\n}\n" {
		t.Errorf("two spaces: %q", got)
	}
	for _, bad := range []string{"[]", "{", `{"credHelpers": []}`, "{} {}"} {
		if _, _, err := DockerConfig([]byte(bad), regs, "mayfly"); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
}

func TestDockerPlan(t *testing.T) {
	e := testEnv(t)
	dir := filepath.Join(e.Home, "dockercfg")
	env := map[string]string{"DOCKER_CONFIG": dir}
	e.Getenv = func(k string) string { return env[k] }
	p, err := Docker(context.Background(), e, testProfiles(t, twoProfiles))
	if err != nil {
		t.Fatal(err)
	}
	if p.Path != filepath.Join(dir, "config.json") || p.Exists || !p.Changed() {
		t.Fatalf("plan: %+v", p)
	}
	if d := p.Diff(); !strings.HasPrefix(d, "--- /dev/null\n+++ "+p.Path+"\n") || !strings.Contains(d, `+    "127.0.0.1:8089": "mayfly"`) && !strings.Contains(d, "+\t\t\"127.0.0.1:8089\": \"mayfly\"") {
		t.Errorf("diff:\n%s", d)
	}
	if _, err := p.Apply(testNow); err != nil {
		t.Fatal(err)
	}
	assertMode(t, p.Path, 0o600)
	p2, err := Docker(context.Background(), e, testProfiles(t, twoProfiles))
	if err != nil || p2.Changed() || p2.Diff() != "" {
		t.Errorf("second run: changed %v, %v", p2.Changed(), err)
	}
	if _, err := os.Stat(p.Path); err != nil {
		t.Fatal(err)
	}
}
