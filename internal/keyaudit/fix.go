package keyaudit

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/mayflyhq/mayfly/internal/setup"
	"github.com/mayflyhq/mayfly/protocol/dockercred"
)

// StaticCredential is a Docker password --fix moves into Mayfly's secret
// store, under the key docker-credential-mayfly looks it up by.
type StaticCredential struct {
	Server   string // dockercred.Normalize of the auths key
	Username string // "<token>" for an identity token
	Secret   string
}

// DockerFix is what --fix writes for one Docker config.json.
type DockerFix struct {
	New     []byte             // the file without the moved passwords
	Moves   []StaticCredential // to put in Mayfly's secret store first
	Dropped []string           // registries a profile serves: their password just goes
}

// PlanDockerFix takes every password out of auths: a registry a profile
// serves (match returns its name for "https://SERVER") needs none, since
// the profile mints tokens for it; any other registry's password moves to
// Mayfly's secret store. Either way credHelpers names docker-credential-mayfly
// for the registry, so Docker asks Mayfly from now on. Every other key is
// kept as written. New is old itself when there is nothing to move.
func PlanDockerFix(old []byte, match func(url string) string) (DockerFix, error) {
	fix := DockerFix{New: old}
	o, err := setup.ParseObject(old)
	if err != nil {
		return fix, err
	}
	rawAuths, ok := o.Get("auths")
	if !ok {
		return fix, nil
	}
	auths, err := setup.ParseObject(rawAuths)
	if err != nil {
		return fix, fmt.Errorf("auths: %w", err)
	}
	helpers, err := setup.ParseObject(nil)
	if err != nil {
		return fix, err
	}
	if raw, ok := o.Get("credHelpers"); ok && string(raw) != "null" {
		if helpers, err = setup.ParseObject(raw); err != nil {
			return fix, fmt.Errorf("credHelpers: %w", err)
		}
	}
	changed := false
	for _, server := range auths.Keys() {
		raw, _ := auths.Get(server)
		var a DockerAuth
		if json.Unmarshal(raw, &a) != nil {
			continue
		}
		user, secret := a.Credentials()
		if secret == "" {
			continue
		}
		key, err := dockercred.Normalize(server)
		if err != nil {
			return fix, fmt.Errorf("auths: registry %q: %w", server, err)
		}
		if match != nil && match(hostURL(key)) != "" {
			fix.Dropped = append(fix.Dropped, server)
		} else {
			fix.Moves = append(fix.Moves, StaticCredential{Server: key, Username: user, Secret: secret})
		}
		auths.Delete(server)
		helpers.SetString(server, "mayfly")
		changed = true
	}
	if !changed {
		return fix, nil
	}
	o.Set("auths", auths.Marshal(""))
	o.Set("credHelpers", helpers.Marshal(""))
	indent := "\t"
	for line := range strings.Lines(string(old)) {
		if t := strings.TrimLeft(line, " \t"); t != line && strings.TrimSpace(t) != "" {
			indent = line[:len(line)-len(t)]
			break
		}
	}
	fix.New = o.Marshal(indent)
	if strings.HasSuffix(string(old), "\n") {
		fix.New = append(fix.New, '\n')
	}
	return fix, nil
}

// PlanGitCredentialsFix drops the lines of ~/.git-credentials whose URL a
// profile serves (match returns its name), and returns the new content
// and the URLs dropped. Other lines are kept byte for byte: their hosts
// still need them until a profile serves them.
func PlanGitCredentialsFix(old []byte, match func(url string) string) (newData []byte, dropped []string) {
	var b strings.Builder
	for line := range strings.Lines(string(old)) {
		if target, _, ok := GitCredentialLine(line); ok && match != nil && match(target) != "" {
			dropped = append(dropped, target)
			continue
		}
		b.WriteString(line)
	}
	if len(dropped) == 0 {
		return old, nil
	}
	return []byte(b.String()), dropped
}
