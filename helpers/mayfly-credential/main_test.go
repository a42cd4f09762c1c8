package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/mayflyhq/mayfly/agent/wire"
	"github.com/mayflyhq/mayfly/protocol/bazelcred"
)

// TestDeps keeps the helper small and quick to start: Bazel may run it once
// per URI, thousands of times in a build, so it talks to the agent and
// nothing else. HTTP, OAuth, TOML and Kubernetes belong in the agent.
func TestDeps(t *testing.T) {
	if testing.Short() {
		t.Skip("runs go list")
	}
	out, err := exec.Command("go", "list", "-deps", ".").Output()
	if err != nil {
		t.Skipf("go list: %v", err)
	}
	for _, dep := range strings.Fields(string(out)) {
		// os/signal costs every start (bench/README.md, "Where the time goes").
		for _, banned := range []string{"net/http", "crypto/tls", "golang.org/x/oauth2", "github.com/BurntSushi/toml", "k8s.io/", "os/signal"} {
			if dep == banned || strings.HasPrefix(dep, banned+"/") || (strings.HasSuffix(banned, "/") && strings.HasPrefix(dep, banned)) {
				t.Errorf("mayfly-credential links %s", dep)
			}
		}
	}
}

// TestUsage: command-line mistakes are usage errors (exit 2), with the
// error object on stdout and one line on stderr, and never reach the agent.
func TestUsage(t *testing.T) {
	t.Setenv("MAYFLY_AGENT_SOCKET", t.TempDir()+"/none.sock")
	t.Setenv("MAYFLY_NO_AUTOSTART", "1")
	for _, tc := range []struct {
		args  []string
		stdin string
		code  int
	}{
		{nil, `{"uri":"https://h/"}`, 2},
		{[]string{"store"}, `{"uri":"https://h/"}`, 2},
		{[]string{"--profile", "corp", "get"}, `{"uri":"https://h/"}`, 2},
		{[]string{"get", "--profile"}, `{"uri":"https://h/"}`, 2},
		{[]string{"get", "--nope"}, `{"uri":"https://h/"}`, 2},
		{[]string{"get", "extra"}, `{"uri":"https://h/"}`, 2},
		{[]string{"get"}, `{"uri":`, 3},
		{[]string{"get", "--profile", "corp"}, `[]`, 3},
	} {
		var stdout, stderr bytes.Buffer
		code := run(context.Background(), tc.args, strings.NewReader(tc.stdin), &stdout, &stderr)
		if code != tc.code {
			t.Errorf("%q: exit %d, want %d (stderr %q)", tc.args, code, tc.code, stderr.String())
		}
		var out struct {
			Error struct{ Code, Message string }
		}
		if err := json.Unmarshal(stdout.Bytes(), &out); err != nil || out.Error.Code == "" {
			t.Errorf("%q: stdout %q is not an error object", tc.args, stdout.String())
		}
		if s := stderr.String(); strings.Count(s, "\n") != 1 || !strings.HasPrefix(s, "mayfly: ") {
			t.Errorf("%q: stderr %q, want one line", tc.args, s)
		}
	}
}

// TestHelp: --help (and help, -h, goauth --help) prints the usage and the
// Bazel and GOAUTH wiring on stdout and exits 0, without the agent: none
// listens and autostart is off.
func TestHelp(t *testing.T) {
	t.Setenv("MAYFLY_AGENT_SOCKET", t.TempDir()+"/none.sock")
	t.Setenv("MAYFLY_NO_AUTOSTART", "1")
	for _, args := range [][]string{{"--help"}, {"-h"}, {"help"}, {"goauth", "--help"}} {
		var stdout, stderr bytes.Buffer
		code := run(context.Background(), args, strings.NewReader(""), &stdout, &stderr)
		if code != 0 || stderr.Len() != 0 {
			t.Errorf("%q: exit %d, stderr %q", args, code, stderr.String())
		}
		for _, want := range []string{"usage: mayfly-credential ", "--credential_helper=*.corp.example=/usr/local/bin/mayfly-credential", "GOAUTH="} {
			if !strings.Contains(stdout.String(), want) {
				t.Errorf("%q: stdout lacks %q:\n%s", args, want, stdout.String())
			}
		}
	}
}

