// Package envknob declares, in one place, every environment variable Mayfly
// reads. Helpers are started by git, docker and kubectl, which give users no
// way to pass flags, so these variables are the only knobs there are.
//
// No variable here ever carries a secret: Mayfly never puts a token into the
// environment of any process, its own children included.
package envknob

import "os"

// The variables, with what they do.
const (
	// Config is the path of the configuration file.
	Config = "MAYFLY_CONFIG"
	// AgentSocket is the path of the agent's UNIX socket.
	AgentSocket = "MAYFLY_AGENT_SOCKET"
	// AgentBin is the `mayfly` binary a helper starts as the agent when none
	// is running (default: `mayfly` next to the helper, else on PATH).
	AgentBin = "MAYFLY_AGENT_BIN"
	// NoAutostart, when "1", stops helpers from starting the agent.
	NoAutostart = "MAYFLY_NO_AUTOSTART"
	// Debug, when "1", makes errors carry their full chain and the agent log
	// at debug level. Tokens are never logged, even then.
	Debug = "MAYFLY_DEBUG"
	// NonInteractive, when "1", forbids prompts and browser windows.
	NonInteractive = "MAYFLY_NONINTERACTIVE"
)

// All lists every variable, for `mayfly doctor` and the README.
var All = []string{Config, AgentSocket, AgentBin, NoAutostart, Debug, NonInteractive}

// Bool reports whether the variable is set to a true value ("1", "true", "yes").
func Bool(name string) bool {
	switch os.Getenv(name) {
	case "1", "true", "TRUE", "True", "yes":
		return true
	}
	return false
}
