package agent

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// Harden keeps the agent's memory, which holds refresh tokens, out of core
// dumps, swap, and same-user debuggers that are not its parent: it marks the
// process non-dumpable (which also makes /proc/PID/mem and ptrace attach
// need CAP_SYS_PTRACE), sets the core size to zero, and locks its memory
// (see lockMemory). An error means some of that could not be done; the
// agent still runs, and the caller logs the error as a warning.
func Harden() error {
	if err := unix.Prctl(unix.PR_SET_DUMPABLE, 0, 0, 0, 0); err != nil {
		return fmt.Errorf("PR_SET_DUMPABLE: %w", err)
	}
	if err := unix.Setrlimit(unix.RLIMIT_CORE, &unix.Rlimit{Cur: 0, Max: 0}); err != nil {
		return fmt.Errorf("RLIMIT_CORE: %w", err)
	}
	return lockMemory()
}

// lockMemory keeps the agent's pages out of swap with mlockall, where the
// system lets it, with MCL_ONFAULT so that the gigabyte or so of address
// space Go reserves is locked as it is used rather than populated at once.
//
// Go's allocator rules out MCL_FUTURE under a finite RLIMIT_MEMLOCK: once
// the locked total reaches the limit, the runtime's next mmap fails and it
// aborts ("out of memory"), which under the usual 8 MiB default is at start.
// So:
//   - with CAP_IPC_LOCK or an unlimited RLIMIT_MEMLOCK (LimitMEMLOCK=infinity
//     in a systemd unit), everything is locked, now and later;
//   - with a finite limit that covers the address space mapped now, only
//     that is locked (MCL_CURRENT), and the error says later growth is not;
//   - otherwise (the default for a desktop user: 8 MiB against the runtime's
//     reservation) nothing is locked, and the error says how to allow it.
func lockMemory() error {
	var rl unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_MEMLOCK, &rl); err != nil {
		return fmt.Errorf("memory not locked: RLIMIT_MEMLOCK: %w", err)
	}
	if rl.Cur < rl.Max {
		// Raising the soft limit to the hard one needs no privilege.
		up := unix.Rlimit{Cur: rl.Max, Max: rl.Max}
		if unix.Setrlimit(unix.RLIMIT_MEMLOCK, &up) == nil {
			rl = up
		}
	}
	if rl.Cur == unix.RLIM_INFINITY || canLock() {
		return mlockall(unix.MCL_CURRENT | unix.MCL_FUTURE)
	}
	mapped, err := vmSize()
	if err == nil && mapped > rl.Cur {
		return fmt.Errorf("memory not locked: RLIMIT_MEMLOCK is %s and the agent maps %s; to keep its secrets out of swap, raise the limit (LimitMEMLOCK=infinity in a systemd unit, `ulimit -l unlimited`) or grant CAP_IPC_LOCK",
			size(rl.Cur), size(mapped))
	}
	if err := mlockall(unix.MCL_CURRENT); err != nil {
		return err
	}
	return fmt.Errorf("memory locked only in part: RLIMIT_MEMLOCK is %s, so memory the agent maps later is not locked (MCL_FUTURE would make Go's allocator fail at the limit)", size(rl.Cur))
}

// mlockall locks with MCL_ONFAULT, or without it on kernels before 4.4.
func mlockall(flags int) error {
	err := unix.Mlockall(flags | unix.MCL_ONFAULT)
	if errors.Is(err, unix.EINVAL) {
		err = unix.Mlockall(flags)
	}
	if err != nil {
		return fmt.Errorf("memory not locked: mlockall: %w", err)
	}
	return nil
}

// canLock reports whether the process has CAP_IPC_LOCK, which lifts
// RLIMIT_MEMLOCK.
func canLock() bool {
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var data [2]unix.CapUserData
	if err := unix.Capget(&hdr, &data[0]); err != nil {
		return false
	}
	return data[unix.CAP_IPC_LOCK/32].Effective&(1<<(unix.CAP_IPC_LOCK%32)) != 0
}

// vmSize returns the process's mapped address space in bytes, which is
// what mlockall(MCL_CURRENT) counts against RLIMIT_MEMLOCK.
func vmSize() (uint64, error) {
	return statusKB("VmSize:")
}

// statusKB reads a "kB" field of /proc/self/status, in bytes.
func statusKB(field string) (uint64, error) {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0, err
	}
	for line := range strings.Lines(string(b)) {
		if rest, ok := strings.CutPrefix(line, field); ok {
			kb, err := strconv.ParseUint(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			return kb << 10, err
		}
	}
	return 0, fmt.Errorf("no %s in /proc/self/status", field)
}

func size(b uint64) string {
	if b >= 1<<20 {
		return strconv.FormatUint(b>>20, 10) + " MiB"
	}
	return strconv.FormatUint(b>>10, 10) + " KiB"
}
