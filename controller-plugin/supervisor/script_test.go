package supervisor

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite testdata/*.txt with the output the supervisor gives")

// A script in testdata/ is a sequence of commands, each followed by "----" and the
// output it must give, and a blank line. Lines starting with # are comments.
//
// Times are durations since the script's epoch (t=1m30s). Commands:
//
//	ping t=<d> id=<n>[,<n>...] [disabled]   one ping per id
//	pings from=<d> to=<d> every=<d> id=<n>[,<n>...]
//	                                        enabled pings at from, from+every, ... <= to
//	ack t=<d> id=<n> outcome=success|system-error|timeout [n=<count>]
//	tick t=<d>
//	status                                  states, buffers and the next deadline
//
// Every command but status prints the Ready it produced, "ok" when empty.
func TestScripts(t *testing.T) {
	files, err := filepath.Glob("testdata/*.txt")
	if err != nil || len(files) == 0 {
		t.Fatalf("no scripts in testdata: %v", err)
	}
	for _, file := range files {
		t.Run(strings.TrimSuffix(filepath.Base(file), ".txt"), func(t *testing.T) {
			runScript(t, file)
		})
	}
}

type scriptCase struct {
	pre  []string // comments and blank lines before the command
	cmd  string
	line int
	want string
}

func parseScript(t *testing.T, file string) (cases []scriptCase, tail []string) {
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	var pre []string
	for i := 0; i < len(lines); i++ {
		l := lines[i]
		if strings.TrimSpace(l) == "" || strings.HasPrefix(l, "#") {
			pre = append(pre, l)
			continue
		}
		c := scriptCase{pre: pre, cmd: l, line: i + 1}
		pre = nil
		if i+1 >= len(lines) || lines[i+1] != "----" {
			t.Fatalf("%s:%d: command %q is not followed by ----", file, i+1, l)
		}
		i += 2
		var out []string
		for ; i < len(lines) && lines[i] != ""; i++ {
			out = append(out, lines[i])
		}
		c.want = strings.Join(out, "\n")
		cases = append(cases, c)
	}
	return cases, pre
}

func runScript(t *testing.T, file string) {
	cases, tail := parseScript(t, file)
	s, err := New(Config{})
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for _, c := range cases {
		got, err := runCommand(s, c.cmd)
		if err != nil {
			t.Fatalf("%s:%d: %s: %v", file, c.line, c.cmd, err)
		}
		if !*update && got != c.want {
			t.Errorf("%s:%d: %s\ngot:\n%s\nwant:\n%s", file, c.line, c.cmd, got, c.want)
		}
		for _, l := range c.pre {
			b.WriteString(l + "\n")
		}
		fmt.Fprintf(&b, "%s\n----\n%s\n\n", c.cmd, got)
	}
	for _, l := range tail {
		b.WriteString(l + "\n")
	}
	if *update {
		if err := os.WriteFile(file, []byte(strings.TrimRight(b.String(), "\n")+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

var epoch = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func runCommand(s *Supervisor, line string) (string, error) {
	fields := strings.Fields(line)
	args := map[string]string{}
	for _, f := range fields[1:] {
		k, v, _ := strings.Cut(f, "=")
		args[k] = v
	}
	dur := func(key string) (time.Time, error) {
		d, err := time.ParseDuration(args[key])
		if err != nil {
			return time.Time{}, fmt.Errorf("%s: %w", key, err)
		}
		return epoch.Add(d), nil
	}
	ids := func() ([]int, error) {
		var out []int
		for _, f := range strings.Split(args["id"], ",") {
			n, err := strconv.Atoi(f)
			if err != nil {
				return nil, fmt.Errorf("id: %w", err)
			}
			out = append(out, n)
		}
		return out, nil
	}

	var r Ready
	merge := func(x Ready) {
		r.Changes = append(r.Changes, x.Changes...)
		r.Tests = append(r.Tests, x.Tests...)
	}
	switch fields[0] {
	case "ping":
		now, err := dur("t")
		if err != nil {
			return "", err
		}
		list, err := ids()
		if err != nil {
			return "", err
		}
		_, disabled := args["disabled"]
		for _, id := range list {
			x, err := s.Ping(now, id, !disabled)
			if err != nil {
				return err.Error(), nil
			}
			merge(x)
		}
	case "pings":
		from, err := dur("from")
		if err != nil {
			return "", err
		}
		to, err := dur("to")
		if err != nil {
			return "", err
		}
		every, err := time.ParseDuration(args["every"])
		if err != nil || every <= 0 {
			return "", fmt.Errorf("every: %q", args["every"])
		}
		list, err := ids()
		if err != nil {
			return "", err
		}
		for now := from; !now.After(to); now = now.Add(every) {
			for _, id := range list {
				x, err := s.Ping(now, id, true)
				if err != nil {
					return "", err
				}
				merge(x)
			}
		}
	case "ack":
		now, err := dur("t")
		if err != nil {
			return "", err
		}
		list, err := ids()
		if err != nil {
			return "", err
		}
		var o Outcome
		switch args["outcome"] {
		case "success":
			o = Success
		case "system-error":
			o = SystemError
		case "timeout":
			o = Timeout
		default:
			return "", fmt.Errorf("outcome %q", args["outcome"])
		}
		n := 1
		if v, ok := args["n"]; ok {
			if n, err = strconv.Atoi(v); err != nil {
				return "", fmt.Errorf("n: %w", err)
			}
		}
		for range n {
			for _, id := range list {
				merge(s.Ack(now, id, o))
			}
		}
	case "tick":
		now, err := dur("t")
		if err != nil {
			return "", err
		}
		merge(s.Tick(now))
	case "status":
		return status(s), nil
	default:
		return "", fmt.Errorf("unknown command %q", fields[0])
	}
	return formatReady(r), nil
}

func formatReady(r Ready) string {
	if r.Empty() {
		return "ok"
	}
	var lines []string
	for _, c := range r.Changes {
		lines = append(lines, fmt.Sprintf("invoker%d: %s -> %s", c.Invoker, c.From, c.To))
	}
	for _, id := range r.Tests {
		lines = append(lines, fmt.Sprintf("test invoker%d", id))
	}
	return strings.Join(lines, "\n")
}

func status(s *Supervisor) string {
	var lines []string
	states := s.Status()
	s.mu.Lock()
	for i, st := range states {
		inv := s.invokers[i]
		if inv == nil {
			lines = append(lines, fmt.Sprintf("invoker%d: %s (never pinged)", i, st))
			continue
		}
		var buf []string
		for _, o := range inv.ring {
			buf = append(buf, o.String())
		}
		l := fmt.Sprintf("invoker%d: %s buffer=[%s]", i, st, strings.Join(buf, " "))
		if !inv.deadline.IsZero() {
			l += fmt.Sprintf(" offline-at=%v", inv.deadline.Sub(epoch))
		}
		if !inv.nextTest.IsZero() {
			l += fmt.Sprintf(" test-at=%v", inv.nextTest.Sub(epoch))
		}
		lines = append(lines, l)
	}
	s.mu.Unlock()
	if at, ok := s.NextDeadline(); ok {
		lines = append(lines, fmt.Sprintf("next deadline %v", at.Sub(epoch)))
	} else {
		lines = append(lines, "no deadline")
	}
	return strings.Join(lines, "\n")
}
