package keyaudit

import (
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestPlanDockerFix(t *testing.T) {
	k := makeKeys()
	b64 := func(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }
	old := `{
	"auths": {
		"registry.corp.example": {
			"auth": "` + b64("alice:"+k.dockerPassword) + `"
		},
		"Other.Example:5000": {
			"auth": "` + b64("bob:"+k.gitPassword) + `",
			"email": "bob@example.com"
		},
		"tokens.example": {
			"identitytoken": "` + k.kubeToken + `"
		},
		"empty.example": {}
	},
	"credHelpers": {
		"gcr.io": "gcloud"
	},
	"currentContext": "default"
}
`
	fix, err := PlanDockerFix([]byte(old), servedBy)
	if err != nil {
		t.Fatal(err)
	}
	want := `{
	"auths": {
		"empty.example": {}
	},
	"credHelpers": {
		"gcr.io": "gcloud",
		"registry.corp.example": "mayfly",
		"Other.Example:5000": "mayfly",
		"tokens.example": "mayfly"
	},
	"currentContext": "default"
}
`
	if diff := cmp.Diff(want, string(fix.New)); diff != "" {
		t.Errorf("config.json (-want +got):\n%s", diff)
	}
	wantMoves := []StaticCredential{
		{Server: "other.example:5000", Username: "bob", Secret: k.gitPassword},
		{Server: "tokens.example", Username: "<token>", Secret: k.kubeToken},
	}
	if diff := cmp.Diff(wantMoves, fix.Moves); diff != "" {
		t.Errorf("moves (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"registry.corp.example"}, fix.Dropped); diff != "" {
		t.Errorf("dropped (-want +got):\n%s", diff)
	}
	if strings.Contains(string(fix.New), k.dockerPassword[:8]) || strings.Contains(string(fix.New), b64("alice")[:4]+"6") {
		t.Error("a password is still in the file")
	}
	// The result scans clean, and a second fix changes nothing.
	if fs := ScanData(Options{Match: servedBy}, "config.json", "docker", fix.New); len(fs) != 0 {
		t.Errorf("after the fix: %+v", fs)
	}
	again, err := PlanDockerFix(fix.New, servedBy)
	if err != nil || string(again.New) != string(fix.New) || len(again.Moves) != 0 {
		t.Errorf("second fix: %v %+v", err, again)
	}
	var v map[string]any
	if err := json.Unmarshal(fix.New, &v); err != nil {
		t.Errorf("not JSON: %v", err)
	}
	// Nothing to do: the same bytes.
	if f, _ := PlanDockerFix([]byte(`{"credsStore":"mayfly"}`), servedBy); string(f.New) != `{"credsStore":"mayfly"}` {
		t.Errorf("no auths: %q", f.New)
	}
}

func TestPlanGitCredentialsFix(t *testing.T) {
	old := "https://alice:pw1@git.corp.example\nhttps://bob:pw2@github.com\n\nhttps://carol:pw3@git.corp.example/team/\nhttps://nopassword@git.corp.example\n"
	got, dropped := PlanGitCredentialsFix([]byte(old), servedBy)
	if want := "https://bob:pw2@github.com\n\nhttps://nopassword@git.corp.example\n"; string(got) != want {
		t.Errorf("new file %q, want %q", got, want)
	}
	if diff := cmp.Diff([]string{"https://git.corp.example", "https://git.corp.example/team/"}, dropped); diff != "" {
		t.Errorf("dropped (-want +got):\n%s", diff)
	}
	if again, d := PlanGitCredentialsFix(got, servedBy); string(again) != string(got) || d != nil {
		t.Errorf("second fix changed %q", again)
	}
}
