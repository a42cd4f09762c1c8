package testpeers

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"time"
)

// CargoRegistry is a sparse Cargo registry over HTTPS that serves one crate
// and requires authentication for everything ("auth-required": true in its
// config.json, RFC 3139): every request, config.json included, needs
// "Authorization: Bearer <token>" with a token the provider signed for our
// client. Others get 401 with "WWW-Authenticate: Cargo login_url=...".
type CargoRegistry struct {
	URL      string // https://127.0.0.1:PORT
	IndexURL string // "sparse+" URL "/index/", for [registries.NAME] index
	CAFile   string // the PEM certificate of the CA that signed the server's, for http.cainfo
	Crate    string // crate name
	Version  string // its one version
	CrateSum string // sha256 of the .crate file, as in the index

	srv   *httptest.Server
	gate  *tokenGate
	files map[string][]byte // URL path → body
}

// StartCargoRegistry starts a registry serving mayfly-hello 0.1.0, writing
// its CA certificate in dir.
func StartCargoRegistry(ctx context.Context, issuer, audience, dir string) (*CargoRegistry, error) {
	r := &CargoRegistry{Crate: "mayfly-hello", Version: "0.1.0", files: map[string][]byte{}}
	crate, err := crateFile(r.Crate, r.Version, map[string]string{
		"Cargo.toml": fmt.Sprintf("[package]\nname = %q\nversion = %q\nedition = \"2021\"\n", r.Crate, r.Version),
		"src/lib.rs": "//! Served by Mayfly's test registry.\n\npub fn hello() -> &'static str {\n    \"hello from behind Mayfly\"\n}\n",
	})
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256(crate)
	r.CrateSum = hex.EncodeToString(sum[:])
	// The address is known before the server starts, so everything it
	// serves is built before the first request can arrive.
	r.srv, r.CAFile, err = newTLSServer(dir, nil)
	if err != nil {
		return nil, fmt.Errorf("cargo registry: %w", err)
	}
	base := "https://" + r.srv.Listener.Addr().String()
	r.URL, r.IndexURL = base, "sparse+"+base+"/index/"
	r.gate, err = newTokenGate(ctx, issuer, audience, fmt.Sprintf("Cargo login_url=%q", base+"/me"))
	if err != nil {
		r.srv.Close()
		return nil, fmt.Errorf("cargo registry: %w", err)
	}
	r.srv.Config.Handler = r.gate.wrap(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, ok := r.files[req.URL.Path]
		if !ok {
			// A sparse index answers 404 for crates it does not have.
			http.NotFound(w, req)
			return
		}
		w.Write(body)
	}))

	// The index (Cargo reference, "Registry Index"): config.json, then one
	// file per crate with a JSON line per version, at a path made from the
	// name: 4+ letters go under the first two, then the next two.
	config, err := json.Marshal(map[string]any{
		"dl":            base + "/dl/{crate}-{version}.crate",
		"api":           base,
		"auth-required": true,
	})
	if err != nil {
		r.srv.Close()
		return nil, err
	}
	line, err := json.Marshal(map[string]any{
		"name": r.Crate, "vers": r.Version, "deps": []any{}, "cksum": r.CrateSum,
		"features": map[string]any{}, "yanked": false,
	})
	if err != nil {
		r.srv.Close()
		return nil, err
	}
	r.files["/index/config.json"] = config
	r.files["/index/"+indexPath(r.Crate)] = append(line, '\n')
	r.files["/dl/"+r.Crate+"-"+r.Version+".crate"] = crate
	r.srv.StartTLS()
	return r, nil
}

// CrateBytes returns the .crate file the registry serves.
func (r *CargoRegistry) CrateBytes() []byte {
	return r.files["/dl/"+r.Crate+"-"+r.Version+".crate"]
}

// Stats returns how many requests with credentials were accepted and rejected.
func (r *CargoRegistry) Stats() (accepted, rejected int) { return r.gate.stats() }

// Log returns the request log (no tokens in it).
func (r *CargoRegistry) Log() []string { return r.gate.requests() }

// Close stops the registry.
func (r *CargoRegistry) Close() { r.srv.Close() }

// indexPath is where a crate's index file lives (Cargo reference, "Index
// files"): 1/NAME, 2/NAME, 3/F/NAME, else AB/CD/NAME, lowercased.
func indexPath(name string) string {
	n := []byte(name)
	for i, c := range n {
		if 'A' <= c && c <= 'Z' {
			n[i] = c + 'a' - 'A'
		}
	}
	switch s := string(n); len(s) {
	case 1, 2:
		return fmt.Sprintf("%d/%s", len(s), s)
	case 3:
		return "3/" + s[:1] + "/" + s
	default:
		return s[:2] + "/" + s[2:4] + "/" + s
	}
}

// crateFile builds a .crate: a gzipped tar of the package's files under
// "NAME-VERSION/", as `cargo package` makes it.
func crateFile(name, version string, files map[string]string) ([]byte, error) {
	var b bytes.Buffer
	zw := gzip.NewWriter(&b)
	tw := tar.NewWriter(zw)
	mtime := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	for _, p := range []string{"Cargo.toml", "src/lib.rs"} {
		body, ok := files[p]
		if !ok {
			continue
		}
		hdr := &tar.Header{Name: name + "-" + version + "/" + p, Mode: 0o644, Size: int64(len(body)), ModTime: mtime, Typeflag: tar.TypeReg, Format: tar.FormatUSTAR}
		if err := tw.WriteHeader(hdr); err != nil {
			return nil, err
		}
		if _, err := tw.Write([]byte(body)); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}
