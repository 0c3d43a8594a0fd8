package reliability

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/owinvoker/owinvoker/deploy/dev/testenv"
)

// Service is a private instance of a deploy/dev service (kafka.sh or pouchdb.sh) started
// with its own OW_DEV_STATE, so that a test may stop and restart it without touching the
// instance other tests share. Restart runs the server again with the same command line,
// working directory, data and port.
type Service struct {
	tb     testing.TB
	script string // kafka.sh or pouchdb.sh
	name   string // kafka or pouchdb: the state subdirectory
	state  string // OW_DEV_STATE
	Addr   string // what the script printed: host:port or a URL

	cmdline []string // the server's argv, read from /proc when it was first started
	dir     string   // its working directory
	pid     int
}

// PrivateKafka starts a Kafka broker of the test's own (deploy/dev/kafka.sh); Addr is its
// bootstrap address.
func PrivateKafka(tb testing.TB) *Service {
	tb.Helper()
	testenv.Kafka(tb) // the shared one: makes sure the jars are there and -short skips
	return startService(tb, "kafka.sh", "kafka", 5*time.Minute)
}

// PrivateCouchDB starts a pouchdb-server of the test's own (deploy/dev/pouchdb.sh); Addr is
// its base URL.
func PrivateCouchDB(tb testing.TB) *Service {
	tb.Helper()
	testenv.CouchDB(tb)
	return startService(tb, "pouchdb.sh", "pouchdb", 5*time.Minute)
}

func startService(tb testing.TB, script, name string, timeout time.Duration) *Service {
	tb.Helper()
	state, err := os.MkdirTemp("", "owrel-"+name+"-")
	if err != nil {
		tb.Fatal(err)
	}
	s := &Service{tb: tb, script: script, name: name, state: state}
	tb.Cleanup(func() {
		if _, err := s.run(time.Minute, "stop"); err != nil {
			tb.Logf("%s stop: %v", script, err)
		}
		if s.pid > 0 && syscall.Kill(s.pid, 0) == nil {
			_ = syscall.Kill(s.pid, syscall.SIGKILL)
		}
		os.RemoveAll(state)
	})
	out, err := s.run(timeout, "start")
	if err != nil {
		tb.Fatalf("%s start: %v", script, err)
	}
	fields := strings.Fields(out)
	if len(fields) == 0 {
		tb.Fatalf("%s start printed nothing", script)
	}
	s.Addr = fields[len(fields)-1]
	pidText, err := os.ReadFile(filepath.Join(state, name, name+".pid"))
	if err != nil {
		tb.Fatal(err)
	}
	s.pid, err = strconv.Atoi(strings.TrimSpace(string(pidText)))
	if err != nil {
		tb.Fatal(err)
	}
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", s.pid))
	if err != nil {
		tb.Fatal(err)
	}
	s.cmdline = strings.Split(strings.TrimRight(string(raw), "\x00"), "\x00")
	if s.dir, err = os.Readlink(fmt.Sprintf("/proc/%d/cwd", s.pid)); err != nil {
		tb.Fatal(err)
	}
	return s
}

func (s *Service) run(timeout time.Duration, args ...string) (string, error) {
	root, err := testenv.RepoRoot()
	if err != nil {
		return "", err
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, filepath.Join(root, "deploy", "dev", s.script), args...)
	cmd.Env = append(os.Environ(), "OW_DEV_STATE="+s.state)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	cmd.WaitDelay = 5 * time.Second
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("%w\n%s", err, stderr.String())
	}
	return stdout.String(), nil
}

// Stop stops the server (SIGTERM, as the script does) and waits until its port is closed.
func (s *Service) Stop() {
	s.tb.Helper()
	if _, err := s.run(2*time.Minute, "stop"); err != nil {
		s.tb.Fatalf("%s stop: %v", s.script, err)
	}
	s.waitPort(false, time.Minute)
}

// Restart runs the server again as it first ran: same command line, directory, data and
// port; it returns once the port answers.
func (s *Service) Restart() {
	s.tb.Helper()
	logf, err := os.OpenFile(filepath.Join(s.state, s.name, s.name+".log"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		s.tb.Fatal(err)
	}
	defer logf.Close()
	cmd := exec.Command(s.cmdline[0], s.cmdline[1:]...)
	cmd.Dir = s.dir
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		s.tb.Fatalf("restart %s: %v", s.name, err)
	}
	s.pid = cmd.Process.Pid
	go func() { _ = cmd.Wait() }()
	// The script's stop reads the pid from here.
	if err := os.WriteFile(filepath.Join(s.state, s.name, s.name+".pid"), []byte(strconv.Itoa(s.pid)+"\n"), 0o644); err != nil {
		s.tb.Fatal(err)
	}
	s.waitPort(true, 3*time.Minute)
}

func (s *Service) hostPort() string {
	a := strings.TrimPrefix(strings.TrimPrefix(s.Addr, "http://"), "https://")
	return strings.TrimRight(a, "/")
}

func (s *Service) waitPort(open bool, timeout time.Duration) {
	s.tb.Helper()
	deadline := time.Now().Add(timeout)
	for {
		c, err := net.DialTimeout("tcp", s.hostPort(), time.Second)
		if err == nil {
			c.Close()
		}
		if (err == nil) == open {
			return
		}
		if time.Now().After(deadline) {
			s.tb.Fatalf("%s at %s: port open=%v after %v, want %v", s.name, s.hostPort(), err == nil, timeout, open)
		}
		time.Sleep(200 * time.Millisecond)
	}
}
