package paths

import (
	"testing"

	"golang.org/x/sys/windows"

	"github.com/mayflyhq/mayfly/internal/envknob"
)

func TestSocketPipe(t *testing.T) {
	u, err := windows.GetCurrentProcessToken().GetTokenUser()
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv(envknob.AgentSocket, "")
	if got, err := Socket(); err != nil || got != `\\.\pipe\mayfly-agent-`+u.User.Sid.String() {
		t.Errorf("default Socket() = %q, %v; want the pipe named after %s", got, err, u.User.Sid)
	}
	for _, tt := range []struct {
		env string
		ok  bool
	}{
		{`\\.\pipe\mayfly-test`, true},
		{`\\.\PIPE\mayfly-test`, true},
		{`\\.\pipe\`, false},
		{`C:\Users\ada\agent.sock`, false},
		{`agent.sock`, false},
		{`\\server\pipe\mayfly`, false}, // remote pipes are not ours
	} {
		t.Setenv(envknob.AgentSocket, tt.env)
		got, err := Socket()
		if tt.ok != (err == nil) || (tt.ok && got != tt.env) {
			t.Errorf("Socket() with %s=%q: %q, %v; want ok=%v", envknob.AgentSocket, tt.env, got, err, tt.ok)
		}
	}
}
