package dockercred

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"unicode"

	"github.com/google/go-cmp/cmp"
)

var fuzzSeeds = []string{
	"",
	"\n",
	"unused",
	"registry.example",
	"registry.example:5000\n",
	"https://Registry.Example:5000/v2/",
	"https://index.docker.io/v1/",
	"docker.io/library/alpine",
	"[::1]:5000",
	"[::1",
	"user@host",
	"ftp://x",
	"://",
	"host:99999",
	"\u212aey.example",
	"\x00\xff\xfe",
	`{"ServerURL":"registry.example","Username":"alice","Secret":"pw"}` + "\n",
	`{"ServerURL":"https://index.docker.io/v1/","Username":"<token>","Secret":"rt"}`,
	`{"serverurl":"r","USERNAME":"u","secret":"s","x":[1,{"y":null}]}`,
	`{"ServerURL":"r","Username":"u"}`,
	`{"Username":"u","Secret":"s"}`,
	`{"ServerURL":"r","Secret":"s"}`,
	`{"ServerURL":"r","Username":"u\u0000","Secret":"s"}`,
	`{"ServerURL":5}`,
	`{"ServerURL":"r","Username":"u","Secret":"s"}{}`,
	`null`,
	`[]`,
	`{"ServerURL":"r","Username":"u","Secret":"` + "\xff" + `"}`,
}

func checkErr(t *testing.T, err error) {
	t.Helper()
	msg := err.Error()
	if strings.ContainsAny(msg, "\n\r") {
		t.Fatalf("error spans lines: %q", msg)
	}
	if !strings.HasPrefix(msg, "dockercred: ") && !errors.Is(err, ErrMissingServerURL) && !errors.Is(err, ErrMissingUsername) {
		t.Fatalf("error without the package prefix: %q", msg)
	}
}

// FuzzNormalize checks that keys are canonical: idempotent, lowercase, with
// no scheme, path, white space or control character (Docker Hub's URL
// aside), and that refusals are one line.
func FuzzNormalize(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		key, err := Normalize(s)
		if err != nil {
			checkErr(t, err)
			return
		}
		if again, err := Normalize(key); err != nil || again != key {
			t.Fatalf("Normalize(%q) = %q, but Normalize(%q) = %q, %v", s, key, key, again, err)
		}
		if key == HubServer {
			return
		}
		if key == "" || key != strings.ToLower(key) || strings.ContainsAny(key, "/@?# ") ||
			strings.ContainsFunc(key, func(r rune) bool { return unicode.IsControl(r) || r > unicode.MaxASCII }) {
			t.Fatalf("Normalize(%q) = %q, not a canonical host", s, key)
		}
	})
}

// FuzzReadServerURL checks get's and erase's decoder: no panic, one-line
// errors, and an accepted address is trimmed and non-empty.
func FuzzReadServerURL(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := ReadServerURL(bytes.NewReader(data))
		if err != nil {
			checkErr(t, err)
			return
		}
		if s == "" || s != strings.TrimSpace(s) || len(s) > maxInput {
			t.Fatalf("ReadServerURL(%q) = %q", data, s)
		}
	})
}

// FuzzReadCredentials checks store's decoder: no panic, one-line errors that
// never quote the secret, and whatever it accepts survives the answer's
// encoder unchanged.
func FuzzReadCredentials(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := ReadCredentials(bytes.NewReader(data))
		if err != nil {
			checkErr(t, err)
			return
		}
		if c.ServerURL == "" || c.Username == "" || c.Secret == "" {
			t.Fatalf("accepted incomplete credentials %+v", c)
		}
		var out bytes.Buffer
		if err := WriteCredentials(&out, c); err != nil {
			t.Fatalf("WriteCredentials(%+v): %v", c, err)
		}
		back, err := ReadCredentials(&out)
		if err != nil {
			t.Fatalf("re-reading %q: %v", out.String(), err)
		}
		if diff := cmp.Diff(c, back); diff != "" {
			t.Fatalf("round trip mismatch (-want +got):\n%s", diff)
		}
	})
}

// keyChecker is a Handler that fails the test if Run hands it a server
// that is not a key, and otherwise behaves like memory.
type keyChecker struct {
	t *testing.T
	memory
}

func (k *keyChecker) check(server string) {
	if n, err := Normalize(server); err != nil || n != server {
		k.t.Fatalf("handler got %q, not a key", server)
	}
}

func (k *keyChecker) Get(ctx context.Context, server string) (Credentials, error) {
	k.check(server)
	return k.memory.Get(ctx, server)
}

func (k *keyChecker) Store(ctx context.Context, c Credentials) error {
	k.check(c.ServerURL)
	return k.memory.Store(ctx, c)
}

func (k *keyChecker) Erase(ctx context.Context, server string) error {
	k.check(server)
	return k.memory.Erase(ctx, server)
}

// FuzzRun checks Run's promises for every action on arbitrary stdin: exit 0
// or 1; on 1, exactly one line on stdout; on 0, exactly one JSON document
// of the action's shape, or nothing for store and erase.
func FuzzRun(f *testing.F) {
	for i, s := range fuzzSeeds {
		f.Add(uint8(i), []byte(s))
	}
	actions := []string{"get", "store", "erase", "list", "version", "--help", "bogus"}
	f.Fuzz(func(t *testing.T, a uint8, data []byte) {
		action := actions[int(a)%len(actions)]
		h := &keyChecker{t: t, memory: memory{creds: map[string]Credentials{
			"registry.example": {"registry.example", "alice", "pw"},
			HubServer:          {HubServer, "<token>", "rt"},
		}}}
		var out bytes.Buffer
		code := Run(context.Background(), []string{action}, testVersion, bytes.NewReader(data), &out, h)
		s := out.String()
		switch code {
		case 1:
			if strings.Count(s, "\n") != 1 || !strings.HasSuffix(s, "\n") {
				t.Fatalf("%s: exit 1 with stdout %q", action, s)
			}
			return
		case 0:
		default:
			t.Fatalf("%s: exit %d", action, code)
		}
		switch action {
		case "store", "erase":
			if s != "" {
				t.Fatalf("%s: stdout %q", action, s)
			}
		case "get":
			var c Credentials
			strictOne(t, s, &c)
			if c.Secret == "" || c.ServerURL != strings.TrimSpace(string(data)) {
				t.Fatalf("get %q answered %+v", data, c)
			}
		case "list":
			var m map[string]string
			strictOne(t, s, &m)
		}
	})
}

// strictOne decodes exactly one JSON document with no unknown fields and
// nothing after it but the newline.
func strictOne(t *testing.T, s string, v any) {
	t.Helper()
	dec := json.NewDecoder(strings.NewReader(s))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		t.Fatalf("stdout %q: %v", s, err)
	}
	if rest := s[dec.InputOffset():]; rest != "\n" {
		t.Fatalf("stdout %q: %q after the document", s, rest)
	}
}
