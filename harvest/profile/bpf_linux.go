package profile

import (
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"time"
	"unsafe"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
	"github.com/cilium/ebpf/features"
	"github.com/cilium/ebpf/link"
	"github.com/cilium/ebpf/rlimit"
	"go.uber.org/zap"
	"golang.org/x/sys/unix"
)

// rootCgroupID is the kernfs id of a cgroup v2 root: host processes and the idle task.
const rootCgroupID = 1

// pruneEvery is how many reads pass between two sweeps that delete map keys of cgroups nobody
// tracks, so the map never fills up with the host's or removed containers' cgroups.
const pruneEvery = 128

// BPFSource measures on-CPU time per cgroup with an eBPF program on the sched_switch tracepoint.
//
// The program is built in Go (cilium/ebpf/asm): no clang, no BTF, no generated objects. At every
// context switch it charges the time since the previous switch on that CPU to the task switching
// out, keyed by its cgroup-v2 id (bpf_get_current_cgroup_id), in a per-CPU hash map. The same
// program runs FlushHz times a second per CPU from a perf cpu-clock event, so a task that runs
// without switching is charged while it runs. A container's key is the inode of its v2 directory;
// on a v1+v2 hybrid host runc puts containers in the unified hierarchy too.
//
// Compared with cgroup CPU accounting (research/ebpf.md): the time includes hypervisor steal
// (the cgroup counters leave it out), so on a VM a busy container reads a few percent higher; a
// task that wakes very often reads up to 10 % lower. Both agree over seconds.
//
// Safe for concurrent use.
type BPFSource struct {
	log   *zap.Logger
	start *ebpf.Map // PERCPU_ARRAY[1]: time of the last switch or flush on this CPU
	acc   *ebpf.Map // PERCPU_HASH: cgroup id -> on-CPU ns
	progs []*ebpf.Program
	links []io.Closer
	stats io.Closer

	mu     sync.Mutex
	ids    map[string]uint64 // container -> cgroup id
	owners map[uint64]int    // cgroup id -> number of containers using it
	vals   []uint64
	reads  int
}

var _ CPUSource = (*BPFSource)(nil)

// BPFStats is the kernel's account of the eBPF programs' own run time (needs Config.BPFStats).
type BPFStats struct {
	Runtime  time.Duration // total run time of the switch and flush programs
	RunCount uint64        // runs of both programs
	Switch   ProgramStats
	Flush    ProgramStats // zero when the flush is off
}

// ProgramStats is the run time of one program.
type ProgramStats struct {
	Runtime         time.Duration
	RunCount        uint64
	RecursionMisses uint64
}

// PerRun returns the mean run time per program run.
func (s BPFStats) PerRun() time.Duration {
	if s.RunCount == 0 {
		return 0
	}
	return s.Runtime / time.Duration(s.RunCount)
}

// NewBPFSource loads and attaches the programs. It returns an error wrapping ErrNotSupported when
// the kernel lacks what they need (program types, helpers, map types) or the process lacks the
// privilege to load them; other errors mean loading or attaching failed for another reason. Either
// way the caller can fall back to the cgroup files. A flush that cannot be set up is logged and
// left off.
func NewBPFSource(cfg Config, log *zap.Logger) (*BPFSource, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	if err := probeBPF(); err != nil {
		return nil, err
	}
	if log == nil {
		log = zap.NewNop()
	}
	// Kernels before 5.11 charge BPF memory to RLIMIT_MEMLOCK; this raises the process's limit
	// there and does nothing on newer kernels.
	if err := rlimit.RemoveMemlock(); err != nil {
		return nil, notSupported("raise memlock limit", err)
	}
	s := &BPFSource{log: log, ids: make(map[string]uint64), owners: make(map[uint64]int)}
	ok := false
	defer func() {
		if !ok {
			s.Close()
		}
	}()
	var err error
	if cfg.BPFStats {
		if s.stats, err = ebpf.EnableStats(unix.BPF_STATS_RUN_TIME); err != nil {
			return nil, notSupported("enable bpf stats", err)
		}
	}
	s.start, err = ebpf.NewMap(&ebpf.MapSpec{Name: "ow_last", Type: ebpf.PerCPUArray, KeySize: 4, ValueSize: 8, MaxEntries: 1})
	if err != nil {
		return nil, notSupported("create map", err)
	}
	s.acc, err = ebpf.NewMap(&ebpf.MapSpec{Name: "ow_oncpu", Type: ebpf.PerCPUHash, KeySize: 8, ValueSize: 8, MaxEntries: uint32(cfg.MapEntries)})
	if err != nil {
		return nil, notSupported("create map", err)
	}
	ncpu, err := ebpf.PossibleCPU()
	if err != nil {
		return nil, fmt.Errorf("profile: count cpus: %w", err)
	}
	s.vals = make([]uint64, ncpu)
	if err := s.attachSwitch(); err != nil {
		return nil, err
	}
	if cfg.FlushHz > 0 {
		if err := s.attachFlush(cfg.FlushHz, ncpu); err != nil {
			log.Warn("ebpf cpu flush off: running slices are charged only at the next switch", zap.Error(err))
		}
	}
	ok = true
	return s, nil
}

