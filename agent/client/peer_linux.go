package client

import "golang.org/x/sys/unix"

// peerUID is the uid of the socket's peer (SO_PEERCRED), as
// internal/peercred reads it for a net.Conn.
func peerUID(fd int) (int, error) {
	uc, err := unix.GetsockoptUcred(fd, unix.SOL_SOCKET, unix.SO_PEERCRED)
	if err != nil {
		return -1, err
	}
	return int(uc.Uid), nil
}
