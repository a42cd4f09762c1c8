package setup

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/mayflyhq/mayfly/internal/config"
)

// KubeUser is the kubeconfig user setup writes for one profile.
type KubeUser struct {
	Name        string // "mayfly-" + the profile name
	Profile     string
	Command     string // absolute path of kubectl-mayfly
	InstallHint string
}

// KubeUsers returns one user per profile.
func KubeUsers(profiles []*config.Profile, command string) []KubeUser {
	var out []KubeUser
	for _, p := range profiles {
		out = append(out, KubeUser{
			Name:        "mayfly-" + p.Name,
			Profile:     p.Name,
			Command:     command,
			InstallHint: "Install Mayfly (kubectl-mayfly) and run: mayfly login --profile " + p.Name,
		})
	}
	return out
}

// execNode is the user's exec stanza as README "Wiring each tool" shows
// it: the profile named in args (so the cluster's URL need not match a
// pattern), sign-in on the terminal when kubectl has one, and the cluster
// info passed along.
func (u KubeUser) execNode() *yaml.Node {
	args := &yaml.Node{Kind: yaml.SequenceNode}
	for _, a := range []string{"--profile", u.Profile} {
		args.Content = append(args.Content, str(a))
	}
	return mapping(
		"apiVersion", str("client.authentication.k8s.io/v1"),
		"command", str(u.Command),
		"args", args,
		"interactiveMode", str("IfAvailable"),
		"provideClusterInfo", &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!bool", Value: "true"},
		"installHint", str(u.InstallHint),
	)
}

// kubeExec is the part of an exec stanza setup compares.
type kubeExec struct {
	APIVersion         string   `yaml:"apiVersion"`
	Command            string   `yaml:"command"`
	Args               []string `yaml:"args"`
	InteractiveMode    string   `yaml:"interactiveMode"`
	ProvideClusterInfo bool     `yaml:"provideClusterInfo"`
	InstallHint        string   `yaml:"installHint"`
}

func str(s string) *yaml.Node { return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: s} }

func mapping(kv ...any) *yaml.Node {
	n := &yaml.Node{Kind: yaml.MappingNode}
	for i := 0; i < len(kv); i += 2 {
		n.Content = append(n.Content, str(kv[i].(string)), kv[i+1].(*yaml.Node))
	}
	return n
}

// mapGet returns the value of key in mapping n, or nil.
func mapGet(n *yaml.Node, key string) *yaml.Node {
	if n == nil || n.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return n.Content[i+1]
		}
	}
	return nil
}

// mapSet sets key in mapping n, in its place or last.
func mapSet(n *yaml.Node, key string, v *yaml.Node) {
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			// Keep the comments written next to the old value.
			old := n.Content[i+1]
			if v.HeadComment == "" && v.LineComment == "" && v.FootComment == "" {
				v.HeadComment, v.LineComment, v.FootComment = old.HeadComment, old.LineComment, old.FootComment
			}
			n.Content[i+1] = v
			return
		}
	}
	n.Content = append(n.Content, str(key), v)
}

func scalar(n *yaml.Node) string {
	if n == nil || n.Kind != yaml.ScalarNode {
		return ""
	}
	return n.Value
}

