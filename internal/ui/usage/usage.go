// Package usage holds what each helper binary prints for --help: its
// synopsis, what it is, and the snippet that wires it into its tool. The
// helpers print it and `mayfly man` puts it in the man page, so the two
// never disagree. It imports nothing of Mayfly's and no network code, so
// the smallest helper can link it.
package usage

import (
	"fmt"
	"io"
	"strings"
)

// Helper describes one helper binary.
type Helper struct {
	Name     string // the binary
	Synopsis string // how the tool runs it, after the name
	Summary  string // one line: what it is
	Wiring   string // the configuration that points the tool at it, one or more lines
	Notes    string // anything else a person needs, one paragraph or ""
}

// Helpers are the helper binaries, in the order the man page lists them.
var Helpers = []Helper{
	{
		Name:     "git-credential-mayfly",
		Synopsis: "[--profile NAME] get|store|erase|capability",
		Summary:  "The credential helper git runs: short-lived tokens from the Mayfly agent",
		Wiring: `git config --global credential.https://git.corp.example.helper ""
git config --global --add credential.https://git.corp.example.helper mayfly`,
		Notes: "git runs it with the action as the last argument and the request on stdin; `mayfly setup git` writes the wiring.",
	},
	{
		Name:     "docker-credential-mayfly",
		Synopsis: "store|get|erase|list|version",
		Summary:  "The credential helper Docker runs (docker CLI, crane, skopeo, buildx)",
		Wiring: `~/.docker/config.json:
  {"credHelpers": {"registry.corp.example": "mayfly"}}
or, for every registry:
  {"credsStore": "mayfly"}`,
		Notes: "A registry a profile matches gets a short-lived token; passwords `docker login` hands it for other registries go to Mayfly's secret store, not config.json. `mayfly setup docker` writes the wiring.",
	},
	{
		Name:     "kubectl-mayfly",
		Synopsis: "[--profile NAME]",
		Summary:  "The exec credential plugin kubectl runs",
		Wiring: `users:
- name: corp
  user:
    exec:
      apiVersion: client.authentication.k8s.io/v1
      command: /usr/local/bin/kubectl-mayfly
      args: ["--profile", "corp"]
      interactiveMode: IfAvailable
      provideClusterInfo: true`,
		Notes: "kubectl runs it with KUBERNETES_EXEC_INFO set and reads an ExecCredential on stdout. Without a session it signs in on the terminal when kubectl gives it one. `mayfly setup kube` writes the wiring.",
	},
	{
		Name:     "mayfly-credential",
		Synopsis: "get | goauth [URL]",
		Summary:  "The Bazel/EngFlow credential helper, and Go's GOAUTH command",
		Wiring: `.bazelrc:
  build --credential_helper=*.corp.example=/usr/local/bin/mayfly-credential
Go (1.24 or later):
  go env -w GOAUTH='/usr/local/bin/mayfly-credential goauth'`,
		Notes: "`get` reads one JSON request such as {\"uri\": \"https://...\"} on stdin and prints the headers to send. `mayfly setup bazel` and `mayfly setup go` write the wiring.",
	},
	{
		Name:     "cargo-credential-mayfly",
		Synopsis: "--cargo-plugin",
		Summary:  "The credential provider cargo runs (cargo 1.74 or later)",
		Wiring: `~/.cargo/config.toml:
  [registries.corp]
  index = "sparse+https://crates.corp.example/index/"
  credential-provider = ["/usr/local/bin/cargo-credential-mayfly"]`,
		Notes: "cargo runs it with --cargo-plugin and speaks JSON lines on stdin and stdout. `mayfly setup cargo` writes the wiring.",
	},
}

// Lookup returns the helper called name.
func Lookup(name string) (Helper, bool) {
	for _, h := range Helpers {
		if h.Name == name {
			return h, true
		}
	}
	return Helper{}, false
}

// Print writes the --help text of the helper called name on w. The tools
// run helpers themselves: the text says so, and how to wire one in.
func Print(w io.Writer, name string) {
	h, ok := Lookup(name)
	if !ok {
		fmt.Fprintf(w, "usage: %s\n", name)
		return
	}
	var b strings.Builder
	fmt.Fprintf(&b, "usage: %s %s\n\n%s. Its tool runs it; you do not.\n\nwiring:\n", h.Name, h.Synopsis, h.Summary)
	for line := range strings.Lines(h.Wiring) {
		b.WriteString("  " + line)
	}
	b.WriteString("\n")
	if h.Notes != "" {
		fmt.Fprintf(&b, "\n%s\n", h.Notes)
	}
	b.WriteString("\nSign in first with `mayfly login`; `mayfly help` lists the commands, `mayfly man` prints the manual.\n")
	io.WriteString(w, b.String())
}

// IsHelp reports whether arg asks for help.
func IsHelp(arg string) bool {
	return arg == "--help" || arg == "-h" || arg == "-help"
}
