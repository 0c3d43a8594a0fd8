package reliability

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/owinvoker/owinvoker/deploy/dev/testenv"
)

// Binaries are the paths of the commands under test.
type Binaries struct {
	Invoker    string // cmd/owinvoker
	Controller string // cmd/owcontroller
}

// Build compiles cmd/owinvoker and cmd/owcontroller of this checkout into dir.
func Build(ctx context.Context, dir string) (Binaries, error) {
	root, err := testenv.RepoRoot()
	if err != nil {
		return Binaries{}, err
	}
	b := Binaries{Invoker: filepath.Join(dir, "owinvoker"), Controller: filepath.Join(dir, "owcontroller")}
	for _, c := range []struct{ pkg, out string }{{"./cmd/owinvoker", b.Invoker}, {"./cmd/owcontroller", b.Controller}} {
		cmd := exec.CommandContext(ctx, "go", "build", "-o", c.out, c.pkg)
		cmd.Dir = root
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			return Binaries{}, fmt.Errorf("go build %s: %w\n%s", c.pkg, err, out)
		}
	}
	return b, nil
}

// RuntimeImages builds the runtime images of deploy/runtimes.json (deploy/runtimes/build.sh
// skips the ones that are up to date), starting the Docker engine first unless the
// environment says it runs (OW_TEST_DOCKER).
func RuntimeImages(ctx context.Context) error {
	root, err := testenv.RepoRoot()
	if err != nil {
		return err
	}
	scripts := [][]string{{filepath.Join(root, "deploy", "runtimes", "build.sh")}}
	if os.Getenv("OW_TEST_DOCKER") == "" {
		scripts = append([][]string{{filepath.Join(root, "deploy", "dev", "docker.sh"), "start"}}, scripts...)
	}
	for _, s := range scripts {
		if out, err := exec.CommandContext(ctx, s[0], s[1:]...).CombinedOutput(); err != nil {
			return fmt.Errorf("%s: %w\n%s", strings.Join(s, " "), err, out)
		}
	}
	return nil
}

// Process is one command started by a test, its stdout and stderr captured in a file.
type Process struct {
	tb      testing.TB
	Name    string
	bin     string
	args    []string
	env     []string
	LogPath string

	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{}
	err  error
	runs int
}

// cleanEnv is the environment of this process without the variables that configure
// OpenWhisk components, so that a test's settings are the only ones.
func cleanEnv() []string {
	var out []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		switch {
		case strings.HasPrefix(k, "CONFIG_"), strings.HasPrefix(k, "DB_"), strings.HasPrefix(k, "WHISK_"),
			strings.HasPrefix(k, "LIMITS_"), strings.HasPrefix(k, "KAFKA_"), k == "RUNTIMES_MANIFEST", k == "PORT":
			continue
		}
		out = append(out, kv)
	}
	return out
}

// StartProcess runs bin with args and env (added to a clean copy of this process's
// environment). The process is stopped (SIGTERM, then SIGKILL) when the test ends.
func StartProcess(tb testing.TB, name, bin string, args, env []string) *Process {
	tb.Helper()
	p := &Process{tb: tb, Name: name, bin: bin, args: args, env: append(cleanEnv(), env...),
		LogPath: filepath.Join(tb.TempDir(), name+".log")}
	p.Start()
	tb.Cleanup(func() {
		if err := p.Stop(30 * time.Second); err != nil {
			tb.Logf("%s: %v", name, err)
		}
		if tb.Failed() {
			tb.Logf("%s log (last 60 lines):\n%s", name, tail(p.Logs(), 60))
		}
	})
	return p
}

// Start (re)starts the process with the same command line and environment, appending to
// the same log.
func (p *Process) Start() {
	p.tb.Helper()
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd != nil && !p.exited() {
		p.tb.Fatalf("%s: start while running", p.Name)
	}
	f, err := os.OpenFile(p.LogPath, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		p.tb.Fatal(err)
	}
	p.runs++
	fmt.Fprintf(f, "### %s run %d started %s\n", p.Name, p.runs, time.Now().Format(time.RFC3339Nano))
	cmd := exec.Command(p.bin, p.args...)
	cmd.Env = p.env
	cmd.Stdout, cmd.Stderr = f, f
	// Its own process group, so that a terminal's signals do not reach it.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		f.Close()
		p.tb.Fatalf("start %s: %v", p.Name, err)
	}
	done := make(chan struct{})
	p.cmd, p.done, p.err = cmd, done, nil
	go func() {
		err := cmd.Wait()
		f.Close()
		p.mu.Lock()
		p.err = err
		p.mu.Unlock()
		close(done)
	}()
}

func (p *Process) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// Running reports whether the process is alive.
func (p *Process) Running() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.cmd != nil && !p.exited()
}

// Exited returns a channel closed when the current run of the process ends.
func (p *Process) Exited() <-chan struct{} {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.done
}

// Kill sends SIGKILL (a crash: no drain, no cleanup) and waits for the process to end.
func (p *Process) Kill() {
	p.tb.Helper()
	p.mu.Lock()
	cmd, done := p.cmd, p.done
	p.mu.Unlock()
	if cmd == nil {
		return
	}
	_ = cmd.Process.Signal(syscall.SIGKILL)
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		p.tb.Fatalf("%s did not die after SIGKILL", p.Name)
	}
}

// Stop sends SIGTERM and waits up to grace for a clean exit, then kills. It returns the
// exit error of a process that did not stop cleanly.
func (p *Process) Stop(grace time.Duration) error {
	p.mu.Lock()
	cmd, done := p.cmd, p.done
	p.mu.Unlock()
	if cmd == nil {
		return nil
	}
	select {
	case <-done:
		return nil // already ended (killed, or crashed: reported by whoever waits for it)
	default:
	}
	_ = cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-done:
	case <-time.After(grace):
		_ = cmd.Process.Signal(syscall.SIGKILL)
		<-done
		return fmt.Errorf("%s did not stop within %v after SIGTERM: killed", p.Name, grace)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	var ee *exec.ExitError
	if errors.As(p.err, &ee) {
		return fmt.Errorf("%s exited: %w", p.Name, p.err)
	}
	return nil
}

// Logs returns everything the process wrote so far, over all its runs.
func (p *Process) Logs() string {
	b, err := os.ReadFile(p.LogPath)
	if err != nil {
		return ""
	}
	return string(b)
}

// WaitLog waits until the log contains s.
func (p *Process) WaitLog(s string, timeout time.Duration) {
	p.tb.Helper()
	deadline := time.Now().Add(timeout)
	for !strings.Contains(p.Logs(), s) {
		if time.Now().After(deadline) {
			p.tb.Fatalf("%s: no %q in the log after %v", p.Name, s, timeout)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
