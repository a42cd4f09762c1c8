package cli

import (
	"fmt"
	"io"
	"strings"

	"github.com/mayflyhq/mayfly/internal/envknob"
	"github.com/mayflyhq/mayfly/internal/setup"
)

// command declares one `mayfly` command for the usage text, `mayfly
// <cmd> --help`, the shell completions and the man page, which are all
// generated from [commands]. Run dispatches on the name; a test checks that
// each command's flags here are the ones its flag set defines.
type command struct {
	name   string
	args   string     // the positional part of the synopsis, "" for none
	words  []string   // words a positional argument may be, for completion
	files  bool       // positional arguments are paths
	flags  []flagSpec // in synopsis order
	help   string     // one line, lower case, no final period
	hidden bool       // for the completion scripts only: not in usage or man
}

// flagSpec declares one flag.
type flagSpec struct {
	name    string   // without dashes
	arg     string   // the value's placeholder; "" for a boolean flag
	values  []string // the values it takes, when there are few
	profile bool     // the value is a profile name
	file    bool     // the value is a path
	help    string
}

var profileFlag = func(help string) flagSpec {
	return flagSpec{name: "profile", arg: "NAME", profile: true, help: help}
}

// commands is every command of `mayfly`, in the order the usage lists them.
var commands = []command{
	{name: "login", help: "sign in", flags: []flagSpec{
		profileFlag("profile to sign in (default: the only one)"),
		{name: "flow", arg: "device|browser", values: []string{"device", "browser"}, help: "override the profile's flow"},
		{name: "no-browser", help: "do not open a browser; print the link instead"},
	}},
	{name: "logout", help: "sign out and revoke", flags: []flagSpec{
		profileFlag("profile to sign out"),
		{name: "all", help: "sign out of every profile"},
	}},
	{name: "status", help: "profiles, sessions, store", flags: []flagSpec{
		{name: "json", help: "print JSON"},
	}},
	{name: "token", args: "[URL]", help: "print an access token (apiKeyHelper, scripts)", flags: []flagSpec{
		profileFlag("profile whose token to print (default: the one serving URL, else the only one)"),
	}},
	{name: "key", args: "show", words: []string{"show"}, help: "print the device key's public JWK and thumbprint, to register with a provider", flags: []flagSpec{
		{name: "json", help: "print the key's description as JSON"},
	}},
	{name: "doctor", help: "check config, secret stores and agent", flags: []flagSpec{
		{name: "json", help: "print JSON"},
	}},
	{name: "log", help: "the audit log: tokens issued and refused, sign-ins, alerts", flags: []flagSpec{
		{name: "since", arg: "DURATION|TIME", help: "only events after this: a duration back (90m, 2h, 7d) or a time (2006-01-02, RFC 3339)"},
		{name: "json", help: "print the log's JSON lines as written"},
		profileFlag("only events of this profile"),
	}},
	{name: "setup", args: strings.Join(setup.Consumers, "|") + "...", words: setup.Consumers, help: "point a tool at Mayfly", flags: []flagSpec{
		profileFlag("wire only this profile (default: all)"),
		{name: "dry-run", help: "print the change as a diff; write nothing"},
		{name: "file", arg: "PATH", file: true, help: "write this file instead of the consumer's usual one"},
	}},
	{name: "audit", args: "[PATH...]", files: true, help: "find long-lived keys in plaintext", flags: []flagSpec{
		{name: "json", help: "print JSON"},
		{name: "fix", help: "move Docker passwords into Mayfly and drop git passwords a profile replaces, after confirmation"},
		{name: "yes", help: "with --fix: do not ask for confirmation"},
	}},
	{name: "agent", args: "[run|stop]", words: []string{"run", "stop"}, help: "run or stop the agent"},
	{name: "completion", args: "bash|zsh|fish", words: []string{"bash", "zsh", "fish"}, help: "print a shell completion script"},
	{name: "man", help: "print the manual page, mayfly(1), in roff"},
	{name: "version", help: "print the version"},
	{name: "help", help: "print this help"},
	{name: completeProfiles, hidden: true, help: "list the configuration's profile names, for completion"},
}

// completeProfiles is the hidden command the completion scripts run to
// complete --profile.
const completeProfiles = "__complete-profiles"

func lookup(cmds []command, name string) (command, bool) {
	for _, c := range cmds {
		if c.name == name {
			return c, true
		}
	}
	return command{}, false
}

// synopsis is the command line of c after "mayfly": "login [--profile NAME] ...".
func (c command) synopsis() string {
	parts := []string{c.name}
	if c.args != "" {
		parts = append(parts, c.args)
	}
	for _, f := range c.flags {
		parts = append(parts, "["+f.usage()+"]")
	}
	return strings.Join(parts, " ")
}

// usage is "--name ARG" or "--name".
func (f flagSpec) usage() string {
	if f.arg == "" {
		return "--" + f.name
	}
	return "--" + f.name + " " + f.arg
}

// environment lists the variables the usage and man page mention.
var environment = []struct{ name, help string }{
	{envknob.Config, "the configuration file (default ~/.config/mayfly/config.toml)"},
	{envknob.AgentSocket, "the agent's socket"},
	{envknob.Debug, "with 1: full error chains, debug-level agent log (tokens are never logged)"},
	{envknob.NonInteractive, "with 1: never open a browser or sign in on a terminal"},
}

// writeUsage writes the usage text: one line per command, help aligned.
func writeUsage(w io.Writer, cmds []command) {
	var b strings.Builder
	b.WriteString("usage: mayfly <command> [flags]\n\ncommands:\n")
	width := 0
	for _, c := range cmds {
		if !c.hidden {
			width = max(width, len(c.synopsis()))
		}
	}
	width = min(width, 62)
	for _, c := range cmds {
		if c.hidden {
			continue
		}
		s := c.synopsis()
		if len(s) > width {
			fmt.Fprintf(&b, "  %s\n  %-*s  %s\n", s, width, "", c.help)
		} else {
			fmt.Fprintf(&b, "  %-*s  %s\n", width, s, c.help)
		}
	}
	b.WriteString("\n`mayfly <command> --help` describes a command's flags.\n\nenvironment: ")
	for i, e := range environment {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(e.name)
	}
	b.WriteString("\n")
	io.WriteString(w, b.String())
}

// writeCommandHelp writes `mayfly <cmd> --help`.
func writeCommandHelp(w io.Writer, c command) {
	var b strings.Builder
	fmt.Fprintf(&b, "usage: mayfly %s\n\n%s\n", c.synopsis(), c.help)
	if len(c.words) > 0 {
		fmt.Fprintf(&b, "\n%s: %s\n", placeholder(c), strings.Join(c.words, ", "))
	}
	if len(c.flags) > 0 {
		b.WriteString("\nflags:\n")
		width := 0
		for _, f := range c.flags {
			width = max(width, len(f.usage()))
		}
		for _, f := range c.flags {
			fmt.Fprintf(&b, "  %-*s  %s\n", width, f.usage(), f.help)
		}
	}
	io.WriteString(w, b.String())
}

// placeholder names c's positional argument for a list of its words.
func placeholder(c command) string {
	switch c.name {
	case "setup":
		return "consumers"
	case "completion":
		return "shells"
	}
	return "arguments"
}