func notSupported(what string, err error) error {
	if errors.Is(err, ebpf.ErrNotSupported) || errors.Is(err, unix.EPERM) || errors.Is(err, unix.EACCES) || errors.Is(err, unix.ENOSYS) {
		return fmt.Errorf("%w: %s: %w", ErrNotSupported, what, err)
	}
	return fmt.Errorf("profile: %s: %w", what, err)
}

// probeBPF checks that the kernel has what the program needs.
func probeBPF() error {
	for _, p := range []struct {
		what string
		err  func() error
	}{
		{"per-cpu hash map", func() error { return features.HaveMapType(ebpf.PerCPUHash) }},
		{"raw tracepoint programs", func() error { return features.HaveProgramType(ebpf.RawTracepoint) }},
		{"bpf_get_current_cgroup_id", func() error {
			return features.HaveProgramHelper(ebpf.RawTracepoint, asm.FnGetCurrentCgroupId)
		}},
	} {
		if err := p.err(); err != nil {
			if errors.Is(err, ebpf.ErrNotSupported) {
				return fmt.Errorf("%w: %s: %w", ErrNotSupported, p.what, err)
			}
			return notSupported("probe "+p.what, err)
		}
	}
	return nil
}

// program returns the instructions shared by the switch and the flush programs. They use no
// context and no kernel struct, so one stream serves both program types.
func (s *BPFSource) program() asm.Instructions {
	return asm.Instructions{
		asm.FnKtimeGetNs.Call(),
		asm.Mov.Reg(asm.R6, asm.R0), // r6 = now
		asm.StoreImm(asm.RFP, -8, 0, asm.Word),
		asm.LoadMapPtr(asm.R1, s.start.FD()),
		asm.Mov.Reg(asm.R2, asm.RFP),
		asm.Add.Imm(asm.R2, -8),
		asm.FnMapLookupElem.Call(), // r0 = &last (this CPU's slot)
		asm.JEq.Imm(asm.R0, 0, "exit"),
		asm.LoadMem(asm.R7, asm.R0, 0, asm.DWord),  // r7 = last
		asm.StoreMem(asm.R0, 0, asm.R6, asm.DWord), // last = now
		asm.JEq.Imm(asm.R7, 0, "exit"),             // first event on this CPU
		asm.Sub.Reg(asm.R6, asm.R7),                // r6 = now - last
		asm.FnGetCurrentCgroupId.Call(),            // the task that ran the slice
		asm.StoreMem(asm.RFP, -16, asm.R0, asm.DWord),
		asm.LoadMapPtr(asm.R1, s.acc.FD()),
		asm.Mov.Reg(asm.R2, asm.RFP),
		asm.Add.Imm(asm.R2, -16),
		asm.FnMapLookupElem.Call(),
		asm.JEq.Imm(asm.R0, 0, "insert"),
		// Per-CPU slot, interrupts off (switch) or in the timer interrupt (flush): a plain add.
		asm.LoadMem(asm.R1, asm.R0, 0, asm.DWord),
		asm.Add.Reg(asm.R1, asm.R6),
		asm.StoreMem(asm.R0, 0, asm.R1, asm.DWord),
		asm.Ja.Label("exit"),
		asm.StoreMem(asm.RFP, -24, asm.R6, asm.DWord).WithSymbol("insert"),
		asm.LoadMapPtr(asm.R1, s.acc.FD()),
		asm.Mov.Reg(asm.R2, asm.RFP),
		asm.Add.Imm(asm.R2, -16),
		asm.Mov.Reg(asm.R3, asm.RFP),
		asm.Add.Imm(asm.R3, -24),
		asm.Mov.Imm(asm.R4, 0), // BPF_ANY; writes only this CPU's slot
		asm.FnMapUpdateElem.Call(),
		asm.Mov.Imm(asm.R0, 0).WithSymbol("exit"),
		asm.Return(),
	}
}

