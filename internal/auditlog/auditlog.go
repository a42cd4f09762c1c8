// Package auditlog is the agent's audit trail: one JSON line per event in a
// per-user file (0600, in a 0700 folder), for every token handed out or
// refused, every refresh, sign-in and sign-out, and every alert. A token is
// named only by a prefix of its SHA-256 ([TokenHash]), never by its text, so
// the log can be read, copied and shipped without becoming a secret.
//
// The writer rotates the file by size (audit.log → audit.log.1 → ...);
// [Read] reads the rotated files and the current one, oldest first. Each
// event is one write(2) on a file opened with O_APPEND, so lines never
// interleave.
package auditlog

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"
)

// Events.
const (
	TokenIssued   = "token_issued"   // a consumer received a profile's token
	TokenRejected = "token_rejected" // a consumer reported its server refused a token
	StaticIssued  = "static_issued"  // a consumer received a static credential
	StaticStored  = "static_stored"
	StaticErased  = "static_erased"
	Refresh       = "refresh" // the agent refreshed a session (Rotated says whether the provider rotated it)
	Login         = "login"
	Logout        = "logout"
	Refused       = "refused" // a caller was turned away (another uid, allow_exec)
	Alert         = "alert"   // see the Kind* constants
)

// Kinds of alert.
const (
	// KindSessionRevoked: the provider refused a refresh token
	// (invalid_grant): revoked, expired, or replayed by someone else, as
	// refresh token reuse detection does. The session is gone.
	KindSessionRevoked = "session_revoked"
	// KindIssuanceRate: one consumer received more of a profile's tokens
	// within a minute than [agent] alert_rate allows.
	KindIssuanceRate = "issuance_rate"
)

// Event is one line of the log. Only Time and Event are always set.
type Event struct {
	Time     time.Time `json:"time"`
	Event    string    `json:"event"`
	Kind     string    `json:"kind,omitempty"`
	Profile  string    `json:"profile,omitempty"`
	Consumer string    `json:"consumer,omitempty"` // what the helper says it serves: git, docker, ...
	Peer     *Peer     `json:"peer,omitempty"`

	// Tokens.
	TokenSHA256 string    `json:"token_sha256,omitempty"` // [TokenHash] of the token
	Audience    []string  `json:"aud,omitempty"`          // when the token says (a JWT's aud)
	Scopes      []string  `json:"scopes,omitempty"`
	Expiry      time.Time `json:"expiry,omitzero"`
	Rotated     *bool     `json:"rotated,omitempty"` // Refresh

	// Sign-in and sign-out.
	Flow    string `json:"flow,omitempty"`
	Subject string `json:"subject,omitempty"`
	Outcome string `json:"outcome,omitempty"`

	// Static credentials.
	Namespace string `json:"namespace,omitempty"`
	Name      string `json:"name,omitempty"`

	// Alerts.
	Count     int `json:"count,omitempty"`
	Threshold int `json:"threshold,omitempty"`

	// Why (refusals, alerts) or what failed.
	Reason string `json:"reason,omitempty"`
	Error  string `json:"error,omitempty"`
}

// Peer is the process at the other end of the agent's socket, as the
// kernel reports it.
type Peer struct {
	PID int    `json:"pid,omitempty"`
	UID int    `json:"uid"`
	Exe string `json:"exe,omitempty"` // "" when the OS does not tell
	// Ancestors are the executables of the peer's parent, grandparent...
	// as far as allow_exec looked ("?" where it could not see).
	Ancestors []string `json:"ancestors,omitempty"`
	// Allowed is the allow_exec entry that matched.
	Allowed string `json:"allowed,omitempty"`
}

// TokenHash names a token in the log: the first 16 hex digits (64 bits) of
// its SHA-256. That tells tokens apart and lets a token found elsewhere be
// looked up, but does not help guess one.
func TokenHash(token string) string {
	if token == "" {
		return ""
	}
	h := sha256.Sum256([]byte(token))
	return hex.EncodeToString(h[:8])
}

// Defaults of [Options].
const (
	DefaultMaxSize = 5 << 20
	DefaultKeep    = 3
)

// Options configure a [Writer].
type Options struct {
	MaxSize int64            // rotate before the file grows past this; 0: DefaultMaxSize
	Keep    int              // rotated files kept (path.1 ... path.Keep); 0: DefaultKeep, <0: none
	Now     func() time.Time // stamps events without a Time; nil: time.Now
}

// Writer appends events to the log. A nil *Writer discards them.
type Writer struct {
	path string
	opt  Options

	mu   sync.Mutex
	f    *os.File
	size int64
}

// Open opens (creating) the log at path, and its folder, for appending.
func Open(path string, opt Options) (*Writer, error) {
	if opt.MaxSize <= 0 {
		opt.MaxSize = DefaultMaxSize
	}
	if opt.Keep == 0 {
		opt.Keep = DefaultKeep
	}
	if opt.Now == nil {
		opt.Now = time.Now
	}
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("auditlog: %w", err)
	}
	// The folder is Mayfly's: tighten it if someone loosened it.
	if st, err := os.Stat(dir); err == nil && st.Mode().Perm()&0o077 != 0 {
		os.Chmod(dir, 0o700)
	}
	w := &Writer{path: path, opt: opt}
	if err := w.open(); err != nil {
		return nil, err
	}
	return w, nil
}

