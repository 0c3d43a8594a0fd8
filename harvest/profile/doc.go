// Package profile samples the CPU and memory use of running containers, every 100 ms by default,
// for the harvesting core.
//
// CPU time comes from one of two CPUSources, picked once in New:
//
//   - *BPFSource: an eBPF program on the sched_switch raw tracepoint, written with
//     cilium/ebpf/asm (no clang, no BTF), that charges on-CPU nanoseconds to the cgroup-v2 id of
//     the task switching out, plus a 100 Hz perf cpu-clock flush so running slices are counted.
//     One map read per sweep serves all containers.
//   - *FileSource: the cgroup files (cpuacct.usage on v1, cpu.stat usage_usec on v2), which is
//     exactly what the CFS quota enforces.
//
// In auto mode New tries eBPF and falls back to the files with a log line saying why. Memory
// (usage, and the peak within each window from the kernel's reset-after-read watermark) and CFS
// throttling always come from the cgroup files, which are opened once and re-read with pread.
// research/ebpf.md has the measurements behind these choices.
//
// A container's cgroups are found from its init process (docker inspect State.Pid) through
// /proc/<pid>/cgroup, which works for the cgroupfs and systemd drivers and for v1, v2 and hybrid
// hosts. The daemon needs the host's pid and cgroup namespaces, and root (or CAP_BPF and
// CAP_PERFMON) for eBPF.
//
// A Tracker per container turns cumulative counters into Samples (millicores over the window,
// cumulative CPU, memory now and peak in the window, throttled time); Summarize reduces the samples
// of an activation to peak cores, CPU time, peak memory and throttled time.
//
// Typical use:
//
//	p, err := profile.New(profile.Config{}, log)
//	...
//	go p.Run(ctx, func(s profile.Snapshot) { harvester.Observe(s) })
//	p.Add(containerID, inspect.State.Pid)     // after ContainerStart
//	sum, _ := p.Summary(containerID, start, end) // after the activation
//	p.Remove(containerID)                     // before ContainerRemove
package profile
