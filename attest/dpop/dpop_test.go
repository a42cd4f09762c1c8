package dpop

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/mayflyhq/mayfly/attest/jws"
)

func newProver(t *testing.T) (*Prover, *ecdsa.PrivateKey) {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	p, err := NewProver(k)
	if err != nil {
		t.Fatal(err)
	}
	return p, k
}

type proof struct {
	Typ string  `json:"typ"`
	Alg string  `json:"alg"`
	JWK jws.JWK `json:"jwk"`
}

func decode(t *testing.T, tok string, k *ecdsa.PublicKey) (proof, map[string]any) {
	t.Helper()
	h, p, err := jws.Verify(tok, k)
	if err != nil {
		t.Fatal(err)
	}
	var hdr proof
	var claims map[string]any
	if err := json.Unmarshal(h, &hdr); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(p, &claims); err != nil {
		t.Fatal(err)
	}
	return hdr, claims
}

func TestProofClaims(t *testing.T) {
	p, k := newProver(t)
	u, _ := url.Parse("https://user:pw@as.example/token?x=1#frag")
	tok, err := p.Proof("POST", u, "at-123")
	if err != nil {
		t.Fatal(err)
	}
	hdr, c := decode(t, tok, &k.PublicKey)
	if hdr.Typ != "dpop+jwt" || hdr.Alg != "ES256" || hdr.JWK != p.JWK() {
		t.Fatalf("header %+v", hdr)
	}
	// RFC 9449 §4.2: htu without query, fragment (and credentials).
	if c["htu"] != "https://as.example/token" || c["htm"] != "POST" {
		t.Fatalf("claims %v", c)
	}
	sum := sha256.Sum256([]byte("at-123"))
	if c["ath"] != base64.RawURLEncoding.EncodeToString(sum[:]) {
		t.Fatalf("ath %v", c["ath"])
	}
	if _, ok := c["nonce"]; ok {
		t.Fatal("nonce before any was sent")
	}
	tok2, _ := p.Proof("POST", u, "")
	_, c2 := decode(t, tok2, &k.PublicKey)
	if c2["jti"] == c["jti"] {
		t.Fatal("jti repeated")
	}
	if _, ok := c2["ath"]; ok {
		t.Fatal("ath without a token")
	}
}

// server is a token endpoint that demands a DPoP nonce, as oidc-provider
// does with requireNonce, and checks client assertions.
type server struct {
	t       *testing.T
	key     *ecdsa.PublicKey
	nonce   string
	mu      sync.Mutex
	calls   int
	forms   []url.Values
	proofs  []map[string]any
	jtiSeen map[string]bool
}

func (s *server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls++
	r.ParseForm()
	s.forms = append(s.forms, r.PostForm)
	if a := r.PostForm.Get("client_assertion"); a != "" {
		_, c := decode(s.t, a, s.key)
		if s.jtiSeen[c["jti"].(string)] {
			s.t.Error("client assertion jti reused")
		}
		s.jtiSeen[c["jti"].(string)] = true
	}
	if r.URL.Path != "/token" {
		w.Write([]byte(`{}`))
		return
	}
	_, c := decode(s.t, r.Header.Get("DPoP"), s.key)
	s.proofs = append(s.proofs, c)
	w.Header().Set("DPoP-Nonce", s.nonce)
	w.Header().Set("Content-Type", "application/json")
	if c["nonce"] != s.nonce {
		w.WriteHeader(http.StatusBadRequest)
		w.Write([]byte(`{"error":"use_dpop_nonce","error_description":"nonce required"}`))
		return
	}
	w.Write([]byte(`{"access_token":"a","token_type":"DPoP"}`))
}

func TestTransportNonceAndAssertion(t *testing.T) {
	p, k := newProver(t)
	srv := &server{t: t, key: &k.PublicKey, nonce: "n1", jtiSeen: map[string]bool{}}
	ts := httptest.NewServer(srv)
	defer ts.Close()
	tr := &Transport{Prover: p, DPoP: true, TokenURL: ts.URL + "/token",
		ClientID: "c1", Issuer: "https://issuer.example", AuthURLs: []string{ts.URL + "/token", ts.URL + "/revoke"}}
	hc := &http.Client{Transport: tr}

	post := func(path string) *http.Response {
		resp, err := hc.PostForm(ts.URL+path, url.Values{"grant_type": {"refresh_token"}, "client_id": {"c1"}})
		if err != nil {
			t.Fatal(err)
		}
		return resp
	}
	resp := post("/token")
	resp.Body.Close()
	if resp.StatusCode != 200 || srv.calls != 2 {
		t.Fatalf("status %d after %d calls; want 200 after a nonce retry", resp.StatusCode, srv.calls)
	}
	// The nonce is remembered: the next request needs no retry.
	post("/token").Body.Close()
	if srv.calls != 3 {
		t.Fatalf("%d calls; the nonce was not remembered", srv.calls)
	}
	// A new nonce from the server: one retry again, never a loop.
	srv.nonce = "n2"
	post("/token").Body.Close()
	if srv.calls != 5 {
		t.Fatalf("%d calls after a nonce change", srv.calls)
	}
	// Revocation: an assertion, no proof.
	post("/revoke?x=1").Body.Close()
	last := srv.forms[len(srv.forms)-1]
	if last.Get("client_assertion_type") != "urn:ietf:params:oauth:client-assertion-type:jwt-bearer" || last.Get("grant_type") != "refresh_token" {
		t.Fatalf("revocation form %v", last)
	}
	_, c := decode(t, last.Get("client_assertion"), &k.PublicKey)
	if c["iss"] != "c1" || c["sub"] != "c1" || c["aud"] != "https://issuer.example" {
		t.Fatalf("assertion claims %v", c)
	}
	// Discovery and the like pass through untouched.
	resp, err := hc.Get(ts.URL + "/.well-known/openid-configuration")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if f := srv.forms[len(srv.forms)-1]; f.Get("client_assertion") != "" {
		t.Fatal("assertion on a GET")
	}
}

// A server that always wants another nonce gets one retry, not a loop.
func TestTransportRetriesOnce(t *testing.T) {
	p, _ := newProver(t)
	calls := 0
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls++
		w.Header().Set("DPoP-Nonce", strings.Repeat("n", calls))
		w.WriteHeader(http.StatusBadRequest)
		w.Write([]byte(`{"error":"use_dpop_nonce"}`))
	}))
	defer ts.Close()
	hc := &http.Client{Transport: &Transport{Prover: p, DPoP: true, TokenURL: ts.URL + "/token"}}
	resp, err := hc.PostForm(ts.URL+"/token", url.Values{"a": {"b"}})
	if err != nil {
		t.Fatal(err)
	}
	var e map[string]string
	json.NewDecoder(resp.Body).Decode(&e)
	resp.Body.Close()
	if calls != 2 || resp.StatusCode != 400 || e["error"] != "use_dpop_nonce" {
		t.Fatalf("%d calls, status %d, body %v", calls, resp.StatusCode, e)
	}
}
