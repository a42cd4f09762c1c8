package wincred

import (
	"strconv"
	"strings"
)

// Target names.
//
// Credential Manager compares target names without regard to case ("This
// member is case-insensitive", CREDENTIALW.TargetName:
// https://learn.microsoft.com/en-us/windows/win32/api/wincred/ns-wincred-credentialw),
// while the store contract makes keys case-sensitive. Writing "Work" after
// "work" would silently replace the value. encodeKey therefore writes every
// byte of the key that is not a lowercase ASCII letter, a digit or one of
// the punctuation marks in isPlain as %XX, with uppercase hexadecimal
// digits. Two different keys then never give target names that differ only
// in case: '%' and the hex digits after it have one spelling, and every
// other character left as it is is lowercase or has no case. Typical keys
// such as "session/work/3fa4c1d2" stay readable in the Credential Manager
// window.
//
// The encoding also never contains '#' (which separates a value's parts,
// "T#1"), '*' (the wildcard of CredEnumerate's filter) or a non-ASCII
// character.

// isPlain reports whether encodeKey leaves c as it is.
func isPlain(c byte) bool {
	return 'a' <= c && c <= 'z' || '0' <= c && c <= '9' ||
		c == '-' || c == '.' || c == '_' || c == '/' || c == ':' || c == '@'
}

const upperHex = "0123456789ABCDEF"

// encodeKey returns key as it appears in target names.
func encodeKey(key string) string {
	var b strings.Builder
	b.Grow(len(key))
	for i := 0; i < len(key); i++ {
		c := key[i]
		if isPlain(c) {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(upperHex[c>>4])
		b.WriteByte(upperHex[c&0xf])
	}
	return b.String()
}

// decodeKey inverts encodeKey. It accepts only what encodeKey produces, so
// that entries that other programs put under the prefix are not mistaken
// for keys.
func decodeKey(s string) (string, bool) {
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		if isPlain(c) {
			b.WriteByte(c)
			continue
		}
		if c != '%' || i+2 >= len(s) {
			return "", false
		}
		hi, lo := strings.IndexByte(upperHex, s[i+1]), strings.IndexByte(upperHex, s[i+2])
		if hi < 0 || lo < 0 {
			return "", false
		}
		d := byte(hi<<4 | lo)
		if isPlain(d) {
			return "", false // encodeKey would have left it as it is
		}
		b.WriteByte(d)
		i += 2
	}
	return b.String(), true
}

// partName returns the target name of part i (1-based) of the value whose
// header is at target.
func partName(target string, i int) string {
	return target + "#" + strconv.Itoa(i)
}

// partIndex returns i if name is partName(target, i) for some i in
// [1, maxParts], compared as Credential Manager compares names.
func partIndex(name, target string) (int, bool) {
	if len(name) <= len(target)+1 || !strings.EqualFold(name[:len(target)], target) || name[len(target)] != '#' {
		return 0, false
	}
	digits := name[len(target)+1:]
	i, err := strconv.Atoi(digits)
	if err != nil || i < 1 || i > maxParts || strconv.Itoa(i) != digits {
		return 0, false
	}
	return i, true
}
