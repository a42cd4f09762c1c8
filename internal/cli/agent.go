package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"

	"github.com/mayflyhq/mayfly/agent"
	"github.com/mayflyhq/mayfly/agent/client"
	"github.com/mayflyhq/mayfly/agent/wire"
	"github.com/mayflyhq/mayfly/backends/keyring"
	"github.com/mayflyhq/mayfly/backends/memory"
	"github.com/mayflyhq/mayfly/internal/config"
	"github.com/mayflyhq/mayfly/internal/envknob"
	"github.com/mayflyhq/mayfly/internal/paths"
)

func agentCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	sub := "run"
	if len(args) > 0 {
		sub, args = args[0], args[1:]
	}
	if len(args) > 0 {
		return usageError{fmt.Errorf("unexpected argument %q", args[0])}
	}
	switch sub {
	case "run":
		return runAgent(ctx, stderr)
	case "stop":
		c, err := newClient()
		if err != nil {
			return err
		}
		c.Autostart = false
		_, err = c.Do(ctx, wire.Request{Op: wire.OpStop})
		if errors.Is(err, client.ErrNotRunning) {
			fmt.Fprintln(stderr, "mayfly agent: not running")
			return nil
		}
		if err != nil {
			return agentErr(err)
		}
		fmt.Fprintln(stderr, "mayfly agent: stopped")
		return nil
	}
	return usageError{fmt.Errorf("unknown agent command %q (run or stop)", sub)}
}

func runAgent(ctx context.Context, stderr io.Writer) error {
	level := slog.LevelInfo
	if envknob.Bool(envknob.Debug) {
		level = slog.LevelDebug
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
	if err := agent.Harden(); err != nil {
		log.Warn("could not harden the process", "err", err)
	}
	sock, err := paths.Socket()
	if err != nil {
		return err
	}
	cfgPath, err := paths.Config()
	if err != nil {
		return err
	}
	storeName := "auto"
	if cfg, err := config.Load(cfgPath); err == nil && cfg.Store != "" {
		storeName = cfg.Store
	}
	store, err := openStore(storeName)
	if err != nil {
		return err
	}
	ln, release, err := agent.Listen(sock)
	if errors.Is(err, agent.ErrRunning) {
		log.Info("another agent already serves this socket; exiting", "socket", sock)
		return nil
	}
	if err != nil {
		return err
	}
	defer release()
	a := agent.New(agent.Options{ConfigPath: cfgPath, Socket: sock, Store: store, Log: log})
	return a.Serve(ctx, ln)
}

// openStore picks the secret store. There is no plaintext store, not even
// as a fallback: when nothing safe works, the agent refuses to start and
// says what to do.
func openStore(name string) (agent.Store, error) {
	switch name {
	case "auto", "kernel-keyring":
		if err := keyring.Available(); err != nil {
			return nil, fmt.Errorf("no secret store is usable: the Linux kernel keyring failed (%w); Mayfly never falls back to a plaintext file", err)
		}
		return keyring.New("mayfly:"), nil
	case "memory":
		// For tests and throwaway sessions: nothing survives the agent.
		return memory.New(), nil
	}
	return nil, fmt.Errorf("store %q is not available on this system yet (use \"auto\", \"kernel-keyring\" or \"memory\")", name)
}
