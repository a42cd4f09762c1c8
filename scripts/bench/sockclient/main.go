// Command sockclient is the floor for a helper that asks an agent: a
// static Go program that reads a request line from stdin, sends it on a
// UNIX socket, and copies the answer to stdout, with none of a real
// helper's work (flags, protocol parsing, configuration paths, the peer
// check, JSON). `make bench` sends it the same token request that
// git-credential-mayfly sends, to the same agent.
//
//	sockclient -socket $XDG_RUNTIME_DIR/mayfly/agent.sock < request.json
package main

import (
	"flag"
	"io"
	"net"
	"os"
)

func main() {
	socket := flag.String("socket", "", "the agent's socket")
	flag.Parse()
	req, err := io.ReadAll(os.Stdin)
	if err != nil {
		os.Exit(1)
	}
	conn, err := net.Dial("unix", *socket)
	if err != nil {
		os.Stderr.WriteString("sockclient: " + err.Error() + "\n")
		os.Exit(1)
	}
	defer conn.Close()
	if _, err := conn.Write(req); err != nil {
		os.Exit(1)
	}
	if _, err := io.Copy(os.Stdout, conn); err != nil {
		os.Exit(1)
	}
}
