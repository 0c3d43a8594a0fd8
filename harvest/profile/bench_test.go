package profile_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"syscall"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/owinvoker/owinvoker/deploy/dev/testenv"
	"github.com/owinvoker/owinvoker/harvest/profile"
)

// simCgroups creates n cgroups of our own, one directory per mounted hierarchy (the same shape a
// Docker container gets), each holding one sleeping process we start, and returns their pids.
// Everything is removed when the benchmark ends.
func simCgroups(b *testing.B, n int) []int {
	b.Helper()
	if os.Geteuid() != 0 {
		b.Skip("creating cgroups needs root")
	}
	layout, err := profile.NewLayout("")
	if err != nil {
		b.Fatal(err)
	}
	roots, err := layout.Find(1) // pid 1 sits in the root of every hierarchy
	if err != nil {
		b.Skipf("no cgroup hierarchy: %v", err)
	}
	base := testenv.UniqueName("owprofile-bench-")
	var parents []string
	for _, root := range []string{roots.V2, roots.CPU, roots.CPUAcct, roots.Memory} {
		if root == "" {
			continue
		}
		dir := filepath.Join(root, base)
		if err := os.Mkdir(dir, 0o755); err != nil {
			b.Fatalf("create cgroup: %v", err)
		}
		parents = append(parents, dir)
	}
	var cmds []*exec.Cmd
	b.Cleanup(func() {
		for _, c := range cmds {
			_ = c.Process.Kill()
			_ = c.Wait()
		}
		for _, p := range parents {
			for i := range n {
				_ = os.Remove(filepath.Join(p, fmt.Sprintf("c%d", i)))
			}
			if err := os.Remove(p); err != nil {
				b.Errorf("remove cgroup: %v", err)
			}
		}
	})
	pids := make([]int, n)
	for i := range n {
		cmd := exec.Command("sleep", "3600")
		if err := cmd.Start(); err != nil {
			b.Fatal(err)
		}
		cmds = append(cmds, cmd)
		pids[i] = cmd.Process.Pid
		for _, p := range parents {
			dir := filepath.Join(p, fmt.Sprintf("c%d", i))
			if err := os.Mkdir(dir, 0o755); err != nil {
				b.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(dir, "cgroup.procs"), []byte(strconv.Itoa(pids[i])), 0); err != nil {
				b.Fatalf("move pid into %s: %v", dir, err)
			}
		}
	}
	return pids
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func newBenchProfiler(b *testing.B, mode profile.CPUMode, pids []int) *profile.Profiler {
	b.Helper()
	p, err := profile.New(profile.Config{CPU: mode, BPFStats: mode == profile.CPUBPF}, zap.NewNop())
	if errors.Is(err, profile.ErrNotSupported) {
		b.Skipf("ebpf not allowed here: %v", err)
	}
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { p.Close() })
	for i, pid := range pids {
		if err := p.Add(fmt.Sprintf("c%d", i), pid); err != nil {
			b.Fatal(err)
		}
	}
	return p
}

// BenchmarkSweep measures one sweep over 50 containers (an op), per CPU source. It reports the
// cost per container sample and the share of one core that sampling at 10 Hz takes, from the
// process's CPU time; with ebpf also the program's own run time per event.
func BenchmarkSweep(b *testing.B) {
	const n = 50
	pids := simCgroups(b, n)
	for _, mode := range []profile.CPUMode{profile.CPUFiles, profile.CPUBPF} {
		b.Run(fmt.Sprintf("%s/containers=%d", mode, n), func(b *testing.B) {
			p := newBenchProfiler(b, mode, pids)
			st0, _ := p.BPFStats()
			b.ReportAllocs()
			cpu0, wall0 := cpuTime(), time.Now()
			ops := 0
			for b.Loop() {
				snap, err := p.Sample(time.Now())
				if err != nil || len(snap.Containers) != n {
					b.Fatalf("Sample: %d containers, failed %v, %v", len(snap.Containers), snap.Failed, err)
				}
				ops++
			}
			cpu, wall := cpuTime()-cpu0, time.Since(wall0)
			b.ReportMetric(float64(wall.Nanoseconds())/float64(ops*n), "ns/sample")
			b.ReportMetric(100*10*cpu.Seconds()/float64(ops), "cpu%@10Hz")
			if st1, err := p.BPFStats(); err == nil {
				runs := st1.RunCount - st0.RunCount
				if runs > 0 {
					b.ReportMetric(float64(st1.Runtime-st0.Runtime)/float64(runs), "bpf_ns/run")
					b.ReportMetric(float64(runs)/wall.Seconds(), "bpf_runs/s")
				}
			}
		})
	}
}

// BenchmarkRun10Hz runs the profiler as the daemon does, 50 containers at 10 Hz, for one second
// per op, and reports the process's CPU use as a share of one core (everything included: timer
// wake-ups, sweeps, the Go runtime); with ebpf also the program's share of the machine's CPU.
func BenchmarkRun10Hz(b *testing.B) {
	const n = 50
	pids := simCgroups(b, n)
	for _, mode := range []profile.CPUMode{profile.CPUFiles, profile.CPUBPF} {
		b.Run(fmt.Sprintf("%s/containers=%d", mode, n), func(b *testing.B) {
			p := newBenchProfiler(b, mode, pids)
			st0, _ := p.BPFStats()
			cpu0, wall0 := cpuTime(), time.Now()
			sweeps := 0
			for b.Loop() {
				ctx, cancel := context.WithTimeout(b.Context(), time.Second)
				_ = p.Run(ctx, func(s profile.Snapshot) { sweeps++ })
				cancel()
			}
			cpu, wall := cpuTime()-cpu0, time.Since(wall0)
			b.ReportMetric(100*cpu.Seconds()/wall.Seconds(), "cpu%")
			b.ReportMetric(float64(sweeps)/wall.Seconds(), "sweeps/s")
			if st1, err := p.BPFStats(); err == nil {
				ncpu := float64(runtime.NumCPU())
				b.ReportMetric(100*(st1.Runtime-st0.Runtime).Seconds()/wall.Seconds()/ncpu, "bpf_cpu%_of_machine")
			}
		})
	}
}
