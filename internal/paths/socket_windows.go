package paths

import (
	"fmt"
	"strings"

	"golang.org/x/sys/windows"

	"github.com/mayflyhq/mayfly/internal/envknob"
)

// pipePrefix begins the path of every local named pipe.
const pipePrefix = `\\.\pipe\`

// socket names the agent's pipe. The pipe namespace is one for the whole
// machine, so the default name carries the user's SID: each user has their
// own agent, and the agent's ACL and every helper's check of the server's
// user (agent.Listen, agent/client) make sure nobody else answers on it.
// Pipe names can be listed by anyone; a SID is no secret.
func socket(env string) (string, error) {
	if env != "" {
		if !isPipe(env) {
			return "", fmt.Errorf("paths: %s=%q: on Windows the agent listens on a named pipe: give a name such as %smayfly-agent-test", envknob.AgentSocket, env, pipePrefix)
		}
		return env, nil
	}
	u, err := windows.GetCurrentProcessToken().GetTokenUser()
	if err != nil {
		return "", fmt.Errorf("paths: no agent pipe name: reading this user's SID: %w", err)
	}
	return pipePrefix + "mayfly-agent-" + u.User.Sid.String(), nil
}

// isPipe reports whether name is a local named pipe's path, \\.\pipe\NAME
// (the prefix in any case, as Windows compares it).
func isPipe(name string) bool {
	return len(name) > len(pipePrefix) && strings.EqualFold(name[:len(pipePrefix)], pipePrefix)
}
