// Package standalone runs a whole OpenWhisk system in one process, for a one-command start:
// the lean controller, one invoker, an embedded Kafka-protocol broker (franz-go's kfake,
// which our code still reaches through kafka-go over TCP on loopback) and an embedded
// document store (bbolt, behind the same store interface as CouchDB). Only a Docker engine
// and the runtime images are needed from outside.
//
// Flags of cmd/owstandalone point it at a real Kafka and CouchDB instead.
package standalone

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"go.uber.org/zap"

	"github.com/owinvoker/owinvoker/controller-plugin/controller"
	"github.com/owinvoker/owinvoker/invoker"
	"github.com/owinvoker/owinvoker/invoker/broker"
	"github.com/owinvoker/owinvoker/invoker/message"
	"github.com/owinvoker/owinvoker/invoker/store"
	"github.com/owinvoker/owinvoker/memfs"
	"github.com/owinvoker/owinvoker/sandbox"
	"github.com/owinvoker/owinvoker/sandbox/docker"
	"github.com/owinvoker/owinvoker/sandbox/manifest"
)

// Config configures a standalone system.
type Config struct {
	// DataDir holds the store file and the embedded broker's log. Required.
	DataDir string
	// Listen is the API address (default 127.0.0.1:3233).
	Listen string
	// Manifest is the runtimes manifest JSON. Required.
	Manifest []byte
	// Kafka, when set, is a real broker list to use instead of the embedded broker.
	Kafka []string
	// KafkaPort is the embedded broker's port on 127.0.0.1 (0: any free port).
	KafkaPort int
	// CouchDB, when its URL is set, is used instead of the embedded store.
	CouchDB store.CouchConfig
	// UserMemoryMB is the invoker's memory for action containers (default 2048).
	UserMemoryMB int
	// PauseGrace (default 10 s) and Policy ("sharding" or "harvest").
	PauseGrace time.Duration
	Policy     string
	// BlockingWait of blocking invokes (default 60 s).
	BlockingWait time.Duration
	// Delivery of the invoker (default at-most-once).
	Delivery broker.Delivery
	// Harvest turns harvesting of idle CPU and memory on in the invokers.
	Harvest bool
	// Measure profiles every activation and annotates its record as harvesting does,
	// with the same CPU quotas, but lends nothing: the baseline harvesting is
	// compared with. Ignored when Harvest is set.
	Measure bool
	// Invokers is the number of invokers (default 1), each with UserMemoryMB of
	// memory, sharing the host's Docker engine.
	Invokers int
	// UserCPUs is the CPU each invoker's containers share, in cores, split among
	// them in proportion to their memory as CPU quotas; it applies when Harvest or
	// Measure is set (default: the host's cores divided among the invokers).
	UserCPUs float64
	// InvocationsPerMinute and ConcurrentInvocations are the default per-namespace limits
	// (OpenWhisk's 60 and 30 when zero).
	InvocationsPerMinute, ConcurrentInvocations int
	// ContainerPrefix names the action containers: <prefix><invoker>_… (default
	// "wskstandalone"). Two systems on one Docker engine need different prefixes: an
	// invoker removes the containers its prefix names when it starts and stops.
	ContainerPrefix string
}

// System is a running standalone system.
type System struct {
	cfg     Config
	log     *zap.Logger
	kfake   *kfake.Cluster
	bolt    *store.Bolt
	docs    store.DocStore
	brokers []string
	ctrl    *controller.Controller
	invs    []*invoker.Invoker
	sbs     []*sandbox.Sandbox
	docker  *docker.Client
	ln      net.Listener
}

