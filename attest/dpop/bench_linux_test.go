package dpop

import (
	"context"
	"os"
	"testing"

	"github.com/mayflyhq/mayfly/attest/tpm"
	"github.com/mayflyhq/mayfly/internal/testpeers"
)

// BenchmarkProofTPM is one DPoP proof signed by the device key in a TPM
// (swtpm over TCP): the TPM2_Sign round trip dominates.
func BenchmarkProofTPM(b *testing.B) {
	sw, err := testpeers.StartSWTPM(context.Background(), b.TempDir())
	if err != nil {
		if os.Getenv("MAYFLY_REQUIRE_PEERS") == "1" {
			b.Fatal(err)
		}
		b.Skipf("no swtpm: %v", err)
	}
	defer sw.Close()
	dev, err := tpm.Open(sw.Spec())
	if err != nil {
		b.Fatal(err)
	}
	defer dev.Close()
	kb, err := dev.CreateKey()
	if err != nil {
		b.Fatal(err)
	}
	k, err := dev.LoadKey(kb)
	if err != nil {
		b.Fatal(err)
	}
	before := dev.Commands()
	benchProof(b, k)
	b.ReportMetric(float64(dev.Commands()-before)/float64(b.N), "tpm-cmds/op")
}
