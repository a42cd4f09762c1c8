package config

import (
	"net"
	"strconv"
	"strings"
	"unicode"
)

// tpmReason says why s is not a valid value of the top-level tpm key, or
// returns "". The forms are those of attest/tpm's Open, which this package
// does not import (it would link go-tpm into everything that reads the
// configuration): "" for the platform's TPM (/dev/tpmrm0 on Linux, TBS on
// Windows), an absolute device path, tcp:HOST:PORT (swtpm's raw TCP
// server), unix:/PATH (swtpm's unixio socket) and mssim:HOST:PORT (the
// Microsoft simulator protocol, which also uses PORT+1).
func tpmReason(s string) string {
	const forms = `leave it out (or "") for this machine's TPM, or give an absolute device path such as "/dev/tpmrm0", "tcp:HOST:PORT", "unix:/PATH" or "mssim:HOST:PORT"`
	if strings.ContainsFunc(s, unicode.IsControl) {
		return "must not contain control characters"
	}
	if s == "" {
		return ""
	}
	if strings.HasPrefix(s, "/") {
		return ""
	}
	kind, addr, ok := strings.Cut(s, ":")
	if !ok {
		return "not a TPM: " + forms
	}
	switch kind {
	case "tcp", "mssim":
		host, port, err := net.SplitHostPort(addr)
		if err != nil || host == "" {
			return "must be " + kind + ":HOST:PORT"
		}
		limit := 65535
		if kind == "mssim" {
			limit-- // the platform port is PORT+1
		}
		if n, err := strconv.Atoi(port); err != nil || n < 1 || n > limit {
			return "the port must be a number from 1 to " + strconv.Itoa(limit)
		}
	case "unix":
		if !strings.HasPrefix(addr, "/") {
			return "must be unix:/absolute/path"
		}
	default:
		return "unknown kind " + strconv.Quote(kind) + ": " + forms
	}
	return ""
}
