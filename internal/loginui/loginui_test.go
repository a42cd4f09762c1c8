package loginui

import (
	"bytes"
	"context"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/mayflyhq/mayfly/agent/wire"
)

func TestShow(t *testing.T) {
	ctx := context.Background()
	var b bytes.Buffer
	Show(ctx, &b, wire.Response{Event: wire.EventDevice, Profile: "kube", VerificationURI: "https://idp.example/device",
		UserCode: "ABCD-EFGH", CodeExpiry: time.Now().Add(5 * time.Minute)}, false)
	Show(ctx, &b, wire.Response{Event: "from-the-future"}, false)
	Show(ctx, &b, wire.Response{Event: wire.EventDone, Profile: "kube", Subject: "user@example.com",
		Expiry: time.Now().Add(time.Minute), Note: "no refresh token"}, false)
	out := b.String()
	for _, want := range []string{"To sign in to kube, open", "    https://idp.example/device\n", "    ABCD-EFGH\n",
		"the code expires at", "Signed in to kube as user@example.com.", "Note: no refresh token\n"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "█") {
		t.Errorf("a QR code was drawn on a non-terminal:\n%s", out)
	}

	b.Reset()
	Show(ctx, &b, wire.Response{Event: wire.EventBrowser, Profile: "kube", AuthURL: "https://idp.example/auth?x=1"}, false)
	if !strings.Contains(b.String(), "open this link in a browser on this machine:\n\n    https://idp.example/auth?x=1\n") {
		t.Errorf("browser event:\n%s", b.String())
	}
}

// TestDeps keeps the package small enough for the helpers: it may use the
// wire messages and the terminal UI, nothing else of Mayfly's.
func TestDeps(t *testing.T) {
	if testing.Short() {
		t.Skip("runs go list")
	}
	out, err := exec.Command("go", "list", "-f", `{{join .Imports "\n"}}`, ".").Output()
	if err != nil {
		t.Skipf("go list: %v", err)
	}
	for _, imp := range strings.Fields(string(out)) {
		if strings.HasPrefix(imp, "github.com/mayflyhq/mayfly/") &&
			imp != "github.com/mayflyhq/mayfly/agent/wire" && imp != "github.com/mayflyhq/mayfly/internal/ui" {
			t.Errorf("loginui imports %s", imp)
		}
	}
}
