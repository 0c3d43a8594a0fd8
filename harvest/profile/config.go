package profile

import (
	"fmt"
	"time"
)

// CPUMode selects where a Profiler reads CPU time from. Memory and throttling always come from
// the cgroup files.
type CPUMode string

const (
	// CPUAuto tries the eBPF source and falls back to the cgroup files, logging why, when the
	// kernel or the process's privileges do not allow it.
	CPUAuto CPUMode = "auto"
	// CPUBPF insists on the eBPF source; New fails when it cannot be loaded.
	CPUBPF CPUMode = "ebpf"
	// CPUFiles reads CPU time from the cgroup files (cpuacct.usage on v1, cpu.stat on v2).
	CPUFiles CPUMode = "cgroupfs"
)

// Defaults of Config.
const (
	DefaultPeriod     = 100 * time.Millisecond
	DefaultFlushHz    = 100
	DefaultHistory    = 600
	DefaultMapEntries = 16384
	DefaultProcRoot   = "/proc"
)

// Config configures a Profiler. The zero value is usable: validate fills in the defaults.
type Config struct {
	// Period between two samples taken by Run. Default 100 ms; 10 ms to 10 s.
	Period time.Duration
	// CPU picks the CPU source. Default CPUAuto.
	CPU CPUMode
	// FlushHz is how often per CPU the eBPF source charges the running slice without waiting
	// for a context switch (a perf cpu-clock event). Without it a task that runs without
	// switching is only counted when it switches out, so a 100 ms window can be off by a whole
	// slice. Default 100; negative turns the flush off; at most 1000.
	FlushHz int
	// BPFStats turns on the kernel's run-time statistics for BPF programs
	// (kernel.bpf_stats_enabled) while the eBPF source is open, so BPFSource.Stats reports the
	// program's own cost. It costs two clock reads per program run; leave it off in production.
	BPFStats bool
	// MapEntries is the size of the eBPF map of on-CPU time per cgroup. Default 16384.
	MapEntries int
	// History is how many samples are kept per container for Samples and Summary. Default 600
	// (one minute at 100 ms).
	History int
	// ProcRoot is where procfs is mounted. Default "/proc".
	ProcRoot string
}

func (c *Config) validate() error {
	if c.Period == 0 {
		c.Period = DefaultPeriod
	}
	if c.Period < 10*time.Millisecond || c.Period > 10*time.Second {
		return fmt.Errorf("profile: period %v outside 10ms..10s", c.Period)
	}
	switch c.CPU {
	case "":
		c.CPU = CPUAuto
	case CPUAuto, CPUBPF, CPUFiles:
	default:
		return fmt.Errorf("profile: unknown cpu source %q (want auto, ebpf or cgroupfs)", c.CPU)
	}
	if c.FlushHz == 0 {
		c.FlushHz = DefaultFlushHz
	}
	if c.FlushHz > 1000 {
		return fmt.Errorf("profile: flush rate %d Hz above 1000", c.FlushHz)
	}
	if c.MapEntries == 0 {
		c.MapEntries = DefaultMapEntries
	}
	if c.MapEntries < 16 {
		return fmt.Errorf("profile: map entries %d below 16", c.MapEntries)
	}
	if c.History == 0 {
		c.History = DefaultHistory
	}
	if c.History < 2 {
		return fmt.Errorf("profile: history %d below 2 samples", c.History)
	}
	if c.ProcRoot == "" {
		c.ProcRoot = DefaultProcRoot
	}
	return nil
}
