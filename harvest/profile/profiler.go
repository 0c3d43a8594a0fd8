package profile

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"go.uber.org/zap"
)

// ErrNotSupported is wrapped by errors that mean the kernel, or the process's privileges, do not
// allow what was asked: eBPF programs, or a cgroup v2 directory of a container's own. Callers fall
// back to the cgroup files; tests skip on it.
var ErrNotSupported = errors.New("profile: not supported")

// ErrUnknownContainer is returned for a container id that was never added or was removed.
var ErrUnknownContainer = errors.New("profile: unknown container")

// CPUSource measures cumulative on-CPU time per container. Two implementations: *FileSource
// (cgroup files) and *BPFSource (eBPF). The lifecycle is Add when the container has started,
// ReadCPU once per period, Remove before or soon after the container is removed, Close at the
// end. Counters only make sense as differences between two reads of the same source.
type CPUSource interface {
	// Add starts measuring a container. BPFSource returns an error wrapping ErrNotSupported when
	// the container has no cgroup v2 directory of its own.
	Add(id string, cg Cgroup) error
	// Remove stops measuring a container; unknown ids are ignored.
	Remove(id string)
	// ReadCPU sets dst[id] to the cumulative CPU time of every container measured. Containers
	// whose counter cannot be read are left out and named in the error.
	ReadCPU(dst map[string]time.Duration) error
	// Close releases the source.
	Close() error
}

// Source names, as reported in Snapshot.Source.
const (
	SourceBPF   = "ebpf"
	SourceFiles = "cgroupfs"
)

// Profiler samples the containers it is told about: CPU from the chosen CPUSource, memory and
// throttling from the cgroup files, every Config.Period in Run (or on each Sample call). It keeps a
// Tracker and the last Config.History samples per container.
//
// The caller adds a container once it has started (Add with the init pid from docker inspect
// State.Pid) and removes it when it is removed. Safe for concurrent use.
type Profiler struct {
	cfg    Config
	log    *zap.Logger
	layout *Layout
	files  *FileSource
	bpf    *BPFSource // nil when CPU comes from the files

	mu       sync.Mutex
	ctrs     map[string]*tracked
	readings map[string]Reading
	cpu      map[string]time.Duration
}

type tracked struct {
	tracker Tracker
	bpf     bool // CPU from the eBPF source
	ring    []Sample
	next    int // ring index of the next sample
}

// Snapshot is one sweep over all containers, shaped for metrics.
type Snapshot struct {
	At         time.Time
	Source     string            // the CPU source, SourceBPF or SourceFiles
	Sweep      time.Duration     // time spent reading the sources
	Containers []ContainerSample // sorted by ID
	Failed     []string          // containers whose counters could not be read (removed, usually)
}

// ContainerSample is one container's sample in a Snapshot.
type ContainerSample struct {
	ID     string
	Sample Sample
}

// New returns a Profiler. With Config.CPU auto it tries the eBPF source and, if the kernel has no
// cgroup v2 hierarchy or loading or attaching fails, logs why and uses the cgroup files. With
// ebpf it returns that error instead (wrapping ErrNotSupported where it applies).
func New(cfg Config, log *zap.Logger) (*Profiler, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	if log == nil {
		log = zap.NewNop()
	}
	log = log.Named("profile")
	layout, err := NewLayout(cfg.ProcRoot)
	if err != nil {
		return nil, err
	}
	p := &Profiler{
		cfg: cfg, log: log, layout: layout, files: NewFileSource(),
		ctrs: make(map[string]*tracked), readings: make(map[string]Reading), cpu: make(map[string]time.Duration),
	}
	if cfg.CPU == CPUFiles {
		log.Info("cpu from cgroup files", zap.String("reason", "configured"))
		return p, nil
	}
	if !layout.HasV2() {
		err = fmt.Errorf("%w: no cgroup v2 hierarchy mounted", ErrNotSupported)
	} else {
		p.bpf, err = NewBPFSource(cfg, log.Named("ebpf"))
	}
	if err != nil {
		if cfg.CPU == CPUBPF {
			return nil, err
		}
		log.Warn("ebpf cpu source unavailable, cpu from cgroup files", zap.Error(err))
		return p, nil
	}
	log.Info("cpu from ebpf", zap.Int("flush_hz", max(cfg.FlushHz, 0)))
	return p, nil
}

// Source returns the CPU source in use: SourceBPF or SourceFiles.
func (p *Profiler) Source() string {
	if p.bpf != nil {
		return SourceBPF
	}
	return SourceFiles
}

// BPFStats returns the eBPF programs' own run time; ErrNotSupported when CPU comes from the files.
func (p *Profiler) BPFStats() (BPFStats, error) {
	if p.bpf == nil {
		return BPFStats{}, fmt.Errorf("%w: cpu source is %s", ErrNotSupported, SourceFiles)
	}
	return p.bpf.Stats()
}

