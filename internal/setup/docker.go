package setup

import (
	"context"
	"encoding/json"
	"fmt"
	"os/exec"
	"path/filepath"

	"github.com/mayflyhq/mayfly/internal/config"
)

// dockerHub is Docker Hub's key in config.json: the one registry Docker
// names by URL (protocols.md §2.1).
const dockerHub = "https://index.docker.io/v1/"

// DockerRegistries returns the credHelpers keys for the profiles'
// patterns: bare host[:port], Docker Hub's URL for Docker Hub, and notes
// for the patterns Docker cannot express (it looks registries up by exact
// name, so a wildcard names none).
func DockerRegistries(profiles []*config.Profile) (regs, notes []string) {
	for _, t := range targets(profiles) {
		switch {
		case t.wildcard:
			notes = append(notes, fmt.Sprintf("%s (profile %s): Docker names registries exactly, so a wildcard cannot go in credHelpers; add each registry as a match entry, or set \"credsStore\": \"mayfly\"", t.hostPort(), t.profile))
			continue
		case t.path != "":
			notes = append(notes, fmt.Sprintf("%s%s (profile %s): Docker asks per registry, not per path: credHelpers names %s", t.hostPort(), t.path, t.profile, t.hostPort()))
		}
		key := t.hostPort()
		switch key {
		case "docker.io", "index.docker.io", "registry-1.docker.io":
			key = dockerHub
		}
		regs = append(regs, key)
	}
	return uniq(regs), notes
}

// DockerConfig returns config.json with credHelpers[r] = helper for every
// registry in regs, every other key and value kept as written. It returns
// old itself when every entry is already there. A registry whose
// plaintext password is still in auths gets a note.
func DockerConfig(old []byte, regs []string, helper string) ([]byte, []string, error) {
	o, err := ParseObject(old)
	if err != nil {
		return nil, nil, err
	}
	helpers := &Object{vals: map[string]json.RawMessage{}}
	if raw, ok := o.Get("credHelpers"); ok && string(raw) != "null" {
		if helpers, err = ParseObject(raw); err != nil {
			return nil, nil, fmt.Errorf("credHelpers: %w", err)
		}
	}
	var auths *Object
	if raw, ok := o.Get("auths"); ok && string(raw) != "null" {
		auths, _ = ParseObject(raw) // only read, for notes
	}
	var notes []string
	changed := false
	for _, r := range regs {
		if v, ok := helpers.Get(r); ok {
			if s, _ := stringValue(v); s == helper {
				continue
			}
		}
		helpers.SetString(r, helper)
		changed = true
	}
	if auths != nil {
		for _, r := range regs {
			if v, ok := auths.Get(r); ok && hasDockerSecret(v) {
				notes = append(notes, fmt.Sprintf("auths still holds a long-lived password for %s: `mayfly audit --fix` removes it", r))
			}
		}
	}
	if !changed {
		return old, notes, nil
	}
	o.Set("credHelpers", helpers.Marshal(""))
	return marshalLike(o, old, "\t"), notes, nil
}

// hasDockerSecret reports whether an auths entry holds a secret.
func hasDockerSecret(v json.RawMessage) bool {
	var e struct {
		Auth          string `json:"auth"`
		Password      string `json:"password"`
		IdentityToken string `json:"identitytoken"`
	}
	json.Unmarshal(v, &e)
	return e.Auth != "" || e.Password != "" || e.IdentityToken != ""
}

// DockerConfigPath is $DOCKER_CONFIG/config.json, else ~/.docker/config.json.
func DockerConfigPath(e Env) string {
	dir := e.absEnv("DOCKER_CONFIG")
	if dir == "" {
		dir = filepath.Join(e.Home, ".docker")
	}
	return filepath.Join(dir, "config.json")
}

// Docker plans credHelpers entries naming docker-credential-mayfly for the
// profiles' registries. Docker runs the helper by name from PATH (it takes
// no path and no arguments), so the note says when it is not there.
func Docker(_ context.Context, e Env, profiles []*config.Profile) (*Plan, error) {
	path := e.File
	if path == "" {
		path = DockerConfigPath(e)
	}
	p, err := readPlan("docker", path)
	if err != nil {
		return nil, err
	}
	regs, notes := DockerRegistries(profiles)
	p.Notes = notes
	if len(regs) == 0 {
		p.Notes = append(p.Notes, "no registry to add")
		return p, nil
	}
	p.New, notes, err = DockerConfig(p.Old, regs, "mayfly")
	if err != nil {
		return nil, fmt.Errorf("setup: %s: %w", p.Path, err)
	}
	p.Notes = append(p.Notes, notes...)
	if _, err := exec.LookPath("docker-credential-mayfly"); err != nil {
		where := e.BinDir
		if where == "" {
			where = "the folder of Mayfly's binaries"
		}
		p.Notes = append(p.Notes, fmt.Sprintf("docker-credential-mayfly is not on PATH: Docker finds helpers only there, so add %s to PATH", where))
	}
	return p, nil
}
