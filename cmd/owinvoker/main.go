// Command owinvoker is the drop-in OpenWhisk invoker. It takes the command line and
// environment that OpenWhisk's ansible role gives the Scala invoker (--id N --uniqueName N,
// KAFKA_HOSTS, CONFIG_whisk_*, RUNTIMES_MANIFEST, ...).
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"runtime"
	"strconv"
	"syscall"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/owinvoker/owinvoker/harvest"
	"github.com/owinvoker/owinvoker/invoker"
	"github.com/owinvoker/owinvoker/invoker/action"
	"github.com/owinvoker/owinvoker/invoker/admin"
	"github.com/owinvoker/owinvoker/invoker/broker"
	"github.com/owinvoker/owinvoker/invoker/config"
	"github.com/owinvoker/owinvoker/invoker/message"
	"github.com/owinvoker/owinvoker/invoker/store"
	"github.com/owinvoker/owinvoker/memfs"
	"github.com/owinvoker/owinvoker/sandbox"
	"github.com/owinvoker/owinvoker/sandbox/docker"
	"github.com/owinvoker/owinvoker/sandbox/manifest"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Environ(), os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "owinvoker:", err)
		os.Exit(1)
	}
}

func newLogger(level string, out io.Writer) (*zap.Logger, error) {
	lvl, err := zapcore.ParseLevel(level)
	if err != nil {
		return nil, fmt.Errorf("log level %q: %w", level, err)
	}
	enc := zap.NewProductionEncoderConfig()
	enc.EncodeTime = zapcore.ISO8601TimeEncoder
	core := zapcore.NewCore(zapcore.NewJSONEncoder(enc), zapcore.AddSync(out), lvl)
	return zap.New(core), nil
}