// fakeAgent records requests and answers with resp or err.
type fakeAgent struct {
	got  []wire.Request
	resp wire.Response
	err  error
}

func (f *fakeAgent) do(_ context.Context, req wire.Request) (wire.Response, error) {
	f.got = append(f.got, req)
	return f.resp, f.err
}

func TestGet(t *testing.T) {
	exp := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	ok := wire.Response{Profile: "corp", Username: "oauth2", Token: "tok", Expiry: exp}
	f := &fakeAgent{resp: ok}
	h := &handler{do: f.do}
	resp, err := h.Get(context.Background(), bazelcred.Request{URI: "grpcs://cache.corp.example/S/M?sig=secret#f"})
	if err != nil {
		t.Fatal(err)
	}
	want := bazelcred.Response{Headers: map[string][]string{"Authorization": {"Bearer tok"}}, Expires: exp}
	if diff := cmp.Diff(want, resp); diff != "" {
		t.Errorf("(-want +got)\n%s", diff)
	}
	wantReq := []wire.Request{{Op: wire.OpToken, URL: "https://cache.corp.example/S/M", Consumer: "bazel"}}
	if diff := cmp.Diff(wantReq, f.got); diff != "" {
		t.Errorf("agent request (-want +got)\n%s", diff)
	}

	// Extensions that need nothing: the consumer is "json", --profile is passed.
	f = &fakeAgent{resp: ok}
	h = &handler{profile: "corp", do: f.do}
	no := false
	req := bazelcred.Request{URI: "https://api.corp.example/v1/messages", Method: "POST", Interactive: &no,
		Resource: []string{"https://api.corp.example", "https://API.corp.example:443/v1/", "https://api.corp.example/v1/messages"}}
	if _, err := h.Get(context.Background(), req); err != nil {
		t.Fatal(err)
	}
	if len(f.got) != 1 || f.got[0].Consumer != "json" || f.got[0].Profile != "corp" {
		t.Errorf("agent requests %+v", f.got)
	}

	// A URI with its own user information is nobody's, and is neither sent
	// to the agent nor quoted.
	f = &fakeAgent{resp: ok}
	_, err = (&handler{do: f.do}).Get(context.Background(), bazelcred.Request{URI: "https://user:pw@cache.corp.example/"})
	var e *bazelcred.Error
	if !errors.As(err, &e) || e.Code != bazelcred.CodeNotFound || strings.Contains(e.Message, "pw") || len(f.got) != 0 {
		t.Errorf("URI with user information: %v, agent asked %d times", err, len(f.got))
	}

	// A token the agent cannot vouch for is not handed out.
	f = &fakeAgent{resp: wire.Response{Profile: "corp"}}
	if _, err := (&handler{do: f.do}).Get(context.Background(), bazelcred.Request{URI: "https://h/"}); err == nil {
		t.Error("an empty token was accepted")
	}
}

