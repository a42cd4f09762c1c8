package wincred

import (
	"errors"
	"fmt"

	winc "github.com/danieljoos/wincred"
	"golang.org/x/sys/windows"

	"github.com/mayflyhq/mayfly/backends"
)

// New returns a store that keeps key k in the generic credentials
// prefix+encode(k) (and prefix+encode(k)#1, #2, ... for a value larger than
// one credential holds). Use [DefaultPrefix] unless you need a separate
// namespace, as tests do; the prefixes of two stores must not be prefixes
// of one another, or each would list the other's keys. A prefix that is
// empty, longer than 1024 bytes, or contains '*' or a NUL makes every
// operation fail.
func New(prefix string) *Store {
	return newStore(prefix, credman{})
}

// Available reports whether this process can use Credential Manager. The
// probe only lists Mayfly's own credentials; it changes nothing.
func Available() error {
	if _, err := (credman{}).enumerate(DefaultPrefix); err != nil {
		return fmt.Errorf("wincred: %w", err)
	}
	return nil
}

func detail(prefix string) string {
	return fmt.Sprintf("Windows Credential Manager, generic credentials %q + key, kept for this user on this computer (CRED_PERSIST_LOCAL_MACHINE, not roaming)", prefix)
}

// errNoLogonSession is ERROR_NO_SUCH_LOGON_SESSION (1312): "The logon
// session does not exist or there is no credential set associated with
// this logon session. Network logon sessions do not have an associated
// credential set."
// https://learn.microsoft.com/en-us/windows/win32/api/wincred/nf-wincred-credwritew
const errNoLogonSession = windows.ERROR_NO_SUCH_LOGON_SESSION

// credman is the real Credential Manager, through github.com/danieljoos/wincred.
type credman struct{}

// mapErr turns the Win32 errors a store can act on into the backends
// sentinels.
func mapErr(err error) error {
	switch {
	case errors.Is(err, winc.ErrElementNotFound):
		// ERROR_NOT_FOUND from CredReadW and CredDeleteW.
		return backends.ErrNotFound
	case errors.Is(err, errNoLogonSession):
		return fmt.Errorf("this logon session has no credential set (network logons such as SSH, WinRM or some services have none): sign in at the console or over Remote Desktop: %w: %w", backends.ErrUnsupported, err)
	}
	return err
}

// read calls CredReadW with CRED_TYPE_GENERIC.
// https://learn.microsoft.com/en-us/windows/win32/api/wincred/nf-wincred-credreadw
func (credman) read(target string) ([]byte, error) {
	c, err := winc.GetGenericCredential(target)
	if err != nil {
		return nil, mapErr(err)
	}
	return c.CredentialBlob, nil
}

// write calls CredWriteW, which creates the credential or replaces the one
// of the same name and type whole.
// https://learn.microsoft.com/en-us/windows/win32/api/wincred/nf-wincred-credwritew
func (credman) write(target string, blob []byte) error {
	c := winc.NewGenericCredential(target)
	c.CredentialBlob = blob
	// Kept across logons on this computer only, for this user; never
	// roamed to the user's other computers (CRED_PERSIST_ENTERPRISE) nor
	// lost at logoff (CRED_PERSIST_SESSION).
	c.Persist = winc.PersistLocalMachine
	c.Comment = "Mayfly secret store entry; edited by Mayfly only"
	return mapErr(c.Write())
}

// remove calls CredDeleteW with CRED_TYPE_GENERIC.
// https://learn.microsoft.com/en-us/windows/win32/api/wincred/nf-wincred-creddeletew
func (credman) remove(target string) error {
	return mapErr(winc.NewGenericCredential(target).Delete())
}

// enumerate calls CredEnumerateW with the filter prefix+"*": "a name
// prefix followed by an asterisk".
// https://learn.microsoft.com/en-us/windows/win32/api/wincred/nf-wincred-credenumeratew
// It lists credentials of every type (the wrapper does not report the
// type); a non-generic credential under Mayfly's prefix would have been put
// there by hand, and reads as missing.
func (credman) enumerate(prefix string) ([]string, error) {
	creds, err := winc.FilteredList(prefix + "*")
	if err != nil {
		return nil, mapErr(err)
	}
	names := make([]string, 0, len(creds))
	for _, c := range creds {
		names = append(names, c.TargetName)
	}
	return names, nil
}