func (w *Writer) open() error {
	f, err := os.OpenFile(w.path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("auditlog: %w", err)
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return fmt.Errorf("auditlog: %w", err)
	}
	if !st.Mode().IsRegular() {
		f.Close()
		return fmt.Errorf("auditlog: %s is not a regular file", w.path)
	}
	if st.Mode().Perm() != 0o600 {
		if err := f.Chmod(0o600); err != nil {
			f.Close()
			return fmt.Errorf("auditlog: %w", err)
		}
	}
	w.f, w.size = f, st.Size()
	return nil
}

// Path returns the file the writer appends to.
func (w *Writer) Path() string {
	if w == nil {
		return ""
	}
	return w.path
}

// Log appends e as one line, stamping it with the time if it has none.
func (w *Writer) Log(e Event) error {
	if w == nil {
		return nil
	}
	if e.Time.IsZero() {
		e.Time = w.opt.Now()
	}
	e.Time = e.Time.UTC()
	line, err := json.Marshal(e)
	if err != nil {
		return fmt.Errorf("auditlog: %w", err)
	}
	line = append(line, '\n')
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.f == nil {
		return errors.New("auditlog: closed")
	}
	// Another process (a second agent on another socket, logrotate) may
	// have moved the file: follow the name, not the old inode.
	if cur, err := os.Stat(w.path); err != nil || !sameFile(w.f, cur) {
		w.f.Close()
		w.f = nil
		if err := w.open(); err != nil {
			return err
		}
	}
	if w.size > 0 && w.size+int64(len(line)) > w.opt.MaxSize {
		if err := w.rotate(); err != nil {
			return err
		}
	}
	n, err := w.f.Write(line)
	w.size += int64(n)
	if err != nil {
		return fmt.Errorf("auditlog: %w", err)
	}
	return nil
}

func sameFile(f *os.File, st fs.FileInfo) bool {
	fst, err := f.Stat()
	return err == nil && os.SameFile(fst, st)
}

// rotate shifts path.N-1 → path.N ... path → path.1 and starts a new file.
// Callers hold mu.
func (w *Writer) rotate() error {
	w.f.Close()
	w.f = nil
	if w.opt.Keep < 0 {
		if err := os.Remove(w.path); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("auditlog: rotate: %w", err)
		}
		return w.open()
	}
	os.Remove(rotated(w.path, w.opt.Keep))
	for i := w.opt.Keep - 1; i >= 1; i-- {
		if err := os.Rename(rotated(w.path, i), rotated(w.path, i+1)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("auditlog: rotate: %w", err)
		}
	}
	if err := os.Rename(w.path, rotated(w.path, 1)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("auditlog: rotate: %w", err)
	}
	return w.open()
}

func rotated(path string, i int) string { return path + "." + strconv.Itoa(i) }

// Close closes the file; later events are refused.
func (w *Writer) Close() error {
	if w == nil {
		return nil
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.f == nil {
		return nil
	}
	err := w.f.Close()
	w.f = nil
	return err
}

// Files returns the log's files that exist, oldest first: the rotated ones
// (path.N ... path.1), then path.
func Files(path string) []string {
	var rot []string
	for i := 1; ; i++ {
		p := rotated(path, i)
		if _, err := os.Stat(p); err != nil {
			break
		}
		rot = append(rot, p)
	}
	var out []string
	for i := len(rot) - 1; i >= 0; i-- {
		out = append(out, rot[i])
	}
	if _, err := os.Stat(path); err == nil {
		out = append(out, path)
	}
	return out
}

// maxLine bounds a line Read accepts; events are a few hundred bytes.
const maxLine = 1 << 20

// Read calls fn with each event of the log at path and its rotated files,
// oldest first, and the line as written (without its newline). Lines that
// are not events (a torn last line after a crash) are skipped and counted.
// A log that does not exist yet has no events. A rotation while Read runs
// may make it miss or repeat a file's worth of events.
func Read(path string, fn func(e Event, line []byte) error) (skipped int, err error) {
	for _, p := range Files(path) {
		n, err := readFile(p, fn)
		skipped += n
		if err != nil {
			return skipped, err
		}
	}
	return skipped, nil
}

func readFile(path string, fn func(Event, []byte) error) (int, error) {
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("auditlog: %w", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 64<<10), maxLine)
	skipped := 0
	for sc.Scan() {
		line := sc.Bytes()
		var e Event
		if err := json.Unmarshal(line, &e); err != nil || e.Event == "" || e.Time.IsZero() {
			skipped++
			continue
		}
		if err := fn(e, line); err != nil {
			return skipped, err
		}
	}
	if err := sc.Err(); err != nil {
		return skipped, fmt.Errorf("auditlog: %s: %w", path, err)
	}
	return skipped, nil
}
