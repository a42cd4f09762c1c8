package setup

import (
	"context"
	"fmt"
	"path/filepath"
	"regexp"
	"slices"
	"strings"

	"github.com/BurntSushi/toml"

	"github.com/mayflyhq/mayfly/internal/config"
)

// CargoConfig returns cargo's config.toml with credential-provider =
// [provider] in every [registries.NAME] table whose index a profile serves
// (serves reports it for an index URL without its "sparse+" prefix).
//
// The file is edited as text, one line inserted or replaced per registry,
// because the TOML encoder at hand (BurntSushi/toml) cannot write a file
// back with its comments and layout. The result is parsed again to check
// that it says what was meant. It returns old itself when every served
// registry already names the provider; the notes say which registries it
// could not edit, or that none is served.
func CargoConfig(old []byte, serves func(index string) bool, provider string) ([]byte, []string, error) {
	regs, err := cargoRegistries(old)
	if err != nil {
		return nil, nil, err
	}
	want := []string{provider}
	var notes []string
	lines := splitLines(string(old))
	served := 0
	var edited []string
	for _, name := range slices.Sorted(mapKeys(regs)) {
		r := regs[name]
		if !serves(strings.TrimPrefix(strings.TrimPrefix(r.index, "sparse+"), "registry+")) {
			continue
		}
		served++
		if slices.Equal(r.provider, want) {
			continue
		}
		var ok bool
		lines, ok = setCargoProvider(lines, name, `credential-provider = [`+string(jsonString(provider))+`]`)
		if ok {
			edited = append(edited, name)
		} else {
			notes = append(notes, fmt.Sprintf("registry %s: not written as a [registries.%s] table with a one-line credential-provider, so set credential-provider = [%q] in it by hand", name, name, provider))
		}
	}
	if served == 0 {
		notes = append(notes, "no [registries.NAME] index is served by a profile: add the registry (README \"Wiring each tool\"), then run setup again")
	}
	out := strings.Join(lines, "")
	if out == string(old) {
		return old, notes, nil
	}
	// Check the edit.
	after, err := cargoRegistries([]byte(out))
	if err != nil {
		return nil, nil, fmt.Errorf("the edited file does not parse (%w): edit it by hand", err)
	}
	for _, name := range edited {
		if !slices.Equal(after[name].provider, want) {
			return nil, nil, fmt.Errorf("registry %s: the edit did not take: edit it by hand", name)
		}
	}
	return []byte(out), notes, nil
}

type cargoRegistry struct {
	index    string
	provider []string
}

func cargoRegistries(data []byte) (map[string]cargoRegistry, error) {
	var raw struct {
		Registries map[string]map[string]any `toml:"registries"`
	}
	if _, err := toml.Decode(string(data), &raw); err != nil {
		return nil, fmt.Errorf("not TOML: %w", err)
	}
	out := map[string]cargoRegistry{}
	for name, r := range raw.Registries {
		var c cargoRegistry
		c.index, _ = r["index"].(string)
		switch v := r["credential-provider"].(type) {
		case string:
			c.provider = strings.Fields(v)
		case []any:
			for _, a := range v {
				s, _ := a.(string)
				c.provider = append(c.provider, s)
			}
		}
		out[name] = c
	}
	return out, nil
}

func mapKeys[V any](m map[string]V) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

var (
	tomlHeader       = regexp.MustCompile(`^\s*\[\s*([^\[\]]+?)\s*\]\s*(#.*)?$`)
	cargoProviderKey = regexp.MustCompile(`^\s*("credential-provider"|credential-provider)\s*=`)
)

// setCargoProvider puts line into the [registries.NAME] table of lines:
// in place of a one-line credential-provider, or right after the header.
func setCargoProvider(lines []string, name, line string) ([]string, bool) {
	start := -1
	for i, l := range lines {
		m := tomlHeader.FindStringSubmatch(strings.TrimRight(l, "\r\n"))
		if m == nil {
			continue
		}
		if start >= 0 {
			break
		}
		if tableIs(m[1], "registries", name) {
			start = i
		}
	}
	if start < 0 {
		return lines, false
	}
	eol := "\n"
	if strings.HasSuffix(lines[start], "\r\n") {
		eol = "\r\n"
	}
	if !strings.HasSuffix(lines[start], "\n") {
		lines[start] += eol
	}
	end := len(lines)
	for i := start + 1; i < len(lines); i++ {
		if tomlHeader.MatchString(strings.TrimRight(lines[i], "\r\n")) {
			end = i
			break
		}
	}
	for i := start + 1; i < end; i++ {
		if !cargoProviderKey.MatchString(lines[i]) {
			continue
		}
		v := strings.TrimSpace(strings.SplitN(lines[i], "=", 2)[1])
		// Only a value complete on its line: a string, or an array
		// closed on it.
		if strings.HasPrefix(v, "[") && !strings.Contains(v, "]") {
			return lines, false
		}
		out := slices.Clone(lines)
		out[i] = line + eol
		return out, true
	}
	out := slices.Insert(slices.Clone(lines), start+1, line+eol)
	return out, true
}

// tableIs reports whether the header key h (as in "[h]") names
// section.name, with optional quotes around either part.
func tableIs(h, section, name string) bool {
	parts := strings.SplitN(h, ".", 2)
	if len(parts) != 2 {
		return false
	}
	unq := func(s string) string {
		s = strings.TrimSpace(s)
		if len(s) >= 2 && (s[0] == '"' && s[len(s)-1] == '"' || s[0] == '\'' && s[len(s)-1] == '\'') {
			return s[1 : len(s)-1]
		}
		return s
	}
	return unq(parts[0]) == section && unq(parts[1]) == name
}

// CargoConfigPath is $CARGO_HOME/config.toml (or ~/.cargo), or the older
// name "config" when only that exists, as cargo reads it.
func CargoConfigPath(e Env) string {
	dir := e.absEnv("CARGO_HOME")
	if dir == "" {
		dir = filepath.Join(e.Home, ".cargo")
	}
	p := filepath.Join(dir, "config.toml")
	if !isFile(p) && isFile(filepath.Join(dir, "config")) {
		return filepath.Join(dir, "config")
	}
	return p
}

// Cargo plans credential-provider entries naming cargo-credential-mayfly
// in the registries the profiles serve. Cargo sends the token as the
// Authorization header and does not use `cargo login` (README).
func Cargo(_ context.Context, e Env, profiles []*config.Profile) (*Plan, error) {
	bin, err := e.bin("cargo-credential-mayfly")
	if err != nil {
		return nil, err
	}
	path := e.File
	if path == "" {
		path = CargoConfigPath(e)
	}
	p, err := readPlan("cargo", path)
	if err != nil {
		return nil, err
	}
	match := matcher(profiles)
	serves := func(index string) bool { return match(index) != nil }
	p.New, p.Notes, err = CargoConfig(p.Old, serves, filepath.ToSlash(bin))
	if err != nil {
		return nil, fmt.Errorf("setup: %s: %w", p.Path, err)
	}
	return p, nil
}
