// Command fanout starts one command n times at once, each with its stdin
// from the same file, and waits for all of them: `make bench` times it
// around a helper and around the hello-world to compare 100 concurrent
// helper calls with 100 concurrent processes that do nothing.
//
//	fanout -n 100 -in request.txt [-report] -- git-credential-mayfly get
//
// It exits 1 if any run fails. With -report it prints one JSON line: how
// many runs failed and how many distinct answers the others gave (a hash
// of each, never the answer), so a caller can check that 100 concurrent
// callers got one and the same token.
package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"sync"
)

func main() {
	n := flag.Int("n", 100, "how many runs at once")
	in := flag.String("in", os.DevNull, "file each run reads as its stdin")
	report := flag.Bool("report", false, "print a JSON line: failures and distinct answers")
	flag.Parse()
	if flag.NArg() == 0 {
		fmt.Fprintln(os.Stderr, "usage: fanout [-n N] [-in FILE] [-report] -- command [args...]")
		os.Exit(2)
	}
	args := flag.Args()

	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		failed   int
		firstErr string
		answers  = map[[32]byte]bool{}
	)
	start := make(chan struct{})
	for range *n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			stdin, err := os.Open(*in)
			if err != nil {
				fmt.Fprintln(os.Stderr, "fanout:", err)
				os.Exit(1)
			}
			defer stdin.Close()
			var out, errOut bytes.Buffer
			cmd := exec.Command(args[0], args[1:]...)
			cmd.Stdin, cmd.Stdout, cmd.Stderr = stdin, &out, &errOut
			<-start
			err = cmd.Run()
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				failed++
				if firstErr == "" {
					firstErr = fmt.Sprintf("%v: %s", err, bytes.TrimSpace(errOut.Bytes()))
				}
				return
			}
			answers[sha256.Sum256(out.Bytes())] = true
		}()
	}
	close(start)
	wg.Wait()
	if *report {
		json.NewEncoder(os.Stdout).Encode(map[string]any{"runs": *n, "failed": failed, "distinct": len(answers), "first_error": firstErr})
	}
	if failed > 0 {
		fmt.Fprintf(os.Stderr, "fanout: %d of %d runs failed; the first: %s\n", failed, *n, firstErr)
		os.Exit(1)
	}
}