// attachSwitch loads the program on the sched_switch raw tracepoint, or on the classic tracepoint
// where raw ones cannot be attached.
func (s *BPFSource) attachSwitch() error {
	raw, err := ebpf.NewProgram(&ebpf.ProgramSpec{Name: "ow_oncpu_switch", Type: ebpf.RawTracepoint, License: "GPL", Instructions: s.program()})
	if err == nil {
		s.progs = append(s.progs, raw)
		l, err := link.AttachRawTracepoint(link.RawTracepointOptions{Name: "sched_switch", Program: raw})
		if err == nil {
			s.links = append(s.links, l)
			return nil
		}
		s.log.Info("raw tracepoint sched_switch not attachable, trying the tracepoint", zap.Error(err))
	} else {
		s.log.Info("raw tracepoint program not loadable, trying the tracepoint", zap.Error(err))
	}
	tp, err2 := ebpf.NewProgram(&ebpf.ProgramSpec{Name: "ow_oncpu_switch", Type: ebpf.TracePoint, License: "GPL", Instructions: s.program()})
	if err2 != nil {
		return notSupported("load sched_switch program", errors.Join(err, err2))
	}
	s.progs = append(s.progs[:0:0], tp)
	if raw != nil {
		raw.Close()
	}
	l, err2 := link.Tracepoint("sched", "sched_switch", tp, nil)
	if err2 != nil {
		return notSupported("attach sched_switch", errors.Join(err, err2))
	}
	s.links = append(s.links, l)
	return nil
}

// attachFlush runs the program hz times a second on every CPU from a perf cpu-clock event.
func (s *BPFSource) attachFlush(hz, ncpu int) error {
	prog, err := ebpf.NewProgram(&ebpf.ProgramSpec{Name: "ow_oncpu_flush", Type: ebpf.PerfEvent, License: "GPL", Instructions: s.program()})
	if err != nil {
		return fmt.Errorf("load flush program: %w", err)
	}
	s.progs = append(s.progs, prog)
	var links []io.Closer
	fail := func(err error) error {
		for _, l := range links {
			l.Close()
		}
		return err
	}
	for cpu := range ncpu {
		attr := unix.PerfEventAttr{
			Type:   unix.PERF_TYPE_SOFTWARE,
			Config: unix.PERF_COUNT_SW_CPU_CLOCK,
			Size:   uint32(unsafe.Sizeof(unix.PerfEventAttr{})),
			Sample: uint64(hz),
			Bits:   unix.PerfBitFreq,
		}
		fd, err := unix.PerfEventOpen(&attr, -1, cpu, -1, unix.PERF_FLAG_FD_CLOEXEC)
		if errors.Is(err, unix.ENODEV) || errors.Is(err, unix.ENXIO) {
			continue // possible but offline CPU
		}
		if err != nil {
			return fail(fmt.Errorf("open cpu-clock event on cpu %d: %w", cpu, err))
		}
		l, err := attachPerf(fd, prog)
		if err != nil {
			unix.Close(fd)
			return fail(fmt.Errorf("attach flush on cpu %d: %w", cpu, err))
		}
		links = append(links, l)
	}
	if len(links) == 0 {
		return errors.New("no online cpu")
	}
	s.links = append(s.links, links...)
	return nil
}

// perfLink keeps a perf event fd open for as long as the program is attached to it.
type perfLink struct {
	fd   int
	link link.Link // nil when attached by ioctl
}

func (p *perfLink) Close() error {
	var err error
	if p.link != nil {
		err = p.link.Close()
	}
	return errors.Join(err, unix.Close(p.fd))
}

// attachPerf attaches prog to an open perf event: a BPF link where the kernel has them (5.15+),
// else the PERF_EVENT_IOC_SET_BPF ioctl.
func attachPerf(fd int, prog *ebpf.Program) (*perfLink, error) {
	l, err := link.AttachRawLink(link.RawLinkOptions{Target: fd, Program: prog, Attach: ebpf.AttachPerfEvent})
	if err == nil {
		return &perfLink{fd: fd, link: l}, nil
	}
	if err := unix.IoctlSetInt(fd, unix.PERF_EVENT_IOC_SET_BPF, prog.FD()); err != nil {
		return nil, fmt.Errorf("set bpf: %w", err)
	}
	if err := unix.IoctlSetInt(fd, unix.PERF_EVENT_IOC_ENABLE, 0); err != nil {
		return nil, fmt.Errorf("enable: %w", err)
	}
	return &perfLink{fd: fd}, nil
}

