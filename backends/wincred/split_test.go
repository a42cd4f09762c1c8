package wincred

import (
	"bytes"
	"crypto/rand"
	"errors"
	"strings"
	"testing"
)

func TestSplitJoin(t *testing.T) {
	for _, n := range []int{0, 1, inlineMax - 1, inlineMax, inlineMax + 1, blobMax, blobMax + 1, 2 * blobMax, 16 << 10, MaxValueSize - 1, MaxValueSize} {
		v := make([]byte, n)
		rand.Read(v)
		head, parts := split(v)
		if len(head) > blobMax {
			t.Errorf("%d bytes: header blob of %d bytes, more than %d", n, len(head), blobMax)
		}
		if len(parts) != partsFor(n) || len(parts) > maxParts {
			t.Errorf("%d bytes: %d parts, want %d (at most %d)", n, len(parts), partsFor(n), maxParts)
		}
		for i, p := range parts {
			if len(p) == 0 || len(p) > blobMax {
				t.Errorf("%d bytes: part %d has %d bytes", n, i+1, len(p))
			}
		}
		h, inline, err := decodeHeader(head)
		if err != nil {
			t.Fatalf("%d bytes: decodeHeader: %v", n, err)
		}
		got, err := join(h, inline, parts)
		if err != nil {
			t.Fatalf("%d bytes: join: %v", n, err)
		}
		if !bytes.Equal(got, v) {
			t.Fatalf("%d bytes: join returned a different value", n)
		}
	}
}

func TestPartsFor(t *testing.T) {
	tests := []struct{ n, want int }{
		{0, 0},
		{inlineMax, 0},
		{inlineMax + 1, 1}, // one part of up to 2560 bytes, after a 42-byte header
		{blobMax, 1},
		{blobMax + 1, 2},
		{16 << 10, 7},
		{MaxValueSize, 26},
	}
	for _, tt := range tests {
		if got := partsFor(tt.n); got != tt.want {
			t.Errorf("partsFor(%d) = %d, want %d", tt.n, got, tt.want)
		}
	}
	if maxParts != 26 {
		t.Errorf("maxParts = %d, want 26", maxParts)
	}
}

func TestJoinDetectsTornWrites(t *testing.T) {
	old := bytes.Repeat([]byte("old-"), 2000) // 8000 bytes: 4 parts
	neu := bytes.Repeat([]byte("new-"), 2000)
	head, oldParts := split(old)
	_, newParts := split(neu)
	h, inline, err := decodeHeader(head)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		parts [][]byte
	}{
		{"old header, new parts", newParts},
		{"old header, parts half rewritten", [][]byte{newParts[0], newParts[1], oldParts[2], oldParts[3]}},
		{"a part missing", oldParts[:3]},
		{"an extra part", append(append([][]byte{}, oldParts...), oldParts[0])},
		{"a short part", [][]byte{oldParts[0], oldParts[1][:100], oldParts[2], oldParts[3]}},
		{"a flipped bit", [][]byte{oldParts[0], flip(oldParts[1]), oldParts[2], oldParts[3]}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v, err := join(h, inline, tt.parts)
			if !errors.Is(err, errTorn) {
				t.Fatalf("join = %d bytes, %v; want an error matching errTorn", len(v), err)
			}
		})
	}
}

func flip(b []byte) []byte {
	c := bytes.Clone(b)
	c[len(c)/2] ^= 1
	return c
}

func TestDecodeHeaderRejects(t *testing.T) {
	good, _ := split([]byte("value"))
	bigHead, _ := split(make([]byte, 10000))
	tests := []struct {
		name string
		b    []byte
	}{
		{"empty", nil},
		{"short", good[:headerLen-1]},
		{"bad magic", append([]byte("MFW\x02"), good[4:]...)},
		{"plain token", []byte(strings.Repeat("eyJhbGciOiJSUzI1NiJ9", 5))},
		{"inline too short", good[:len(good)-1]},
		{"inline too long", append(bytes.Clone(good), 'x')},
		{"inline bytes after a split header", append(bytes.Clone(bigHead), 'x')},
		{"wrong part count", withParts(bigHead, 3)},
		{"parts for an inline length", withParts(good, 1)},
		{"length over the maximum", withLength(bigHead, MaxValueSize+1)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if h, _, err := decodeHeader(tt.b); !errors.Is(err, errFormat) {
				t.Fatalf("decodeHeader = %+v, %v; want an error matching errFormat", h, err)
			}
		})
	}
}

func withParts(b []byte, n int) []byte {
	c := bytes.Clone(b)
	c[4], c[5] = byte(n>>8), byte(n)
	return c
}

func withLength(b []byte, n int) []byte {
	c := bytes.Clone(b)
	c[6], c[7], c[8], c[9] = byte(n>>24), byte(n>>16), byte(n>>8), byte(n)
	return c
}

