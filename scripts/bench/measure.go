package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/mayflyhq/mayfly/agent/wire"
)

// command is one side of a pair: a shell command line (hyperfine runs it
// with sh, and subtracts the shell's own start-up), what its stdout must
// contain to count as a success, and what to run before each timed run.
type command struct {
	Label   string `json:"label"`
	Shell   string `json:"command"`
	Prepare string `json:"prepare,omitempty"`
	want    string
}

// pair is two commands timed in alternating rounds; the ratio is A ÷ B.
type pair struct {
	ID     string
	Group  string
	Title  string
	A, B   command
	Env    []string // extra environment for both
	Runs   int      // timed runs of each per round (0: options.runs)
	Rounds int      // rounds (0: options.rounds)
	Warmup int      // untimed runs before each round (0: options.warmup)
	Target float64  // A ÷ B must be at most this (0: reference only)
	Note   string
	grants func() int // provider requests that count during the pair
}

func q(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

// execIn is a shell command line that replaces the shell with the program,
// its stdin from a file.
func execIn(stdin string, argv ...string) string {
	var b strings.Builder
	b.WriteString("exec")
	for _, a := range argv {
		b.WriteString(" " + q(a))
	}
	b.WriteString(" < " + q(stdin))
	return b.String()
}

func (w *world) pairs() []pair {
	t := w.tools
	hello := func(stdin string) command {
		return command{Label: "hello-world", Shell: execIn(stdin, t["hello"]), want: "hello"}
	}
	gitReq := w.request("git-get", "protocol=https\nhost="+gitHost+"\n\n")
	dockerReq := w.request("docker-get", registry)
	kubeInfo := `{"kind":"ExecCredential","apiVersion":"client.authentication.k8s.io/v1","spec":{"cluster":{"server":"` + kubeServer + `"},"interactive":false}}`
	bazelReq := w.request("bazel-get", `{"uri":"`+bazelURL+`"}`)
	goReq := w.request("goauth", "HTTP/1.1 401 Unauthorized\nWww-Authenticate: Bearer realm=\"bench\"\n\n")
	cargoReq := w.request("cargo-get", `{"v":1,"registry":{"index-url":"`+cargoIndex+`","name":"corp"},"kind":"get","operation":"read","args":[]}`+"\n")
	null := os.DevNull
	cacheReq := w.request("cache-get", "protocol=https\nhost="+cacheHost+"\n\n")
	fillMayfly := w.request("fill-mayfly", "url=https://"+gitHost+"/app.git\n\n")
	fillCache := w.request("fill-cache", "url=https://"+cacheHost+"/app.git\n\n")
	staticReq := w.request("docker-static", static)
	socket := filepath.Join(w.dir, "cache", "socket")
	// What git-credential-mayfly sends the agent for gitReq.
	socketPath := filepath.Join(w.dir, "run", "mayfly", "agent.sock")
	wreq, err := json.Marshal(wire.Request{V: wire.Version, Op: wire.OpToken, Config: filepath.Join(w.dir, "config", "mayfly", "config.toml"),
		URL: "https://" + gitHost, Consumer: "git"})
	if err != nil {
		panic(err)
	}
	sockReq := w.request("sockclient", string(wreq)+"\n")

	hot := func(id, label string, c command, env ...string) pair {
		c.Label = label
		return pair{ID: "hot-" + id, Group: "Hot path: whole process, the agent holds a valid token, ÷ hello-world",
			Title: label, A: c, B: hello(null), Env: env, Target: 1.10, grants: w.refreshGrants}
	}
	ps := []pair{
		hot("git", "git-credential-mayfly get", command{Shell: execIn(gitReq, t["git-credential-mayfly"], "get"), want: "password="}),
		hot("docker", "docker-credential-mayfly get", command{Shell: execIn(dockerReq, t["docker-credential-mayfly"], "get"), want: `"Secret"`}),
		hot("kubectl", "kubectl-mayfly (exec plugin)", command{Shell: execIn(null, t["kubectl-mayfly"]), want: `"token"`}, "KUBERNETES_EXEC_INFO="+kubeInfo),
		hot("bazel", "mayfly-credential get (Bazel)", command{Shell: execIn(bazelReq, t["mayfly-credential"], "get"), want: "Bearer"}),
		hot("goauth", "mayfly-credential goauth URL (GOAUTH)", command{Shell: execIn(goReq, t["mayfly-credential"], "goauth", goURL), want: "Authorization: Bearer"}),
		hot("cargo", "cargo-credential-mayfly (cargo)", command{Shell: execIn(cargoReq, t["cargo-credential-mayfly"], "--cargo-plugin"), want: `"token"`}),
		hot("token", "mayfly token (apiKeyHelper)", command{Shell: execIn(null, t["mayfly"], "token", "--profile", "corp"), want: "."}),
		{ID: "ref-sockclient", Group: "Hot path: whole process, the agent holds a valid token, ÷ hello-world",
			Title: "reference: minimal Go UNIX-socket client (system calls, no net), same request to the same agent",
			A:     command{Label: "sockclient", Shell: execIn(sockReq, t["sockclient"], socketPath), want: `"token"`},
			B:     hello(null)},
		{ID: "ref-cache", Group: "Hot path: whole process, the agent holds a valid token, ÷ hello-world",
			Title: "reference: git credential-cache get",
			A:     command{Label: "git credential-cache get", Shell: execIn(cacheReq, t["git"], "credential-cache", "--socket", socket, "get"), want: "password="},
			B:     hello(null)},

		{ID: "fill", Group: "git credential fill: through Mayfly ÷ through git's credential-cache",
			Title:  "helper = mayfly (as the README wires it)",
			A:      command{Label: "git credential fill (mayfly)", Shell: execIn(fillMayfly, t["git"], "credential", "fill"), want: "password="},
			B:      command{Label: "git credential fill (cache)", Shell: execIn(fillCache, t["git"], "credential", "fill"), want: "password=" + cachedValue},
			Target: 1.05, grants: w.refreshGrants,
			Note: "git runs `git credential-mayfly get`, a git process more than for the built-in credential-cache"},
		{ID: "fill-abs", Group: "git credential fill: through Mayfly ÷ through git's credential-cache",
			Title:  "helper = /abs/path/git-credential-mayfly",
			A:      command{Label: "git credential fill (mayfly, absolute path)", Shell: execIn(fillMayfly, t["git"], "credential", "fill"), want: "password="},
			B:      command{Label: "git credential fill (cache)", Shell: execIn(fillCache, t["git"], "credential", "fill"), want: "password=" + cachedValue},
			Env:    []string{"GIT_CONFIG_GLOBAL=" + filepath.Join(w.dir, "home", "gitconfig-abs")},
			Target: 1.05, grants: w.refreshGrants},
	}
	mayflyDocker := command{Label: "docker-credential-mayfly get", Shell: execIn(dockerReq, t["docker-credential-mayfly"], "get"), want: `"Secret"`}
	const dockerGroup = "Docker: docker-credential-mayfly get ÷ docker-credential-helpers " + dchVersion
	if p := t["docker-credential-secretservice"]; p != "" {
		ss := command{Label: "docker-credential-secretservice get", Shell: execIn(staticReq, p, "get"), want: cachedValue}
		ps = append(ps,
			pair{ID: "docker-secretservice", Group: dockerGroup, Title: "vs secretservice (same gnome-keyring)", A: mayflyDocker, B: ss, Target: 0.20, grants: w.refreshGrants},
			pair{ID: "ref-secretservice", Group: dockerGroup, Title: "reference: secretservice ÷ hello-world", A: ss, B: hello(null)})
	}
	if p := t["docker-credential-pass"]; p != "" {
		pass := command{Label: "docker-credential-pass get", Shell: execIn(staticReq, p, "get"), want: cachedValue}
		ps = append(ps,
			pair{ID: "docker-pass", Group: dockerGroup, Title: "vs pass (gpg, no passphrase)", A: mayflyDocker, B: pass, Runs: max(w.o.runs/3, 3), grants: w.refreshGrants},
			pair{ID: "ref-pass", Group: dockerGroup, Title: "reference: pass ÷ hello-world", A: pass, B: hello(null), Runs: max(w.o.runs/3, 3)})
	}
	fan := func(n int, argv ...string) string {
		return strings.Join(append([]string{"exec", q(t["fanout"]), "-n", strconv.Itoa(n), "-in", q(gitReq), "--"}, quoteAll(argv)...), " ")
	}
	ps = append(ps,
		pair{ID: "concurrent", Group: "100 concurrent calls (a Go driver starts them at once) ÷ 100 concurrent hello-worlds",
			Title: "git-credential-mayfly get ×100",
			A:     command{Label: "100 × git-credential-mayfly get", Shell: fan(100, t["git-credential-mayfly"], "get")},
			B:     command{Label: "100 × hello-world", Shell: fan(100, t["hello"])},
			// About a second a run on 2 cores: fewer rounds and runs.
			Rounds: min(w.o.rounds, 6), Runs: max(w.o.runs/6, 3), Warmup: 1,
			Target: 1.2, grants: w.refreshGrants,
			Note: "provider requests per token lifetime under this load: see below"},
	)
	// The refresh path: the agent's token is dropped (as when git's server
	// rejects it) before each run, so each run refreshes at Dex with
	// rotation and writes the new refresh token to the store.
	erase := fmt.Sprintf(`tok=$(%s token --profile corp) && printf 'protocol=https\nhost=%s\npassword=%%s\n\n' "$tok" | %s erase`,
		q(t["mayfly"]), gitHost, q(t["git-credential-mayfly"]))
	refresh := command{Label: "git-credential-mayfly get, token dropped", Shell: execIn(gitReq, t["git-credential-mayfly"], "get"), Prepare: erase, want: "password="}
	h := hello(null)
	h.Prepare = erase
	ps = append(ps, pair{ID: "refresh", Group: "Refresh path: a refresh at the loopback Dex (rotation, store write) per run, ÷ hello-world",
		Title: "git-credential-mayfly get after `erase`", A: refresh, B: h, Runs: max(w.o.runs/2, 3), Target: 2.5, grants: w.refreshGrants,
		Note: "both sides run the same `erase` before each timed run, untimed"})
	return ps
}

func quoteAll(s []string) []string {
	out := make([]string, len(s))
	for i, a := range s {
		out[i] = q(a)
	}
	return out
}

func (w *world) refreshGrants() int { return w.dex.Grants("refresh_token") }

// stats are in milliseconds.
type stats struct {
	Median float64 `json:"median"`
	Min    float64 `json:"min"`
	Max    float64 `json:"max"`
	N      int     `json:"n"`
}

func summarize(xs []float64) stats {
	if len(xs) == 0 {
		return stats{}
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	m := s[len(s)/2]
	if len(s)%2 == 0 {
		m = (s[len(s)/2-1] + s[len(s)/2]) / 2
	}
	return stats{Median: m, Min: s[0], Max: s[len(s)-1], N: len(s)}
}

type pairResult struct {
	ID       string    `json:"id"`
	Group    string    `json:"group"`
	Title    string    `json:"title"`
	A        command   `json:"a"`
	B        command   `json:"b"`
	AMs      stats     `json:"a_ms"`
	BMs      stats     `json:"b_ms"`
	Ratio    stats     `json:"ratio"` // over rounds, unitless
	Rounds   []float64 `json:"round_ratios"`
	NRounds  int       `json:"rounds"`
	Dropped  int       `json:"dropped_rounds,omitempty"` // rounds without a ratio: see timePair
	Runs     int       `json:"runs_per_round"`
	Warmup   int       `json:"warmup"`
	Target   float64   `json:"target,omitempty"`
	Met      *bool     `json:"met,omitempty"`
	Note     string    `json:"note,omitempty"`
	Grants   *int      `json:"refresh_grants_during,omitempty"`
	LoadFrom string    `json:"loadavg_before"`
	LoadTo   string    `json:"loadavg_after"`
}

// window is one token lifetime of the short profile under 100 concurrent
// callers.
type window struct {
	Window       int `json:"window"`
	Grants       int `json:"refresh_grants"`        // at Dex, for 100 callers after expiry
	Distinct     int `json:"distinct_answers"`      // among the 100 answers
	Failed       int `json:"failed"`                // of the 100
	GrantsWithin int `json:"refresh_grants_within"` // for 100 more callers at once, same lifetime
}

type memory struct {
	PID      int     `json:"pid"`
	VmRSSKiB int     `json:"vm_rss_kib"`
	VmHWMKiB int     `json:"vm_hwm_kib"`
	Target   float64 `json:"target_mib"`
}

type size struct {
	Name   string `json:"name"`
	Bytes  int64  `json:"bytes"`
	Target int64  `json:"target_bytes,omitempty"`
}

type results struct {
	Date     time.Time         `json:"date"`
	Duration string            `json:"duration"`
	Machine  map[string]string `json:"machine"`
	Settings map[string]int    `json:"settings"`
	Pairs    []pairResult      `json:"pairs"`
	Windows  []window          `json:"concurrency_windows"`
	Memory   memory            `json:"agent_memory"`
	Sizes    []size            `json:"binary_sizes"`
	Missing  []missing         `json:"missing"`
	Store    string            `json:"agent_store"`
	Notes    []string          `json:"notes,omitempty"`
}

func (w *world) measure(ctx context.Context) (*results, error) {
	start := time.Now()
	res := &results{
		Date:     start.UTC().Truncate(time.Second),
		Machine:  machine(),
		Settings: map[string]int{"rounds": w.o.rounds, "runs": w.o.runs, "warmup": w.o.warmup},
		Missing:  w.missing,
		Store:    w.store,
	}
	ps := w.pairs()
	step("Check that every command answers")
	for _, p := range ps {
		for _, c := range []command{p.A, p.B} {
			if err := w.check(ctx, c, p.Env); err != nil {
				return nil, fmt.Errorf("%s: %w", p.Title, err)
			}
		}
	}
	// The refresh pair's check dropped the token: get a new one now, so
	// that the hot-path pairs find it held.
	if _, err := w.run(ctx, "protocol=https\nhost="+gitHost+"\n\n", "git-credential-mayfly", "get"); err != nil {
		return nil, err
	}
	for _, p := range ps {
		step("%s: %s", p.Group, p.Title)
		pr, err := w.timePair(ctx, p)
		if err != nil {
			return nil, err
		}
		fmt.Printf("A %-45s median %7.2f ms (%.2f–%.2f)\nB %-45s median %7.2f ms (%.2f–%.2f)\nA÷B median %.2f (rounds %.2f–%.2f)\n",
			p.A.Label, pr.AMs.Median, pr.AMs.Min, pr.AMs.Max, p.B.Label, pr.BMs.Median, pr.BMs.Min, pr.BMs.Max, pr.Ratio.Median, pr.Ratio.Min, pr.Ratio.Max)
		res.Pairs = append(res.Pairs, pr)
	}
	step("Provider requests per token lifetime (%s) under 100 concurrent callers", shortTTL)
	var err error
	if res.Windows, err = w.windows(ctx); err != nil {
		return nil, err
	}
	step("Agent memory and binary sizes")
	if res.Memory, err = agentMemory(w.agentPID); err != nil {
		return nil, err
	}
	fmt.Printf("agent VmRSS %d KiB, VmHWM %d KiB\n", res.Memory.VmRSSKiB, res.Memory.VmHWMKiB)
	res.Sizes = w.sizes()
	res.Machine["loadavg_end"] = loadavg()
	res.Duration = time.Since(start).Round(time.Second).String()
	return res, nil
}

// check runs c once as hyperfine would and looks at its answer.
func (w *world) check(ctx context.Context, c command, env []string) error {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	if c.Prepare != "" {
		p := w.cmd(ctx, "sh", "-c", c.Prepare)
		p.Env = append(p.Env, env...)
		if b, err := p.CombinedOutput(); err != nil {
			return fmt.Errorf("prepare %s: %v: %s", c.Prepare, err, b)
		}
	}
	x := w.cmd(ctx, "sh", "-c", c.Shell)
	x.Env = append(x.Env, env...)
	var so, se bytes.Buffer
	x.Stdout, x.Stderr = &so, &se
	if err := x.Run(); err != nil {
		return fmt.Errorf("%s: %v: %s", c.Shell, err, strings.TrimSpace(se.String()))
	}
	if !strings.Contains(so.String(), c.want) {
		return fmt.Errorf("%s: the answer lacks %q (%d bytes, stderr %q)", c.Shell, c.want, so.Len(), se.String())
	}
	return nil
}

// timePair runs o.rounds hyperfine rounds of the pair, A first in even
// rounds and B first in odd ones.
func (w *world) timePair(ctx context.Context, p pair) (pairResult, error) {
	pr := pairResult{ID: p.ID, Group: p.Group, Title: p.Title, A: p.A, B: p.B, Target: p.Target, Note: p.Note, LoadFrom: loadavg()}
	runs := p.Runs
	if runs == 0 {
		runs = w.o.runs
	}
	var grants0 int
	if p.grants != nil {
		grants0 = p.grants()
	}
	rounds, warmup := p.Rounds, p.Warmup
	if rounds == 0 {
		rounds = w.o.rounds
	}
	if warmup == 0 {
		warmup = w.o.warmup
	}
	var allA, allB []float64
	for r := range rounds {
		first, second := p.A, p.B
		if r%2 == 1 {
			first, second = p.B, p.A
		}
		t, err := w.hyperfine(ctx, p.Env, warmup, runs, first, second)
		if err != nil {
			return pr, fmt.Errorf("%s: %w", p.Title, err)
		}
		ta, tb := t[0], t[1]
		if r%2 == 1 {
			ta, tb = tb, ta
		}
		// hyperfine subtracts the shell's start-up as it measured it once,
		// at its own start, and reports a run shorter than that as 0 ms.
		// On a loaded machine that can swallow a whole side's median, which
		// then has no ratio: the round is dropped (and counted).
		if summarize(ta).Median <= 0 || summarize(tb).Median <= 0 {
			pr.Dropped++
			continue
		}
		allA, allB = append(allA, ta...), append(allB, tb...)
		pr.Rounds = append(pr.Rounds, summarize(ta).Median/summarize(tb).Median)
	}
	if len(pr.Rounds) == 0 {
		return pr, fmt.Errorf("%s: no round gave a ratio (every one had a median of 0 ms after hyperfine's shell correction)", p.Title)
	}
	pr.AMs, pr.BMs, pr.Ratio = summarize(allA), summarize(allB), summarize(pr.Rounds)
	pr.NRounds, pr.Warmup, pr.Runs = rounds, warmup, runs
	if p.Target > 0 {
		met := pr.Ratio.Median <= p.Target
		pr.Met = &met
	}
	if p.grants != nil {
		n := p.grants() - grants0
		pr.Grants = &n
	}
	pr.LoadTo = loadavg()
	return pr, nil
}

// hyperfine times the commands, each runs times after warmup untimed
// runs, and returns each one's times in milliseconds.
func (w *world) hyperfine(ctx context.Context, env []string, warmup, runs int, cmds ...command) ([][]float64, error) {
	out := filepath.Join(w.dir, "hyperfine.json")
	args := []string{"--shell", "sh", "--style", "none", "--output", "pipe",
		"--warmup", strconv.Itoa(warmup), "--runs", strconv.Itoa(runs), "--export-json", out}
	prepare := false
	for _, c := range cmds {
		prepare = prepare || c.Prepare != ""
	}
	for _, c := range cmds {
		args = append(args, "--command-name", c.Label)
		if prepare {
			p := c.Prepare
			if p == "" {
				p = "true"
			}
			args = append(args, "--prepare", p)
		}
	}
	for _, c := range cmds {
		args = append(args, c.Shell)
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	c := w.cmd(ctx, "hyperfine", args...)
	c.Env = append(c.Env, env...)
	if b, err := c.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("hyperfine: %v\n%s", err, b)
	}
	defer os.Remove(out)
	b, err := os.ReadFile(out)
	if err != nil {
		return nil, err
	}
	var hf struct {
		Results []struct {
			Times     []float64 `json:"times"`
			ExitCodes []int     `json:"exit_codes"`
		} `json:"results"`
	}
	if err := json.Unmarshal(b, &hf); err != nil {
		return nil, fmt.Errorf("hyperfine's JSON: %w", err)
	}
	if len(hf.Results) != len(cmds) {
		return nil, fmt.Errorf("hyperfine gave %d results for %d commands", len(hf.Results), len(cmds))
	}
	var ms [][]float64
	for i, r := range hf.Results {
		if slices.ContainsFunc(r.ExitCodes, func(c int) bool { return c != 0 }) {
			return nil, fmt.Errorf("%s failed in some runs: exit codes %v", cmds[i].Label, r.ExitCodes)
		}
		t := make([]float64, len(r.Times))
		for j, s := range r.Times {
			t[j] = s * 1000
		}
		ms = append(ms, t)
	}
	return ms, nil
}

// windows waits for the short profile's token to expire, o.windows times,
// and each time starts 100 git helpers at once: Dex must see exactly one
// refresh, and all 100 must get the same answer. 100 more at once right
// after must not reach Dex.
func (w *world) windows(ctx context.Context) ([]window, error) {
	req := w.request("short-get", "protocol=https\nhost="+shortHost+"\n\n")
	fan := func() (window, error) {
		out, err := w.run(ctx, "", "fanout", "-n", "100", "-in", req, "-report", "--", w.tools["git-credential-mayfly"], "get")
		var r struct{ Failed, Distinct int }
		if jerr := json.Unmarshal([]byte(out), &r); jerr != nil {
			return window{}, errors.Join(err, jerr)
		}
		return window{Failed: r.Failed, Distinct: r.Distinct}, nil
	}
	var ws []window
	for i := range w.o.windows {
		exp, err := w.accessExpiry(ctx, "short")
		if err != nil {
			return nil, err
		}
		wait := max(time.Until(exp)+200*time.Millisecond, 0)
		fmt.Printf("window %d: waiting %s until the agent may no longer hand out its token\n", i+1, wait.Round(100*time.Millisecond))
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(wait):
		}
		g0 := w.short.Grants("refresh_token")
		win, err := fan()
		if err != nil {
			return nil, err
		}
		g1 := w.short.Grants("refresh_token")
		again, err := fan()
		if err != nil {
			return nil, err
		}
		win.Window, win.Grants, win.GrantsWithin = i+1, g1-g0, w.short.Grants("refresh_token")-g1
		win.Failed += again.Failed
		fmt.Printf("window %d: %d refresh request(s) for 100 callers, %d distinct answer(s), %d failed; %d more for 100 more\n",
			win.Window, win.Grants, win.Distinct, win.Failed, win.GrantsWithin)
		ws = append(ws, win)
	}
	return ws, nil
}

func agentMemory(pid int) (memory, error) {
	m := memory{PID: pid, Target: 15}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return m, fmt.Errorf("agent memory: %w", err)
	}
	for line := range strings.Lines(string(b)) {
		k, v, _ := strings.Cut(line, ":")
		f := strings.Fields(v)
		if len(f) == 0 {
			continue
		}
		n, _ := strconv.Atoi(f[0])
		switch k {
		case "VmRSS":
			m.VmRSSKiB = n
		case "VmHWM":
			m.VmHWMKiB = n
		}
	}
	return m, nil
}

