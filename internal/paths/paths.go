// Package paths resolves where Mayfly's files live, following the XDG base
// directory specification on Linux and the usual per-user folders elsewhere.
// It reads only the environment, so the smallest helper can link it.
package paths

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"

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

// Socket returns the agent socket: $MAYFLY_AGENT_SOCKET, else
// $XDG_RUNTIME_DIR/mayfly/agent.sock, else a per-user folder in the system's
// temporary directory (which the agent creates 0700 and checks it owns).
func Socket() (string, error) {
	if p := os.Getenv(envknob.AgentSocket); p != "" {
		return filepath.Abs(p)
	}
	if d := os.Getenv("XDG_RUNTIME_DIR"); filepath.IsAbs(d) {
		return filepath.Join(d, "mayfly", "agent.sock"), nil
	}
	// A UNIX socket path is limited to about 104 bytes, so stay short.
	dir := filepath.Join(os.TempDir(), "mayfly-"+strconv.Itoa(os.Getuid()))
	if os.Getuid() < 0 { // Windows: no uid; use the user's profile.
		cache, err := os.UserCacheDir()
		if err != nil {
			return "", errors.Join(errors.New("paths: no socket location"), err)
		}
		dir = filepath.Join(cache, "mayfly")
	}
	return filepath.Join(dir, "agent.sock"), nil
}
