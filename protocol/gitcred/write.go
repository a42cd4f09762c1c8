package gitcred

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// errUnsafeValue is wrapped by WriteResponse when a value would break the
// line framing.
var errUnsafeValue = errors.New("contains a newline, carriage return or NUL")

// WriteResponse writes resp as the answer to req's get, in one Write call.
//
// It writes nothing at all when resp.Empty(): an empty answer is how a helper
// says "nothing to offer" (gitcredentials(7)).
//
// Gating follows git-credential(1), "CAPABILITY": authtype, credential and
// ephemeral may only be sent when git announced capability[]=authtype, and
// the helper must then echo capability[]=authtype before them. When req has
// the capability and resp has a Credential, the output is
//
//	capability[]=authtype
//	authtype=<AuthType>
//	credential=<Credential>
//	ephemeral=1               (if Ephemeral)
//	password_expiry_utc=<s>   (if PasswordExpiry is set)
//
// and username/password are left out, since git would not use them anyway.
// Otherwise it is username=, password= and password_expiry_utc=, and
// authtype/credential are never written, so that a handler can fill both
// forms and let the request pick. quit=1 comes last when Quit is set.
//
// It refuses, writing nothing, any value containing "\n", "\r" or NUL:
// such a value would let a token inject attribute lines of its choosing
// (git itself dies on them, see CVE-2020-5260 and CVE-2024-52006). It also
// refuses AuthType without Credential or the reverse, which git would
// silently ignore.
func WriteResponse(w io.Writer, req Request, resp Response) error {
	b, err := encodeResponse(req, resp)
	if err != nil || len(b) == 0 {
		return err
	}
	if _, err := w.Write(b); err != nil {
		return fmt.Errorf("gitcred: writing response: %w", err)
	}
	return nil
}

func encodeResponse(req Request, resp Response) ([]byte, error) {
	if resp.Empty() {
		return nil, nil
	}
	for _, f := range []struct{ name, value string }{
		{"username", resp.Username},
		{"password", resp.Password},
		{"authtype", resp.AuthType},
		{"credential", resp.Credential},
	} {
		// Checked even for fields this request will not print, so that a
		// bad value fails every time rather than only for newer gits.
		if strings.ContainsAny(f.value, "\n\r\x00") {
			return nil, fmt.Errorf("gitcred: response %s %w", f.name, errUnsafeValue)
		}
	}
	if (resp.AuthType == "") != (resp.Credential == "") {
		// Git builds "Authorization: <authtype> <credential>" only when it
		// has both (http.c); with one of them the answer is useless.
		return nil, errors.New("gitcred: response needs both authtype and credential, or neither")
	}

	var b bytes.Buffer
	item := func(k, v string) {
		b.WriteString(k)
		b.WriteByte('=')
		b.WriteString(v)
		b.WriteByte('\n')
	}
	if req.HasCapability("authtype") && resp.Credential != "" {
		// The capability goes first so git knows how to read what follows.
		item("capability[]", "authtype")
		item("authtype", resp.AuthType)
		item("credential", resp.Credential)
		if resp.Ephemeral {
			item("ephemeral", "1")
		}
		writeExpiry(item, resp)
	} else if resp.Username != "" || resp.Password != "" {
		if resp.Username != "" {
			item("username", resp.Username)
		}
		if resp.Password != "" {
			item("password", resp.Password)
		}
		writeExpiry(item, resp)
	}
	// Otherwise the only thing the handler had was a credential git cannot
	// take: say nothing (apart from quit) and let git try the next helper.
	if resp.Quit {
		item("quit", "1")
	}
	return b.Bytes(), nil
}

func writeExpiry(item func(k, v string), resp Response) {
	if resp.PasswordExpiry.IsZero() {
		return
	}
	s := resp.PasswordExpiry.Unix()
	// Git parses the value as unsigned and reads 0 as "never expires"
	// (credential.c). A time at or before the epoch is in the past, so send
	// the earliest value that still means "expired".
	if s < 1 {
		s = 1
	}
	item("password_expiry_utc", strconv.FormatInt(s, 10))
}
