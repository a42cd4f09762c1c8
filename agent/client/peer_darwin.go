package client

import "golang.org/x/sys/unix"

// peerUID is the uid of the socket's peer (LOCAL_PEERCRED), as
// internal/peercred reads it for a net.Conn.
func peerUID(fd int) (int, error) {
	xc, err := unix.GetsockoptXucred(fd, unix.SOL_LOCAL, unix.LOCAL_PEERCRED)
	if err != nil {
		return -1, err
	}
	return int(xc.Uid), nil
}
