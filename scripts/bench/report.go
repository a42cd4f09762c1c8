package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// write puts latest.md and latest.json in dir, each through a .tmp file
// (git ignores bench/results/*.tmp) so that a failed run never leaves half
// a table.
func (r *results) write(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	js, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	for name, b := range map[string][]byte{"latest.json": append(js, '\n'), "latest.md": []byte(r.markdown())} {
		tmp := filepath.Join(dir, name+".tmp")
		if err := os.WriteFile(tmp, b, 0o644); err != nil {
			return err
		}
		if err := os.Rename(tmp, filepath.Join(dir, name)); err != nil {
			return err
		}
	}
	return nil
}

// rerender writes latest.md (and latest.json, re-encoded) again from a
// latest.json.
func rerender(jsonPath string) error {
	b, err := os.ReadFile(jsonPath)
	if err != nil {
		return err
	}
	var r results
	if err := json.Unmarshal(b, &r); err != nil {
		return fmt.Errorf("%s: %w", jsonPath, err)
	}
	return r.write(filepath.Dir(jsonPath))
}

func verdict(met bool) string {
	if met {
		return "met"
	}
	return "**missed**"
}

func ms(s stats) string {
	return fmt.Sprintf("%s (%s–%s)", num(s.Median), num(s.Min), num(s.Max))
}

func num(x float64) string {
	switch {
	case x >= 100:
		return fmt.Sprintf("%.0f", x)
	case x >= 10:
		return fmt.Sprintf("%.1f", x)
	}
	return fmt.Sprintf("%.2f", x)
}