func (w *world) sizes() []size {
	var out []size
	for _, name := range []string{"git-credential-mayfly", "docker-credential-mayfly", "kubectl-mayfly", "mayfly-credential", "cargo-credential-mayfly", "mayfly", "hello", "docker-credential-secretservice", "docker-credential-pass"} {
		p := w.tools[name]
		if p == "" {
			continue
		}
		st, err := os.Stat(p)
		if err != nil {
			continue
		}
		s := size{Name: name, Bytes: st.Size()}
		if name == "git-credential-mayfly" || name == "docker-credential-mayfly" {
			s.Target = 4_000_000
		}
		out = append(out, s)
	}
	return out
}

func loadavg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return ""
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return ""
	}
	return strings.Join(f[:3], " ")
}

func machine() map[string]string {
	m := map[string]string{
		"cpus":          strconv.Itoa(runtime.NumCPU()),
		"goos":          runtime.GOOS + "/" + runtime.GOARCH,
		"loadavg_start": loadavg(),
		"niceness":      niceness(),
	}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for line := range strings.Lines(string(b)) {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				m["cpu"] = strings.TrimSpace(v)
				break
			}
		}
	}
	for k, argv := range map[string][]string{
		"kernel":        {"uname", "-r"},
		"go":            {"go", "env", "GOVERSION"},
		"git":           {"git", "--version"},
		"hyperfine":     {"hyperfine", "--version"},
		"gnome-keyring": {"gnome-keyring-daemon", "--version"},
		"pass":          {"pass", "version"},
		"gpg":           {"gpg", "--version"},
	} {
		if b, err := exec.Command(argv[0], argv[1:]...).Output(); err == nil {
			m[k] = firstLine(string(b), k)
		}
	}
	m["docker-credential-helpers"] = dchVersion
	m["dex"] = "v2.45.1"
	return m
}

func firstLine(s, tool string) string {
	for line := range strings.Lines(s) {
		line = strings.TrimSpace(line)
		if tool == "pass" && !strings.Contains(line, "v1.") {
			continue // pass prints a banner
		}
		if line != "" {
			return strings.Trim(line, "= ")
		}
	}
	return ""
}

// niceness is this process's nice value (field 19 of /proc/self/stat).
func niceness() string {
	b, err := os.ReadFile("/proc/self/stat")
	if err != nil {
		return ""
	}
	s := string(b)
	if i := strings.LastIndexByte(s, ')'); i >= 0 {
		f := strings.Fields(s[i+1:])
		if len(f) > 16 {
			return f[16]
		}
	}
	return ""
}
