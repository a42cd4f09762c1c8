//go:build unix

package agent

import (
	"errors"
	"strings"
	"testing"

	"github.com/mayflyhq/mayfly/agent/wire"
)

func TestStatic(t *testing.T) {
	e := newEnv(t, "")
	do := func(req wire.Request) (wire.Response, string) {
		t.Helper()
		resp, err := e.do(req)
		var we *wire.Error
		if errors.As(err, &we) {
			return resp, we.Code
		}
		if err != nil {
			t.Fatal(err)
		}
		return resp, ""
	}
	get := wire.Request{Op: wire.OpStaticGet, Namespace: "docker", Name: "registry.other.example"}
	if _, code := do(get); code != wire.CodeNotFound {
		t.Fatalf("get before set: code %q, want not_found", code)
	}
	const secret = "s3cret-registry-password"
	set := wire.Request{Op: wire.OpStaticSet, Namespace: "docker", Name: "registry.other.example", Username: "alice", Secret: secret}
	if _, code := do(set); code != "" {
		t.Fatalf("set: %s", code)
	}
	set2 := set
	set2.Name, set2.Username = "quay.other.example", "bob"
	do(set2)
	resp, code := do(get)
	if code != "" || resp.Username != "alice" || resp.Token != secret {
		t.Fatalf("get: %+v %s", resp, code)
	}
	list, _ := do(wire.Request{Op: wire.OpStaticList, Namespace: "docker"})
	if len(list.Static) != 2 || list.Static[0].Name != "quay.other.example" || list.Static[1].Username != "alice" {
		t.Fatalf("list: %+v", list.Static)
	}
	if other, _ := do(wire.Request{Op: wire.OpStaticList, Namespace: "npm"}); len(other.Static) != 0 {
		t.Fatalf("list of another namespace: %+v", other.Static)
	}
	st, _ := do(wire.Request{Op: wire.OpStatus})
	if len(st.Status.Static) != 2 {
		t.Fatalf("status lists %d static credentials, want 2", len(st.Status.Static))
	}
	if _, code := do(wire.Request{Op: wire.OpStaticErase, Namespace: "docker", Name: "registry.other.example"}); code != "" {
		t.Fatalf("erase: %s", code)
	}
	if _, code := do(get); code != wire.CodeNotFound {
		t.Fatalf("get after erase: %q", code)
	}
	if _, code := do(wire.Request{Op: wire.OpStaticErase, Namespace: "docker", Name: "registry.other.example"}); code != wire.CodeNotFound {
		t.Fatalf("second erase: %q", code)
	}
	if strings.Contains(e.log.String(), secret) {
		t.Error("the agent logged the secret")
	}

	for _, bad := range []wire.Request{
		{Op: wire.OpStaticGet, Namespace: "", Name: "x"},
		{Op: wire.OpStaticGet, Namespace: "Docker/..", Name: "x"},
		{Op: wire.OpStaticGet, Namespace: "docker", Name: ""},
		{Op: wire.OpStaticGet, Namespace: "docker", Name: "a\nb"},
		{Op: wire.OpStaticSet, Namespace: "docker", Name: "x", Username: "", Secret: "s"},
		{Op: wire.OpStaticSet, Namespace: "docker", Name: "x", Username: "u", Secret: ""},
		{Op: wire.OpStaticSet, Namespace: "docker", Name: "x", Username: "u", Secret: strings.Repeat("s", maxStaticSecret+1)},
		{Op: wire.OpStaticSet, Namespace: "docker", Name: strings.Repeat("n", maxStaticName+1), Username: "u", Secret: "s"},
	} {
		if _, code := do(bad); code != wire.CodeBadRequest {
			t.Errorf("%+v: code %q, want bad_request", bad, code)
		}
	}
	if list, _ := do(wire.Request{Op: wire.OpStaticList, Namespace: "docker"}); len(list.Static) != 1 {
		t.Errorf("bad requests changed the store: %+v", list.Static)
	}
}
