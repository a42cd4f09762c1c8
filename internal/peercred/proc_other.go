//go:build !linux

package peercred

// macOS could answer with proc_pidpath and a kinfo_proc sysctl, and Windows
// with the pipe client's process id; neither is wired up or tested yet.

func exe(int) (string, error) { return "", ErrUnsupported }

func parent(int) (int, error) { return 0, ErrUnsupported }
