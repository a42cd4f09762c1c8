package dpop

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
)

// Transport adds proof of possession to the requests an OAuth client makes
// to its authorization server:
//
//   - a DPoP header (RFC 9449 §5) on requests to the token endpoint, when
//     DPoP is on, retried once with the server's nonce when it answers
//     use_dpop_nonce (§8);
//   - client_assertion and client_assertion_type (RFC 7523 §2.2) in the
//     form body of requests to the token, device authorization and
//     revocation endpoints, when ClientID is set.
//
// Other requests (discovery, JWKS) pass through untouched.
type Transport struct {
	Base   http.RoundTripper // nil: http.DefaultTransport
	Prover *Prover

	// DPoP turns proofs on for TokenURL.
	DPoP     bool
	TokenURL string

	// ClientID and Issuer, when ClientID is set, make every request to an
	// endpoint in AuthURLs carry a client assertion (private_key_jwt).
	ClientID string
	Issuer   string
	AuthURLs []string
}

func (t *Transport) base() http.RoundTripper {
	if t.Base != nil {
		return t.Base
	}
	return http.DefaultTransport
}

// RoundTrip implements http.RoundTripper.
func (t *Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	target := withoutQuery(req.URL)
	proof := t.DPoP && target == withoutQuery(mustParse(t.TokenURL))
	assert := t.ClientID != "" && req.Method == http.MethodPost && contains(t.AuthURLs, target)
	if !proof && !assert {
		return t.base().RoundTrip(req)
	}
	var body []byte
	if req.Body != nil {
		b, err := io.ReadAll(io.LimitReader(req.Body, 1<<20))
		req.Body.Close()
		if err != nil {
			return nil, fmt.Errorf("dpop: reading the request body: %w", err)
		}
		body = b
	}
	for try := 0; ; try++ {
		r, err := t.prepare(req, body, proof, assert)
		if err != nil {
			return nil, err
		}
		resp, err := t.base().RoundTrip(r)
		if err != nil || !proof {
			return resp, err
		}
		// §8: keep the newest nonce from every answer, success or not.
		changed := t.Prover.setNonce(req.URL, resp.Header.Get("DPoP-Nonce"))
		if try > 0 || !changed || resp.StatusCode != http.StatusBadRequest || !isNonceError(resp) {
			return resp, nil
		}
		// The server wants a proof with its nonce: once more, with a new
		// proof (and a new assertion: each jti is single-use).
		io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
		resp.Body.Close()
	}
}

// prepare clones req with the proof and assertion of this attempt.
func (t *Transport) prepare(req *http.Request, body []byte, proof, assert bool) (*http.Request, error) {
	r := req.Clone(req.Context())
	if assert {
		form, err := url.ParseQuery(string(body))
		if err != nil {
			// Not %w: the parser's error quotes the body, which holds a
			// grant (a code or a refresh token).
			return nil, errors.New("dpop: the request body is not a form")
		}
		a, err := t.Prover.Assertion(t.ClientID, t.Issuer)
		if err != nil {
			return nil, err
		}
		// RFC 7523 §2.2; client_id may stay (RFC 6749 §3.2.1), and must
		// then be the assertion's sub.
		form.Set("client_assertion_type", "urn:ietf:params:oauth:client-assertion-type:jwt-bearer")
		form.Set("client_assertion", a)
		body = []byte(form.Encode())
		r.Header.Del("Authorization")
	}
	if proof {
		p, err := t.Prover.Proof(req.Method, req.URL, "")
		if err != nil {
			return nil, err
		}
		r.Header.Set("DPoP", p)
	}
	if body != nil {
		r.Body = io.NopCloser(bytes.NewReader(body))
		r.ContentLength = int64(len(body))
		r.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(body)), nil }
	}
	return r, nil
}

// isNonceError reports whether resp is the token endpoint's
// {"error":"use_dpop_nonce"} (RFC 9449 §8). It leaves the body readable.
func isNonceError(resp *http.Response) bool {
	b, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	resp.Body = io.NopCloser(bytes.NewReader(b))
	if err != nil {
		return false
	}
	var e struct {
		Error string `json:"error"`
	}
	return json.Unmarshal(b, &e) == nil && e.Error == "use_dpop_nonce"
}

func withoutQuery(u *url.URL) string {
	if u == nil {
		return ""
	}
	return htu(u)
}

func mustParse(s string) *url.URL {
	u, err := url.Parse(s)
	if err != nil {
		return nil
	}
	return u
}

func contains(urls []string, target string) bool {
	for _, s := range urls {
		if s != "" && withoutQuery(mustParse(s)) == target {
			return true
		}
	}
	return false
}
