// Package wire defines the messages between Mayfly's helpers and its agent:
// one JSON request per connection on the agent's UNIX socket, answered by one
// JSON line, or by a stream of event lines for a sign-in. It imports only the
// standard library so the helpers that link it stay small and start fast.
package wire

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"time"
)

// Version is bumped when a message changes incompatibly; the agent refuses
// requests of another version so a stale agent is never half-understood.
const Version = 1

// MaxLine bounds a message, so a confused or hostile peer cannot make either
// side buffer without end.
const MaxLine = 1 << 20

// Ops.
const (
	OpToken  = "token"  // a token for a URL or profile
	OpErase  = "erase"  // a consumer reports a token was rejected
	OpLogin  = "login"  // sign in; answered by a stream of events
	OpLogout = "logout" // forget (and revoke) a session
	OpStatus = "status" // profiles, sessions, store
	OpStop   = "stop"   // shut the agent down
	OpPing   = "ping"
	OpKey    = "key" // the device key, made if there is none (answered in Status)

	// Static credentials: long-lived secrets a consumer asks Mayfly to keep
	// for servers no profile manages (a Docker registry password after
	// `docker login`), so they go to the secure store instead of a
	// plaintext file. Namespace names the consumer ("docker"), Name the
	// server.
	OpStaticGet   = "static_get"
	OpStaticSet   = "static_set"
	OpStaticErase = "static_erase"
	OpStaticList  = "static_list"
)

// Request is sent by a client.
type Request struct {
	V         int    `json:"v"`
	Op        string `json:"op"`
	Config    string `json:"config,omitempty"`   // the config path the client resolved; must be the agent's
	Profile   string `json:"profile,omitempty"`  // explicit profile, else chosen by URL
	URL       string `json:"url,omitempty"`      // what the consumer wants a credential for
	Consumer  string `json:"consumer,omitempty"` // "git", "docker", ... for the log
	Token     string `json:"token,omitempty"`    // OpErase: the rejected credential, so only a matching token is dropped
	Flow      string `json:"flow,omitempty"`     // OpLogin: override the profile's flow
	All       bool   `json:"all,omitempty"`      // OpLogout: every profile
	ForceNew  bool   `json:"force_new,omitempty"`
	NoBrowser bool   `json:"no_browser,omitempty"`

	// OpStatic*
	Namespace string `json:"namespace,omitempty"`
	Name      string `json:"name,omitempty"`
	Username  string `json:"username,omitempty"`
	Secret    string `json:"secret,omitempty"` // OpStaticSet only
}

// Error codes, so clients can react without parsing messages.
const (
	CodeNoProfile     = "no_profile"     // no profile serves the URL
	CodeLoginRequired = "login_required" // no session: sign in
	CodeRevoked       = "revoked"        // the provider ended the session: sign in again
	CodeRefused       = "refused"        // the caller is not allowed
	CodeConfig        = "config"         // the configuration is invalid
	CodeProvider      = "provider"       // the identity provider failed or is unreachable
	CodeNotFound      = "not_found"      // OpStaticGet/Erase: nothing kept under that name
	CodeNoStore       = "no_store"       // no secret store is usable: install or unlock one
	CodeBadRequest    = "bad_request"
	CodeInternal      = "internal"
)

// Error is a failure the agent reports. Message is one line and never holds a secret.
type Error struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

func (e *Error) Error() string { return e.Message }

// Events of a sign-in stream.
const (
	EventDevice  = "device"  // show VerificationURI and UserCode
	EventBrowser = "browser" // open AuthURL
	EventDone    = "done"
)

// Response is one line from the agent.
type Response struct {
	Error *Error `json:"error,omitempty"`

	// OpToken
	Profile  string    `json:"profile,omitempty"`
	Username string    `json:"username,omitempty"`
	Token    string    `json:"token,omitempty"`
	Expiry   time.Time `json:"expiry,omitzero"` // when the consumer should stop using Token (margin applied)

	// OpLogin events
	Event                   string    `json:"event,omitempty"`
	VerificationURI         string    `json:"verification_uri,omitempty"`
	VerificationURIComplete string    `json:"verification_uri_complete,omitempty"`
	UserCode                string    `json:"user_code,omitempty"`
	AuthURL                 string    `json:"auth_url,omitempty"`
	CodeExpiry              time.Time `json:"code_expiry,omitzero"`
	Subject                 string    `json:"subject,omitempty"` // who signed in (email or sub), for the message
	Note                    string    `json:"note,omitempty"`    // a warning the user should see

	// OpStaticGet answers in Username and Token; OpStaticList in Static.
	Static []StaticEntry `json:"static,omitempty"`

	// OpLogout
	Results []LogoutResult `json:"results,omitempty"`

	// OpStatus
	Status *Status `json:"status,omitempty"`
}

