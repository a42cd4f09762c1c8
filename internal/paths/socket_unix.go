//go:build !windows

package paths

import (
	"os"
	"path/filepath"
	"strconv"
)

func socket(env string) (string, error) {
	if env != "" {
		return filepath.Abs(env)
	}
	if d := os.Getenv("XDG_RUNTIME_DIR"); filepath.IsAbs(d) {
		return filepath.Join(d, "mayfly", "agent.sock"), nil
	}
	// A UNIX socket path is limited to about 104 bytes, so stay short.
	dir := filepath.Join(os.TempDir(), "mayfly-"+strconv.Itoa(os.Getuid()))
	return filepath.Join(dir, "agent.sock"), nil
}
