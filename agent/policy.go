package agent

import (
	"errors"
	"fmt"
	"path"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/mayflyhq/mayfly/internal/auditlog"
	"github.com/mayflyhq/mayfly/internal/peercred"
)

// maxAncestors is how far up the caller's process tree allow_exec looks.
// The peer of the socket is always a Mayfly helper, started by the tool it
// serves. docker, kubectl, cargo, go and Bazel start their helper directly;
// git goes through its own programs and a shell. For `git clone` on Debian's
// git 2.39 the chain is
//
//	git-credential-mayfly < /usr/lib/git-core/git < /bin/sh
//	  < /usr/lib/git-core/git-remote-http < /usr/lib/git-core/git < /usr/bin/git
//
// so six levels reach the git the user started, and no further into the
// user's shells and desktop session.
const maxAncestors = 6

var errNoMatch = errors.New("neither it nor the processes that started it match allow_exec")

// checkExec decides whether the caller may receive the tokens of a profile
// with the given allow_exec list: it may when its executable, or that of
// one of its first maxAncestors ancestors, matches an entry. It returns the
// entry that matched and the ancestors' executables it looked at ("?" for
// one it could not read: another user's process, or one that made itself
// non-dumpable).
//
// This is a rule against accidents and casual misuse, not a boundary
// against malware running as the same user: such a process can start
// git with its own arguments, ptrace a permitted process, or fake its
// parentage by having a permitted program start it. The uid check is the
// boundary; allow_exec narrows who, among the user's own programs, gets
// tokens without asking.
func checkExec(c caller, allow []string) (allowed string, ancestors []string, err error) {
	if c.PID <= 0 {
		return "", nil, errors.New("the agent cannot tell which program is calling on this system, and allow_exec needs to")
	}
	if c.exe == "" {
		if _, err := peercred.Exe(c.PID); errors.Is(err, peercred.ErrUnsupported) {
			return "", nil, errors.New("the agent cannot tell which program is calling on this system, and allow_exec needs to")
		}
		return "", nil, fmt.Errorf("the agent cannot read the executable of pid %d", c.PID)
	}
	if m := matchExec(allow, c.exe); m != "" {
		return m, nil, nil
	}
	pid := c.PID
	for range maxAncestors {
		ppid, err := peercred.Parent(pid)
		if err != nil || ppid <= 0 {
			break
		}
		pid = ppid
		exe, err := peercred.Exe(pid)
		if err != nil {
			ancestors = append(ancestors, "?")
			continue
		}
		ancestors = append(ancestors, exe)
		if m := matchExec(allow, exe); m != "" {
			return m, ancestors, nil
		}
	}
	return "", ancestors, errNoMatch
}

// matchExec returns the entry of allow that exe, a path as the kernel
// resolved it, matches, or "". A pattern (with *, ? or [) matches exe as
// path.Match does; a plain path matches exe itself or, when it is a
// symbolic link, the file it leads to.
func matchExec(allow []string, exe string) string {
	return matchExecOn(runtime.GOOS, allow, exe)
}

// matchExecOn is matchExec with the rules of goos. Windows paths are
// compared as Windows compares them: in any case, and with \ and / alike
// (so "C:/Program Files/Git/*" matches C:\Program Files\Git\git.exe).
// There a backslash is a separator, never path.Match's escape.
func matchExecOn(goos string, allow []string, exe string) string {
	if exe == "" {
		return ""
	}
	norm, meta := func(s string) string { return s }, `*?[\`
	if goos == "windows" {
		norm = func(s string) string { return strings.ToLower(strings.ReplaceAll(s, `\`, "/")) }
		meta = `*?[`
	}
	x := norm(exe)
	for _, e := range allow {
		if strings.ContainsAny(e, meta) {
			if ok, _ := path.Match(norm(e), x); ok {
				return e
			}
			continue
		}
		if norm(e) == x {
			return e
		}
		if r, err := filepath.EvalSymlinks(e); err == nil && norm(r) == x {
			return e
		}
	}
	return ""
}

// describeCaller names the caller for a refusal.
func describeCaller(c caller, ancestors []string) string {
	exe := c.exe
	if exe == "" {
		exe = "an unknown program"
	}
	s := fmt.Sprintf("%s (pid %d", exe, c.PID)
	if len(ancestors) > 0 {
		s += ", started by " + strings.Join(ancestors, " < ")
	}
	return s + ")"
}

// rateWindow counts the tokens one consumer got for one profile in the
// current minute.
type rateWindow struct {
	start   time.Time
	n       int
	alerted bool
}

// countIssue counts a token handed out and writes an issuance_rate alert
// when the consumer has had more than [agent] alert_rate of the profile's
// tokens within the minute: at most one alert per profile and consumer per
// minute, however long the burst lasts.
func (a *Agent) countIssue(profile, consumer string) {
	limit := 0
	if cfg, err := a.config(); err == nil {
		limit = cfg.Agent.AlertRate
	}
	if limit <= 0 {
		return
	}
	now := a.now()
	key := profile + "\x00" + consumer
	a.mu.Lock()
	w := a.rates[key]
	if w == nil || now.Sub(w.start) >= time.Minute || now.Before(w.start) {
		if len(a.rates) >= 1024 {
			// Consumers are names clients choose: keep the map small.
			for k, old := range a.rates {
				if now.Sub(old.start) >= time.Minute {
					delete(a.rates, k)
				}
			}
		}
		w = &rateWindow{start: now}
		a.rates[key] = w
	}
	w.n++
	alert := w.n > limit && !w.alerted
	if alert {
		w.alerted = true
	}
	n := w.n
	a.mu.Unlock()
	if alert {
		a.log.Warn("unusual issuance rate", "profile", profile, "consumer", consumer, "tokens", n, "alert_rate", limit)
		a.record(auditlog.Event{Event: auditlog.Alert, Kind: auditlog.KindIssuanceRate, Profile: profile, Consumer: consumer,
			Count: n, Threshold: limit, Reason: fmt.Sprintf("more than %d tokens within a minute", limit)})
	}
}
