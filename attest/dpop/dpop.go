// Package dpop proves possession of Mayfly's device key to an OAuth server:
// DPoP proofs (RFC 9449) and private_key_jwt client assertions (RFC 7523
// §2.2, OpenID Connect Core §9), both signed by a [crypto.Signer], which is
// a key in the TPM when there is one. [Transport] adds them to the requests
// x/oauth2 and the token source make, and follows the server's nonces.
package dpop

import (
	"crypto"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"net/url"
	"sync"
	"time"

	"github.com/mayflyhq/mayfly/attest/jws"
)

// Prover signs DPoP proofs and client assertions with one key.
type Prover struct {
	key crypto.Signer
	jwk jws.JWK
	jkt string
	now func() time.Time

	mu     sync.Mutex
	nonces map[string]string // origin → the last DPoP-Nonce it sent
}

// NewProver returns a Prover for key, which must be ECDSA P-256.
func NewProver(key crypto.Signer) (*Prover, error) {
	jwk, err := jws.PublicJWK(key.Public())
	if err != nil {
		return nil, err
	}
	return &Prover{key: key, jwk: jwk, jkt: jwk.Thumbprint(), now: time.Now, nonces: map[string]string{}}, nil
}

// JWK is the public key, as embedded in every proof.
func (p *Prover) JWK() jws.JWK { return p.jwk }

// JKT is the key's RFC 7638 thumbprint: what the server records as the
// token's cnf.jkt (RFC 9449 §6.1) and what dpop_jkt names (§10).
func (p *Prover) JKT() string { return p.jkt }

// proofClaims are a DPoP proof's claims (RFC 9449 §4.2).
type proofClaims struct {
	JTI   string `json:"jti"`
	HTM   string `json:"htm"`
	HTU   string `json:"htu"`
	IAT   int64  `json:"iat"`
	Nonce string `json:"nonce,omitempty"`
	ATH   string `json:"ath,omitempty"`
}

// Proof returns a DPoP proof for a request of method to target. The nonce
// last seen from target's origin is included. accessToken, when not empty,
// is bound through "ath" (§4.2), as a resource server requires.
func (p *Prover) Proof(method string, target *url.URL, accessToken string) (string, error) {
	htu := htu(target)
	c := proofClaims{JTI: randomID(), HTM: method, HTU: htu, IAT: p.now().Unix(), Nonce: p.nonce(target)}
	if accessToken != "" {
		sum := sha256.Sum256([]byte(accessToken))
		c.ATH = base64.RawURLEncoding.EncodeToString(sum[:])
	}
	// §4.2: typ dpop+jwt, and the public key itself in the header.
	return jws.Sign(p.key, map[string]any{"typ": "dpop+jwt", "jwk": p.jwk}, c)
}

// htu is the target URI without query and fragment (RFC 9449 §4.2).
func htu(u *url.URL) string {
	v := *u
	v.RawQuery, v.ForceQuery, v.Fragment, v.RawFragment = "", false, "", ""
	v.User = nil
	return v.String()
}

func origin(u *url.URL) string { return u.Scheme + "://" + u.Host }

func (p *Prover) nonce(u *url.URL) string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.nonces[origin(u)]
}

// setNonce records a DPoP-Nonce from u's origin (RFC 9449 §8: a server may
// send a new one on any response, and the client uses the latest).
func (p *Prover) setNonce(u *url.URL, n string) (changed bool) {
	if n == "" {
		return false
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	o := origin(u)
	changed = p.nonces[o] != n
	p.nonces[o] = n
	return changed
}

// assertionClaims are a client assertion's claims (RFC 7523 §3).
type assertionClaims struct {
	Iss string `json:"iss"`
	Sub string `json:"sub"`
	Aud string `json:"aud"`
	JTI string `json:"jti"`
	IAT int64  `json:"iat"`
	Exp int64  `json:"exp"`
}

// assertionLifetime is short: the assertion is made for one request.
const assertionLifetime = 60 * time.Second

// Assertion returns a private_key_jwt client assertion for clientID,
// addressed to audience, the authorization server's issuer identifier.
func (p *Prover) Assertion(clientID, audience string) (string, error) {
	now := p.now()
	// RFC 7523 §3: iss and sub are the client_id; aud identifies the
	// server; a jti makes each one single-use. OpenID Connect Core §9
	// lets aud be the issuer, which every server accepts, while some
	// refuse the device or revocation endpoint's own URL.
	c := assertionClaims{Iss: clientID, Sub: clientID, Aud: audience, JTI: randomID(),
		IAT: now.Unix(), Exp: now.Add(assertionLifetime).Unix()}
	s, err := jws.Sign(p.key, map[string]any{"typ": "JWT", "kid": p.jkt}, c)
	if err != nil {
		return "", fmt.Errorf("client assertion: %w", err)
	}
	return s, nil
}

func randomID() string {
	b := make([]byte, 16) // §4.2: enough entropy that a jti never repeats
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}
