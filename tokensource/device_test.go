package tokensource_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/mayflyhq/mayfly/tokensource"
)

func TestStartDevice(t *testing.T) {
	f := newFake(t)
	c := f.client(t)
	da, err := c.StartDevice(t.Context())
	if err != nil {
		t.Fatalf("StartDevice: %v", err)
	}
	if da.DeviceCode != "dev-code" || da.UserCode != "WDJB-MJHT" || da.Interval != 1 ||
		da.VerificationURI != f.base+"/activate" || da.VerificationURIComplete != f.base+"/activate?user_code=WDJB-MJHT" {
		t.Errorf("StartDevice = %+v", da)
	}
	if d := time.Until(da.Expiry); d < 590*time.Second || d > 600*time.Second {
		t.Errorf("code expires in %v, want about 600 s", d)
	}
	// RFC 8628 §3.1: client_id and scope.
	if got := f.devForm.Get("client_id"); got != clientID {
		t.Errorf("client_id = %q", got)
	}
	if got := f.devForm.Get("scope"); got != "openid offline_access" {
		t.Errorf("scope = %q", got)
	}
}

func TestStartDeviceErrors(t *testing.T) {
	t.Run("no endpoint", func(t *testing.T) {
		f := newFake(t)
		delete(f.doc, "device_authorization_endpoint")
		_, err := f.client(t).StartDevice(t.Context())
		if err == nil || !strings.Contains(err.Error(), `use flow = "browser"`) {
			t.Errorf("StartDevice = %v, want advice to use the browser flow", err)
		}
	})
	for _, tt := range []struct {
		name  string
		reply reply
		want  string
	}{
		{"invalid_client", oauthError("invalid_client", "device flow is not enabled for this client"),
			"device authorization: invalid_client: device flow is not enabled for this client"},
		{"500", reply{http.StatusInternalServerError, "text/html", "<p>down"},
			"device authorization: token endpoint answered 500 Internal Server Error"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f := newFake(t)
			c := f.client(t)
			f.fail["/device"] = tt.reply
			_, err := c.StartDevice(t.Context())
			if err == nil || err.Error() != tt.want {
				t.Errorf("StartDevice = %v, want %q", err, tt.want)
			}
			if errors.Is(err, tokensource.ErrSessionEnded) {
				t.Errorf("StartDevice = %v, which is not the end of a session", err)
			}
		})
	}
}

