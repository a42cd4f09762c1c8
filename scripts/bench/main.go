// Command bench measures Mayfly's helpers side by side with what a user
// would pick instead, in one run on one machine, and writes the table to
// bench/results/latest.md and latest.json. `make bench` runs it after
// scripts/install-peers.sh and scripts/install-bench.sh.
//
// It starts a real OpenID provider (Dex) and a private Secret Service
// (gnome-keyring on its own D-Bus), signs in through `mayfly login` with the
// device flow (approved over HTTP, as the end-to-end tests do), and times
// with hyperfine, in rounds that alternate the two commands of each pair
// (A B, then B A, ...) after warm-up runs:
//
//   - the hot path of every helper (the agent holds a valid token) against
//     a static Go hello-world that reads stdin and writes a line;
//   - `git credential fill` through Mayfly against git's credential-cache;
//   - `docker-credential-mayfly get` against docker-credential-secretservice
//     (same gnome-keyring) and docker-credential-pass, built from
//     docker-credential-helpers at a pinned version;
//   - 100 concurrent helper calls against 100 concurrent hello-worlds, and
//     the provider's refresh requests per token lifetime under that load;
//   - the refresh path (the agent's token dropped before each run);
//
// and reads the agent's resident memory and the binaries' sizes. Times are
// medians with min–max; ratios are per round (median of A ÷ median of B in
// the same round), reported as their median and min–max, so that load from
// other processes hits both sides of a ratio alike.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	var o options
	flag.StringVar(&o.bin, "bin", "bin", "folder with the built Mayfly binaries (make build)")
	flag.StringVar(&o.peers, "peers", ".cache/peers/bin", "folder with dex and the docker-credential-helpers baselines")
	flag.StringVar(&o.out, "out", "bench/results", "folder for latest.md and latest.json")
	flag.IntVar(&o.rounds, "rounds", 10, "alternating rounds per pair")
	flag.IntVar(&o.runs, "runs", 30, "timed runs of each command per round (fewer for slow commands)")
	flag.IntVar(&o.warmup, "warmup", 3, "untimed runs of each command before each round")
	flag.IntVar(&o.windows, "windows", 3, "token lifetimes to watch under 100 concurrent callers")
	flag.BoolVar(&o.quick, "quick", false, "a smoke run: 2 rounds of 5 runs, 1 window")
	render := flag.String("render", "", "write latest.md (and the JSON) again from this latest.json, without measuring")
	flag.BoolVar(&o.hold, "hold", false, "set up, write the environment to env.sh in the world's folder, and wait for ^C instead of measuring (to profile by hand)")
	flag.Parse()
	if o.quick {
		o.rounds, o.runs, o.warmup, o.windows = 2, 5, 1, 1
	}
	if *render != "" {
		if err := rerender(*render); err != nil {
			fmt.Fprintf(os.Stderr, "bench: %v\n", err)
			os.Exit(1)
		}
		return
	}
	start := time.Now()
	if err := run(ctx, o); err != nil {
		fmt.Fprintf(os.Stderr, "\nbench FAILED: %v\n", err)
		os.Exit(1)
	}
	if !o.hold {
		fmt.Printf("\nbench done in %s: %s\n", time.Since(start).Round(time.Second), filepath.Join(o.out, "latest.md"))
	}
}

type options struct {
	bin, peers, out      string
	rounds, runs, warmup int
	windows              int
	quick, hold          bool
}

func run(ctx context.Context, o options) error {
	var err error
	for _, p := range []*string{&o.bin, &o.peers, &o.out} {
		if *p, err = filepath.Abs(*p); err != nil {
			return err
		}
	}
	w, err := newWorld(ctx, o)
	if err != nil {
		return err
	}
	defer w.close()
	if o.hold {
		return w.hold(ctx)
	}
	res, err := w.measure(ctx)
	if err != nil {
		return err
	}
	return res.write(o.out)
}
