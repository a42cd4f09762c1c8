//go:build unix

package agent

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/mayflyhq/mayfly/agent/wire"
)

// TestDeviceKeySoftware: with no TPM, OpKey makes a software key, status
// shows it once it exists (and never makes one), and a DPoP profile's
// session bound to it ends after the software-key cap.
func TestDeviceKeySoftware(t *testing.T) {
	cfg := strings.Replace(defaultConfig, `match = ["https://git.work.example/"]`, "match = [\"https://git.work.example/\"]\ndpop = true", 1)
	e := newEnv(t, cfg)
	ctx := context.Background()
	st, err := e.client.Do(ctx, wire.Request{Op: wire.OpStatus})
	if err != nil {
		t.Fatal(err)
	}
	if st.Status.DeviceKey != nil {
		t.Fatalf("status made a device key: %+v", st.Status.DeviceKey)
	}
	k, err := e.client.Do(ctx, wire.Request{Op: wire.OpKey})
	if err != nil {
		t.Fatal(err)
	}
	dk := k.Status.DeviceKey
	if dk == nil || dk.Hardware || dk.Provider != "software" || dk.Algorithm != "ES256" || len(dk.Thumbprint) != 43 || strings.Contains(string(dk.JWK), `"d"`) {
		t.Fatalf("OpKey: %+v (%s)", dk, dk.JWK)
	}
	st, _ = e.client.Do(ctx, wire.Request{Op: wire.OpStatus})
	if st.Status.DeviceKey == nil || st.Status.DeviceKey.Thumbprint != dk.Thumbprint {
		t.Fatalf("status after OpKey: %+v", st.Status.DeviceKey)
	}

	// A session bound to the software key at sign-in, 25 hours ago.
	rt := e.seed("work")
	s := e.agent.session(e.profile("work"))
	s.mu.Lock()
	s.jkt, s.since = dk.Thumbprint, e.clock.Now().Add(-25*time.Hour)
	s.refresh, s.loaded = rt, true
	s.mu.Unlock()
	_, err = e.token(workURL)
	we := wireError(t, err)
	if we.Code != wire.CodeLoginRequired || !strings.Contains(we.Message, "software device key") {
		t.Fatalf("capped session: %+v", we)
	}
	if _, ok := e.stored("work"); ok {
		t.Fatal("the capped session is still in the store")
	}

	// A session bound to another key (its TPM was replaced since).
	rt = e.seed("work")
	s.mu.Lock()
	s.jkt, s.since = "another-key", e.clock.Now()
	s.refresh, s.loaded, s.value = rt, true, ""
	s.mu.Unlock()
	_, err = e.token(workURL)
	if we := wireError(t, err); we.Code != wire.CodeLoginRequired || !strings.Contains(we.Message, "device key this session was bound to is gone") {
		t.Fatalf("session bound to another key: %+v", we)
	}
	if n := e.idp.refreshCount(); n != 0 {
		t.Fatalf("%d refreshes with a key the session is not bound to", n)
	}
}