// Kubeconfig returns the kubeconfig with each user's exec stanza, and with
// every context whose cluster's server serves pointed at that user (serves
// returns the user for a server URL, or ""). Comments, key order and every
// other entry are kept. It returns old itself when nothing changes. The
// notes say which contexts changed users, or that none uses the new
// users.
func Kubeconfig(old []byte, users []KubeUser, serves func(server string) string) ([]byte, []string, error) {
	var doc yaml.Node
	if len(bytes.TrimSpace(old)) > 0 {
		if err := yaml.Unmarshal(old, &doc); err != nil {
			return nil, nil, fmt.Errorf("not YAML: %w", err)
		}
	}
	if doc.Kind == 0 {
		doc = yaml.Node{Kind: yaml.DocumentNode, Content: []*yaml.Node{mapping("apiVersion", str("v1"), "kind", str("Config"))}}
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) != 1 || doc.Content[0].Kind != yaml.MappingNode {
		return nil, nil, errors.New("not a kubeconfig: the document is not a mapping")
	}
	root := doc.Content[0]
	changed := false
	var notes []string

	usersNode := mapGet(root, "users")
	if usersNode == nil || usersNode.Kind != yaml.SequenceNode {
		if usersNode != nil && usersNode.Tag != "!!null" {
			return nil, nil, errors.New("not a kubeconfig: users is not a list")
		}
		usersNode = &yaml.Node{Kind: yaml.SequenceNode}
		mapSet(root, "users", usersNode)
	}
	for _, u := range users {
		want := u.execNode()
		var item *yaml.Node
		for _, it := range usersNode.Content {
			if scalar(mapGet(it, "name")) == u.Name {
				item = it
				break
			}
		}
		if item == nil {
			usersNode.Content = append(usersNode.Content, mapping("name", str(u.Name), "user", mapping("exec", want)))
			changed = true
			continue
		}
		userNode := mapGet(item, "user")
		if userNode != nil && len(userNode.Content) == 2 && sameExec(mapGet(userNode, "exec"), want) {
			continue
		}
		// The user is Mayfly's by its name: replace whatever it held,
		// which drops any static token or key in it.
		mapSet(item, "user", mapping("exec", want))
		changed = true
	}

	// Point the contexts of clusters the profiles serve at their users.
	servers := map[string]string{} // cluster name → server
	if clusters := mapGet(root, "clusters"); clusters != nil && clusters.Kind == yaml.SequenceNode {
		for _, c := range clusters.Content {
			servers[scalar(mapGet(c, "name"))] = scalar(mapGet(mapGet(c, "cluster"), "server"))
		}
	}
	used := false
	if contexts := mapGet(root, "contexts"); contexts != nil && contexts.Kind == yaml.SequenceNode {
		for _, c := range contexts.Content {
			ctx := mapGet(c, "context")
			if ctx == nil || ctx.Kind != yaml.MappingNode {
				continue
			}
			cluster := scalar(mapGet(ctx, "cluster"))
			user := serves(servers[cluster])
			if user == "" {
				continue
			}
			used = true
			if cur := scalar(mapGet(ctx, "user")); cur != user {
				mapSet(ctx, "user", str(user))
				changed = true
				was := ""
				if cur != "" {
					was = fmt.Sprintf(" (was %s)", cur)
				}
				notes = append(notes, fmt.Sprintf("context %s (cluster %s) now uses user %s%s", scalar(mapGet(c, "name")), cluster, user, was))
			}
		}
	}
	if !used {
		var names []string
		for _, u := range users {
			names = append(names, u.Name)
		}
		notes = append(notes, fmt.Sprintf("no context uses a cluster whose server a profile matches: point one at the new user with `kubectl config set-context NAME --user=%s`", strings.Join(names, "|")))
	}
	if !changed {
		return old, notes, nil
	}
	var b bytes.Buffer
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	enc.CompactSeqIndent() // kubectl's own layout: "- name:" under "users:"
	if err := enc.Encode(&doc); err != nil {
		return nil, nil, fmt.Errorf("encoding: %w", err)
	}
	enc.Close()
	return b.Bytes(), notes, nil
}

// sameExec reports whether the exec node n says what want says.
func sameExec(n, want *yaml.Node) bool {
	if n == nil {
		return false
	}
	var a, b kubeExec
	if n.Decode(&a) != nil || want.Decode(&b) != nil {
		return false
	}
	return a.APIVersion == b.APIVersion && a.Command == b.Command && slices.Equal(a.Args, b.Args) &&
		a.InteractiveMode == b.InteractiveMode && a.ProvideClusterInfo == b.ProvideClusterInfo &&
		a.InstallHint == b.InstallHint && len(n.Content) == len(want.Content)
}

// KubeconfigPath is the first file on $KUBECONFIG (where kubectl writes
// new entries), else ~/.kube/config.
func KubeconfigPath(e Env) string {
	for _, p := range filepath.SplitList(e.getenv("KUBECONFIG")) {
		if p != "" {
			return p
		}
	}
	return filepath.Join(e.Home, ".kube", "config")
}

// Kube plans a kubeconfig user "mayfly-PROFILE" per profile, running
// kubectl-mayfly by its absolute path, and points at it the contexts whose
// cluster a profile serves.
//
// The file is edited as a YAML node tree rather than through `kubectl
// config set-credentials`: kubectl cannot write installHint, and it
// rewrites the whole file without its comments, where the node tree keeps
// them and the order of every key.
func Kube(_ context.Context, e Env, profiles []*config.Profile) (*Plan, error) {
	bin, err := e.bin("kubectl-mayfly")
	if err != nil {
		return nil, err
	}
	path := e.File
	if path == "" {
		path = KubeconfigPath(e)
	}
	p, err := readPlan("kube", path)
	if err != nil {
		return nil, err
	}
	match := matcher(profiles)
	serves := func(server string) string {
		if server == "" {
			return ""
		}
		if prof := match(server); prof != nil {
			return "mayfly-" + prof.Name
		}
		return ""
	}
	p.New, p.Notes, err = Kubeconfig(p.Old, KubeUsers(profiles, bin), serves)
	if err != nil {
		return nil, fmt.Errorf("setup: %s: %w", p.Path, err)
	}
	return p, nil
}
