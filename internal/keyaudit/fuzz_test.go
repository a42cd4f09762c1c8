package keyaudit

import (
	"testing"
	"unicode/utf8"
)

// FuzzScanData: every parser survives any input, and no finding shows more
// of a secret than its ends.
func FuzzScanData(f *testing.F) {
	k := makeKeys()
	for _, s := range []string{
		`{"auths":{"r.example":{"auth":"eDp5enp6enp6eg=="}}}`,
		"https://a:b@h.example\n",
		"apiVersion: v1\nkind: Config\nusers:\n- name: u\n  user: {token: abcdefghijklmnop}\n",
		"machine h login u password pw macdef x\nsecret\n\n",
		"[default]\naws_secret_access_key = " + k.awsSecret + "\n",
		"//r/:_authToken=" + k.npm + "\n",
		"[registry]\ntoken = \"" + k.cargo + "\"\n",
		"export GITHUB_TOKEN=" + k.githubPAT + "\n",
		k.clientKeyPEM,
	} {
		for _, kind := range []string{"", "docker", "git-credentials", "kubeconfig", "netrc", "aws", "npmrc", "pypirc", "cargo-credentials"} {
			f.Add(kind, []byte(s))
		}
	}
	f.Fuzz(func(t *testing.T, kind string, data []byte) {
		r := Report{Findings: ScanData(Options{Match: servedBy}, "/f", kind, data)}
		r.finish()
		for _, fd := range r.Findings {
			if utf8.RuneCountInString(fd.Secret) > 9 {
				t.Fatalf("%s shows %q", fd.Kind, fd.Secret)
			}
			if fd.Kind == "" || fd.Mayfly == "" || fd.Remediation == "" {
				t.Fatalf("incomplete finding %+v", fd)
			}
		}
	})
}

// FuzzPlanDockerFix: a fix never fails on its own output and is done
// in one pass.
func FuzzPlanDockerFix(f *testing.F) {
	f.Add([]byte(`{"auths":{"r.example":{"auth":"eDp5"},"registry.corp.example":{"password":"p"}},"credHelpers":{"a":"b"}}`))
	f.Add([]byte(`{"auths":null}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		fix, err := PlanDockerFix(data, servedBy)
		if err != nil {
			return
		}
		again, err := PlanDockerFix(fix.New, servedBy)
		if err != nil || string(again.New) != string(fix.New) || len(again.Moves) != 0 {
			t.Fatalf("second pass: %v\n%s\nthen\n%s", err, fix.New, again.New)
		}
	})
}
