// Command owstandalone runs a whole OpenWhisk system in one process: the lean controller
// with the REST API that wsk uses, one owinvoker, an embedded Kafka-protocol broker and an
// embedded document store. It needs a Docker engine and the runtime images (make run
// provides both).
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/owinvoker/owinvoker/controller-plugin/controller"
	"github.com/owinvoker/owinvoker/controller-plugin/standalone"
	"github.com/owinvoker/owinvoker/invoker/broker"
	"github.com/owinvoker/owinvoker/invoker/store"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "owstandalone:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("owstandalone", flag.ContinueOnError)
	fs.SetOutput(stderr)
	dataDir := fs.String("data-dir", ".dev/standalone", "directory for the embedded store and broker")
	listen := fs.String("listen", "127.0.0.1:3233", "address of the OpenWhisk API")
	manifestPath := fs.String("manifest", "deploy/runtimes.json", "runtimes manifest (OpenWhisk's runtimes.json structure)")
	kafka := fs.String("kafka", "", "use this Kafka (host:port,...) instead of the embedded broker")
	couch := fs.String("couchdb", "", "use this CouchDB (http://user:pass@host:port) instead of the embedded store")
	memory := fs.Int("user-memory", 2048, "memory for action containers, MB")
	policy := fs.String("policy", "sharding", "placement policy: sharding or harvest")
	delivery := fs.String("delivery", "at-most-once", "invoker delivery: at-most-once or at-least-once")
	harvestOn := fs.Bool("harvest", false, "harvest idle CPU and memory of over-provisioned actions and lend it to under-provisioned ones")
	measure := fs.Bool("measure", false, "profile every activation and annotate its record, with CPU quotas as under --harvest, but lend nothing (the benchmark baseline)")
	invokers := fs.Int("invokers", 1, "number of invokers, each with --user-memory")
	cpus := fs.Float64("cpus", 0, "CPU cores each invoker's containers share under --harvest or --measure (default: host cores / invokers)")
	perMinute := fs.Int("invokes-per-minute", 60, "default per-namespace limit of invocations per minute (429 above it)")
	concurrent := fs.Int("concurrent-invokes", 30, "default per-namespace limit of invocations in flight (429 above it)")
	prefix := fs.String("container-prefix", "wskstandalone", "name prefix of action containers; give each system on one Docker engine its own")
	logLevel := fs.String("log-level", "info", "log level")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unknown argument %q", fs.Arg(0))
	}
	lvl, err := zapcore.ParseLevel(*logLevel)
	if err != nil {
		return err
	}
	logFile, err := openLog(*dataDir)
	if err != nil {
		return err
	}
	defer logFile.Close()
	enc := zap.NewProductionEncoderConfig()
	enc.EncodeTime = zapcore.ISO8601TimeEncoder
	log := zap.New(zapcore.NewCore(zapcore.NewJSONEncoder(enc), zapcore.AddSync(logFile), lvl))
	defer func() { _ = log.Sync() }()

	manifest, err := os.ReadFile(*manifestPath)
	if err != nil {
		return fmt.Errorf("runtimes manifest: %w", err)
	}
	d, err := broker.ParseDelivery(*delivery)
	if err != nil {
		return err
	}
	cfg := standalone.Config{DataDir: *dataDir, Listen: *listen, Manifest: manifest, UserMemoryMB: *memory,
		Policy: *policy, Delivery: d, Harvest: *harvestOn, Measure: *measure, Invokers: *invokers, UserCPUs: *cpus,
		ContainerPrefix: *prefix, InvocationsPerMinute: *perMinute, ConcurrentInvocations: *concurrent}
	if *kafka != "" {
		cfg.Kafka = strings.Split(*kafka, ",")
	}
	if *couch != "" {
		cfg.CouchDB = store.CouchConfig{URL: *couch}
	}
	sys, err := standalone.Start(ctx, cfg, log)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, `owstandalone is up: OpenWhisk API on %[1]s (log: %[2]s)

  wsk property set --apihost %[1]s --auth %[3]s
  echo 'function main(params) { return {greeting: "Hello, " + (params.name || "World") + "!"}; }' > hello.js
  wsk action create hello hello.js --kind nodejs:20
  wsk action invoke hello --param name OpenWhisk --result

Ctrl-C stops it and removes its containers.
`, sys.APIHost(), logFile.Name(), controller.GuestKey)
	start := time.Now()
	err = sys.Run(ctx)
	log.Info("stopped", zap.Duration("uptime", time.Since(start)))
	return err
}

func openLog(dir string) (*os.File, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("data directory: %w", err)
	}
	return os.OpenFile(filepath.Join(dir, "owstandalone.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
}
