// Package bazelcred implements the credential-helper protocol of Bazel and
// EngFlow ("Credential Helpers Specification", github.com/EngFlow/credential-helper-spec:
// spec.md and schemas/), plus Mayfly's extensions to it, which
// docs/credential-helper-protocol.md specifies in full.
//
// A tool runs the helper as "<helper> get", writes one JSON object to its
// stdin and reads one JSON object from its stdout:
//
//	stdin:  {"uri": "https://cache.corp.example/build.bazel.remote.execution.v2.ContentAddressableStorage"}
//	stdout: {"headers": {"Authorization": ["Bearer eyJ…"]}, "expires": "2026-08-22T15:04:05Z"}
//
// The package has two halves, like the other protocol packages:
//
//   - a pure codec: [ReadRequest] decodes and validates a request (strictly:
//     one JSON object, typed fields, no duplicate names, a size limit),
//     [WriteRequest] encodes one for callers, [WriteResponse] and
//     [WriteError] encode the two kinds of answer, each in one Write;
//   - [Run], the one place that turns an outcome into stdout, stderr and
//     the exit code (see [Code] for the table).
//
// It never touches os.* (stdin, stdout, args, exit), storage, OAuth or the
// network: the helper's main wires those in.
package bazelcred

import (
	"slices"
	"strings"
	"time"
)

// Request is the input of get. URI is the base spec's one field
// (schemas/get-credentials-request.schema.json); the others are Mayfly's
// extensions, all optional, and zero when absent.
type Request struct {
	// URI is what the tool wants credentials for. Bazel sends the full URL
	// of a download, and "https://<authority>/<grpc.Service>" for gRPC
	// calls; the spec's own example is "grpcs://host/Service/Method".
	URI string

	// Method is the HTTP method of the request the credentials are for
	// (RFC 9110 §9.1). Bearer answers do not depend on it; it is there for
	// DPoP proofs, which are bound to a method (RFC 9449 §4.2, "htm").
	Method string
	// Audience and Resource name the service the token is for, as in OAuth
	// token exchange (RFC 8693 §2.1) and resource indicators (RFC 8707 §2).
	Audience []string
	Resource []string
	// Scope is a space-separated list of scope tokens (RFC 6749 §3.3).
	Scope string
	// Interactive says whether the helper may interact with the person to
	// sign in (as kubectl's ExecCredential spec.interactive); nil when the
	// request does not say.
	Interactive *bool
	// Capabilities lists what the caller understands beyond the base spec,
	// such as [CapNotFoundError]. Values this package does not know are
	// kept and ignored, so callers can announce future capabilities.
	Capabilities []string

	// Unknown lists the names (never the values) of fields that were
	// ignored, for debug logs. The spec says helpers SHOULD NOT fail on
	// additional properties ("get", "Input"), so that tools can add fields.
	Unknown []string
}

// CapNotFoundError is the capability with which a caller asks for a
// not_found error, instead of the base spec's "{}", when no profile serves
// the URI: a caller that chains helpers can then tell "not mine" from "no
// credentials needed" and try its next helper.
const CapNotFoundError = "not_found_error"

// HasCapability reports whether the request lists capability name.
func (r Request) HasCapability(name string) bool {
	return slices.Contains(r.Capabilities, name)
}

// Extended reports whether the request uses any Mayfly extension, that is,
// whether it is more than a plain Bazel request.
func (r Request) Extended() bool {
	return r.Method != "" || len(r.Audience) > 0 || len(r.Resource) > 0 || r.Scope != "" ||
		r.Interactive != nil || len(r.Capabilities) > 0
}

// MatchURL returns URI in the form that profile patterns match: without
// query and fragment (which never choose a profile, and may carry a signed
// URL's secret), and with the gRPC schemes mapped to their HTTP transports,
// grpcs to https and grpc to http. Bazel itself already sends https for gRPC
// calls (grpc-java builds "https://<authority>/<service>"), but the spec's
// example sends "grpcs://…" and other tools follow it.
func (r Request) MatchURL() string {
	s := r.URI
	if i := strings.IndexAny(s, "?#"); i >= 0 {
		s = s[:i]
	}
	scheme, rest, ok := strings.Cut(s, "://")
	if !ok {
		return s
	}
	switch strings.ToLower(scheme) {
	case "grpcs":
		return "https://" + rest
	case "grpc":
		return "http://" + rest
	}
	return s
}

// Response is the output of get (schemas/get-credentials-response.schema.json).
// The zero Response is written as "{}", which the spec defines as "no
// credentials needed".
type Response struct {
	// Headers are added by the tool to every request to the URI. Each name
	// maps to a list of values: the spec's schema has no single-string
	// form, and Bazel rejects one. Names with no values are left out.
	Headers map[string][]string
	// Expires is when the tool should ask again. It is written in UTC,
	// truncated to whole seconds ("2026-08-22T15:04:05Z"): Bazel parses it
	// with the pattern yyyy-MM-dd'T'HH:mm:ssXXX and fails on fractions. The
	// zero time leaves it out, and Bazel then caches for
	// --credential_helper_cache_duration.
	Expires time.Time
}

// Code is the kind of a failure, carried in the error object on stdout and
// mapped to the exit status by [Run]:
//
//	exit  code                  stdout                          when
//	0     -                     {"headers":…,"expires":…}       credentials
//	0     -                     {}                              no profile serves the URI (base spec)
//	1     other                 {"error":{…}}                   anything else: agent, provider, configuration
//	2     usage                 {"error":{…}}                   the command line: no command, unknown command, bad parameter
//	3     bad_request           {"error":{…}}                   stdin is not one valid request
//	4     not_found             {"error":{…}}                   no profile serves the URI, and the request lists CapNotFoundError
//	5     interaction_required  {"error":{…}}                   no session: sign in out of band (LoginCommand)
//	6     unsupported           {"error":{…}}                   the request asks for what Mayfly cannot do yet
//
// The base spec only distinguishes zero from non-zero (tools "SHOULD NOT
// rely on the semantics of a Credential Helper's exit status beyond whether
// an invocation was successful"), so a plain Bazel fails on every error and
// shows the one stderr line; callers that know the extensions read the code.
// Callers must treat a code they do not know as other.
type Code string

// The codes.
const (
	CodeOther               Code = "other"
	CodeUsage               Code = "usage"
	CodeBadRequest          Code = "bad_request"
	CodeNotFound            Code = "not_found"
	CodeInteractionRequired Code = "interaction_required"
	CodeUnsupported         Code = "unsupported"
)

// ExitCode is the exit status that goes with c; 1 for a code this package
// does not know.
func (c Code) ExitCode() int {
	switch c {
	case CodeUsage:
		return 2
	case CodeBadRequest:
		return 3
	case CodeNotFound:
		return 4
	case CodeInteractionRequired:
		return 5
	case CodeUnsupported:
		return 6
	}
	return 1
}

// Error is a failure a [Handler] reports, written by [Run] as
//
//	{"error": {"code": "interaction_required", "message": "…", "login_command": "mayfly login --profile corp"}}
//
// Message is one line for a person and must hold no secret. LoginCommand is
// set with [CodeInteractionRequired]: the command that signs in.
type Error struct {
	Code         Code
	Message      string
	LoginCommand string
}

func (e *Error) Error() string { return e.Message }
