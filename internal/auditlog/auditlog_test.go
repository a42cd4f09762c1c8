package auditlog

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestTokenHash(t *testing.T) {
	// printf 'abc' | sha256sum
	if got, want := TokenHash("abc"), "ba7816bf8f01cfea"; got != want {
		t.Errorf("TokenHash(abc) = %q, want %q", got, want)
	}
	if TokenHash("") != "" {
		t.Error("TokenHash of no token is not empty")
	}
}

func TestWriteRead(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "state", "mayfly")
	path := filepath.Join(dir, "audit.log")
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	w, err := Open(path, Options{Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	rotated := true
	events := []Event{
		{Event: Login, Profile: "work", Flow: "device", Subject: "ada@example.com", Peer: &Peer{PID: 7, UID: 1000, Exe: "/usr/bin/mayfly"}},
		{Event: TokenIssued, Profile: "work", Consumer: "git", TokenSHA256: TokenHash("tok"), Scopes: []string{"openid"}, Expiry: now.Add(time.Minute),
			Peer: &Peer{PID: 8, UID: 0, Exe: "/usr/bin/git-credential-mayfly", Ancestors: []string{"/usr/bin/git"}, Allowed: "/usr/bin/git"}},
		{Event: Refresh, Profile: "work", Rotated: &rotated},
		{Time: now.Add(time.Hour).In(time.FixedZone("X", 3600)), Event: Alert, Kind: KindSessionRevoked, Profile: "work", Reason: "invalid_grant"},
	}
	for _, e := range events {
		if err := w.Log(e); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if err := w.Log(Event{Event: Login}); err == nil {
		t.Error("Log after Close succeeded")
	}
	for p, want := range map[string]os.FileMode{dir: 0o700, path: 0o600} {
		st, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if runtime.GOOS != "windows" && st.Mode().Perm() != want {
			t.Errorf("%s: mode %v, want %v", p, st.Mode().Perm(), want)
		}
	}
	var got []Event
	var lines []string
	skipped, err := Read(path, func(e Event, line []byte) error {
		got = append(got, e)
		lines = append(lines, string(line))
		return nil
	})
	if err != nil || skipped != 0 {
		t.Fatalf("Read: skipped %d, %v", skipped, err)
	}
	for i := range events {
		if events[i].Time.IsZero() {
			events[i].Time = now
		}
		events[i].Time = events[i].Time.UTC()
	}
	if diff := cmp.Diff(events, got); diff != "" {
		t.Errorf("events read back (-want +got):\n%s", diff)
	}
	// The wire format is part of the contract: jq scripts read it.
	if want := `{"time":"2026-03-01T12:00:00Z","event":"token_issued","profile":"work","consumer":"git","peer":{"pid":8,"uid":0,"exe":"/usr/bin/git-credential-mayfly","ancestors":["/usr/bin/git"],"allowed":"/usr/bin/git"},"token_sha256":"` + TokenHash("tok") + `","scopes":["openid"],"expiry":"2026-03-01T12:01:00Z"}`; lines[1] != want {
		t.Errorf("line 2:\n got %s\nwant %s", lines[1], want)
	}
	if !strings.Contains(lines[2], `"rotated":true`) || !strings.Contains(lines[3], `"time":"2026-03-01T13:00:00Z"`) {
		t.Errorf("lines 3 and 4: %s\n%s", lines[2], lines[3])
	}
}

func TestReopenAppends(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.log")
	if err := os.WriteFile(path, []byte(`{"time":"2026-01-01T00:00:00Z","event":"login"}`+"\n"+`{"torn`), 0o644); err != nil {
		t.Fatal(err)
	}
	w, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	if err := w.Log(Event{Event: Logout}); err != nil {
		t.Fatal(err)
	}
	if st, _ := os.Stat(path); runtime.GOOS != "windows" && st.Mode().Perm() != 0o600 {
		t.Errorf("a loose existing log stays %v, want 0600", st.Mode().Perm())
	}
	// The torn line swallows the next event's line start: both are one
	// unreadable line, counted as skipped. Only the first event survives.
	var got []string
	skipped, err := Read(path, func(e Event, _ []byte) error { got = append(got, e.Event); return nil })
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{Login}, got); diff != "" || skipped != 1 {
		t.Errorf("events %v, skipped %d; want [login] and 1 skipped", got, skipped)
	}
}

func TestRotation(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.log")
	w, err := Open(path, Options{MaxSize: 1000, Keep: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	const n = 60
	for i := range n {
		if err := w.Log(Event{Event: TokenIssued, Profile: fmt.Sprintf("p%03d", i), TokenSHA256: TokenHash(fmt.Sprint(i))}); err != nil {
			t.Fatal(err)
		}
	}
	files := Files(path)
	if diff := cmp.Diff([]string{path + ".2", path + ".1", path}, files); diff != "" {
		t.Fatalf("files (-want +got):\n%s", diff)
	}
	for _, f := range files {
		st, err := os.Stat(f)
		if err != nil {
			t.Fatal(err)
		}
		if st.Size() > 1000 {
			t.Errorf("%s: %d bytes, over the 1000 allowed", f, st.Size())
		}
	}
	if _, err := os.Stat(path + ".3"); err == nil {
		t.Error("a third rotated file was kept")
	}
	// What is left is the newest events, in order, without a gap.
	var got []string
	if _, err := Read(path, func(e Event, _ []byte) error { got = append(got, e.Profile); return nil }); err != nil {
		t.Fatal(err)
	}
	if len(got) == 0 || len(got) >= n || got[len(got)-1] != fmt.Sprintf("p%03d", n-1) {
		t.Fatalf("read %d events ending %v", len(got), got[len(got)-1:])
	}
	first := 0
	fmt.Sscanf(got[0], "p%03d", &first)
	for i, p := range got {
		if want := fmt.Sprintf("p%03d", first+i); p != want {
			t.Fatalf("event %d is %s, want %s", i, p, want)
		}
	}
}

// TestFollowsMovedFile: when something else moves the log away (logrotate,
// or a second agent rotating), the writer starts a new file at the path
// rather than writing into the moved one.
func TestFollowsMovedFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.log")
	w, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	w.Log(Event{Event: Login})
	if err := os.Rename(path, path+".old"); err != nil {
		t.Fatal(err)
	}
	if err := w.Log(Event{Event: Logout}); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil || !strings.Contains(string(b), `"logout"`) || strings.Contains(string(b), `"login"`) {
		t.Errorf("after the move the log holds %q (%v), want only the logout", b, err)
	}
}

func TestConcurrentLinesWhole(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.log")
	w, err := Open(path, Options{MaxSize: 20 << 10})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 100 {
				w.Log(Event{Event: TokenIssued, Consumer: fmt.Sprintf("g%d", g), Count: i + 1})
			}
		})
	}
	wg.Wait()
	skipped, err := Read(path, func(Event, []byte) error { return nil })
	if err != nil || skipped != 0 {
		t.Errorf("Read after concurrent writes: %d torn lines, %v", skipped, err)
	}
}

func TestNilWriter(t *testing.T) {
	var w *Writer
	if err := w.Log(Event{Event: Login}); err != nil || w.Close() != nil || w.Path() != "" {
		t.Error("a nil Writer is not a silent no-op")
	}
}

func TestReadMissing(t *testing.T) {
	n := 0
	skipped, err := Read(filepath.Join(t.TempDir(), "none.log"), func(Event, []byte) error { n++; return nil })
	if err != nil || skipped != 0 || n != 0 {
		t.Errorf("Read(missing) = %d events, %d skipped, %v; want nothing", n, skipped, err)
	}
}

func TestEventJSONOmitsEmpty(t *testing.T) {
	b, err := json.Marshal(Event{Time: time.Unix(0, 0).UTC(), Event: Logout, Profile: "w"})
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"time":"1970-01-01T00:00:00Z","event":"logout","profile":"w"}`; string(b) != want {
		t.Errorf("got %s, want %s", b, want)
	}
}
