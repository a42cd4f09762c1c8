// Command hello is the floor that `make bench` measures helpers against: a
// static Go program that does what a credential helper's process must do at
// the least (start, read its request from stdin, write one line) and
// nothing else.
package main

import (
	"io"
	"os"
)

func main() {
	io.Copy(io.Discard, os.Stdin)
	os.Stdout.WriteString("hello\n")
}
