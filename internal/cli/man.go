package cli

import (
	"fmt"
	"io"
	"strings"

	"github.com/mayflyhq/mayfly/internal/ui/usage"
	"github.com/mayflyhq/mayfly/internal/version"
)

// manCmd is `mayfly man`: the manual page mayfly(1), in roff, generated
// from [commands] and the helpers' own --help texts ([usage.Helpers]).
// Read it with `mayfly man | man -l -`.
func manCmd(args []string, stdout io.Writer) error {
	if len(args) > 0 {
		return usageError{fmt.Errorf("unexpected argument %q", args[0])}
	}
	_, err := io.WriteString(stdout, manPage(commands, usage.Helpers))
	return err
}

func manPage(cmds []command, helpers []usage.Helper) string {
	var b strings.Builder
	fmt.Fprintf(&b, ".TH MAYFLY 1 \"\" %s \"Mayfly Manual\"\n", roffQuote("mayfly "+version.String()))
	b.WriteString(".SH NAME\nmayfly \\- short-lived tokens for git, Docker, kubectl, Go, cargo, Bazel and scripts\n")
	b.WriteString(".SH SYNOPSIS\n.B mayfly\n.I command\n.RI [ flags ]\n")
	b.WriteString(".SH DESCRIPTION\n")
	b.WriteString(roff("Mayfly signs you in once against your OpenID provider. A per-user agent keeps the refresh token in the system's secret store and hands each tool a fresh short-lived access token over a UNIX socket only your user can use. The helper programs below are what the tools run; mayfly itself signs in and out, shows the state, and wires the tools.") + "\n")
	b.WriteString(".SH COMMANDS\n")
	for _, c := range cmds {
		if c.hidden {
			continue
		}
		b.WriteString(".TP\n")
		b.WriteString(`\fBmayfly ` + roff(c.name) + `\fR`)
		if c.args != "" {
			b.WriteString(" " + roff(c.args))
		}
		for _, f := range c.flags {
			b.WriteString(" [" + flagRoff(f) + "]")
		}
		b.WriteString("\n" + roff(capitalize(c.help)) + ".\n")
		if len(c.words) > 0 {
			b.WriteString(".br\n" + roff(capitalize(placeholder(c))+": "+strings.Join(c.words, ", ")) + ".\n")
		}
		if len(c.flags) > 0 {
			b.WriteString(".RS\n")
			for _, f := range c.flags {
				b.WriteString(".TP\n" + flagRoff(f) + "\n" + roff(capitalize(f.help)) + ".\n")
			}
			b.WriteString(".RE\n")
		}
	}
	b.WriteString(".SH HELPER PROGRAMS\n")
	b.WriteString(roff("Each tool runs its helper itself; every helper answers --help with its usage and the wiring below. mayfly setup writes the wiring for you.") + "\n")
	for _, h := range helpers {
		fmt.Fprintf(&b, ".SS %s\n", roff(h.Name))
		fmt.Fprintf(&b, "\\fB%s\\fR %s\n.br\n%s.\n", roff(h.Name), roff(h.Synopsis), roff(capitalize(h.Summary)))
		if h.Notes != "" {
			b.WriteString(".PP\n" + roff(h.Notes) + "\n")
		}
		b.WriteString(".PP\n.RS 4\n.nf\n")
		for line := range strings.Lines(h.Wiring) {
			b.WriteString(roffLine(strings.TrimSuffix(line, "\n")) + "\n")
		}
		b.WriteString(".fi\n.RE\n")
	}
	b.WriteString(".SH ENVIRONMENT\n")
	for _, e := range environment {
		fmt.Fprintf(&b, ".TP\n.B %s\n%s.\n", roff(e.name), roff(capitalize(e.help)))
	}
	b.WriteString(".SH FILES\n")
	b.WriteString(".TP\n.I ~/.config/mayfly/config.toml\nThe configuration: profiles, their issuer, client and match rules.\n")
	b.WriteString(".TP\n.I ~/.local/state/mayfly/audit.log\nThe audit log, one JSON line per event; see \\fBmayfly log\\fR.\n")
	b.WriteString(".SH SHELL COMPLETION\n")
	b.WriteString(".nf\n" + roffLine("source <(mayfly completion bash)") + "\n" + roffLine("source <(mayfly completion zsh)") + "\n" + roffLine("mayfly completion fish | source") + "\n.fi\n")
	b.WriteString(".SH SEE ALSO\n\\fBgitcredentials\\fR(7), \\fBgit-credential\\fR(1)\n")
	return b.String()
}

// flagRoff is a flag in bold with its placeholder in italics.
func flagRoff(f flagSpec) string {
	s := `\fB\-\-` + roff(f.name) + `\fR`
	if f.arg != "" {
		s += ` \fI` + roff(f.arg) + `\fR`
	}
	return s
}

// roff escapes text for a roff line: backslashes and hyphens, and a
// leading dot or quote, which would make the line a request.
func roff(s string) string {
	s = strings.NewReplacer(`\`, `\e`, "-", `\-`).Replace(s)
	if strings.HasPrefix(s, ".") || strings.HasPrefix(s, "'") {
		s = `\&` + s
	}
	return s
}

// roffLine is roff for one line of a no-fill block, where leading spaces
// must stay.
func roffLine(s string) string {
	if s == "" {
		return `\&`
	}
	return roff(s)
}

func roffQuote(s string) string {
	return `"` + strings.ReplaceAll(roff(s), `"`, `\(dq`) + `"`
}

func capitalize(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}
