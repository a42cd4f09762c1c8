package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime/debug"
	"time"

	"github.com/mayflyhq/mayfly/agent"
	"github.com/mayflyhq/mayfly/agent/client"
	"github.com/mayflyhq/mayfly/agent/wire"
	"github.com/mayflyhq/mayfly/attest/devicekey"
	"github.com/mayflyhq/mayfly/attest/tpm"
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
	if os.Getenv("GOMEMLIMIT") == "" {
		// The agent's live heap is a few MiB; without a limit the
		// collector lets it double between cycles under a burst of
		// callers, and the pages stay resident. A soft limit keeps the
		// peak about 2 MiB lower (measured with 100 concurrent helpers);
		// the runtime caps the collector's share of CPU if it is ever too
		// low. GOMEMLIMIT in the environment still wins.
		debug.SetMemoryLimit(agentMemoryLimit)
	}
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
	storeName, storeOpt := "auto", storesel.Options{}
	if cfg, err := config.Load(cfgPath); err == nil {
		if cfg.Store != "" {
			storeName = cfg.Store
		}
		storeOpt.TPM = cfg.TPM
	}
	// The socket first: a second agent exits here, before it opens the
	// TPM, which an emulator serves to one client at a time.
	ln, release, err := agent.Listen(sock)
	if errors.Is(err, agent.ErrRunning) {
		log.Info("another agent already serves this socket; exiting", "socket", sock)
		return nil
	}
	if err != nil {
		return err
	}
	defer release()
	// One TPM connection for the process: the sealed store and the device
	// key share it.
	dev, tpmErr := openTPM(ctx, storeOpt.TPM)
	if tpmErr != nil {
		log.Info("no TPM: the device key, if a profile needs one, is a software key", "err", tpmErr)
	} else {
		defer dev.Close()
		storeOpt.Device = dev
	}
	var store agent.Store
	if store, err = storesel.Open(ctx, storeName, storeOpt); err != nil {
		// Serve anyway: every helper and `mayfly login` then says why,
		// instead of waiting for an agent that never comes up.
		log.Error("no secret store", "err", err)
		store = &storesel.Unavailable{Err: err}
	}
	audit, err := paths.AuditLog()
	if err != nil {
		log.Error("no audit log", "err", err)
	}
	opt := agent.Options{ConfigPath: cfgPath, Socket: sock, Store: store, Log: log, AuditLog: audit,
		TPM: tpmStatus(dev, storeOpt.TPM, tpmErr)}
	if dev != nil {
		opt.Hardware = devicekey.InTPM(dev)
	}
	return agent.New(opt).Serve(ctx, ln)
}

// agentMemoryLimit is the agent's soft memory limit.
const agentMemoryLimit = 8 << 20

// tpmProbeTimeout bounds the agent's first look at its TPM.
const tpmProbeTimeout = 5 * time.Second

// openTPM opens and probes the TPM at spec ("" for this machine's), or
// says why it is not usable.
func openTPM(ctx context.Context, spec string) (*tpm.TPM, error) {
	dev, err := tpm.Open(spec)
	if err != nil {
		return nil, err
	}
	pctx, cancel := context.WithTimeout(ctx, tpmProbeTimeout)
	defer cancel()
	if _, err := dev.Probe(pctx); err != nil {
		dev.Close()
		return nil, err
	}
	return dev, nil
}

// tpmStatus describes the TPM for `mayfly status`.
func tpmStatus(dev *tpm.TPM, spec string, openErr error) func(context.Context) *wire.TPMInfo {
	path := spec
	if path == "" {
		path = tpm.DefaultDevice
	}
	return func(ctx context.Context) *wire.TPMInfo {
		if dev == nil {
			return &wire.TPMInfo{Path: path, Problem: oneLine(openErr)}
		}
		ctx, cancel := context.WithTimeout(ctx, tpmProbeTimeout)
		defer cancel()
		info, err := dev.Info(ctx)
		if err != nil {
			return &wire.TPMInfo{Path: path, Problem: oneLine(err)}
		}
		return &wire.TPMInfo{Path: path, Usable: true, Manufacturer: info.Manufacturer, Firmware: info.Firmware}
	}
}
