package wincred

// The entry format. It is pure Go, with no build constraint, so that it is
// tested (and fuzzed) on every OS with an in-memory stand-in for Credential
// Manager.
//
// A value is kept under the target name T = prefix + encodeKey(key):
//
//   - T holds a header: magic, part count, value length and the SHA-256 of
//     the value. A value of at most inlineMax bytes follows the header in
//     the same credential (part count 0), so most values take one entry.
//   - A larger value is cut into parts of blobMax bytes at T#1 ... T#n, and
//     T holds only the header.
//
// Writers write the parts first and the header last; readers read the header
// first and check the parts they read against its length and hash. A write
// that stopped half-way (a crash, a full disk, a second process writing the
// same key) therefore shows up as a mismatch and is reported as [ErrCorrupt],
// never returned as a value.

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
)

const (
	// blobMax is the most a credential's CredentialBlob can hold:
	// CRED_MAX_CREDENTIAL_BLOB_SIZE, defined as (5*512) bytes in wincred.h
	// since Windows 7. (The CREDENTIALW page still says 512, the limit of
	// older versions.)
	// https://learn.microsoft.com/en-us/windows/win32/api/wincred/ns-wincred-credentialw
	blobMax = 5 * 512

	// headerLen is the size of the header: magic (4), part count (2),
	// value length (4), SHA-256 of the value (32).
	headerLen = 4 + 2 + 4 + sha256.Size

	// inlineMax is the largest value kept in the header's credential.
	inlineMax = blobMax - headerLen

	// MaxValueSize is the largest value, in bytes, that a [Store] accepts:
	// 64 KiB, in at most 26 parts. Refresh tokens and the records Mayfly
	// keeps around them are a few kilobytes at most.
	MaxValueSize = 64 << 10

	// maxParts is the part count of a value of MaxValueSize bytes.
	maxParts = (MaxValueSize + blobMax - 1) / blobMax
)

// magic starts every header: "MFW" (Mayfly, wincred) and format version 1.
var magic = [4]byte{'M', 'F', 'W', 1}

// header describes a stored value.
type header struct {
	parts  int // 0: the value follows the header in the same credential
	length int // of the whole value
	sum    [sha256.Size]byte
}

// partsFor returns how many parts a value of n bytes is cut into. The
// layout is a function of the length alone, so there is exactly one valid
// encoding of every value and the decoder can insist on it.
func partsFor(n int) int {
	if n <= inlineMax {
		return 0
	}
	return (n + blobMax - 1) / blobMax
}

// split returns the blobs that store value: the header's credential and the
// parts, in order (none when the value fits inline). The caller has checked
// that len(value) <= MaxValueSize.
func split(value []byte) (head []byte, parts [][]byte) {
	h := header{parts: partsFor(len(value)), length: len(value), sum: sha256.Sum256(value)}
	if h.parts == 0 {
		return encodeHeader(h, value), nil
	}
	for rest := value; len(rest) > 0; {
		n := min(len(rest), blobMax)
		parts = append(parts, bytes.Clone(rest[:n]))
		rest = rest[n:]
	}
	return encodeHeader(h, nil), parts
}

// encodeHeader returns the header blob for h, followed by inline.
func encodeHeader(h header, inline []byte) []byte {
	b := make([]byte, headerLen, headerLen+len(inline))
	copy(b, magic[:])
	binary.BigEndian.PutUint16(b[4:], uint16(h.parts))
	binary.BigEndian.PutUint32(b[6:], uint32(h.length))
	copy(b[10:], h.sum[:])
	return append(b, inline...)
}

// errFormat is wrapped by every decoding error.
var errFormat = errors.New("not a Mayfly entry")

// decodeHeader parses a header blob. For a value stored inline it also
// returns the value's bytes (a subslice of b), to be checked by join. It
// accepts only what encodeHeader produces.
func decodeHeader(b []byte) (h header, inline []byte, err error) {
	if len(b) < headerLen {
		return header{}, nil, fmt.Errorf("%w: header of %d bytes, want at least %d", errFormat, len(b), headerLen)
	}
	if !bytes.Equal(b[:4], magic[:]) {
		return header{}, nil, fmt.Errorf("%w: bad magic %q", errFormat, b[:4])
	}
	h.parts = int(binary.BigEndian.Uint16(b[4:]))
	n := binary.BigEndian.Uint32(b[6:])
	if n > MaxValueSize {
		return header{}, nil, fmt.Errorf("%w: value length %d, more than %d", errFormat, n, MaxValueSize)
	}
	h.length = int(n)
	copy(h.sum[:], b[10:headerLen])
	if want := partsFor(h.length); h.parts != want {
		return header{}, nil, fmt.Errorf("%w: %d parts for %d bytes, want %d", errFormat, h.parts, h.length, want)
	}
	rest := b[headerLen:]
	switch {
	case h.parts == 0 && len(rest) != h.length:
		return header{}, nil, fmt.Errorf("%w: %d inline bytes, want %d", errFormat, len(rest), h.length)
	case h.parts > 0 && len(rest) != 0:
		return header{}, nil, fmt.Errorf("%w: %d inline bytes in a header of %d parts", errFormat, len(rest), h.parts)
	}
	return h, rest, nil
}

// errTorn is wrapped by join's errors: the parts do not add up to the
// value the header describes. Another process may be writing the key, so a
// reader tries again before it gives up.
var errTorn = errors.New("the parts do not match the header")

// join reassembles and checks a value: inline for a value without parts,
// else the parts in order. It returns a new slice.
func join(h header, inline []byte, parts [][]byte) ([]byte, error) {
	if len(parts) != h.parts {
		return nil, fmt.Errorf("%w: %d parts, header says %d", errTorn, len(parts), h.parts)
	}
	v := make([]byte, 0, h.length)
	if h.parts == 0 {
		v = append(v, inline...)
	}
	for i, p := range parts {
		// Every part but the last is full; the last holds the rest.
		want := blobMax
		if i == len(parts)-1 {
			want = h.length - blobMax*(len(parts)-1)
		}
		if len(p) != want {
			return nil, fmt.Errorf("%w: part %d has %d bytes, want %d", errTorn, i+1, len(p), want)
		}
		v = append(v, p...)
	}
	if len(v) != h.length {
		return nil, fmt.Errorf("%w: %d bytes, header says %d", errTorn, len(v), h.length)
	}
	if sha256.Sum256(v) != h.sum {
		clear(v)
		return nil, fmt.Errorf("%w: SHA-256 differs", errTorn)
	}
	return v, nil
}
