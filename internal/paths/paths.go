// Package paths resolves where Mayfly's files live, following the XDG base
// directory specification on Linux and the usual per-user folders elsewhere.
// It reads only the environment (and, on Windows, the user's SID from the
// process token, to name the agent's pipe), so the smallest helper can link it.
package paths

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/mayflyhq/mayfly/internal/envknob"
)

// Config returns the configuration file: $MAYFLY_CONFIG, else
// $XDG_CONFIG_HOME/mayfly/config.toml, else ~/.config/mayfly/config.toml.
func Config() (string, error) {
	if p := os.Getenv(envknob.Config); p != "" {
		return filepath.Abs(p)
	}
	if d := os.Getenv("XDG_CONFIG_HOME"); filepath.IsAbs(d) {
		return filepath.Join(d, "mayfly", "config.toml"), nil
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "", fmt.Errorf("paths: no config location: set %s or HOME: %w", envknob.Config, err)
	}
	return filepath.Join(home, ".config", "mayfly", "config.toml"), nil
}

// State returns the per-user state folder ($XDG_STATE_HOME/mayfly, else
// ~/.local/state/mayfly), where the agent keeps its log. Nothing secret is
// ever written there.
func State() (string, error) {
	if d := os.Getenv("XDG_STATE_HOME"); filepath.IsAbs(d) {
		return filepath.Join(d, "mayfly"), nil
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "", fmt.Errorf("paths: no state location: set HOME: %w", err)
	}
	return filepath.Join(home, ".local", "state", "mayfly"), nil
}

// AuditLog returns the agent's audit log, audit.log in the [State] folder:
// one JSON line per token issued, refused, refreshed, and per sign-in and
// sign-out. It names tokens by a hash prefix only.
func AuditLog() (string, error) {
	d, err := State()
	if err != nil {
		return "", err
	}
	return filepath.Join(d, "audit.log"), nil
}

// TPMStore returns the folder of the TPM-sealed store, tpm in the [State]
// folder. It holds envelopes only: values encrypted under data keys that
// only this machine's TPM can unseal, which is also why it belongs in the
// state folder rather than with data that may be copied between machines.
func TPMStore() (string, error) {
	d, err := State()
	if err != nil {
		return "", err
	}
	return filepath.Join(d, "tpm"), nil
}

// Socket returns where the agent listens and helpers connect:
// $MAYFLY_AGENT_SOCKET, else a per-user default. On Linux and macOS that is a
// UNIX socket, $XDG_RUNTIME_DIR/mayfly/agent.sock, else agent.sock in a
// per-user folder of the system's temporary directory (which the agent
// creates 0700 and checks it owns). On Windows it is a named pipe,
// \\.\pipe\mayfly-agent-<the user's SID>, and $MAYFLY_AGENT_SOCKET must name
// a pipe too: the agent refuses other users by the pipe's ACL and the
// caller's process token, which an AF_UNIX socket on Windows cannot offer.
func Socket() (string, error) { return socket(os.Getenv(envknob.AgentSocket)) }
