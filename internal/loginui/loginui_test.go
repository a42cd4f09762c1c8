package loginui

import (
	"bytes"
	"context"
	"io"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mayflyhq/mayfly/agent/wire"
)

func TestShow(t *testing.T) {
	ctx := context.Background()
	var b bytes.Buffer
	d := New(&b, false)
	d.Show(ctx, wire.Response{Event: wire.EventDevice, Profile: "kube", VerificationURI: "https://idp.example/device",
		UserCode: "ABCD-EFGH", CodeExpiry: time.Now().Add(5 * time.Minute)})
	d.Show(ctx, wire.Response{Event: "from-the-future"})
	d.Show(ctx, wire.Response{Event: wire.EventDone, Profile: "kube", Subject: "user@example.com",
		Expiry: time.Now().Add(time.Minute), Note: "no refresh token"})
	d.Close()
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
	if strings.Contains(out, "\r") || strings.Count(out, "Waiting for approval") != 1 {
		t.Errorf("not a terminal: want today's single waiting line, no countdown:\n%q", out)
	}

	b.Reset()
	New(&b, false).Show(ctx, wire.Response{Event: wire.EventBrowser, Profile: "kube", AuthURL: "https://idp.example/auth?x=1"})
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

// fakeTerminal is a terminal as far as the Display can tell: it records
// what is written, safely across the countdown's goroutine.
type fakeTerminal struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (f *fakeTerminal) Write(p []byte) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.b.Write(p)
}

func (f *fakeTerminal) String() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.b.String()
}

// screen is what a terminal would show for s: \r returns to the start of
// the line, and what follows overwrites it.
func screen(s string) string {
	var lines []string
	for line := range strings.SplitSeq(s, "\n") {
		cur := []rune{}
		col := 0
		for _, r := range line {
			if r == '\r' {
				col = 0
				continue
			}
			if col < len(cur) {
				cur[col] = r
			} else {
				cur = append(cur, r)
			}
			col++
		}
		lines = append(lines, strings.TrimRight(string(cur), " "))
	}
	return strings.Join(lines, "\n")
}

// newFake returns a Display on a fake terminal whose clock advances by a
// second at every tick, which comes every millisecond.
func newFake(t *testing.T, start time.Time) (*Display, *fakeTerminal) {
	t.Helper()
	term := &fakeTerminal{}
	d := New(term, false)
	d.isTerminal = func(w io.Writer) bool { return w == term }
	var mu sync.Mutex
	now := start
	d.now = func() time.Time {
		mu.Lock()
		defer mu.Unlock()
		now = now.Add(time.Second)
		return now
	}
	d.tick = time.Millisecond
	return d, term
}

func TestCountdown(t *testing.T) {
	start := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	d, term := newFake(t, start)
	ctx := context.Background()
	d.Show(ctx, wire.Response{Event: wire.EventDevice, Profile: "corp", VerificationURI: "https://idp.example/device",
		UserCode: "ABCD-EFGH", CodeExpiry: start.Add(4*time.Minute + 36*time.Second)})
	// Wait for a few redraws.
	deadline := time.Now().Add(5 * time.Second)
	for strings.Count(term.String(), "\r") < 4 {
		if time.Now().After(deadline) {
			t.Fatalf("no countdown:\n%q", term.String())
		}
		time.Sleep(time.Millisecond)
	}
	out := term.String()
	if !strings.Contains(out, "█") {
		t.Errorf("no QR code on a terminal")
	}
	for _, want := range []string{"\rWaiting for approval… 4:35 left (Ctrl-C to cancel)", "\rWaiting for approval… 4:34 left (Ctrl-C to cancel)"} {
		if !strings.Contains(out, want) {
			t.Errorf("countdown lacks %q:\n%q", want, out)
		}
	}
	if strings.Contains(out, "the code expires at") {
		t.Errorf("the one-line form was printed on a terminal too:\n%q", out)
	}
	// The countdown stays on one line: no newline after the QR code's.
	if tail := out[strings.Index(out, "\rWaiting"):]; strings.Contains(tail, "\n") {
		t.Errorf("the countdown wrote a newline:\n%q", tail)
	}

	// Done clears the line and prints the result on it.
	d.Show(ctx, wire.Response{Event: wire.EventDone, Profile: "corp", Expiry: start.Add(time.Hour)})
	d.Close()
	got := screen(term.String())
	if strings.Contains(got, "Waiting for approval") {
		t.Errorf("the countdown line was not cleared:\n%s", got)
	}
	if !strings.Contains(got, "\nSigned in to corp. Access token valid until "+start.Add(time.Hour).Local().Format("15:04:05")) {
		t.Errorf("screen:\n%s", got)
	}
	n := len(term.String())
	time.Sleep(20 * time.Millisecond)
	if len(term.String()) != n {
		t.Errorf("the countdown went on after Close")
	}
}

// TestCountdownCancel: Ctrl-C (the caller's Close after the stream ends)
// stops the countdown and leaves a blank line for the error to go on.
func TestCountdownCancel(t *testing.T) {
	start := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	d, term := newFake(t, start)
	ctx, cancel := context.WithCancel(context.Background())
	d.Show(ctx, wire.Response{Event: wire.EventDevice, Profile: "corp", VerificationURI: "https://idp.example/device",
		UserCode: "ABCD-EFGH", CodeExpiry: start.Add(10 * time.Second)})
	// Let the clock run out: the countdown stops by itself there.
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(term.String(), "the code has expired") {
		if time.Now().After(deadline) {
			t.Fatalf("the countdown never reached the expiry:\n%q", term.String())
		}
		time.Sleep(time.Millisecond)
	}
	cancel()
	d.Close()
	d.Close() // twice is fine
	out := term.String()
	if !strings.HasSuffix(out, "\r") {
		t.Errorf("the line is not cleared back to its start:\n%q", out)
	}
	if last := screen(out)[strings.LastIndex(screen(out), "\n")+1:]; last != "" {
		t.Errorf("last line %q, want it blank", last)
	}
}

func TestClock(t *testing.T) {
	for d, want := range map[time.Duration]string{
		0: "0:00", 59 * time.Second: "0:59", 272 * time.Second: "4:32", time.Hour + 61*time.Second: "1:01:01",
	} {
		if got := clock(d); got != want {
			t.Errorf("clock(%v) = %q, want %q", d, got, want)
		}
	}
}