// CgroupID returns the cgroup-v2 id of a directory in the unified hierarchy: on 64-bit kernels the
// inode number, which is what bpf_get_current_cgroup_id returns for its tasks.
func CgroupID(dir string) (uint64, error) {
	fi, err := os.Stat(dir)
	if err != nil {
		return 0, fmt.Errorf("profile: cgroup id: %w", err)
	}
	st, ok := fi.Sys().(*unix.Stat_t)
	if !ok {
		var sst unix.Stat_t
		if err := unix.Stat(dir, &sst); err != nil {
			return 0, fmt.Errorf("profile: cgroup id: %w", err)
		}
		st = &sst
	}
	return st.Ino, nil
}

// Add starts counting a container by the id of its v2 cgroup directory. It returns an error
// wrapping ErrNotSupported when the container has no v2 cgroup of its own (the runtime did not
// join the unified hierarchy).
func (s *BPFSource) Add(id string, cg Cgroup) error {
	if cg.V2 == "" {
		return fmt.Errorf("%w: container %s has no cgroup v2 directory", ErrNotSupported, id)
	}
	cgid, err := CgroupID(cg.V2)
	if err != nil {
		return fmt.Errorf("profile: container %s: %w", id, err)
	}
	if cgid == rootCgroupID {
		return fmt.Errorf("%w: container %s is in the root v2 cgroup", ErrNotSupported, id)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if old, ok := s.ids[id]; ok {
		s.release(old)
	}
	s.ids[id] = cgid
	s.owners[cgid]++
	return nil
}

// Remove stops counting a container and deletes its key. Unknown ids are ignored.
func (s *BPFSource) Remove(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if cgid, ok := s.ids[id]; ok {
		delete(s.ids, id)
		s.release(cgid)
	}
}

func (s *BPFSource) release(cgid uint64) {
	if s.owners[cgid]--; s.owners[cgid] > 0 {
		return
	}
	delete(s.owners, cgid)
	if err := s.acc.Delete(cgid); err != nil && !errors.Is(err, ebpf.ErrKeyNotExist) {
		s.log.Debug("delete cgroup key", zap.Uint64("cgroup_id", cgid), zap.Error(err))
	}
}

// ReadCPU fills dst[id] with every tracked container's on-CPU time since its key appeared. A
// container that has not run since yet reads 0.
func (s *BPFSource) ReadCPU(dst map[string]time.Duration) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for id, cgid := range s.ids {
		err := s.acc.Lookup(cgid, &s.vals)
		if errors.Is(err, ebpf.ErrKeyNotExist) {
			dst[id] = 0
			continue
		}
		if err != nil {
			return fmt.Errorf("profile: read on-cpu map: %w", err)
		}
		var sum uint64
		for _, v := range s.vals {
			sum += v
		}
		dst[id] = time.Duration(sum)
	}
	if s.reads++; s.reads%pruneEvery == 0 {
		s.prune()
	}
	return nil
}

// prune deletes the keys of cgroups nobody tracks (host processes, removed containers).
func (s *BPFSource) prune() {
	var stale []uint64
	var k uint64
	var v []uint64
	it := s.acc.Iterate()
	for it.Next(&k, &v) {
		if s.owners[k] == 0 {
			stale = append(stale, k)
		}
	}
	if err := it.Err(); err != nil {
		s.log.Debug("iterate on-cpu map", zap.Error(err))
	}
	for _, k := range stale {
		_ = s.acc.Delete(k)
	}
}

// Stats returns the programs' run time as the kernel counts it. It is only counted while
// kernel.bpf_stats_enabled is on (Config.BPFStats, or the sysctl set by someone else).
func (s *BPFSource) Stats() (BPFStats, error) {
	var out BPFStats
	for i, p := range s.progs {
		st, err := p.Stats()
		if err != nil {
			return BPFStats{}, fmt.Errorf("profile: bpf stats: %w", err)
		}
		ps := ProgramStats{Runtime: st.Runtime, RunCount: st.RunCount, RecursionMisses: st.RecursionMisses}
		if i == 0 {
			out.Switch = ps
		} else {
			out.Flush = ps
		}
		out.Runtime += st.Runtime
		out.RunCount += st.RunCount
	}
	return out, nil
}

// Close detaches the programs and frees the maps.
func (s *BPFSource) Close() error {
	var errs []error
	for _, l := range s.links {
		errs = append(errs, l.Close())
	}
	for _, p := range s.progs {
		errs = append(errs, p.Close())
	}
	for _, m := range []*ebpf.Map{s.acc, s.start} {
		if m != nil {
			errs = append(errs, m.Close())
		}
	}
	if s.stats != nil {
		errs = append(errs, s.stats.Close())
	}
	s.links, s.progs, s.acc, s.start, s.stats = nil, nil, nil, nil, nil
	return errors.Join(errs...)
}