// run starts the invoker and blocks until ctx ends and the invoker has drained.
func run(ctx context.Context, args, environ []string, logOut io.Writer) error {
	cfg, err := config.Load(args, environ)
	if err != nil {
		return err
	}
	log, err := newLogger(cfg.LogLevel, logOut)
	if err != nil {
		return err
	}
	defer func() { _ = log.Sync() }()

	m, err := manifest.Parse([]byte(cfg.RuntimesManifest))
	if err != nil {
		return fmt.Errorf("RUNTIMES_MANIFEST: %w", err)
	}
	var docs store.DocStore
	if cfg.StoreFile != "" {
		b, err := store.OpenBolt(cfg.StoreFile)
		if err != nil {
			return err
		}
		defer b.Close()
		for _, db := range []string{cfg.DBWhisks, cfg.DBActivations, cfg.DBSubjects} {
			if err := b.EnsureDB(ctx, db); err != nil {
				return err
			}
		}
		docs = b
	} else {
		c, err := store.NewCouch(store.CouchConfig{URL: cfg.DBURL, Username: cfg.DBUsername, Password: cfg.DBPassword}, log)
		if err != nil {
			return err
		}
		docs = c
	}

	d, err := docker.New(docker.Config{Network: cfg.Network, DNSServers: cfg.DNSServers, DNSSearch: cfg.DNSSearch,
		DNSOptions: cfg.DNSOptions, ExtraEnv: cfg.ExtraEnv, APIHost: cfg.APIHost, ParallelRuns: cfg.ParallelRuns,
		LogRoot: cfg.LogRoot}, log)
	if err != nil {
		return err
	}
	defer d.Close()
	prefix := "wsk" + cfg.UniqueName + strconv.Itoa(cfg.ID)
	userCPUs := cfg.UserCPUs
	if cfg.Harvest && userCPUs == 0 {
		// Harvesting lends CPU quotas: every container gets one, in proportion to its memory.
		userCPUs = float64(runtime.NumCPU())
	}
	sbCfg := sandbox.Config{Prefix: prefix, UserMemoryMB: cfg.UserMemoryMB, UserCPUs: userCPUs,
		PauseGrace: cfg.PauseGrace, IdleTimeout: cfg.IdleContainer, Manifest: m, Registry: cfg.RuntimesRegistry}
	if cfg.Scratch {
		sbCfg.Scratch = &sandbox.ScratchConfig{Ledger: memfs.Config{HostBytes: int64(cfg.ScratchHost) << 20}}
	}
	sb, err := sandbox.New(sbCfg, d, log, time.Now)
	if err != nil {
		return err
	}
	if err := sb.Start(ctx); err != nil {
		return fmt.Errorf("docker: %w", err)
	}
	defer func() {
		cctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := sb.Close(cctx); err != nil {
			log.Warn("removing containers", zap.Error(err))
		}
	}()

	bounds := action.Bounds{
		TimeoutMS:   action.Range{Min: int(cfg.TimeMin.Milliseconds()), Max: int(cfg.TimeMax.Milliseconds())},
		MemoryMB:    action.Range{Min: cfg.MemoryMin, Max: cfg.MemoryMax},
		LogsMB:      action.Range{Min: cfg.LogMin, Max: cfg.LogMax},
		Concurrency: action.Range{Min: cfg.ConcurrencyMin, Max: cfg.ConcurrencyMax},
	}
	instance := message.InvokerInstanceID{Instance: cfg.ID, UniqueName: cfg.UniqueName, DisplayedName: cfg.DisplayedName,
		UserMemory: message.ByteSize(cfg.UserMemoryMB) * message.Megabyte}
	icfg := invoker.Config{
		Instance: instance, Brokers: cfg.KafkaHosts, TopicPrefix: cfg.TopicPrefix, UserEvents: cfg.UserEvents,
		EventPrefix: cfg.UserEventPrefix, Replication: cfg.ReplicationFactor, Delivery: broker.Delivery(cfg.Delivery),
		MaxPeek: cfg.MaxPeek(), WhisksDB: cfg.DBWhisks, ActivationsDB: cfg.DBActivations, SubjectsDB: cfg.DBSubjects,
		Bounds: bounds, RuntimesRegistry: cfg.RuntimesRegistry,
		StoreBlocking: invoker.StoreLevel(cfg.StoreBlockingLevel), StoreNonBlocking: invoker.StoreLevel(cfg.StoreNonBlockL),
	}
	if cfg.Harvest {
		icfg.Harvest = invoker.HarvestConfig{Enabled: true, UserCPUs: userCPUs,
			Harvest: harvest.Config{DisableCPU: !cfg.HarvestCPU, DisableMemory: !cfg.HarvestMem}}
	}
	if cfg.StoreFile == "" {
		icfg.CouchURL, icfg.CouchUser, icfg.CouchPassword = cfg.DBURL, cfg.DBUsername, cfg.DBPassword
	}
	inv, err := invoker.New(icfg, m, docs, sb, log, time.Now)
	if err != nil {
		return err
	}

	h := inv.Health()
	srv := &http.Server{
		Addr: net.JoinHostPort("", strconv.Itoa(cfg.Port)),
		Handler: admin.Handler(admin.Config{Username: cfg.AdminUser, Password: cfg.AdminPassword}, admin.Controls{
			Enable:   inv.Enable,
			Disable:  func(r *http.Request) string { return inv.Disable(r.Context()) },
			Enabled:  h.Enabled,
			State:    func() string { return h.State().String() },
			InFlight: h.InFlight,
			Metrics:  inv.MetricsHandler(),
		}, log),
		ReadHeaderTimeout: 10 * time.Second,
	}
	ln, err := net.Listen("tcp", srv.Addr)
	if err != nil {
		return fmt.Errorf("admin server: %w", err)
	}
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("admin server", zap.Error(err))
		}
	}()
	log.Info("owinvoker started", zap.String("instance", instance.String()), zap.Int("userMemoryMB", cfg.UserMemoryMB),
		zap.String("admin", ln.Addr().String()), zap.String("delivery", cfg.Delivery))

	runErr := inv.Run(ctx)
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = srv.Shutdown(sctx)
	return runErr
}
