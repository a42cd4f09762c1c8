//go:build unix

package agent

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/mayflyhq/mayfly/agent/wire"
)

// BenchmarkTokenRoundTrip is one helper's request for a token the agent
// holds, in process: dial the socket, the peer check, the request and the
// answer as JSON lines, the profile match, the audit log line. A helper
// run costs this plus a process start.
func BenchmarkTokenRoundTrip(b *testing.B) {
	e := newEnv(b, "")
	e.seed("work")
	e.mustToken(workURL) // the one refresh
	ctx := context.Background()
	req := wire.Request{Op: wire.OpToken, URL: workURL, Consumer: "bench"}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := e.client.Do(ctx, req); err != nil {
			b.Fatal(err)
		}
	}
	if n := e.idp.refreshCount(); n != 1 {
		b.Fatalf("%d refresh grants, want 1", n)
	}
}

// BenchmarkTokenRoundTripParallel is the same with callers on every CPU
// at once, as under a parallel build.
func BenchmarkTokenRoundTripParallel(b *testing.B) {
	e := newEnv(b, "")
	e.seed("work")
	e.mustToken(workURL)
	req := wire.Request{Op: wire.OpToken, URL: workURL, Consumer: "bench"}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		ctx := context.Background()
		for pb.Next() {
			if _, err := e.client.Do(ctx, req); err != nil {
				b.Error(err)
				return
			}
		}
	})
	if n := e.idp.refreshCount(); n != 1 {
		b.Fatalf("%d refresh grants, want 1", n)
	}
}

// BenchmarkSingleFlight expires the token and sends n callers at once, each
// iteration: exactly one refresh at the provider (a loopback HTTP server
// that rotates the refresh token, which the agent writes to the store before
// using it) must serve them all. ns/op is the time until the last caller
// has its answer.
func BenchmarkSingleFlight(b *testing.B) {
	for _, n := range []int{1, 10, 100} {
		b.Run(fmt.Sprintf("callers=%d", n), func(b *testing.B) {
			e := newEnv(b, "")
			e.seed("work")
			e.mustToken(workURL)
			req := wire.Request{Op: wire.OpToken, URL: workURL, Consumer: "bench"}
			ctx := context.Background()
			before := e.idp.refreshCount()
			iterations := 0
			b.ReportAllocs()
			for b.Loop() {
				b.StopTimer()
				e.clock.Advance(10 * time.Minute) // past the 5-minute lifetime
				iterations++
				b.StartTimer()
				var wg sync.WaitGroup
				for range n {
					wg.Go(func() {
						if _, err := e.client.Do(ctx, req); err != nil {
							b.Error(err)
						}
					})
				}
				wg.Wait()
			}
			refreshes := e.idp.refreshCount() - before
			b.ReportMetric(float64(refreshes)/float64(iterations), "refreshes/op")
			if refreshes != iterations {
				b.Fatalf("%d refresh grants for %d token lifetimes of %d callers each, want one each", refreshes, iterations, n)
			}
		})
	}
}
