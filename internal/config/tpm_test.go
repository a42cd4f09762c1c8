package config

import (
	"errors"
	"testing"

	"github.com/mayflyhq/mayfly/attest/tpm"
)

// TestTPMFormsAgreeWithOpen keeps tpmReason in step with attest/tpm's
// parser, which it mirrors: every form accepted here must reach Open's
// connection attempt (ErrUnavailable: nothing is there), and every form
// refused here must be refused by Open as a bad spec.
func TestTPMFormsAgreeWithOpen(t *testing.T) {
	for _, s := range []string{
		"/nonexistent/tpmrm0", "tcp:127.0.0.1:1", "tcp:[::1]:1", "unix:/nonexistent/swtpm.sock", "mssim:127.0.0.1:1",
		"tcp:127.0.0.1", "tcp::1", "tcp:127.0.0.1:0", "tcp:127.0.0.1:65536", "mssim:127.0.0.1:65535", "unix:rel",
		"dev/tpm0", "sim:", "127.0.0.1:2321",
	} {
		ok := tpmReason(s) == ""
		d, err := tpm.Open(s)
		if err == nil {
			d.Close()
			t.Errorf("Open(%q) succeeded; want no TPM there", s)
			continue
		}
		if reached := errors.Is(err, tpm.ErrUnavailable); reached != ok {
			t.Errorf("config accepts %q: %v; attest/tpm.Open: %v", s, ok, err)
		}
	}
}