// FuzzDecodeHeader checks that the header decoder never panics, accepts
// only the canonical encoding, and never lets join return a value that
// does not match the header.
func FuzzDecodeHeader(f *testing.F) {
	for _, n := range []int{0, 1, 100, inlineMax, inlineMax + 1, 16 << 10} {
		head, _ := split(bytes.Repeat([]byte{'v'}, n))
		f.Add(head)
	}
	f.Add([]byte{})
	f.Add([]byte("MFW\x01"))
	f.Add([]byte("not a header at all, just a token"))
	f.Fuzz(func(t *testing.T, b []byte) {
		h, inline, err := decodeHeader(b)
		if err != nil {
			if !errors.Is(err, errFormat) {
				t.Fatalf("decodeHeader error %v does not match errFormat", err)
			}
			return
		}
		if h.length < 0 || h.length > MaxValueSize || h.parts != partsFor(h.length) {
			t.Fatalf("decodeHeader accepted %+v", h)
		}
		if re := encodeHeader(h, inline); !bytes.Equal(re, b) {
			t.Fatalf("decodeHeader accepted a non-canonical header:\n got %x\nwant %x", b, re)
		}
		if h.parts == 0 {
			v, err := join(h, inline, nil)
			if err == nil && !bytes.Equal(v, inline) {
				t.Fatalf("join returned %q for inline %q", v, inline)
			}
		}
	})
}

func TestKeyEncoding(t *testing.T) {
	tests := []struct{ key, want string }{
		{"session/work/3fa4c1d2", "session/work/3fa4c1d2"},
		{"static/docker/registry.example:5000", "static/docker/registry.example:5000"},
		{"session/Work/ab", "session/%57ork/ab"},
		{"a#1", "a%231"},
		{"50%", "50%25"},
		{"*", "%2A"},
		{"a b", "a%20b"},
		{"é", "%C3%A9"},
		{"user@host", "user@host"},
	}
	for _, tt := range tests {
		got := encodeKey(tt.key)
		if got != tt.want {
			t.Errorf("encodeKey(%q) = %q, want %q", tt.key, got, tt.want)
		}
		back, ok := decodeKey(got)
		if !ok || back != tt.key {
			t.Errorf("decodeKey(%q) = %q, %v; want %q", got, back, ok, tt.key)
		}
	}
	for _, bad := range []string{"A", "%41x%", "%4", "%4a", "%61", "a#1", "a*", "%zz", "é"} {
		if k, ok := decodeKey(bad); ok {
			t.Errorf("decodeKey(%q) = %q, true; want false", bad, k)
		}
	}
}

// FuzzKeyEncoding checks what the store relies on: encoding round-trips,
// and two keys whose target names Credential Manager would take for the
// same name (equal but for case) are the same key.
func FuzzKeyEncoding(f *testing.F) {
	f.Add("session/work/ab", "session/Work/ab")
	f.Add("a#1", "A#1")
	f.Add("ключ", "КЛЮЧ")
	f.Add("%41", "A")
	f.Fuzz(func(t *testing.T, a, b string) {
		ea, eb := encodeKey(a), encodeKey(b)
		for _, e := range []string{ea, eb} {
			if strings.ContainsAny(e, "#*") || !isASCII(e) {
				t.Fatalf("encodeKey gave %q", e)
			}
		}
		if back, ok := decodeKey(ea); !ok || back != a {
			t.Fatalf("decodeKey(encodeKey(%q)) = %q, %v", a, back, ok)
		}
		if (fold(ea) == fold(eb) || strings.EqualFold(ea, eb)) && a != b {
			t.Fatalf("keys %q and %q give target names %q and %q, equal but for case", a, b, ea, eb)
		}
	})
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

func TestPartIndex(t *testing.T) {
	const target = "mayfly:k"
	tests := []struct {
		name string
		want int
		ok   bool
	}{
		{"mayfly:k#1", 1, true},
		{"MAYFLY:K#7", 7, true},
		{"mayfly:k#26", 26, true},
		{"mayfly:k#27", 0, false},
		{"mayfly:k#0", 0, false},
		{"mayfly:k#01", 0, false},
		{"mayfly:k#", 0, false},
		{"mayfly:k#x", 0, false},
		{"mayfly:k", 0, false},
		{"mayfly:kk#1", 0, false},
		{"mayfly:k#+1", 0, false},
	}
	for _, tt := range tests {
		got, ok := partIndex(tt.name, target)
		if got != tt.want || ok != tt.ok {
			t.Errorf("partIndex(%q) = %d, %v; want %d, %v", tt.name, got, ok, tt.want, tt.ok)
		}
	}
}
