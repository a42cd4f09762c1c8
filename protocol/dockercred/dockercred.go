// Package dockercred implements the wire protocol of Docker credential
// helpers (github.com/docker/docker-credential-helpers, as run by the docker
// CLI, crane, skopeo and every other client built on the same library).
//
// The consumer runs "docker-credential-<name> <action>" with no shell and no
// way to pass other arguments, where action is one of:
//
//	get      stdin: the raw server address ("registry.example:5000", no newline)
//	         stdout: {"ServerURL":…,"Username":…,"Secret":…}
//	store    stdin: {"ServerURL":…,"Username":…,"Secret":…}; stdout: nothing
//	erase    stdin: the raw server address; stdout: nothing
//	list     stdin: the literal "unused"; stdout: {"<server>":"<username>",…}
//	version  stdout: "<name> (<package>) <version>"
//
// A failure is one message on stdout (not stderr) and exit status 1. The
// consumer compares that message with three fixed strings ([ErrNotFound],
// [ErrMissingServerURL], [ErrMissingUsername]); anything else is shown to
// the person as an error.
//
// The package has two halves:
//
//   - a pure codec: [ReadServerURL], [ReadCredentials], [Normalize],
//     [WriteCredentials], [WriteList];
//   - a dispatcher: [Run] maps one invocation onto a [Handler] and is the only
//     place that turns errors into the protocol's signal (the message on
//     stdout, exit 1). It buffers every answer and writes it in one piece,
//     so stdout never holds half a JSON document.
//
// It never touches os.* (stdin, stdout, args, exit), storage, OAuth or the
// network; the helper's main wires those in.
package dockercred

import "errors"

// The three messages consumers recognise, byte for byte. They are the
// docker-credential-helpers library's (credentials/error.go); the docker CLI
// and containers/image compare the helper's trimmed stdout with them.
var (
	// ErrNotFound means "no credentials for this server". Consumers treat it
	// as a normal outcome (anonymous access, or a login prompt), not as an
	// error, so it is the answer for every server the helper does not serve.
	ErrNotFound = errors.New("credentials not found in native keychain")
	// ErrMissingServerURL: a get, erase or store without a server address.
	ErrMissingServerURL = errors.New("no credentials server URL")
	// ErrMissingUsername: a store without a user name.
	ErrMissingUsername = errors.New("no credentials username")
)

// Credentials is the JSON object of store's input and get's output. The
// field names are the protocol's (credentials.Credentials), in Go's case.
type Credentials struct {
	ServerURL string `json:"ServerURL"`
	// Username "<token>" says that Secret is an identity token (a refresh
	// token for the registry's token service) rather than a password: the
	// docker CLI stores IdentityToken that way and maps it back on get.
	Username string `json:"Username"`
	Secret   string `json:"Secret"`
}

// Version is what the version action prints, in the library's format
// "<Name> (<Package>) <Version>".
type Version struct {
	Name    string // the binary: "docker-credential-mayfly"
	Package string // the module: "github.com/mayflyhq/mayfly"
	Version string
}
