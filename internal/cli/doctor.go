package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"text/tabwriter"

	"github.com/mayflyhq/mayfly/agent/client"
	"github.com/mayflyhq/mayfly/agent/wire"
	"github.com/mayflyhq/mayfly/internal/config"
	"github.com/mayflyhq/mayfly/internal/envknob"
	"github.com/mayflyhq/mayfly/internal/paths"
	"github.com/mayflyhq/mayfly/internal/storesel"
)

// doctorReport is `mayfly doctor --json`.
type doctorReport struct {
	Config struct {
		Path     string   `json:"path"`
		Exists   bool     `json:"exists"`
		Error    string   `json:"error,omitempty"`
		Profiles []string `json:"profiles"`
		Store    string   `json:"store"` // as configured
	} `json:"config"`
	Stores []storesel.Report `json:"stores"`
	Chosen string            `json:"chosen,omitempty"` // the store the configured value picks here
	Agent  struct {
		Socket  string `json:"socket"`
		Running bool   `json:"running"`
		Error   string `json:"error,omitempty"`
		PID     int    `json:"pid,omitempty"`
		Version string `json:"version,omitempty"`
		Store   string `json:"store,omitempty"` // the store the running agent uses
	} `json:"agent"`
	Env      map[string]string `json:"env,omitempty"`
	Problems []string          `json:"problems"`
}

// doctor checks the configuration, every secret store and the agent, and
// says what to do about each problem. It exits 1 when something stops
// Mayfly from working, so scripts can gate on it. It never starts the agent.
func doctor(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flags("doctor", stderr)
	asJSON := fs.Bool("json", false, "print JSON")
	if err := parse(fs, args); err != nil {
		return err
	}
	var r doctorReport
	r.Problems = []string{}
	r.Config.Profiles = []string{}

	storeName, storeOpt := "auto", storesel.Options{}
	if p, err := paths.Config(); err != nil {
		r.Problems = append(r.Problems, err.Error())
	} else {
		r.Config.Path = p
		_, statErr := os.Stat(p)
		r.Config.Exists = statErr == nil
		cfg, err := config.Load(p)
		switch {
		case err != nil:
			r.Config.Error = err.Error()
			r.Problems = append(r.Problems, "fix the configuration: "+err.Error())
		case !r.Config.Exists:
			r.Problems = append(r.Problems, fmt.Sprintf("no configuration: write %s with a profile (see the README)", p))
		default:
			r.Config.Profiles = cfg.ProfileNames()
			if cfg.Store != "" {
				storeName = cfg.Store
			}
			storeOpt.TPM = cfg.TPM
			if len(r.Config.Profiles) == 0 {
				r.Problems = append(r.Problems, fmt.Sprintf("no profiles in %s: add one (see the README)", p))
			}
		}
	}
	r.Config.Store = storeName

	r.Stores = storesel.Probe(ctx, storeOpt)
	if s, err := storesel.Open(ctx, storeName, storeOpt); err != nil {
		r.Problems = append(r.Problems, err.Error())
	} else {
		r.Chosen = s.Describe().Name
	}

	c, err := client.New()
	if err != nil {
		r.Agent.Error = err.Error()
		r.Problems = append(r.Problems, err.Error())
	} else {
		r.Agent.Socket = c.Socket
		c.Autostart = false
		resp, err := c.Do(ctx, wire.Request{Op: wire.OpStatus})
		var we *wire.Error
		switch {
		case errors.Is(err, client.ErrNotRunning):
			// Fine: helpers start it on demand.
		case errors.As(err, &we) && we.Code == wire.CodeConfig:
			r.Agent.Running, r.Agent.Error = true, we.Message
		case err != nil:
			r.Agent.Error = err.Error()
			r.Problems = append(r.Problems, "agent: "+err.Error())
		case resp.Status != nil:
			st := resp.Status
			r.Agent.Running, r.Agent.PID, r.Agent.Version, r.Agent.Store = true, st.PID, st.Version, st.Store.Name
			if st.Store.Name == "none" {
				r.Problems = append(r.Problems, fmt.Sprintf("the running agent has no secret store (%s): fix that, then run `mayfly agent stop`", st.Store.Detail))
			} else if r.Chosen != "" && st.Store.Name != r.Chosen {
				r.Problems = append(r.Problems, fmt.Sprintf("the running agent uses %s but %s would be chosen now: run `mayfly agent stop` to switch", st.Store.Name, r.Chosen))
			}
		}
	}
	for _, k := range envknob.All {
		if v, ok := os.LookupEnv(k); ok {
			if r.Env == nil {
				r.Env = map[string]string{}
			}
			r.Env[k] = v
		}
	}

	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(r); err != nil {
			return err
		}
	} else {
		showDoctor(stdout, &r)
	}
	if len(r.Problems) > 0 {
		return errSilent
	}
	return nil
}

func showDoctor(w io.Writer, r *doctorReport) {
	cfg := r.Config.Path
	switch {
	case r.Config.Error != "":
		cfg += " (invalid)"
	case !r.Config.Exists:
		cfg += " (missing)"
	default:
		cfg += fmt.Sprintf(" (%d profiles)", len(r.Config.Profiles))
	}
	fmt.Fprintf(w, "config   %s\n", cfg)
	agent := "not running (helpers start it on demand)"
	if r.Agent.Running {
		agent = fmt.Sprintf("running, pid %d, version %s, store %s", r.Agent.PID, r.Agent.Version, r.Agent.Store)
	}
	fmt.Fprintf(w, "socket   %s\nagent    %s\n", r.Agent.Socket, agent)
	chosen := r.Chosen
	if chosen == "" {
		chosen = "none usable"
	}
	fmt.Fprintf(w, "store    %q picks %s\n\n", r.Config.Store, chosen)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "STORE\tPROTECTION\tAVAILABLE\tWHY NOT / WHAT TO DO")
	for _, s := range r.Stores {
		avail, why := "yes", ""
		if !s.Available {
			avail, why = "no", s.Reason
			if s.Fix != "" {
				why += " — " + s.Fix
			}
		}
		if s.Name == r.Chosen {
			avail += " (chosen)"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", s.Name, s.Protection, avail, why)
	}
	tw.Flush()
	if len(r.Problems) == 0 {
		fmt.Fprintln(w, "\nno problems found")
		return
	}
	fmt.Fprintln(w, "\nproblems:")
	for _, p := range r.Problems {
		fmt.Fprintf(w, "  - %s\n", p)
	}
}
