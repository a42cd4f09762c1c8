package setup

import (
	"bytes"
	"encoding/json"
	"testing"
)

// FuzzObject: what ParseObject reads, Marshal writes back as the same JSON
// values with the keys in the same order.
func FuzzObject(f *testing.F) {
	for _, s := range []string{`{}`, `{"a":1,"b":{"c":[1,2,{"d":null}]}}`, `{"a":1,"a":2}`, ` {"x":"<&>\u2028"} `, `{"":""}`, `[]`, `{`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		o, err := ParseObject(data)
		if err != nil {
			return
		}
		out := o.Marshal("\t")
		o2, err := ParseObject(out)
		if err != nil {
			t.Fatalf("Marshal wrote what ParseObject refuses: %v\n%s", err, out)
		}
		if len(o.Keys()) != len(o2.Keys()) {
			t.Fatalf("keys %q, then %q", o.Keys(), o2.Keys())
		}
		for i, k := range o.Keys() {
			if o2.Keys()[i] != k {
				t.Fatalf("keys %q, then %q", o.Keys(), o2.Keys())
			}
			a, _ := o.Get(k)
			b, _ := o2.Get(k)
			var ca, cb bytes.Buffer
			json.Compact(&ca, a)
			json.Compact(&cb, b)
			if ca.String() != cb.String() {
				t.Fatalf("%q: %s, then %s", k, a, b)
			}
		}
	})
}

// FuzzDockerConfig: setup never fails on a file it accepted once, and a
// second run changes nothing.
func FuzzDockerConfig(f *testing.F) {
	f.Add([]byte(`{"auths":{"r.example":{"auth":"eDp5"}},"credHelpers":{"a":"b"}}`))
	f.Add([]byte(`{"credHelpers":null}`))
	f.Add([]byte(""))
	f.Fuzz(func(t *testing.T, data []byte) {
		regs := []string{"registry.corp.example", "127.0.0.1:5000"}
		out, _, err := DockerConfig(data, regs, "mayfly")
		if err != nil {
			return
		}
		again, _, err := DockerConfig(out, regs, "mayfly")
		if err != nil || !bytes.Equal(again, out) {
			t.Fatalf("second run: %v\n%s\nthen\n%s", err, out, again)
		}
	})
}

// FuzzKubeconfig: the same for kubeconfigs.
func FuzzKubeconfig(f *testing.F) {
	f.Add([]byte(kubeconfig))
	f.Add([]byte("users: []\n"))
	f.Add([]byte("users:\n- name: mayfly-corp\n  user: {token: x}\n"))
	f.Add([]byte(""))
	users := []KubeUser{{Name: "mayfly-corp", Profile: "corp", Command: "/b/kubectl-mayfly", InstallHint: "hint"}}
	serves := func(s string) string {
		if s == "https://k8s.corp.example:6443" {
			return "mayfly-corp"
		}
		return ""
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		out, _, err := Kubeconfig(data, users, serves)
		if err != nil {
			return
		}
		again, _, err := Kubeconfig(out, users, serves)
		if err != nil || !bytes.Equal(again, out) {
			t.Fatalf("second run: %v\n%s\nthen\n%s", err, out, again)
		}
	})
}
