package proxy

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
)

// errExited is returned when the child exits before it answers.
var errExited = errors.New("the action process exited")

// errLineTooLong is returned when a result line exceeds the configured maximum.
var errLineTooLong = errors.New("the action's result line is too long")

// child is the long-lived action process: stdin takes one JSON line per activation and
// fd 3 gives one JSON line back.
type child struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser

	lines  chan lineOrErr // results read from fd 3, in order
	exited chan struct{}  // closed once the process has been reaped

	killOnce sync.Once
	broken   atomic.Bool // killed, or its result stream ended: it cannot answer any more
}

type lineOrErr struct {
	line []byte
	err  error
}

// startChild starts path in dir with env, its stdout and stderr going to the given files
// and a pipe on fd 3 for results.
func startChild(path, dir string, env []string, stdout, stderr *os.File, maxLine int64) (*child, error) {
	rd, wr, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("result pipe: %w", err)
	}
	cmd := exec.Command(path)
	cmd.Dir = dir
	cmd.Env = env
	cmd.Stdout = stdout
	cmd.Stderr = stderr
	cmd.ExtraFiles = []*os.File{wr}
	// Its own process group, so a kill also reaches what the action started.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	stdin, err := cmd.StdinPipe()
	if err != nil {
		rd.Close()
		wr.Close()
		return nil, fmt.Errorf("stdin pipe: %w", err)
	}
	if err := cmd.Start(); err != nil {
		rd.Close()
		wr.Close()
		return nil, err
	}
	wr.Close() // the child holds the write end now
	c := &child{
		cmd:    cmd,
		stdin:  stdin,
		lines:  make(chan lineOrErr, 1),
		exited: make(chan struct{}),
	}
	go c.readLines(rd, maxLine)
	go func() {
		_ = cmd.Wait()
		// Whatever the action left behind in its group still holds fd 3 open.
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		close(c.exited)
	}()
	return c, nil
}

// readLines sends each fd-3 line to c.lines until EOF or an error; it owns rd.
func (c *child) readLines(rd *os.File, maxLine int64) {
	defer rd.Close()
	defer close(c.lines)
	br := bufio.NewReaderSize(rd, 64<<10)
	for {
		line, err := readLine(br, maxLine)
		if len(bytes.TrimSpace(line)) > 0 || (err != nil && !errors.Is(err, io.EOF)) {
			c.lines <- lineOrErr{line: line, err: err}
		}
		if err != nil {
			return
		}
	}
}

// readLine reads up to '\n' (not included). A line longer than max is consumed and
// reported as errLineTooLong.
func readLine(br *bufio.Reader, max int64) ([]byte, error) {
	var line []byte
	tooLong := false
	for {
		frag, err := br.ReadSlice('\n')
		if !tooLong {
			if int64(len(line)+len(frag)) > max+1 {
				tooLong = true
				line = nil
			} else {
				line = append(line, frag...)
			}
		}
		switch {
		case err == nil:
			if tooLong {
				return nil, errLineTooLong
			}
			return bytes.TrimSuffix(line, []byte("\n")), nil
		case errors.Is(err, bufio.ErrBufferFull):
			continue
		default:
			if tooLong {
				return nil, errLineTooLong
			}
			return line, err
		}
	}
}

// next waits for the next fd-3 line. It returns errExited if the child is gone first, and
// ctx.Err() (after killing the child, whose state is then unknown) if ctx ends first.
func (c *child) next(ctx context.Context) ([]byte, error) {
	select {
	case l, ok := <-c.lines:
		if !ok {
			c.broken.Store(true)
			return nil, errExited
		}
		if l.err != nil && !errors.Is(l.err, io.EOF) {
			c.kill()
			return nil, l.err
		}
		return l.line, nil
	case <-ctx.Done():
		c.kill()
		return nil, ctx.Err()
	}
}

// call writes one request line and waits for the result line.
func (c *child) call(ctx context.Context, line []byte) ([]byte, error) {
	stop := context.AfterFunc(ctx, c.kill)
	defer stop()
	if _, err := c.stdin.Write(line); err != nil {
		// The action closed its stdin or died: either way it cannot answer.
		c.kill()
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, errExited
	}
	res, err := c.next(ctx)
	if err != nil && ctx.Err() != nil {
		return nil, ctx.Err()
	}
	return res, err
}

// usable reports whether the child may still answer.
func (c *child) usable() bool {
	select {
	case <-c.exited:
		return false
	default:
		return !c.broken.Load()
	}
}

// kill ends the child's process group.
func (c *child) kill() {
	c.broken.Store(true)
	c.killOnce.Do(func() {
		_ = c.stdin.Close()
		_ = syscall.Kill(-c.cmd.Process.Pid, syscall.SIGKILL)
	})
}

// compile runs the compiler and returns its trimmed output as the message on failure.
func compile(ctx context.Context, compiler, main, src, bin string, env []string) (string, error) {
	cmd := exec.CommandContext(ctx, compiler, main, src, bin)
	cmd.Dir = src
	cmd.Env = env
	out, err := cmd.CombinedOutput()
	if err != nil {
		msg := strings.TrimSpace(string(out))
		if msg == "" {
			msg = fmt.Sprintf("the compiler failed: %v", err)
		}
		return msg, fmt.Errorf("compile: %w", err)
	}
	return "", nil
}
