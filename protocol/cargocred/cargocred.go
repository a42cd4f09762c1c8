// Package cargocred implements the provider side of Cargo's credential
// provider protocol, version 1 (Cargo ≥ 1.74), as described in Cargo's
// reference, "Credential Provider Protocol"
// (https://doc.rust-lang.org/cargo/reference/credential-provider-protocol.html),
// and implemented by the cargo-credential crate (credential/cargo-credential
// in rust-lang/cargo).
//
// Cargo runs the provider as "<path> --cargo-plugin", always: arguments
// configured after the path, as in
//
//	credential-provider = ["/abs/cargo-credential-mayfly", "--flag"]
//
// arrive in the request's "args" field, never on argv. stdin and stdout
// carry one JSON object per line; stderr is the user's terminal. The
// provider speaks first with a hello naming the versions it supports
// ({"v":[1]}); Cargo then writes one request, reads one response, closes
// stdin and waits for the provider to exit. A non-zero exit is an error
// even after a good response, and Cargo then shows only the exit status.
//
// The package has two halves, like the other protocol packages: a pure
// codec ([WriteHello], [DecodeRequest], [Reader], [WriteResponse],
// [WriteError]) and a dispatcher, [Run], which is the one place that maps
// errors onto the protocol. It never touches os.*, the agent, OAuth or the
// network.
package cargocred

import (
	"time"
)

// Version is the protocol version this package speaks.
const Version = 1

// Request kinds ("kind"). Cargo deserializes a kind it does not know as
// Unknown, and so should a provider: [Run] answers one with
// operation-not-supported.
const (
	KindGet    = "get"
	KindLogin  = "login"
	KindLogout = "logout"
)

// Operations of a get request ("operation"). Others may come.
const (
	OpRead    = "read"
	OpPublish = "publish"
	OpYank    = "yank"
	OpUnyank  = "unyank"
	OpOwners  = "owners"
)

// Cache controls of a get response ("cache").
const (
	CacheNever   = "never"   // ask the provider again for every request
	CacheSession = "session" // reuse for the rest of this cargo run
	// CacheExpires reuses the token until Expiration, which it requires.
	// Cargo drops a cached token a minute before it expires
	// (auth_token_optional in src/cargo/util/auth/mod.rs).
	CacheExpires = "expires"
)

// Error kinds ("Err"."kind"). On url-not-supported and not-found Cargo tries
// the next configured provider; any other kind is shown to the user with
// its message, and no other provider is tried.
const (
	ErrURLNotSupported       = "url-not-supported"
	ErrNotFound              = "not-found"
	ErrOperationNotSupported = "operation-not-supported"
	ErrOther                 = "other"
)

// Registry is the "registry" object of every request.
type Registry struct {
	// IndexURL is the registry's index: "sparse+https://host/index/" for a
	// sparse registry, "https://github.com/rust-lang/crates.io-index" for a
	// git one.
	IndexURL string
	// Name is the registry's name in Cargo's configuration ("crates-io" for
	// crates.io), when Cargo knows it. Cargo finds it from the index URL, so
	// it is not a reliable key.
	Name string
	// Headers are the response headers of a 401 from the registry, as
	// "Name: value" lines, when the request follows one.
	Headers []string
}

// Request is one request from Cargo.
type Request struct {
	V        int
	Registry Registry
	Kind     string // KindGet, KindLogin, KindLogout, or what Cargo sent

	// Get.
	Operation string // OpRead, OpPublish, ..., or what Cargo sent
	// CrateName, CrateVersion and Cksum are the "name", "vers" and "cksum"
	// of the operations that concern one crate (publish, yank, unyank,
	// owners).
	CrateName, CrateVersion, Cksum string

	// Login.
	Token    string // a token the user gave to `cargo login`: a secret
	LoginURL string // where the user can get one

	// Args are the arguments configured after the provider's path, then
	// those given to `cargo login -- ...`.
	Args []string
}

// Response is the "Ok" answer to a request.
type Response struct {
	Kind string // the request's kind; [Run] fills it in when empty

	// Get. Token is sent as-is as the value of the Authorization header:
	// Cargo adds no scheme.
	Token                string
	Cache                string    // CacheNever, CacheSession or CacheExpires
	Expiration           time.Time // with CacheExpires; sent in Unix seconds
	OperationIndependent bool      // the token serves any operation, not just this one
}

// Error is the "Err" answer to a request. A handler returns one to choose
// the kind; any other error is answered as [ErrOther] with its text.
type Error struct {
	Kind     string
	Message  string   // shown by Cargo; optional for every kind but other
	CausedBy []string // "caused-by": the chain below Message, outermost first
}

func (e *Error) Error() string {
	if e.Message != "" {
		return e.Message
	}
	return e.Kind
}
