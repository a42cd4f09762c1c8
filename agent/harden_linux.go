package agent

import "golang.org/x/sys/unix"

// Harden keeps the agent's memory, which holds refresh tokens, out of core
// dumps and away from same-user debuggers that are not its parent: it marks
// the process non-dumpable (which also makes /proc/PID/mem and ptrace
// attach need CAP_SYS_PTRACE) and sets the core size to zero.
func Harden() error {
	if err := unix.Prctl(unix.PR_SET_DUMPABLE, 0, 0, 0, 0); err != nil {
		return err
	}
	return unix.Setrlimit(unix.RLIMIT_CORE, &unix.Rlimit{Cur: 0, Max: 0})
}
