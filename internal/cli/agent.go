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
	"github.com/mayflyhq/mayfly/internal/config"
	"github.com/mayflyhq/mayfly/internal/envknob"
	"github.com/mayflyhq/mayfly/internal/paths"
	"github.com/mayflyhq/mayfly/internal/storesel"
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
	var store agent.Store
	if store, err = storesel.Open(ctx, storeName); err != nil {
		// Serve anyway: every helper and `mayfly login` then says why,
		// instead of waiting for an agent that never comes up.
		log.Error("no secret store", "err", err)
		store = &storesel.Unavailable{Err: err}
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
	audit, err := paths.AuditLog()
	if err != nil {
		log.Error("no audit log", "err", err)
	}
	a := agent.New(agent.Options{ConfigPath: cfgPath, Socket: sock, Store: store, Log: log, AuditLog: audit})
	return a.Serve(ctx, ln)
}
