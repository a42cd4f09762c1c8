//go:build unix

package client

import (
	"os/exec"
	"syscall"
)

const exeSuffix = ""

// detach puts the agent in a new session so the consumer's terminal signals
// (Ctrl-C on a git clone) do not reach it.
func detach(cmd *exec.Cmd) { cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true} }
