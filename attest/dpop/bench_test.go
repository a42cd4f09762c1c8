package dpop

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"net/url"
	"testing"
)

func benchProof(b *testing.B, key crypto.Signer) {
	p, err := NewProver(key)
	if err != nil {
		b.Fatal(err)
	}
	u, _ := url.Parse("https://as.example/token")
	b.ReportAllocs()
	for b.Loop() {
		if _, err := p.Proof("POST", u, ""); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkProofSoftware is one DPoP proof signed by a software P-256 key.
// The TPM variant is BenchmarkProofTPM (swtpm, Linux).
func BenchmarkProofSoftware(b *testing.B) {
	k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	benchProof(b, k)
}