func (r *results) markdown() string {
	var b strings.Builder
	p := func(format string, a ...any) { fmt.Fprintf(&b, format, a...) }
	m := r.Machine
	p("# Mayfly benchmarks: latest run\n\n")
	p("Written by `make bench` (scripts/bench) on %s in %s; [bench/README.md](../README.md) explains how to read and rerun it.\n\n",
		r.Date.Format("2006-01-02 15:04 UTC"), r.Duration)
	p("Machine: %s CPUs (%s), Linux %s, %s, %s, hyperfine %s, %s, pass %s, docker-credential-helpers %s, Dex %s. ",
		m["cpus"], m["cpu"], m["kernel"], m["go"], m["git"], strings.TrimPrefix(m["hyperfine"], "hyperfine "), m["gnome-keyring"],
		m["pass"], m["docker-credential-helpers"], m["dex"])
	p("Load average (1, 5, 15 min) %s at the start, %s at the end; the bench ran at nice %s. The agent's store: %s.\n\n",
		m["loadavg_start"], m["loadavg_end"], m["niceness"], r.Store)
	p("Each pair ran in %d rounds that alternate the order (A B, then B A), each round %d untimed warm-up runs and %d timed runs of each command "+
		"(fewer for slow commands: see rounds × runs). Times are whole-process wall-clock milliseconds from hyperfine, "+
		"with the shell's start-up subtracted: median (min–max). A ÷ B is per round, median(A) ÷ median(B); the table gives the median "+
		"over rounds (min–max over rounds); a round where a side's median came out as 0 ms (hyperfine's shell correction "+
		"exceeding the run, on a loaded machine) has no ratio and is dropped. Load is the 1-minute load average before → after the pair.\n",
		r.Settings["rounds"], r.Settings["warmup"], r.Settings["runs"])

	group := ""
	for _, pr := range r.Pairs {
		if pr.Group != group {
			group = pr.Group
			p("\n## %s\n\n", group)
			p("| pair | A: median (min–max) ms | B: median (min–max) ms | rounds × runs | A ÷ B: median (rounds min–max) | target | | load |\n")
			p("|---|---|---|---|---|---|---|---|\n")
		}
		target, met := "reference", ""
		if pr.Target > 0 {
			target = fmt.Sprintf("≤ %.2f", pr.Target)
			met = verdict(*pr.Met)
		}
		name := pr.A.Label + " ÷ " + pr.B.Label
		if pr.Title != pr.A.Label {
			name = pr.Title + ": " + name
		}
		runs := pr.Runs
		if runs == 0 { // a latest.json from before runs_per_round
			runs = pr.AMs.N / max(pr.NRounds, 1)
		}
		rounds := fmt.Sprintf("%d×%d", pr.NRounds, runs)
		if pr.Dropped > 0 {
			rounds += fmt.Sprintf(" (%d dropped)", pr.Dropped)
		}
		p("| %s | %s | %s | %s | **%.2f** (%.2f–%.2f) | %s | %s | %s → %s |\n",
			name, ms(pr.AMs), ms(pr.BMs), rounds, pr.Ratio.Median, pr.Ratio.Min, pr.Ratio.Max, target, met, load1(pr.LoadFrom), load1(pr.LoadTo))
	}
	var notes []string
	for _, pr := range r.Pairs {
		if pr.Note != "" {
			notes = append(notes, fmt.Sprintf("%s (%s): %s.", pr.Title, pr.ID, pr.Note))
		}
		if pr.Grants != nil && !strings.HasPrefix(pr.ID, "refresh") && *pr.Grants != 0 {
			notes = append(notes, fmt.Sprintf("%s: Dex saw %d refresh requests during a hot-path pair.", pr.Title, *pr.Grants))
		}
		if pr.Grants != nil && strings.HasPrefix(pr.ID, "refresh") {
			runs := pr.NRounds * (pr.Runs + pr.Warmup)
			if pr.Runs == 0 { // a latest.json from before runs_per_round
				runs = pr.AMs.N + pr.NRounds*pr.Warmup
			}
			notes = append(notes, fmt.Sprintf("%s: Dex saw %d refresh requests for %d runs of each side, warm-ups included "+
				"(one per run of A; one per run of B, in the untimed `mayfly token` of the erase after B's previous erase).", pr.Title, *pr.Grants, runs))
		}
	}
	if len(notes) > 0 {
		p("\nNotes:\n\n")
		for _, n := range notes {
			p("- %s\n", n)
		}
	}

	p("\n## Provider requests per token lifetime under 100 concurrent callers\n\n")
	p("A second profile on a second Dex whose tokens live %s. For each lifetime, the bench waits until the agent may no longer hand out "+
		"its token (the expiry less the refresh margin, a quarter of the lifetime), "+
		"starts 100 `git-credential-mayfly get` at once, then 100 more at once. Target: exactly one refresh request at the provider per lifetime.\n\n", shortTTL)
	p("| lifetime | refresh requests (first 100) | distinct answers | failed runs | refresh requests (next 100) | |\n|---|---|---|---|---|---|\n")
	for _, wn := range r.Windows {
		p("| %d | %d | %d | %d | %d | %s |\n", wn.Window, wn.Grants, wn.Distinct, wn.Failed, wn.GrantsWithin,
			verdict(wn.Grants == 1 && wn.GrantsWithin == 0 && wn.Distinct == 1 && wn.Failed == 0))
	}

	mem := r.Memory
	p("\n## Agent memory\n\n")
	p("After all of the above, from /proc/%d/status: VmRSS %.1f MiB, VmHWM (peak) %.1f MiB. Target ≤ %.0f MiB: %s.\n",
		mem.PID, float64(mem.VmRSSKiB)/1024, float64(mem.VmHWMKiB)/1024, mem.Target, verdict(float64(mem.VmHWMKiB)/1024 <= mem.Target))

	p("\n## Binary sizes\n\n| binary | bytes | MB | target | |\n|---|---|---|---|---|\n")
	for _, s := range r.Sizes {
		target, met := "", ""
		if s.Target > 0 {
			target, met = fmt.Sprintf("≤ %.0f MB", float64(s.Target)/1e6), verdict(s.Bytes <= s.Target)
		}
		p("| %s | %d | %.2f | %s | %s |\n", s.Name, s.Bytes, float64(s.Bytes)/1e6, target, met)
	}

	p("\n## Not measured here\n\n")
	p("- TPM command counts: TPM-sealed storage is an open issue; nothing here talks to a TPM yet.\n")
	for _, mi := range r.Missing {
		p("- %s: %s\n", mi.What, mi.Why)
	}
	for _, n := range r.Notes {
		p("- %s\n", n)
	}
	return b.String()
}

// load1 is the 1-minute figure of a load average triple.
func load1(s string) string {
	if f := strings.Fields(s); len(f) > 0 {
		return f[0]
	}
	return "?"
}
