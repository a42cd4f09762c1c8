//go:build unix && !linux

package agent

import "net"

// passedListener: socket activation is systemd's, so Linux's (see
// listen_systemd_linux.go). launchd passes sockets only through
// launch_activate_socket(3), which needs cgo; contrib/launchd's job starts
// the agent, which binds its socket itself.
func passedListener(string) (net.Listener, error) { return nil, nil }
