// Command owcontroller is owinvoker's lean OpenWhisk controller: the REST API the wsk
// CLI uses, harvest-aware placement of activations on invokers over Kafka, and invoker
// health supervision (package controller-plugin/controller). It reads the environment
// OpenWhisk's ansible role gives the Scala controller (KAFKA_HOSTS, CONFIG_whisk_*,
// DB_*, RUNTIMES_MANIFEST, PORT, LIMITS_ACTIONS_INVOKES_*); run it with -h for the flags.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/owinvoker/owinvoker/controller-plugin/controller"
)

func main() {
	if err := run(os.Args[1:], os.Environ(), os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "owcontroller:", err)
		os.Exit(1)
	}
}

// run serves until SIGINT or SIGTERM, then shuts down gracefully. Logs go to stdout.
func run(args, environ []string, stdout io.Writer) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return serve(ctx, args, environ, stdout)
}

// serve runs the controller until ctx ends.
func serve(ctx context.Context, args, environ []string, stdout io.Writer) error {
	s, err := load(args, environ, stdout)
	if errors.Is(err, flag.ErrHelp) {
		return nil
	}
	if err != nil {
		return err
	}
	log, err := newLogger(s.logLevel, stdout)
	if err != nil {
		return err
	}
	defer func() { _ = log.Sync() }()
	c, err := controller.New(s.cfg, log)
	if err != nil {
		return err
	}
	defer func() {
		if err := c.Close(); err != nil {
			log.Warn("close", zap.Error(err))
		}
	}()
	if err := c.Run(ctx); err != nil {
		return err
	}
	log.Info("controller stopped")
	return nil
}

func newLogger(level string, out io.Writer) (*zap.Logger, error) {
	lvl, err := zapcore.ParseLevel(level)
	if err != nil {
		return nil, fmt.Errorf("log level %q: %w", level, err)
	}
	enc := zap.NewProductionEncoderConfig()
	enc.EncodeTime = zapcore.ISO8601TimeEncoder
	return zap.New(zapcore.NewCore(zapcore.NewJSONEncoder(enc), zapcore.AddSync(out), lvl)), nil
}
