package archtest

import (
	"bytes"
	"encoding/json"
	"errors"
	"go/parser"
	"go/token"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

const module = "github.com/mayflyhq/mayfly"

// root is the module's folder: the nearest parent with a go.mod.
func root(t *testing.T) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("no go.mod above the test's folder")
		}
		dir = parent
	}
}

// TestPackageDocs: every package in the module has a doc comment, in
// exactly one of its files (godoc would run two together), starting with
// "Package <name>" or, for a main package, "Command <name>" or
// "Binary <name>". Files of every GOOS count, test files do not (the e2e
// package's doc is in doc.go).
func TestPackageDocs(t *testing.T) {
	top := root(t)
	err := filepath.WalkDir(top, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() {
			return nil
		}
		name := d.Name()
		if path != top && (strings.HasPrefix(name, ".") || strings.HasPrefix(name, "_") || name == "testdata" || name == "vendor" || name == "bin") {
			return filepath.SkipDir
		}
		if path != top {
			if _, err := os.Stat(filepath.Join(path, "go.mod")); err == nil {
				return filepath.SkipDir // another module (scripts/peers/dex)
			}
		}
		checkDoc(t, top, path)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func checkDoc(t *testing.T, top, dir string) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	rel, _ := filepath.Rel(top, dir)
	var pkg string
	var docs []string // files with a package doc
	fset := token.NewFileSet()
	for _, e := range entries {
		n := e.Name()
		if e.IsDir() || !strings.HasSuffix(n, ".go") || strings.HasSuffix(n, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, filepath.Join(dir, n), nil, parser.PackageClauseOnly|parser.ParseComments)
		if err != nil {
			t.Errorf("%s: %v", filepath.Join(rel, n), err)
			continue
		}
		pkg = f.Name.Name
		if f.Doc == nil {
			continue
		}
		docs = append(docs, n)
		text := f.Doc.Text()
		want := []string{"Package " + pkg + " "}
		if pkg == "main" {
			want = []string{"Command ", "Binary "}
		}
		if !slices.ContainsFunc(want, func(p string) bool { return strings.HasPrefix(text, p) }) {
			t.Errorf("%s: the package doc starts %q, want %q", filepath.Join(rel, n), firstWords(text), strings.Join(want, `" or "`))
		}
	}
	switch {
	case pkg == "":
		// no Go files here
	case len(docs) == 0:
		t.Errorf("%s (package %s) has no package doc comment: add a doc.go or a comment above one package clause", rel, pkg)
	case len(docs) > 1:
		t.Errorf("%s (package %s) has a package doc in %d files (%s); keep one", rel, pkg, len(docs), strings.Join(docs, ", "))
	}
}

func firstWords(s string) string {
	if f := strings.Fields(s); len(f) > 3 {
		return strings.Join(f[:3], " ") + " ..."
	}
	return s
}

// rule forbids packages whose import path is one of deny, or below one of
// them ("k8s.io/" is a prefix of its own), in the dependencies of every
// package matching root ("x/..." matches x and what is below it).
type rule struct {
	root string
	deny []string
	why  string
}

var (
	// A secret store, an HTTP or OAuth stack, config parsing, client-go
	// and TPM code have no business in a helper that only relays one
	// request to the agent.
	thinHelper = []string{"k8s.io/", "sigs.k8s.io/", "github.com/google/go-tpm", "net/http", "golang.org/x/oauth2",
		"github.com/BurntSushi/toml", module + "/backends", module + "/tokensource"}
	rules = []rule{
		{"protocol/...", []string{module + "/"}, "a protocol codec imports none of Mayfly's other packages (floors: protocol/* is the ground floor)"},
		{"helpers/git-credential-mayfly", thinHelper, "git's helper stays small and starts fast (style guide: client-go costs +69% start-up and 6 MB; README: no HTTP, OAuth or TOML)"},
		{"helpers/docker-credential-mayfly", thinHelper, "Docker's helper stays small and starts fast"},
		{"helpers/cargo-credential-mayfly", thinHelper, "cargo's provider only relays to the agent"},
		{"helpers/mayfly-credential", thinHelper, "the Bazel and GOAUTH helper only relays to the agent"},
		{"helpers/kubectl-mayfly", []string{"github.com/google/go-tpm", "golang.org/x/oauth2", module + "/backends", module + "/tokensource"},
			"kubectl's plugin may use client-go's clientauthentication types, but never opens a store or talks OAuth"},
		{"backends/...", []string{"golang.org/x/oauth2", "net/http", module + "/tokensource", module + "/agent", module + "/protocol", module + "/internal/config"},
			"a store never imports OAuth, the agent or a protocol"},
		{"tokensource/...", []string{module + "/agent", module + "/protocol", module + "/helpers"}, "token sources sit below the agent"},
	}
)

type listed struct {
	ImportPath string
	Deps       []string
	Error      *struct{ Err string }
}

// TestDependencies checks the rules against `go list -deps -json` of the
// whole module, for each OS Mayfly builds for.
func TestDependencies(t *testing.T) {
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("no go command")
	}
	top := root(t)
	for _, goos := range []string{"linux", "darwin", "windows"} {
		t.Run(goos, func(t *testing.T) {
			pkgs := goList(t, top, goos)
			for _, r := range rules {
				matched := 0
				for _, p := range pkgs {
					if !matches(r.root, strings.TrimPrefix(p.ImportPath, module+"/")) || !strings.HasPrefix(p.ImportPath, module+"/") {
						continue
					}
					matched++
					for _, d := range p.Deps {
						if denied(r, p.ImportPath, d) {
							t.Errorf("%s (GOOS=%s) depends on %s: %s", p.ImportPath, goos, d, r.why)
						}
					}
				}
				if matched == 0 {
					t.Errorf("rule for %s matches no package: fix the rule", r.root)
				}
			}
		})
	}
}

func goList(t *testing.T, dir, goos string) []listed {
	t.Helper()
	cmd := exec.Command("go", "list", "-deps", "-json=ImportPath,Deps,Error", "./...")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOOS="+goos, "CGO_ENABLED=0")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list (GOOS=%s): %v\n%s", goos, err, stderr.String())
	}
	var pkgs []listed
	dec := json.NewDecoder(bytes.NewReader(out))
	for {
		var p listed
		if err := dec.Decode(&p); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatalf("go list output: %v", err)
		}
		if p.Error != nil {
			t.Errorf("go list (GOOS=%s): %s: %s", goos, p.ImportPath, p.Error.Err)
		}
		pkgs = append(pkgs, p)
	}
	return pkgs
}

func matches(pattern, rel string) bool {
	if base, ok := strings.CutSuffix(pattern, "/..."); ok {
		return rel == base || strings.HasPrefix(rel, base+"/")
	}
	return rel == pattern
}

func denied(r rule, self, dep string) bool {
	for _, d := range r.deny {
		var hit bool
		if strings.HasSuffix(d, "/") {
			hit = strings.HasPrefix(dep, d)
		} else {
			hit = dep == d || strings.HasPrefix(dep, d+"/")
		}
		if !hit {
			continue
		}
		// A package may import itself and what is below it (a protocol's
		// own subpackages, backends/... importing backends).
		if dep == self || strings.HasPrefix(dep, self+"/") {
			continue
		}
		return true
	}
	return false
}
