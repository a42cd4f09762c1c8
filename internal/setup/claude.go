package setup

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/mayflyhq/mayfly/internal/config"
)

// ClaudeSettings returns Claude Code's settings.json with apiKeyHelper set
// to command, every other key kept as written. It returns old itself when
// it already is.
func ClaudeSettings(old []byte, command string) ([]byte, []string, error) {
	o, err := ParseObject(old)
	if err != nil {
		return nil, nil, err
	}
	var notes []string
	if v, ok := o.Get("apiKeyHelper"); ok {
		if s, _ := stringValue(v); s == command {
			return old, nil, nil
		} else if s != "" {
			notes = append(notes, fmt.Sprintf("apiKeyHelper was %q", s))
		}
	}
	if v, ok := o.Get("env"); ok {
		if env, err := ParseObject(v); err == nil {
			for _, k := range []string{"ANTHROPIC_API_KEY", "ANTHROPIC_AUTH_TOKEN"} {
				if _, ok := env.Get(k); ok {
					notes = append(notes, fmt.Sprintf("env.%s in this file is a long-lived key that Claude Code may use instead of apiKeyHelper: remove it", k))
				}
			}
		}
	}
	o.SetString("apiKeyHelper", command)
	return marshalLike(o, old, "  "), notes, nil
}

// ClaudeCommand is the apiKeyHelper command: `mayfly token` for the
// profile, by absolute path, quoted for the shell Claude Code runs it
// with.
func ClaudeCommand(mayfly, profile string) string {
	return shellQuote(filepath.ToSlash(mayfly)) + " token --profile " + shellQuote(profile)
}

// ClaudeSettingsPath is $CLAUDE_CONFIG_DIR/settings.json, else
// ~/.claude/settings.json.
func ClaudeSettingsPath(e Env) string {
	dir := e.absEnv("CLAUDE_CONFIG_DIR")
	if dir == "" {
		dir = filepath.Join(e.Home, ".claude")
	}
	return filepath.Join(dir, "settings.json")
}

// Claude plans apiKeyHelper for one profile: the one the person named,
// or the only one.
func Claude(_ context.Context, e Env, profiles []*config.Profile) (*Plan, error) {
	if len(profiles) != 1 {
		var names []string
		for _, p := range profiles {
			names = append(names, p.Name)
		}
		return nil, fmt.Errorf("several profiles (%s): name the one that serves the API with --profile NAME", strings.Join(names, ", "))
	}
	bin, err := e.bin("mayfly")
	if err != nil {
		return nil, err
	}
	path := e.File
	if path == "" {
		path = ClaudeSettingsPath(e)
	}
	p, err := readPlan("claude", path)
	if err != nil {
		return nil, err
	}
	p.New, p.Notes, err = ClaudeSettings(p.Old, ClaudeCommand(bin, profiles[0].Name))
	if err != nil {
		return nil, fmt.Errorf("setup: %s: %w", p.Path, err)
	}
	return p, nil
}