// Start brings everything up; it returns once the API listens. Run then serves until ctx
// ends.
func Start(ctx context.Context, cfg Config, log *zap.Logger) (*System, error) {
	if cfg.DataDir == "" {
		return nil, errors.New("standalone: a data directory is required")
	}
	if len(cfg.Manifest) == 0 {
		return nil, errors.New("standalone: a runtimes manifest is required")
	}
	if cfg.Listen == "" {
		cfg.Listen = "127.0.0.1:3233"
	}
	if cfg.UserMemoryMB == 0 {
		cfg.UserMemoryMB = 2048
	}
	if cfg.Invokers == 0 {
		cfg.Invokers = 1
	}
	if cfg.Invokers < 0 || cfg.Invokers > 64 {
		return nil, fmt.Errorf("standalone: %d invokers: want 1 to 64", cfg.Invokers)
	}
	if cfg.UserCPUs < 0 {
		return nil, fmt.Errorf("standalone: %v user CPUs: want a positive number", cfg.UserCPUs)
	}
	if cfg.ContainerPrefix == "" {
		cfg.ContainerPrefix = "wskstandalone"
	}
	if err := os.MkdirAll(cfg.DataDir, 0o755); err != nil {
		return nil, fmt.Errorf("data directory: %w", err)
	}
	s := &System{cfg: cfg, log: log}
	ok := false
	defer func() {
		if !ok {
			s.close()
		}
	}()

	// Broker.
	if len(cfg.Kafka) > 0 {
		s.brokers = cfg.Kafka
	} else {
		port := cfg.KafkaPort
		if port == 0 {
			p, err := freePort()
			if err != nil {
				return nil, err
			}
			port = p
		}
		c, err := kfake.NewCluster(kfake.Ports(port), kfake.AllowAutoTopicCreation(), kfake.DefaultNumPartitions(1),
			kfake.DataDir(filepath.Join(cfg.DataDir, "kafka")), kfake.SyncWrites(),
			kfake.BrokerConfigs(map[string]string{"message.max.bytes": "5242880"}))
		if err != nil {
			return nil, fmt.Errorf("embedded broker: %w", err)
		}
		s.kfake = c
		s.brokers = c.ListenAddrs()
	}

	// Store.
	if cfg.CouchDB.URL != "" {
		c, err := store.NewCouch(cfg.CouchDB, log)
		if err != nil {
			return nil, err
		}
		s.docs = c
	} else {
		b, err := store.OpenBolt(filepath.Join(cfg.DataDir, "store.db"))
		if err != nil {
			return nil, err
		}
		s.bolt, s.docs = b, b
	}
	for _, db := range []string{"whisks", "activations", "subjects"} {
		if err := s.docs.EnsureDB(ctx, db); err != nil {
			return nil, fmt.Errorf("database %s: %w", db, err)
		}
	}

	m, err := manifest.Parse(cfg.Manifest)
	if err != nil {
		return nil, err
	}

	// Controller.
	s.ctrl, err = controller.New(controller.Config{
		KafkaBrokers: s.brokers, Store: s.docs, Manifest: cfg.Manifest, Listen: cfg.Listen,
		APIHost: "http://" + cfg.Listen, Policy: cfg.Policy, BlockingWait: cfg.BlockingWait,
		Limits: controller.Limits{InvocationsPerMinute: cfg.InvocationsPerMinute, ConcurrentInvocations: cfg.ConcurrentInvocations},
	}, log.Named("controller"))
	if err != nil {
		return nil, err
	}

	// Invoker.
	s.docker, err = docker.New(docker.Config{APIHost: "http://" + cfg.Listen}, log)
	if err != nil {
		return nil, err
	}
	var userCPUs float64
	var hv invoker.HarvestConfig
	if cfg.Harvest || cfg.Measure {
		userCPUs = cfg.UserCPUs
		if userCPUs == 0 {
			userCPUs = float64(runtime.NumCPU()) / float64(cfg.Invokers)
		}
		hv = invoker.HarvestConfig{Enabled: true, UserCPUs: userCPUs}
		if !cfg.Harvest {
			hv.Harvest.DisableCPU, hv.Harvest.DisableMemory = true, true
		}
	}
	for i := range cfg.Invokers {
		// Every action gets an in-memory /tmp, a quarter of the user memory for all of
		// them, on disk under the data directory when that is spent.
		sb, err := sandbox.New(sandbox.Config{Prefix: cfg.ContainerPrefix + strconv.Itoa(i), UserMemoryMB: cfg.UserMemoryMB,
			UserCPUs: userCPUs, PauseGrace: cfg.PauseGrace, Manifest: m,
			Scratch: &sandbox.ScratchConfig{DiskRoot: filepath.Join(absDir(cfg.DataDir), "scratch", strconv.Itoa(i)),
				Ledger: memfs.Config{HostBytes: int64(cfg.UserMemoryMB/4) << 20}}}, s.docker, log.Named("invoker"+strconv.Itoa(i)), time.Now)
		if err != nil {
			return nil, err
		}
		s.sbs = append(s.sbs, sb)
		if err := sb.Start(ctx); err != nil {
			return nil, fmt.Errorf("docker: %w", err)
		}
		inv, err := invoker.New(invoker.Config{
			Instance: message.InvokerInstanceID{Instance: i, UniqueName: "standalone" + strconv.Itoa(i),
				UserMemory: message.ByteSize(cfg.UserMemoryMB) * message.Megabyte},
			Brokers: s.brokers, Delivery: cfg.Delivery, MaxPeek: cfg.UserMemoryMB / 128,
			WhisksDB: "whisks", ActivationsDB: "activations", SubjectsDB: "subjects", Harvest: hv,
		}, m, s.docs, sb, log.Named("invoker"+strconv.Itoa(i)), time.Now)
		if err != nil {
			return nil, err
		}
		s.invs = append(s.invs, inv)
	}
	s.ln, err = net.Listen("tcp", cfg.Listen)
	if err != nil {
		return nil, fmt.Errorf("API listener: %w", err)
	}
	ok = true
	return s, nil
}

// APIHost is the URL clients use (wsk property set --apihost).
func (s *System) APIHost() string { return "http://" + s.ln.Addr().String() }

// Brokers are the Kafka addresses in use.
func (s *System) Brokers() []string { return s.brokers }

// Run serves until ctx ends, then stops the invokers (draining them) and removes their containers.
func (s *System) Run(ctx context.Context) error {
	defer s.close()
	var wg sync.WaitGroup
	errs := make(chan error, 1+len(s.invs))
	wg.Add(1 + len(s.invs))
	go func() { defer wg.Done(); errs <- s.ctrl.Serve(ctx, s.ln) }()
	for _, inv := range s.invs {
		go func() { defer wg.Done(); errs <- inv.Run(ctx) }()
	}
	wg.Wait()
	close(errs)
	var all []error
	for err := range errs {
		if err != nil && !errors.Is(err, context.Canceled) {
			all = append(all, err)
		}
	}
	return errors.Join(all...)
}

func (s *System) close() {
	for _, sb := range s.sbs {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		if err := sb.Close(ctx); err != nil {
			s.log.Warn("removing containers", zap.Error(err))
		}
		cancel()
	}
	s.sbs = nil
	if s.ctrl != nil {
		_ = s.ctrl.Close()
		s.ctrl = nil
	}
	if s.docker != nil {
		_ = s.docker.Close()
		s.docker = nil
	}
	if s.bolt != nil {
		_ = s.bolt.Close()
		s.bolt = nil
	}
	if s.kfake != nil {
		s.kfake.Close()
		s.kfake = nil
	}
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// absDir makes a directory absolute: Docker bind-mounts need absolute host paths.
func absDir(dir string) string {
	if a, err := filepath.Abs(dir); err == nil {
		return a
	}
	return dir
}
