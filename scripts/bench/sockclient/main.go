// Command sockclient is the floor for a helper that asks an agent: a
// static Go program that reads a request line from stdin, sends it on a
// UNIX socket, and copies the answer to stdout, with none of a real
// helper's work (arguments, protocol parsing, configuration paths, the peer
// check, JSON). Like agent/client it dials with system calls, not the net
// package: with net and flag it took longer to start than the exchange
// itself takes (bench/README.md, "Where the time goes").
// `make bench` sends it the same token request that git-credential-mayfly
// sends, to the same agent.
//
//	sockclient $XDG_RUNTIME_DIR/mayfly/agent.sock < request.json
package main

import (
	"io"
	"os"
	"syscall"
)

func main() {
	if len(os.Args) != 2 {
		os.Stderr.WriteString("usage: sockclient SOCKET < request\n")
		os.Exit(2)
	}
	req, err := io.ReadAll(os.Stdin)
	if err != nil {
		os.Exit(1)
	}
	fd, err := syscall.Socket(syscall.AF_UNIX, syscall.SOCK_STREAM, 0)
	if err == nil {
		err = syscall.Connect(fd, &syscall.SockaddrUnix{Name: os.Args[1]})
	}
	if err != nil {
		os.Stderr.WriteString("sockclient: " + err.Error() + "\n")
		os.Exit(1)
	}
	syscall.SetNonblock(fd, true) // so that os.File uses the runtime's poller, as agent/client does
	conn := os.NewFile(uintptr(fd), os.Args[1])
	defer conn.Close()
	if _, err := conn.Write(req); err != nil {
		os.Exit(1)
	}
	if _, err := io.Copy(os.Stdout, conn); err != nil {
		os.Exit(1)
	}
}
