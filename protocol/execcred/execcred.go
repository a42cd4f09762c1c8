// Package execcred implements the client side of Kubernetes' exec credential
// plugin protocol, as client-go runs it for kubectl: the ExecCredential
// object of the client.authentication.k8s.io API group, versions v1 and
// v1beta1 (https://kubernetes.io/docs/reference/access-authn-authz/authentication/#client-go-credential-plugins,
// and client-go's plugin/pkg/client/auth/exec/exec.go).
//
// kubectl runs the plugin named in the kubeconfig's users[].user.exec with
// the input ExecCredential, JSON-encoded in the configured apiVersion, in the
// KUBERNETES_EXEC_INFO environment variable. It reads one ExecCredential from
// the plugin's stdout, which must be in that same apiVersion, and shows the
// plugin's stderr to the person.
//
// The package has two halves:
//
//   - a pure codec: [ReadRequest] decodes the value of KUBERNETES_EXEC_INFO,
//     [WriteResponse] encodes the answer;
//   - a dispatcher: [Run] maps one invocation onto a [Handler] and is the only
//     place that turns errors into this protocol's conventions (one line on
//     stderr, a non-zero exit code, and nothing at all on stdout).
//
// It never touches os.* (the environment, stdout, exit), storage, OAuth or
// the network: the helper's main reads the variable and passes its value in.
// It is the only package in Mayfly that uses client-go's clientauthentication
// types, so that the git and docker helpers never link k8s.io code.
package execcred

import (
	"encoding/json"
	"errors"
	"time"
)

// EnvVar is the environment variable in which kubectl passes the input
// ExecCredential to the plugin.
const EnvVar = "KUBERNETES_EXEC_INFO"

// The API versions this package speaks. kubectl requires the answer to be in
// exactly the version the kubeconfig names (exec.go: "exec plugin is
// configured to use API version X, plugin returned version Y").
const (
	V1      = "client.authentication.k8s.io/v1"      // GA in Kubernetes 1.22
	V1beta1 = "client.authentication.k8s.io/v1beta1" // since 1.11
)

// Kind is the kind of every object in this protocol.
const Kind = "ExecCredential"

// ErrNoToken is returned by [WriteResponse] for a [Response] without a
// token: kubectl would refuse it ("exec plugin didn't return a token or
// cert/key pair"), so it is an error on our side, said in our words.
var ErrNoToken = errors.New("execcred: no token to send")

// Request is what kubectl tells the plugin, from KUBERNETES_EXEC_INFO.
type Request struct {
	// APIVersion is the version the answer must be in: V1 or V1beta1.
	APIVersion string

	// Interactive is spec.interactive: kubectl has connected the person's
	// terminal to the plugin's stdin, so it may prompt (on stderr; stdout
	// belongs to the protocol). It follows the kubeconfig's interactiveMode:
	// false with Never, true with Always, and with IfAvailable (the v1beta1
	// default) true only when stdin is a terminal that kubectl has not
	// claimed for itself (kubectl -f -).
	Interactive bool

	// Cluster is spec.cluster, the cluster kubectl is about to talk to. It
	// is nil unless the kubeconfig sets provideClusterInfo: true.
	Cluster *Cluster
}

// Cluster describes the cluster kubectl is connecting to (spec.cluster).
type Cluster struct {
	Server                   string // the API server's URL, as written in the kubeconfig
	TLSServerName            string
	InsecureSkipTLSVerify    bool
	CertificateAuthorityData []byte // PEM
	ProxyURL                 string
	DisableCompression       bool

	// Config is the raw JSON of the cluster's extension named
	// "client.authentication.k8s.io/exec", where a kubeconfig can give the
	// plugin per-cluster settings; nil when there is none.
	Config json.RawMessage
}

// Response is the plugin's answer.
type Response struct {
	// Token is sent by kubectl as "Authorization: Bearer <Token>".
	Token string

	// Expiry becomes status.expirationTimestamp: kubectl uses Token until
	// then, and runs the plugin again at the first request after it. kubectl
	// checks lazily and refreshes nothing early, so Expiry should already be
	// brought forward by a safety margin. The zero time sends no timestamp,
	// and kubectl then keeps the token until a 401 or until it exits.
	Expiry time.Time
}