// Add starts profiling a container, finding its cgroups from its init process pid.
func (p *Profiler) Add(id string, pid int) error {
	cg, err := p.layout.Find(pid)
	if err != nil {
		return fmt.Errorf("profile: container %s: %w", id, err)
	}
	return p.AddCgroup(id, cg)
}

// AddCgroup starts profiling a container whose cgroup directories are known. A container the eBPF
// source cannot measure (no cgroup v2 directory of its own) has its CPU read from the files.
// Adding an id again starts it afresh.
func (p *Profiler) AddCgroup(id string, cg Cgroup) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	useBPF := p.bpf != nil
	if useBPF {
		if err := p.bpf.Add(id, cg); err != nil {
			if !errors.Is(err, ErrNotSupported) {
				return err
			}
			p.log.Info("container cpu from cgroup files", zap.String("container", id), zap.Error(err))
			useBPF = false
		}
	}
	if err := p.files.add(id, cg, !useBPF); err != nil {
		if useBPF {
			p.bpf.Remove(id)
		}
		return err
	}
	if !useBPF && p.bpf != nil {
		p.bpf.Remove(id) // a re-added container that has lost its v2 cgroup
	}
	p.ctrs[id] = &tracked{bpf: useBPF, ring: make([]Sample, 0, min(p.cfg.History, 64))}
	return nil
}

// Remove stops profiling a container and forgets its samples. Unknown ids are ignored.
func (p *Profiler) Remove(id string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.files.Remove(id)
	if p.bpf != nil {
		p.bpf.Remove(id)
	}
	delete(p.ctrs, id)
}

// Sample reads every container once and returns their samples, stamped now. Containers that fail
// (typically removed before Remove) are listed in Failed; the error is set only when the eBPF map
// could not be read, in which case its containers are in Failed too.
func (p *Profiler) Sample(now time.Time) (Snapshot, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	began := time.Now()
	clear(p.readings)
	clear(p.cpu)
	ferr := p.files.Read(p.readings)
	var berr error
	if p.bpf != nil {
		berr = p.bpf.ReadCPU(p.cpu)
	}
	snap := Snapshot{At: now, Source: p.Source(), Containers: make([]ContainerSample, 0, len(p.ctrs))}
	for id, c := range p.ctrs {
		r, ok := p.readings[id]
		if ok && c.bpf {
			r.CPU, ok = p.cpu[id]
		}
		if !ok {
			snap.Failed = append(snap.Failed, id)
			continue
		}
		r.At = now
		s := c.tracker.Update(r)
		c.push(s, p.cfg.History)
		snap.Containers = append(snap.Containers, ContainerSample{ID: id, Sample: s})
	}
	snap.Sweep = time.Since(began)
	slices.SortFunc(snap.Containers, func(a, b ContainerSample) int { return cmp.Compare(a.ID, b.ID) })
	slices.Sort(snap.Failed)
	if ferr != nil {
		p.log.Debug("cgroup files not readable", zap.Error(ferr))
	}
	if berr != nil {
		return snap, berr
	}
	return snap, nil
}

func (c *tracked) push(s Sample, history int) {
	if len(c.ring) < history {
		c.ring = append(c.ring, s)
		return
	}
	c.ring[c.next] = s
	c.next = (c.next + 1) % history
}

// Samples returns the kept samples of a container taken after since, oldest first.
func (p *Profiler) Samples(id string, since time.Time) ([]Sample, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	c := p.ctrs[id]
	if c == nil {
		return nil, fmt.Errorf("%w: %s", ErrUnknownContainer, id)
	}
	var out []Sample
	for i := range c.ring {
		s := c.ring[(c.next+i)%len(c.ring)]
		if s.At.After(since) {
			out = append(out, s)
		}
	}
	return out, nil
}

// Summary summarizes a container's kept samples over [start, end] (see Summarize). Call it after
// the first sample taken at or after end, or Covered falls short of Duration.
func (p *Profiler) Summary(id string, start, end time.Time) (Summary, error) {
	samples, err := p.Samples(id, start)
	if err != nil {
		return Summary{}, err
	}
	return Summarize(samples, start, end), nil
}

// Run samples every Config.Period until ctx is done, handing each snapshot to emit (which must not
// block for long: it runs on the sampling goroutine). It returns ctx.Err().
func (p *Profiler) Run(ctx context.Context, emit func(Snapshot)) error {
	t := time.NewTicker(p.cfg.Period)
	defer t.Stop()
	var lastErr string
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case now := <-t.C:
			snap, err := p.Sample(now)
			if err != nil && err.Error() != lastErr {
				p.log.Warn("sample", zap.Error(err))
			}
			lastErr = ""
			if err != nil {
				lastErr = err.Error()
			}
			if emit != nil {
				emit(snap)
			}
		}
	}
}

// Close releases both sources. The Profiler must not be used afterwards.
func (p *Profiler) Close() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	var errs []error
	errs = append(errs, p.files.Close())
	if p.bpf != nil {
		errs = append(errs, p.bpf.Close())
	}
	clear(p.ctrs)
	return errors.Join(errs...)
}
