package testpeers

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"
)

// KubeAPI stands in for a Kubernetes API server that authenticates users
// with the provider's tokens (the API server's OIDC authenticator,
// --oidc-issuer-url and --oidc-client-id): HTTPS with a certificate from a
// CA made at start, and /version and /api answered only for a request whose
// Bearer token the provider signed, for the audience, and that has not
// expired. Everything else, and every request without such a token, gets
// the API server's 401 Status. kubectl is the real peer; this is only what
// it talks to.
type KubeAPI struct {
	URL   string // https://127.0.0.1:PORT, the kubeconfig's cluster.server
	CAPEM []byte // the CA's certificate, the kubeconfig's certificate-authority-data

	srv      *httptest.Server
	verifier *TokenVerifier

	mu       sync.Mutex
	accepted int
	rejected int
	tokens   map[[sha256.Size]byte]bool // hashes of the tokens accepted, to count them; never a token
	log      []string                   // one line per request; never a token
}

// StartKubeAPI starts the server. Tokens are checked against issuer's keys
// and must carry audience.
func StartKubeAPI(ctx context.Context, issuer, audience string) (*KubeAPI, error) {
	v, err := NewTokenVerifier(ctx, issuer, audience)
	if err != nil {
		return nil, fmt.Errorf("kube API: %w", err)
	}
	caPEM, cert, err := selfSignedCA()
	if err != nil {
		return nil, fmt.Errorf("kube API: certificates: %w", err)
	}
	k := &KubeAPI{CAPEM: caPEM, verifier: v, tokens: map[[sha256.Size]byte]bool{}}
	k.srv = httptest.NewUnstartedServer(http.HandlerFunc(k.serve))
	k.srv.TLS = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	k.srv.StartTLS()
	k.URL = k.srv.URL
	return k, nil
}

// selfSignedCA makes a CA and, signed by it, a serving certificate for the
// loopback addresses. Both live for a day, in memory only.
func selfSignedCA() ([]byte, tls.Certificate, error) {
	now := time.Now()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, tls.Certificate{}, err
	}
	caTmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "mayfly-test kube CA"},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		return nil, tls.Certificate{}, err
	}
	ca, err := x509.ParseCertificate(caDER)
	if err != nil {
		return nil, tls.Certificate{}, err
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, tls.Certificate{}, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2),
		Subject:      pkix.Name{CommonName: "kube-apiserver"},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		DNSNames:     []string{"localhost"},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		return nil, tls.Certificate{}, err
	}
	caPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER})
	return caPEM, tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, nil
}

func (k *KubeAPI) serve(w http.ResponseWriter, r *http.Request) {
	if !k.check(r) {
		writeStatus(w, http.StatusUnauthorized, "Unauthorized", "Unauthorized")
		return
	}
	switch r.URL.Path {
	case "/version":
		writeJSON(w, map[string]string{
			"major": "1", "minor": "32", "gitVersion": "v1.32.0-mayfly-test", "gitTreeState": "clean",
			"goVersion": runtime.Version(), "compiler": "gc", "platform": runtime.GOOS + "/" + runtime.GOARCH,
		})
	case "/api":
		writeJSON(w, map[string]any{
			"kind": "APIVersions", "versions": []string{"v1"},
			"serverAddressByClientCIDRs": []map[string]string{{"clientCIDR": "0.0.0.0/0", "serverAddress": r.Host}},
		})
	default:
		writeStatus(w, http.StatusNotFound, "NotFound", "the server could not find the requested resource")
	}
}

// check verifies the request's Bearer token, as the API server does with
// its OIDC authenticator, and records the outcome.
func (k *KubeAPI) check(r *http.Request) bool {
	raw, bearer := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	outcome := "none"
	if bearer && raw != "" {
		if _, err := k.verifier.Verify(r.Context(), raw); err != nil {
			outcome = err.Error()
		} else {
			outcome = "ok"
		}
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	k.log = append(k.log, fmt.Sprintf("%s %s auth=%s", r.Method, r.URL.Path, outcome))
	switch outcome {
	case "ok":
		k.accepted++
		k.tokens[sha256.Sum256([]byte(raw))] = true
		return true
	case "none":
	default:
		k.rejected++
	}
	return false
}

// writeStatus answers with a metav1.Status, as the API server does, so that
// kubectl prints its usual message ("You must be logged in to the server").
func writeStatus(w http.ResponseWriter, code int, reason, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(map[string]any{
		"kind": "Status", "apiVersion": "v1", "metadata": map[string]any{},
		"status": "Failure", "message": msg, "reason": reason, "code": code,
	})
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(v)
}

// Stats returns how many requests with a token were accepted and rejected.
func (k *KubeAPI) Stats() (accepted, rejected int) {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.accepted, k.rejected
}

// Tokens returns how many distinct tokens were accepted.
func (k *KubeAPI) Tokens() int {
	k.mu.Lock()
	defer k.mu.Unlock()
	return len(k.tokens)
}

// Log returns the request log (no tokens in it).
func (k *KubeAPI) Log() []string {
	k.mu.Lock()
	defer k.mu.Unlock()
	return slices.Clone(k.log)
}

// Close stops the server.
func (k *KubeAPI) Close() { k.srv.Close() }
