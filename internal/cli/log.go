package cli

import (
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/mayflyhq/mayfly/internal/auditlog"
	"github.com/mayflyhq/mayfly/internal/paths"
)

// logCmd is `mayfly log`: the audit log, read straight from the file (the
// agent need not run), oldest first.
func logCmd(args []string, stdout, stderr io.Writer) error {
	fs := flags("log", stderr)
	sinceArg := fs.String("since", "", "only events after this: a duration back (90m, 2h, 7d) or a time (2006-01-02, \"2006-01-02 15:04\", RFC 3339)")
	asJSON := fs.Bool("json", false, "print the log's JSON lines as written")
	profile := fs.String("profile", "", "only events of this profile")
	if err := parse(fs, args); err != nil {
		return err
	}
	var since time.Time
	if *sinceArg != "" {
		t, err := parseSince(*sinceArg, time.Now())
		if err != nil {
			return usageError{err}
		}
		since = t
	}
	path, err := paths.AuditLog()
	if err != nil {
		return err
	}
	if len(auditlog.Files(path)) == 0 {
		fmt.Fprintf(stderr, "mayfly log: no audit log yet (%s)\n", path)
		return nil
	}
	skipped, err := auditlog.Read(path, func(e auditlog.Event, line []byte) error {
		if e.Time.Before(since) || (*profile != "" && e.Profile != *profile) {
			return nil
		}
		if *asJSON {
			_, err := fmt.Fprintf(stdout, "%s\n", line)
			return err
		}
		_, err := fmt.Fprintln(stdout, formatEvent(e))
		return err
	})
	if skipped > 0 {
		fmt.Fprintf(stderr, "mayfly log: skipped %d unreadable line(s) in %s\n", skipped, path)
	}
	return err
}

// parseSince reads --since: a duration back from now (Go's units, plus d
// for days), or a date or time, in local time unless it says otherwise.
func parseSince(s string, now time.Time) (time.Time, error) {
	if days, ok := strings.CutSuffix(s, "d"); ok {
		if n, err := strconv.Atoi(days); err == nil && n >= 0 {
			return now.AddDate(0, 0, -n), nil
		}
	}
	if d, err := time.ParseDuration(s); err == nil && d >= 0 {
		return now.Add(-d), nil
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	for _, layout := range []string{time.DateTime, "2006-01-02 15:04", "2006-01-02T15:04:05", "2006-01-02T15:04", time.DateOnly} {
		if t, err := time.ParseInLocation(layout, s, time.Local); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("--since %q: want a duration (90m, 2h, 7d) or a time (2006-01-02, \"2006-01-02 15:04\", RFC 3339)", s)
}

// formatEvent is one event on one line for a person: local time, event,
// profile, then what there is to say.
func formatEvent(e auditlog.Event) string {
	var b strings.Builder
	what := e.Event
	if e.Kind != "" {
		what += ":" + e.Kind
	}
	profile := e.Profile
	if profile == "" {
		profile = "-"
	}
	fmt.Fprintf(&b, "%s  %-14s %-12s", e.Time.Local().Format(time.DateTime), what, profile)
	add := func(k, v string) {
		if v != "" {
			fmt.Fprintf(&b, " %s=%s", k, quoteIfNeeded(v))
		}
	}
	add("consumer", e.Consumer)
	if p := e.Peer; p != nil {
		if p.PID != 0 {
			add("pid", strconv.Itoa(p.PID))
		}
		add("uid", strconv.Itoa(p.UID))
		add("exe", p.Exe)
		add("via", strings.Join(p.Ancestors, " < "))
		add("allowed", p.Allowed)
	}
	add("namespace", e.Namespace)
	add("name", e.Name)
	add("flow", e.Flow)
	add("subject", e.Subject)
	if e.Rotated != nil {
		add("rotated", strconv.FormatBool(*e.Rotated))
	}
	add("sha256", e.TokenSHA256)
	if !e.Expiry.IsZero() {
		add("until", e.Expiry.Local().Format(time.TimeOnly))
	}
	add("aud", strings.Join(e.Audience, ","))
	add("scopes", strings.Join(e.Scopes, ","))
	if e.Count != 0 {
		add("count", strconv.Itoa(e.Count))
		add("threshold", strconv.Itoa(e.Threshold))
	}
	add("outcome", e.Outcome)
	add("reason", e.Reason)
	add("error", e.Error)
	return b.String()
}

// quoteIfNeeded quotes values with spaces, '=' or anything unprintable,
// so one event stays one line that splits on spaces.
func quoteIfNeeded(s string) string {
	if q := strconv.Quote(s); q != `"`+s+`"` || strings.ContainsAny(s, " =") {
		return q
	}
	return s
}
