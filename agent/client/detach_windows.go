package client

import (
	"os/exec"
	"syscall"
)

const exeSuffix = ".exe"

// detach starts the agent without a console and in its own process group,
// so the consumer's Ctrl-C does not reach it.
func detach(cmd *exec.Cmd) {
	const createNewProcessGroup, detachedProcess = 0x00000200, 0x00000008
	cmd.SysProcAttr = &syscall.SysProcAttr{CreationFlags: createNewProcessGroup | detachedProcess}
}
