package reliability

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/owinvoker/owinvoker/deploy/dev/testenv"
)

// PrivateEngine is a Docker engine of one test's own (deploy/dev/dockerd-private.sh), which
// the test may stop and start while other tests go on using the machine's engine.
type PrivateEngine struct {
	tb     testing.TB
	script string
	dir    string
	flags  string // extra dockerd flags
	Host   string // DOCKER_HOST
}

// StartPrivateEngine starts an engine with its state in a fresh directory and loads the
// given images into it from the machine's engine. It is removed when the test ends.
func StartPrivateEngine(tb testing.TB, flags string, images ...string) *PrivateEngine {
	tb.Helper()
	root, err := testenv.RepoRoot()
	if err != nil {
		tb.Fatal(err)
	}
	// Not t.TempDir: the engine's mounts must be gone before the directory is removed.
	dir, err := os.MkdirTemp("", "owdockerd-")
	if err != nil {
		tb.Fatal(err)
	}
	e := &PrivateEngine{tb: tb, script: filepath.Join(root, "deploy", "dev", "dockerd-private.sh"), dir: dir, flags: flags}
	tb.Cleanup(func() {
		if out, err := e.run("clean"); err != nil {
			tb.Errorf("private engine clean: %v\n%s", err, out)
		}
		_ = os.RemoveAll(dir)
	})
	out, err := e.run("start")
	if err != nil {
		tb.Fatalf("private engine: %v\n%s", err, out)
	}
	e.Host = strings.TrimSpace(out)
	for _, img := range images {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		cmd := exec.CommandContext(ctx, "sh", "-c", fmt.Sprintf("docker save %q | docker -H %q load", img, e.Host))
		out, err := cmd.CombinedOutput()
		cancel()
		if err != nil {
			tb.Fatalf("load %s into the private engine: %v\n%s", img, err, out)
		}
	}
	return e
}

// Restart stops the engine (SIGTERM, as systemctl restart docker does) and starts it again.
func (e *PrivateEngine) Restart() {
	e.tb.Helper()
	if out, err := e.run("stop"); err != nil {
		e.tb.Fatalf("stop private engine: %v\n%s", err, out)
	}
	if out, err := e.run("start"); err != nil {
		e.tb.Fatalf("start private engine: %v\n%s", err, out)
	}
}

func (e *PrivateEngine) run(cmd string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	c := exec.CommandContext(ctx, e.script, cmd, e.dir)
	c.Env = append(os.Environ(), "DOCKERD_PRIVATE_FLAGS="+e.flags)
	out, err := c.CombinedOutput()
	return string(out), err
}