// StaticEntry names one static credential, never its secret.
type StaticEntry struct {
	Namespace string    `json:"namespace"`
	Name      string    `json:"name"`
	Username  string    `json:"username"`
	Saved     time.Time `json:"saved,omitzero"`
}

// LogoutResult says what happened to one profile's session.
type LogoutResult struct {
	Profile string `json:"profile"`
	Outcome string `json:"outcome"` // human sentence: "revoked at the provider", ...
}

// Status describes the agent and its profiles.
type Status struct {
	PID      int             `json:"pid"`
	Version  string          `json:"version"`
	Config   string          `json:"config"`
	Socket   string          `json:"socket"`
	Store    StoreInfo       `json:"store"`
	Started  time.Time       `json:"started"`
	Profiles []ProfileStatus `json:"profiles"`
	// Static lists the long-lived credentials kept for consumers: each is
	// a key Mayfly cannot make short-lived, and should be replaced.
	Static []StaticEntry `json:"static,omitempty"`
	// TPM says whether a TPM is usable, and which.
	TPM *TPMInfo `json:"tpm,omitempty"`
	// DeviceKey is the key that signs DPoP proofs and client assertions,
	// once one exists.
	DeviceKey *DeviceKeyInfo `json:"device_key,omitempty"`
}

// TPMInfo describes the TPM the agent uses, or why it uses none.
type TPMInfo struct {
	Path         string `json:"path"`                   // device or address
	Usable       bool   `json:"usable"`                 // commands succeed
	Manufacturer string `json:"manufacturer,omitempty"` // "IBM", "INTC", ...
	Firmware     string `json:"firmware,omitempty"`     // "1.38.0.0"
	Problem      string `json:"problem,omitempty"`      // why not usable, and what to do
}

// DeviceKeyInfo describes the device key; never its private part.
type DeviceKeyInfo struct {
	Provider   string          `json:"provider"` // "tpm" or "software"
	Hardware   bool            `json:"hardware"`
	Algorithm  string          `json:"alg"`        // "ES256"
	Thumbprint string          `json:"thumbprint"` // RFC 7638 JWK SHA-256 thumbprint, base64url
	JWK        json.RawMessage `json:"jwk"`        // the public JWK to register with a provider
}

// StoreInfo names the secret store in use.
type StoreInfo struct {
	Name       string `json:"name"`
	Protection string `json:"protection"`
	Detail     string `json:"detail,omitempty"`
}

// ProfileStatus is one profile's state.
type ProfileStatus struct {
	Name         string    `json:"name"`
	Issuer       string    `json:"issuer"`
	ClientID     string    `json:"client_id"`
	Flow         string    `json:"flow"`
	Match        []string  `json:"match"`
	SignedIn     bool      `json:"signed_in"`
	Subject      string    `json:"subject,omitempty"`
	RefreshToken bool      `json:"refresh_token"`
	AccessExpiry time.Time `json:"access_expiry,omitzero"`
	LastRefresh  time.Time `json:"last_refresh,omitzero"`
	Refreshes    int       `json:"refreshes"`
	Problem      string    `json:"problem,omitempty"`
	// DPoP is true when the session's tokens are bound to the device key
	// (RFC 9449); Auth is the client authentication, "" for a public
	// client or "private_key_jwt".
	DPoP bool   `json:"dpop,omitempty"`
	Auth string `json:"auth,omitempty"`
}

// Write sends one message as a JSON line.
func Write(w io.Writer, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("wire: encode: %w", err)
	}
	b = append(b, '\n')
	if _, err := w.Write(b); err != nil {
		return fmt.Errorf("wire: send: %w", err)
	}
	return nil
}

// Reader reads JSON lines of at most MaxLine bytes.
type Reader struct{ r *bufio.Reader }

// NewReader returns a Reader on r.
func NewReader(r io.Reader) *Reader { return &Reader{bufio.NewReaderSize(r, 4096)} }

// Read decodes the next line into v.
func (r *Reader) Read(v any) error {
	line, err := r.line()
	if err != nil {
		return err
	}
	if err := json.Unmarshal(line, v); err != nil {
		return fmt.Errorf("wire: decode: %w", err)
	}
	return nil
}

// line returns the next line, newline included.
func (r *Reader) line() ([]byte, error) {
	var line []byte
	for {
		chunk, err := r.r.ReadSlice('\n')
		line = append(line, chunk...)
		if len(line) > MaxLine {
			return nil, fmt.Errorf("wire: message longer than %d bytes", MaxLine)
		}
		if err == bufio.ErrBufferFull {
			continue
		}
		if err != nil {
			if err == io.EOF && len(line) > 0 {
				return nil, fmt.Errorf("wire: truncated message: %w", io.ErrUnexpectedEOF)
			}
			return nil, err
		}
		return line, nil
	}
}
