package setup

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

const kubeconfig = `# my clusters
apiVersion: v1
kind: Config
clusters:
- cluster:
    certificate-authority-data: LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCk1JSUJkekNDQVIyZ0F3SUJBZ0lCQURBS0JnZ3Foa2pPUFFRREFqQWpNU0V3SHdZRFZRUUREQmhyTXpNdGMyVnlkbVZ5TFdOaFFERTJPRGd3TkRZNQo=
    server: https://k8s.corp.example:6443
  name: corp
- cluster:
    server: https://other.example
  name: other
contexts:
- context:
    cluster: corp
    user: static # the old way
  name: corp
- context:
    cluster: other
    user: other
  name: other
current-context: corp
users:
- name: static
  user:
    token: not-a-real-token
- name: other
  user:
    client-certificate-data: YWJj
`

func kubeUsersFor(t *testing.T) ([]KubeUser, func(string) string) {
	t.Helper()
	ps := testProfiles(t, `[profiles.corp]
issuer = "https://login.corp.example"
client_id = "kube"
match = ["https://k8s.corp.example:6443/"]
`)
	m := matcher(ps)
	return KubeUsers(ps, "/opt/mayfly/kubectl-mayfly"), func(s string) string {
		if p := m(s); p != nil {
			return "mayfly-" + p.Name
		}
		return ""
	}
}

func TestKubeconfig(t *testing.T) {
	users, serves := kubeUsersFor(t)
	got, notes, err := Kubeconfig([]byte(kubeconfig), users, serves)
	if err != nil {
		t.Fatal(err)
	}
	want := strings.Replace(kubeconfig, "    user: static # the old way\n", "    user: mayfly-corp # the old way\n", 1) + `- name: mayfly-corp
  user:
    exec:
      apiVersion: client.authentication.k8s.io/v1
      command: /opt/mayfly/kubectl-mayfly
      args:
      - --profile
      - corp
      interactiveMode: IfAvailable
      provideClusterInfo: true
      installHint: 'Install Mayfly (kubectl-mayfly) and run: mayfly login --profile corp'
`
	if diff := cmp.Diff(want, string(got)); diff != "" {
		t.Errorf("kubeconfig (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"context corp (cluster corp) now uses user mayfly-corp (was static)"}, notes); diff != "" {
		t.Errorf("notes (-want +got):\n%s", diff)
	}
	again, _, err := Kubeconfig(got, users, serves)
	if err != nil || string(again) != string(got) {
		t.Errorf("second run changed the file:\n%s", again)
	}
	// A user of our name with something else in it is replaced whole.
	tampered := string(got) + "    token: sneaky\n"
	fixed, _, err := Kubeconfig([]byte(tampered), users, serves)
	if err != nil || string(fixed) != string(got) {
		t.Errorf("tampered user not restored (%v):\n%s", err, cmp.Diff(string(got), string(fixed)))
	}
}

func TestKubeconfigNew(t *testing.T) {
	users, serves := kubeUsersFor(t)
	got, notes, err := Kubeconfig(nil, users, serves)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(string(got), "apiVersion: v1\nkind: Config\nusers:\n- name: mayfly-corp\n") {
		t.Errorf("new kubeconfig:\n%s", got)
	}
	if len(notes) != 1 || !strings.Contains(notes[0], "kubectl config set-context NAME --user=mayfly-corp") {
		t.Errorf("notes: %q", notes)
	}
	for _, bad := range []string{"- a\n- b\n", "users: 3\n", "a: [\n"} {
		if _, _, err := Kubeconfig([]byte(bad), users, serves); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
}

// TestKubePlan writes a kubeconfig on $KUBECONFIG, and checks that
// kubectl reads the user it got, when kubectl is installed.
func TestKubePlan(t *testing.T) {
	e := testEnv(t)
	path := filepath.Join(e.Home, "kc", "config")
	env := map[string]string{"KUBECONFIG": path + string(os.PathListSeparator) + "/elsewhere"}
	e.Getenv = func(k string) string { return env[k] }
	os.MkdirAll(filepath.Dir(path), 0o700)
	os.WriteFile(path, []byte(kubeconfig), 0o600)
	ps := testProfiles(t, `[profiles.corp]
issuer = "https://login.corp.example"
client_id = "kube"
match = ["https://k8s.corp.example:6443/"]
`)
	p, err := Kube(context.Background(), e, ps)
	if err != nil {
		t.Fatal(err)
	}
	if p.Path != path || !p.Changed() {
		t.Fatalf("plan %s changed %v", p.Path, p.Changed())
	}
	if _, err := p.Apply(testNow); err != nil {
		t.Fatal(err)
	}
	if p2, err := Kube(context.Background(), e, ps); err != nil || p2.Changed() {
		t.Errorf("second run: %v", err)
	}
	if _, err := exec.LookPath("kubectl"); err != nil {
		return
	}
	out, err := exec.Command("kubectl", "--kubeconfig", path, "config", "view", "-o", "jsonpath={.users[?(@.name=='mayfly-corp')].user.exec.command} {.users[?(@.name=='mayfly-corp')].user.exec.installHint} {.contexts[?(@.name=='corp')].context.user}").CombinedOutput()
	if err != nil {
		t.Fatalf("kubectl config view: %v\n%s", err, out)
	}
	want := filepath.Join(e.BinDir, "kubectl-mayfly") + " Install Mayfly (kubectl-mayfly) and run: mayfly login --profile corp mayfly-corp"
	if string(out) != want {
		t.Errorf("kubectl sees %q, want %q", out, want)
	}
}
