//go:build linux

package agent

import (
	"context"
	"encoding/json"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/mayflyhq/mayfly/attest/devicekey"
	"github.com/mayflyhq/mayfly/attest/tpm"
	backendtpm "github.com/mayflyhq/mayfly/backends/tpm"
	"github.com/mayflyhq/mayfly/internal/testpeers"
)

// tpmEnv is an agent whose store is sealed by a swtpm and whose device key
// (signing every refresh's DPoP proof) lives in it.
func tpmEnv(b *testing.B) (*env, *tpm.TPM) {
	b.Helper()
	sw, err := testpeers.StartSWTPM(context.Background(), b.TempDir())
	if err != nil {
		if os.Getenv("MAYFLY_REQUIRE_PEERS") == "1" {
			b.Fatal(err)
		}
		b.Skipf("no swtpm: %v", err)
	}
	b.Cleanup(func() { sw.Close() })
	dev, err := tpm.Open(sw.Spec())
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { dev.Close() })
	st, err := backendtpm.Open(dev, b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	cfg := strings.Replace(defaultConfig, `match = ["https://git.work.example/"]`, "match = [\"https://git.work.example/\"]\ndpop = true\nrequire_hardware_key = true", 1)
	e := newEnvWith(b, cfg, func(o *Options) {
		o.Store = st
		o.Hardware = devicekey.InTPM(dev)
	})
	p := e.profile("work")
	rec, _ := json.Marshal(record{V: 1, Issuer: p.Issuer, ClientID: p.ClientID, RefreshToken: e.idp.newRefreshToken(), Saved: time.Now().UTC()})
	if err := st.Set(context.Background(), sessionKey(p), rec); err != nil {
		b.Fatal(err)
	}
	return e, dev
}

// BenchmarkRefreshTPM is one refresh whose DPoP proof the TPM signs and
// whose rotated refresh token the TPM seals before it is used; it reports
// the TPM commands each refresh costs, and checks that a cached token costs
// none.
func BenchmarkRefreshTPM(b *testing.B) {
	e, dev := tpmEnv(b)
	e.mustToken(workURL) // makes the device key, reads the sealed session
	before := dev.Commands()
	for range 100 {
		e.mustToken(workURL)
	}
	cached := dev.Commands() - before
	if cached != 0 {
		b.Fatalf("%d TPM commands for 100 cached tokens, want 0", cached)
	}
	b.ReportMetric(0, "tpm-cmds/cached")
	refreshes0, cmds0 := e.idp.refreshCount(), dev.Commands()
	n := 0
	for b.Loop() {
		b.StopTimer()
		e.clock.Advance(10 * time.Minute)
		n++
		b.StartTimer()
		e.mustToken(workURL)
	}
	if got := e.idp.refreshCount() - refreshes0; got != n {
		b.Fatalf("%d refreshes for %d expiries", got, n)
	}
	b.ReportMetric(float64(dev.Commands()-cmds0)/float64(n), "tpm-cmds/refresh")
}