// TestPollDevice runs on synctest's fake clock: x/oauth2 polls in whole
// seconds, at least 1 s apart, and each slow_down adds 5 s (RFC 8628 §3.5),
// so on a real clock these cases would take a minute.
func TestPollDevice(t *testing.T) {
	const s = time.Second
	pendingUntil := func(approved int) func(int) string {
		return func(n int) string {
			if n < approved {
				return "authorization_pending"
			}
			return ""
		}
	}
	always := func(code string) func(int) string { return func(int) string { return code } }
	for _, tt := range []struct {
		name      string
		interval  int // the provider's, in seconds; 0: it sends none
		expiresIn int
		poll      func(n int) string
		fail      *reply        // the token endpoint's answer to every poll
		cancel    time.Duration // when the caller cancels; 0: never
		deadline  time.Duration // the caller's deadline; 0: none
		wantPolls []time.Duration
		wantEnd   time.Duration
		wantErr   string // "" for success
		wantIs    error
	}{
		{
			name:      "approved at once",
			interval:  1,
			wantPolls: []time.Duration{1 * s},
			wantEnd:   1 * s,
		},
		{
			name:      "authorization_pending then approved",
			interval:  2,
			poll:      pendingUntil(3),
			wantPolls: []time.Duration{2 * s, 4 * s, 6 * s},
			wantEnd:   6 * s,
		},
		{
			name:      "no interval: RFC 8628 §3.2's 5 s",
			poll:      pendingUntil(2),
			wantPolls: []time.Duration{5 * s, 10 * s},
			wantEnd:   10 * s,
		},
		{
			name:     "slow_down adds 5 s",
			interval: 1,
			poll: func(n int) string {
				return map[int]string{1: "authorization_pending", 2: "slow_down", 3: "authorization_pending"}[n]
			},
			wantPolls: []time.Duration{1 * s, 2 * s, 8 * s, 14 * s},
			wantEnd:   14 * s,
		},
		{
			name:      "slow_down twice adds 10 s",
			interval:  1,
			poll:      func(n int) string { return map[int]string{1: "slow_down", 2: "slow_down"}[n] },
			wantPolls: []time.Duration{1 * s, 7 * s, 18 * s},
			wantEnd:   18 * s,
		},
		{
			name:      "access_denied",
			interval:  1,
			poll:      func(n int) string { return map[int]string{1: "authorization_pending", 2: "access_denied"}[n] },
			wantPolls: []time.Duration{1 * s, 2 * s},
			wantEnd:   2 * s,
			wantErr:   "sign-in was denied",
		},
		{
			name:      "expired_token",
			interval:  1,
			poll:      always("expired_token"),
			wantPolls: []time.Duration{1 * s},
			wantEnd:   1 * s,
			wantErr:   "the code expired before it was approved: run the command again",
		},
		{
			name:      "the code's expires_in passes without an answer",
			interval:  2,
			expiresIn: 5,
			poll:      always("authorization_pending"),
			wantPolls: []time.Duration{2 * s, 4 * s},
			wantEnd:   5 * s,
			wantErr:   "the code expired before it was approved: run the command again",
		},
		{
			name:      "the caller cancels",
			interval:  1,
			poll:      always("authorization_pending"),
			cancel:    2500 * time.Millisecond,
			wantPolls: []time.Duration{1 * s, 2 * s},
			wantEnd:   2500 * time.Millisecond,
			wantErr:   "sign-in cancelled: context canceled",
			wantIs:    context.Canceled,
		},
		{
			name:      "the caller's deadline is not the code's expiry",
			interval:  1,
			expiresIn: 600,
			poll:      always("authorization_pending"),
			deadline:  2500 * time.Millisecond,
			wantPolls: []time.Duration{1 * s, 2 * s},
			wantEnd:   2500 * time.Millisecond,
			wantErr:   "sign-in cancelled: context deadline exceeded",
			wantIs:    context.DeadlineExceeded,
		},
		{
			name:     "server error",
			interval: 1,
			fail:     &reply{status: http.StatusBadGateway},
			wantEnd:  1 * s,
			wantErr:  "device token: token endpoint answered 502 Bad Gateway",
		},
		{
			name:      "unknown error code",
			interval:  1,
			poll:      always("invalid_scope"),
			wantEnd:   1 * s,
			wantErr:   "device token: invalid_scope",
			wantPolls: []time.Duration{1 * s},
		},
	} {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				f := newInProcessFake()
				f.deviceInterval, f.deviceExpiresIn, f.poll = tt.interval, tt.expiresIn, tt.poll
				c := f.client(t)
				start := time.Now()
				da, err := c.StartDevice(t.Context())
				if err != nil {
					t.Fatalf("StartDevice: %v", err)
				}
				if tt.fail != nil {
					f.fail["/token"] = *tt.fail
				}
				ctx := t.Context()
				if tt.cancel != 0 {
					var cancel context.CancelFunc
					ctx, cancel = context.WithCancel(ctx)
					time.AfterFunc(tt.cancel, cancel)
				}
				if tt.deadline != 0 {
					var cancel context.CancelFunc
					ctx, cancel = context.WithTimeout(ctx, tt.deadline)
					defer cancel()
				}

				tok, err := c.PollDevice(ctx, da)
				end := time.Since(start)

				switch {
				case tt.wantErr == "" && err != nil:
					t.Fatalf("PollDevice: %v", err)
				case tt.wantErr == "" && (tok == nil || !tok.Valid() || tok.RefreshToken == ""):
					t.Errorf("PollDevice = %+v, want a valid token with a refresh token", tok)
				case tt.wantErr != "" && (err == nil || err.Error() != tt.wantErr):
					t.Errorf("PollDevice = %v, want %q", err, tt.wantErr)
				case tt.wantErr != "" && tok != nil:
					t.Errorf("PollDevice returned %+v along with its error", tok)
				}
				if tt.wantIs != nil && !errors.Is(err, tt.wantIs) {
					t.Errorf("PollDevice = %v, want errors.Is %v", err, tt.wantIs)
				}
				if errors.Is(err, tokensource.ErrSessionEnded) {
					t.Errorf("PollDevice = %v, which is not the end of a session", err)
				}
				if end != tt.wantEnd {
					t.Errorf("PollDevice returned after %v, want %v", end, tt.wantEnd)
				}
				var polls []time.Duration
				for _, at := range f.polls {
					polls = append(polls, at.Sub(start))
				}
				if diff := cmp.Diff(tt.wantPolls, polls); diff != "" {
					t.Errorf("polls at (-want +got):\n%s", diff)
				}
				for _, form := range f.forms {
					// RFC 8628 §3.4.
					if form.Get("grant_type") != pollGrant || form.Get("device_code") != "dev-code" || form.Get("client_id") != clientID {
						t.Errorf("poll form = %v", form)
					}
				}

				// Nothing polls after PollDevice returns.
				time.Sleep(time.Minute)
				if len(f.polls) != len(tt.wantPolls) {
					t.Errorf("%d polls after PollDevice returned", len(f.polls)-len(tt.wantPolls))
				}
			})
		})
	}
}
