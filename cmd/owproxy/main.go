// Command owproxy is the action proxy of our runtime images: it serves OpenWhisk's /init and
// /run on port 8080 and runs the action as a child process (see package
// sandbox/runtime/proxy).
//
// Environment: OW_COMPILER (compiler for code that is not an executable), OW_WAIT_FOR_ACK
// (wait for the action's {"ok":true} on fd 3 at /init), OW_PROXY_DEBUG (diagnostics on
// stderr, which is also the user's log: off by default).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"go.uber.org/zap"

	"github.com/owinvoker/owinvoker/sandbox/runtime/proxy"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Environ(), os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "owproxy:", err)
		os.Exit(1)
	}
}

// proxyVars configure the proxy and are not passed on to the action.
var proxyVars = map[string]bool{"OW_COMPILER": true, "OW_WAIT_FOR_ACK": true, "OW_PROXY_DEBUG": true}

func run(ctx context.Context, args, env []string, stdout, stderr *os.File) error {
	fs := flag.NewFlagSet("owproxy", flag.ContinueOnError)
	fs.SetOutput(stderr)
	listen := fs.String("listen", ":8080", "address to serve /init and /run on")
	dir := fs.String("dir", "/action", "directory for the action's files")
	if err := fs.Parse(args); err != nil {
		return err
	}

	vars := map[string]string{}
	var childEnv []string
	for _, kv := range env {
		k, v, _ := strings.Cut(kv, "=")
		vars[k] = v
		if !proxyVars[k] {
			childEnv = append(childEnv, kv)
		}
	}
	log := zap.NewNop()
	if truthy(vars["OW_PROXY_DEBUG"]) {
		l, err := zap.NewDevelopment(zap.ErrorOutput(zap.CombineWriteSyncers(stderr)))
		if err != nil {
			return fmt.Errorf("logger: %w", err)
		}
		log = l
	}
	srv, err := proxy.New(proxy.Config{
		Dir:        *dir,
		Compiler:   vars["OW_COMPILER"],
		WaitForAck: truthy(vars["OW_WAIT_FOR_ACK"]),
		// Concurrent /run needs both the operator's consent (__OW_ALLOW_CONCURRENT, set by
		// the invoker) and a launcher that answers tagged requests (OW_CONCURRENT_LAUNCHER,
		// set by the image).
		Concurrent: truthy(vars["__OW_ALLOW_CONCURRENT"]) && truthy(vars["OW_CONCURRENT_LAUNCHER"]),
		Env:        childEnv,
		Stdout:     stdout,
		Stderr:     stderr,
		Log:        log,
	})
	if err != nil {
		return err
	}
	defer srv.Close()

	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	hs := &http.Server{Handler: srv, ReadHeaderTimeout: 30 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := hs.Shutdown(sctx); err != nil && !errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("shutdown: %w", err)
	}
	return nil
}

func truthy(v string) bool {
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "", "0", "false", "no", "off":
		return false
	}
	return true
}
