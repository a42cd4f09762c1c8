package e2e

import (
	"bufio"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/mayflyhq/mayfly/internal/envknob"
	"github.com/mayflyhq/mayfly/internal/paths"
)

// The service definitions in contrib/ against what the agent and the helpers
// expect. systemd's own check of the units is in contrib_linux_test.go.

// unitKeys reads a systemd unit file's Key=Value lines, section by
// section ("Socket.ListenStream").
func unitKeys(t *testing.T, name string) map[string]string {
	t.Helper()
	f, err := os.Open(filepath.Join("..", "contrib", "systemd", name))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	keys := map[string]string{}
	section := ""
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		switch {
		case line == "" || line[0] == '#' || line[0] == ';':
		case line[0] == '[':
			section = strings.Trim(line, "[]")
		default:
			k, v, ok := strings.Cut(line, "=")
			if !ok {
				t.Fatalf("%s: not Key=Value: %q", name, line)
			}
			keys[section+"."+strings.TrimSpace(k)] = strings.TrimSpace(v)
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return keys
}

// TestSystemdUnits: the socket unit listens exactly where helpers look
// when XDG_RUNTIME_DIR is set (as the user manager sets it; %t is that
// folder), owner-only, and the service runs `mayfly agent`.
func TestSystemdUnits(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("the agent listens on a named pipe on Windows")
	}
	sock := unitKeys(t, "mayfly-agent.socket")
	const runtimeDir = "/run/user/1000"
	t.Setenv("XDG_RUNTIME_DIR", runtimeDir)
	t.Setenv(envknob.AgentSocket, "")
	want, err := paths.Socket()
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.ReplaceAll(sock["Socket.ListenStream"], "%t", runtimeDir); got != want {
		t.Errorf("ListenStream=%s is %s, but helpers look for the agent at %s", sock["Socket.ListenStream"], got, want)
	}
	for k, v := range map[string]string{"Socket.SocketMode": "0600", "Socket.DirectoryMode": "0700", "Install.WantedBy": "sockets.target"} {
		if sock[k] != v {
			t.Errorf("mayfly-agent.socket: %s=%q, want %q", k, sock[k], v)
		}
	}
	if _, ok := sock["Socket.Accept"]; ok {
		t.Error("mayfly-agent.socket sets Accept=: the agent takes the listening socket, one agent for all connections")
	}
	svc := unitKeys(t, "mayfly-agent.service")
	if f := strings.Fields(svc["Service.ExecStart"]); len(f) != 2 || path.Base(f[0]) != "mayfly" || f[1] != "agent" {
		t.Errorf("mayfly-agent.service: ExecStart=%s, want `mayfly agent`", svc["Service.ExecStart"])
	}
	for k, v := range map[string]string{"Unit.Requires": "mayfly-agent.socket", "Service.LimitCORE": "0", "Service.NoNewPrivileges": "yes"} {
		if svc[k] != v {
			t.Errorf("mayfly-agent.service: %s=%q, want %q", k, svc[k], v)
		}
	}
}

// plistNode is an element of a property list, kept whole.
type plistNode struct {
	XMLName xml.Name
	Text    string      `xml:",chardata"`
	Nodes   []plistNode `xml:",any"`
}

// plistDict reads the top-level dict of a property list: each key with the
// element that follows it, as "string:TEXT", "integer:N", "true", "false",
// "dict", or "array:A,B" (the items' text).
func plistDict(r io.Reader) (map[string]string, error) {
	d := xml.NewDecoder(r)
	d.Strict = true
	var root plistNode
	if err := d.Decode(&root); err != nil {
		return nil, err
	}
	if root.XMLName.Local != "plist" || len(root.Nodes) != 1 || root.Nodes[0].XMLName.Local != "dict" {
		return nil, errors.New("not a plist holding one dict")
	}
	kv := root.Nodes[0].Nodes
	if len(kv)%2 != 0 {
		return nil, errors.New("a key without a value")
	}
	out := map[string]string{}
	for i := 0; i < len(kv); i += 2 {
		k, v := kv[i], kv[i+1]
		if k.XMLName.Local != "key" {
			return nil, fmt.Errorf("<%s> where a key belongs", k.XMLName.Local)
		}
		switch v.XMLName.Local {
		case "string", "integer":
			out[k.Text] = v.XMLName.Local + ":" + v.Text
		case "array":
			var items []string
			for _, n := range v.Nodes {
				items = append(items, n.Text)
			}
			out[k.Text] = "array:" + strings.Join(items, ",")
		default:
			out[k.Text] = v.XMLName.Local
		}
	}
	return out, nil
}

// TestLaunchdPlist: the launchd job is well-formed, runs `mayfly agent`
// at load and again only after a failure (not after an idle exit), with
// owner-only files and no core dumps; plutil(1) checks it on macOS.
func TestLaunchdPlist(t *testing.T) {
	p := filepath.Join("..", "contrib", "launchd", "dev.mayfly.agent.plist")
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	got, err := plistDict(f)
	if err != nil {
		t.Fatalf("%s: %v", p, err)
	}
	for k, v := range map[string]string{
		"Label": "string:dev.mayfly.agent", "RunAtLoad": "true", "KeepAlive": "dict",
		"Umask": "integer:63", "SoftResourceLimits": "dict", "HardResourceLimits": "dict",
	} {
		if got[k] != v {
			t.Errorf("%s: %s is %q, want %q", p, k, got[k], v)
		}
	}
	if args := strings.Split(strings.TrimPrefix(got["ProgramArguments"], "array:"), ","); len(args) != 2 ||
		!strings.HasPrefix(args[0], "/") || path.Base(args[0]) != "mayfly" || args[1] != "agent" {
		t.Errorf("%s: ProgramArguments %q, want an absolute path to mayfly, then agent", p, got["ProgramArguments"])
	}
	if _, ok := got["Sockets"]; ok {
		t.Errorf("%s has Sockets: the agent cannot take a socket from launchd without cgo", p)
	}
	if runtime.GOOS != "darwin" {
		return
	}
	if out, err := exec.Command("plutil", "-lint", p).CombinedOutput(); err != nil {
		t.Errorf("plutil -lint: %v\n%s", err, out)
	}
}