func TestGetUnsupported(t *testing.T) {
	for name, req := range map[string]bazelcred.Request{
		"audience":                   {URI: "https://api.corp.example/v1", Audience: []string{"https://api.corp.example"}},
		"scope":                      {URI: "https://api.corp.example/v1", Scope: "read"},
		"resource on another host":   {URI: "https://api.corp.example/v1", Resource: []string{"https://other.corp.example/"}},
		"resource on another scheme": {URI: "https://api.corp.example/v1", Resource: []string{"http://api.corp.example/"}},
		"resource on another port":   {URI: "https://api.corp.example/v1", Resource: []string{"https://api.corp.example:8443/"}},
		"resource deeper than uri":   {URI: "https://api.corp.example/v1", Resource: []string{"https://api.corp.example/v1/admin"}},
		"resource a sibling":         {URI: "https://api.corp.example/v1x", Resource: []string{"https://api.corp.example/v1"}},
		"resource escaped by ..":     {URI: "https://api.corp.example/v1/../admin", Resource: []string{"https://api.corp.example/v1"}},
		"one of two resources":       {URI: "https://api.corp.example/v1", Resource: []string{"https://api.corp.example/", "urn:x:y"}},
	} {
		f := &fakeAgent{resp: wire.Response{Token: "tok"}}
		_, err := (&handler{profile: "corp", do: f.do}).Get(context.Background(), req)
		var e *bazelcred.Error
		if !errors.As(err, &e) || e.Code != bazelcred.CodeUnsupported || !strings.Contains(e.Message, "not supported yet") {
			t.Errorf("%s: error %v, want unsupported", name, err)
		}
		if len(f.got) != 0 {
			t.Errorf("%s: the agent was asked", name)
		}
	}
}

func TestAgentErrors(t *testing.T) {
	loginMsg := "not signed in to profile team.a-1: run `mayfly login --profile team.a-1`"
	tests := []struct {
		name, profile string
		err           error
		code          bazelcred.Code
		login         string
	}{
		{"no profile for the URI", "", &wire.Error{Code: wire.CodeNoProfile, Message: "no profile matches"}, bazelcred.CodeNotFound, ""},
		{"no such profile", "nope", &wire.Error{Code: wire.CodeNoProfile, Message: `no profile "nope"`}, bazelcred.CodeOther, ""},
		{"login required", "", &wire.Error{Code: wire.CodeLoginRequired, Message: loginMsg}, bazelcred.CodeInteractionRequired, "mayfly login --profile team.a-1"},
		{"revoked", "", &wire.Error{Code: wire.CodeRevoked, Message: "the session of profile corp was ended by the provider (x): run `mayfly login --profile corp`"}, bazelcred.CodeInteractionRequired, "mayfly login --profile corp"},
		{"login required, --profile", "corp", &wire.Error{Code: wire.CodeLoginRequired, Message: "not signed in"}, bazelcred.CodeInteractionRequired, "mayfly login --profile corp"},
		{"login required, message without the command", "", &wire.Error{Code: wire.CodeLoginRequired, Message: "not signed in"}, bazelcred.CodeInteractionRequired, "mayfly login"},
		{"provider", "", &wire.Error{Code: wire.CodeProvider, Message: "profile corp: connection refused"}, bazelcred.CodeOther, ""},
		{"config", "", &wire.Error{Code: wire.CodeConfig, Message: "bad config"}, bazelcred.CodeOther, ""},
		{"no agent", "", errors.New("no agent is running"), bazelcred.CodeOther, ""},
	}
	for _, tc := range tests {
		f := &fakeAgent{err: tc.err}
		var stdout, stderr bytes.Buffer
		newH := func([]string) (bazelcred.Handler, error) { return &handler{profile: tc.profile, do: f.do}, nil }
		code := bazelcred.Run(context.Background(), []string{"get"}, strings.NewReader(`{"uri":"https://h/","capabilities":["not_found_error"]}`), &stdout, &stderr, newH)
		var out struct {
			Error struct {
				Code         bazelcred.Code
				Message      string
				LoginCommand string `json:"login_command"`
			}
		}
		if err := json.Unmarshal(stdout.Bytes(), &out); err != nil {
			t.Fatalf("%s: %q: %v", tc.name, stdout.String(), err)
		}
		if out.Error.Code != tc.code || code != tc.code.ExitCode() || out.Error.LoginCommand != tc.login {
			t.Errorf("%s: exit %d, %+v; want code %s, login_command %q", tc.name, code, out.Error, tc.code, tc.login)
		}
		if stderr.String() != "mayfly: "+tc.err.Error()+"\n" {
			t.Errorf("%s: stderr %q", tc.name, stderr.String())
		}
	}
}
