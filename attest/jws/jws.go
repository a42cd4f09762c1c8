// Package jws signs compact JSON Web Signatures (RFC 7515) with ES256
// (RFC 7518 §3.4) from any [crypto.Signer] holding a P-256 key, so a key in
// a TPM signs exactly like a software one, and describes the public key as a
// JWK (RFC 7517) with its RFC 7638 thumbprint.
//
// It is deliberately small: Mayfly only ever produces two kinds of token,
// DPoP proofs (RFC 9449) and client assertions (RFC 7523), both ES256 over
// JSON it builds itself, so a general JOSE library would add surface and
// size for nothing.
package jws

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/asn1"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"strings"
)

// ErrKeyType means the signer's key is not an ECDSA P-256 key.
var ErrKeyType = errors.New("jws: the key is not ECDSA P-256 (ES256)")

// JWK is a public P-256 key as a JSON Web Key (RFC 7518 §6.2.1). The
// members are in the lexicographic order RFC 7638 §3.2 hashes them in.
type JWK struct {
	Crv string `json:"crv"`
	Kty string `json:"kty"`
	X   string `json:"x"`
	Y   string `json:"y"`
}

// PublicJWK returns pub as a JWK.
func PublicJWK(pub crypto.PublicKey) (JWK, error) {
	k, ok := pub.(*ecdsa.PublicKey)
	if !ok || k.Curve != elliptic.P256() {
		return JWK{}, ErrKeyType
	}
	b, err := k.Bytes() // uncompressed point: 0x04 || X || Y, each 32 bytes
	if err != nil {
		return JWK{}, fmt.Errorf("jws: %w", err)
	}
	// RFC 7518 §6.2.1.2: x and y are the full 32 octets, leading zeros
	// kept; a shorter encoding gives another thumbprint.
	return JWK{
		Crv: "P-256",
		Kty: "EC",
		X:   b64(b[1:33]),
		Y:   b64(b[33:65]),
	}, nil
}

// Thumbprint returns the RFC 7638 SHA-256 thumbprint of k, base64url without
// padding: the value of DPoP's "jkt" (RFC 9449 §6.1).
func (k JWK) Thumbprint() string {
	// RFC 7638 §3.2: the required members only, in lexicographic order,
	// no whitespace. The struct marshals exactly so.
	b, _ := json.Marshal(k)
	sum := sha256.Sum256(b)
	return b64(sum[:])
}

// Sign returns the compact serialisation header.claims.signature, signed
// with ES256 by s. header and claims are marshalled with encoding/json;
// header must not already name an "alg" other than ES256.
func Sign(s crypto.Signer, header map[string]any, claims any) (string, error) {
	if _, err := PublicJWK(s.Public()); err != nil {
		return "", err
	}
	h := make(map[string]any, len(header)+1)
	for k, v := range header {
		h[k] = v
	}
	h["alg"] = "ES256"
	hb, err := json.Marshal(h)
	if err != nil {
		return "", fmt.Errorf("jws: header: %w", err)
	}
	cb, err := json.Marshal(claims)
	if err != nil {
		return "", fmt.Errorf("jws: claims: %w", err)
	}
	input := b64(hb) + "." + b64(cb)
	digest := sha256.Sum256([]byte(input))
	der, err := s.Sign(rand.Reader, digest[:], crypto.SHA256)
	if err != nil {
		return "", fmt.Errorf("jws: sign: %w", err)
	}
	sig, err := rawSignature(der)
	if err != nil {
		return "", err
	}
	return input + "." + b64(sig), nil
}

// rawSignature turns the ASN.1 DER signature every crypto.Signer returns
// into JWS's R || S, each left-padded to 32 bytes (RFC 7518 §3.4). TPMs
// and software keys alike produce R or S shorter than 32 bytes about one
// time in 128; dropping the padding gives a signature other parties reject.
func rawSignature(der []byte) ([]byte, error) {
	var sig struct{ R, S *big.Int }
	rest, err := asn1.Unmarshal(der, &sig)
	if err != nil || len(rest) != 0 || sig.R == nil || sig.S == nil ||
		sig.R.Sign() <= 0 || sig.S.Sign() <= 0 || sig.R.BitLen() > 256 || sig.S.BitLen() > 256 {
		return nil, errors.New("jws: the signer returned a malformed ECDSA signature")
	}
	out := make([]byte, 64)
	sig.R.FillBytes(out[:32])
	sig.S.FillBytes(out[32:])
	return out, nil
}

// Verify checks a compact ES256 JWS against pub and returns its decoded
// header and payload. Mayfly verifies nothing it receives this way; tests
// and `mayfly doctor` use it to check what the signer produced.
func Verify(token string, pub *ecdsa.PublicKey) (header, payload []byte, err error) {
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return nil, nil, errors.New("jws: not a compact JWS")
	}
	if header, err = base64.RawURLEncoding.DecodeString(parts[0]); err != nil {
		return nil, nil, fmt.Errorf("jws: header: %w", err)
	}
	if payload, err = base64.RawURLEncoding.DecodeString(parts[1]); err != nil {
		return nil, nil, fmt.Errorf("jws: payload: %w", err)
	}
	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil || len(sig) != 64 {
		return nil, nil, errors.New("jws: the signature is not 64 bytes of base64url")
	}
	var h struct {
		Alg string `json:"alg"`
	}
	if err := json.Unmarshal(header, &h); err != nil || h.Alg != "ES256" {
		return nil, nil, errors.New("jws: the header does not say ES256")
	}
	digest := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
	r, s := new(big.Int).SetBytes(sig[:32]), new(big.Int).SetBytes(sig[32:])
	if !ecdsa.Verify(pub, digest[:], r, s) {
		return nil, nil, errors.New("jws: bad signature")
	}
	return header, payload, nil
}

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }
