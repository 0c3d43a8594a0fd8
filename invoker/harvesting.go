package invoker

import (
	"bytes"
	"context"
	"errors"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/owinvoker/owinvoker/harvest"
	"github.com/owinvoker/owinvoker/harvest/predict"
	"github.com/owinvoker/owinvoker/harvest/profile"
	"github.com/owinvoker/owinvoker/invoker/message"
	"github.com/owinvoker/owinvoker/sandbox"
)

// Annotations owinvoker adds to activation records when it harvests, read back by the
// controller's harvest-aware balancer and by the replay benchmarks.
const (
	AnnotationPeakMemMB      = "harvest.peakMemMB"
	AnnotationPeakCPUMillis  = "harvest.peakCpuMillis"
	AnnotationAllocCPUMillis = "harvest.allocCpuMillis"
	AnnotationLentMemMB      = "harvest.lentMemMB"
	AnnotationBorrowedMemMB  = "harvest.borrowedMemMB"
	AnnotationLentCPUMillis  = "harvest.lentCpuMillis"
	AnnotationBorrowCPU      = "harvest.borrowedCpuMillis"
	AnnotationCPUSeconds     = "harvest.cpuSeconds"
	AnnotationThrottledMS    = "harvest.throttledMs"
	AnnotationCPUMillisUsed  = "harvest.cpuMs"   // CPU time used, milliseconds
	AnnotationInvoker        = "harvest.invoker" // the invoker instance that ran it
)

// HarvestConfig switches harvesting on and tunes it.
type HarvestConfig struct {
	Enabled bool
	// UserCPUs is the CPU the invoker's containers share, in cores; each container's quota
	// is proportional to its memory (default: the host's cores, set by the caller).
	UserCPUs float64
	Harvest  harvest.Config
	Profile  profile.Config
}

// harvester is the edge around the pure harvest core: it feeds it the profiler's samples and
// the activations' starts and ends, and carries out its resizes through the sandbox.
type harvester struct {
	cfg     HarvestConfig
	log     *zap.Logger
	sb      *sandbox.Sandbox
	prof    *profile.Profiler
	now     func() time.Time
	metrics *harvestMetrics
	// instance is the invoker's instance number, for the records' annotations.
	instance int

	mu      sync.Mutex // serialises the core and the resizes it hands out
	core    *harvest.Harvester
	tracked map[string]bool // containers known to the profiler
	alloc   map[string]int  // container → memory allocation (its action's limit), MB
	noKill  map[string]bool // containers whose OOM killer is off (they lend memory)
}

type harvestMetrics struct {
	resizes    *prometheus.CounterVec // by reason
	events     *prometheus.CounterVec // by kind and resource
	failed     prometheus.Counter
	lendCPU    prometheus.Gauge
	lendMem    prometheus.Gauge
	debt       prometheus.Gauge
	predError  prometheus.Histogram
	bpfRuntime prometheus.Gauge
}

func newHarvester(cfg HarvestConfig, instance int, sb *sandbox.Sandbox, reg *prometheus.Registry, log *zap.Logger, now func() time.Time) (*harvester, error) {
	core, err := harvest.New(cfg.Harvest)
	if err != nil {
		return nil, err
	}
	prof, err := profile.New(cfg.Profile, log.Named("profile"))
	if err != nil {
		return nil, err
	}
	m := &harvestMetrics{
		resizes: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "owinvoker", Subsystem: "harvest", Name: "resizes_total",
			Help: "Container resizes carried out, by reason."}, []string{"reason"}),
		events: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "owinvoker", Subsystem: "harvest", Name: "events_total",
			Help: "Harvesting events (lend, borrow, safeguard, stale, reclaim, debt, update-failed), by resource; amount in MB or millicores."},
			[]string{"kind", "resource"}),
		failed: prometheus.NewCounter(prometheus.CounterOpts{Namespace: "owinvoker", Subsystem: "harvest", Name: "update_failures_total",
			Help: "Container updates that failed and were rolled back."}),
		lendCPU: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: "owinvoker", Subsystem: "harvest", Name: "lendable_cpu_millicores",
			Help: "CPU the pool could lend now."}),
		lendMem: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: "owinvoker", Subsystem: "harvest", Name: "lendable_memory_mb",
			Help: "Memory the pool could lend now."}),
		debt: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: "owinvoker", Subsystem: "harvest", Name: "memory_debt_mb",
			Help: "Memory given back to lenders and not yet reclaimed from borrowers."}),
		predError: prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: "owinvoker", Subsystem: "harvest", Name: "memory_prediction_error_mb",
			Help: "Predicted minus observed peak memory of activations with a prediction.", Buckets: prometheus.LinearBuckets(-256, 32, 17)}),
		bpfRuntime: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: "owinvoker", Subsystem: "harvest", Name: "ebpf_program_runtime_seconds",
			Help: "Total run time of the eBPF profiling program (when kernel BPF statistics are on)."}),
	}
	reg.MustRegister(m.resizes, m.events, m.failed, m.lendCPU, m.lendMem, m.debt, m.predError, m.bpfRuntime)
	log.Info("harvesting on", zap.String("cpuSource", prof.Source()), zap.Float64("userCPUs", cfg.UserCPUs))
	return &harvester{cfg: cfg, instance: instance, log: log.Named("harvest"), sb: sb, prof: prof, now: now, metrics: m,
		core: core, tracked: map[string]bool{}, alloc: map[string]int{}, noKill: map[string]bool{}}, nil
}

// started is what begin hands back for end.
type started struct {
	containerID string
	alloc       harvest.Size
	size        harvest.Size
	prediction  predict.Prediction
	start       time.Time
	// runStart is when /run was sent. The profile learnt is the run's: a cold start's
	// runtime boot and /init are one-off CPU bursts that would otherwise dominate the
	// action's predicted peak for as long as it stays in the predictor's window.
	runStart time.Time
}

// running marks the start of /run.
func (st *started) running(t time.Time) {
	if st != nil {
		st.runStart = t
	}
}

// begin admits an activation on its container: it predicts, tells the core, and resizes the
// container to the decided size before /init or /run.
func (h *harvester) begin(ctx context.Context, msg *message.ActivationMessage, f *Fetched, lease *sandbox.Lease) *started {
	a := f.Action
	allocCPU := int(h.sb.CPUQuota(a.Limits.MemoryMB) * 1000)
	key := predict.Key{Namespace: msg.User.Namespace.Name, Action: a.DocID(), Revision: a.Rev}
	inputBytes := int64(len(msg.Content))
	h.mu.Lock()
	known := h.tracked[lease.ID]
	h.mu.Unlock()
	if !known {
		pid, err := lease.PID(ctx)
		if err == nil {
			err = h.prof.Add(lease.ID, pid)
		}
		if err != nil {
			h.log.Warn("container not profiled", zap.String("container", lease.Name), zap.Error(err))
		}
	}
	h.mu.Lock()
	warm := h.tracked[lease.ID]
	h.tracked[lease.ID] = true
	h.alloc[lease.ID] = a.Limits.MemoryMB
	pred := h.core.Predict(key, inputBytes)
	if !pred.OK && msg.Harvest != nil {
		// No history here; the controller has seen the action run elsewhere.
		pred = harvest.HintPrediction(allocCPU, a.Limits.MemoryMB, msg.Harvest.ExtraCPUMillis, msg.Harvest.ExtraMemoryMB)
	}
	now := h.now()
	size, err := h.core.Start(now, harvest.Activation{
		ID: string(msg.ActivationID), Key: key, InputBytes: inputBytes, ContainerID: lease.ID, Warm: warm,
		AllocMemoryMB: a.Limits.MemoryMB, AllocCPUMillis: allocCPU, Prediction: pred, ScratchMB: lease.ScratchMB,
	})
	var resizes []harvest.Resize
	if err == nil && !warm {
		// The container exists already at its allocation: apply the create-time size now.
		resizes = append(resizes, harvest.Resize{ContainerID: lease.ID, CPUMillis: size.CPUMillis, MemoryMB: size.MemoryMB,
			FromCPUMillis: allocCPU, FromMemoryMB: a.Limits.MemoryMB})
	}
	h.applyLocked(ctx, resizes)
	h.mu.Unlock()
	if err != nil {
		// ErrBusy: a container with intra-container concurrency runs another activation; it
		// keeps its size.
		if !errors.Is(err, harvest.ErrBusy) {
			h.log.Warn("harvest start", zap.String("activationId", string(msg.ActivationID)), zap.Error(err))
		}
		return nil
	}
	return &started{containerID: lease.ID, alloc: harvest.Size{CPUMillis: allocCPU, MemoryMB: a.Limits.MemoryMB},
		size: size, prediction: pred, start: now}
}

// end learns the activation's profile and annotates its record.
func (h *harvester) end(ctx context.Context, st *started, act *message.WhiskActivation) {
	if st == nil {
		return
	}
	now := h.now()
	from := st.start
	if !st.runStart.IsZero() {
		from = st.runStart
	}
	sum, err := h.prof.Summary(st.containerID, from, now)
	var p harvest.Profile
	if err == nil && sum.Samples > 0 {
		p = harvest.Profile{PeakCPUMillis: int(sum.PeakCPUCores * 1000), PeakMemoryMB: int(sum.PeakMemory >> 20), Samples: sum.Samples,
			CPUTime: sum.CPU, Throttled: sum.Throttled, Duration: now.Sub(from),
			OOMKilled: act.Response.StatusCode == message.StatusDeveloperError && bytes.Contains(act.Response.Result, []byte(message.TextMemoryExhausted))}
	}
	h.mu.Lock()
	size, _ := h.core.Size(st.containerID)
	if err := h.core.End(now, string(act.ActivationID), p); err != nil {
		h.log.Warn("harvest end", zap.String("activationId", string(act.ActivationID)), zap.Error(err))
	}
	h.applyLocked(ctx, nil)
	h.mu.Unlock()
	if st.prediction.OK && p.Samples > 0 {
		h.metrics.predError.Observe(float64(st.prediction.PeakMemoryMB - p.PeakMemoryMB))
	}
	anns := message.Parameters{
		message.IntParam(AnnotationAllocCPUMillis, int64(st.alloc.CPUMillis)),
		message.IntParam(AnnotationInvoker, int64(h.instance)),
	}
	if p.Samples > 0 {
		anns = append(anns,
			message.IntParam(AnnotationPeakMemMB, int64(p.PeakMemoryMB)),
			message.IntParam(AnnotationPeakCPUMillis, int64(p.PeakCPUMillis)),
			message.IntParam(AnnotationCPUSeconds, sum.CPU.Milliseconds()/1000),
			message.IntParam(AnnotationCPUMillisUsed, sum.CPU.Milliseconds()),
			message.IntParam(AnnotationThrottledMS, sum.Throttled.Milliseconds()))
	}
	if size.MemoryMB == 0 {
		size = st.size
	}
	if d := st.alloc.MemoryMB - size.MemoryMB; d > 0 {
		anns = append(anns, message.IntParam(AnnotationLentMemMB, int64(d)))
	} else if d < 0 {
		anns = append(anns, message.IntParam(AnnotationBorrowedMemMB, int64(-d)))
	}
	if d := st.alloc.CPUMillis - size.CPUMillis; st.alloc.CPUMillis > 0 && d > 0 {
		anns = append(anns, message.IntParam(AnnotationLentCPUMillis, int64(d)))
	} else if d < 0 {
		anns = append(anns, message.IntParam(AnnotationBorrowCPU, int64(-d)))
	}
	act.Annotations = append(act.Annotations, anns...)
}

// run samples every container, feeds the core and applies its decisions until ctx ends.
func (h *harvester) run(ctx context.Context) {
	period := h.cfg.Profile.Period
	if period <= 0 {
		period = profile.DefaultPeriod
	}
	t := time.NewTicker(period)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			_ = h.prof.Close()
			return
		case <-t.C:
		}
		snap, err := h.prof.Sample(h.now())
		if err != nil {
			h.log.Debug("profile sample", zap.Error(err))
		}
		live := h.sb.Live()
		h.mu.Lock()
		now := h.now()
		for _, cs := range snap.Containers {
			s := cs.Sample
			h.core.Sample(now, cs.ID, int(s.CPUMillicores), int(s.Memory>>20), int(s.MemoryPeak>>20))
		}
		var gone []string
		for id := range h.tracked {
			if !live[id] {
				gone = append(gone, id)
			}
		}
		for _, id := range gone {
			h.core.Remove(now, id)
			delete(h.tracked, id)
			delete(h.alloc, id)
			delete(h.noKill, id)
		}
		h.core.Tick(now)
		h.applyLocked(ctx, nil)
		cpu, mem := h.core.Lendable()
		stats := h.core.Stats()
		h.mu.Unlock()
		for _, id := range gone {
			h.prof.Remove(id)
		}
		h.metrics.lendCPU.Set(float64(cpu))
		h.metrics.lendMem.Set(float64(mem))
		h.metrics.debt.Set(float64(stats.Memory.Debt))
		if st, err := h.prof.BPFStats(); err == nil {
			h.metrics.bpfRuntime.Set(st.Runtime.Seconds())
		}
	}
}

// applyLocked carries out the given resizes and everything the core has ready, reporting
// failures back before the next Ready, as the core requires. h.mu is held.
func (h *harvester) applyLocked(ctx context.Context, first []harvest.Resize) {
	pending := first
	for {
		if len(pending) == 0 {
			if !h.core.HasReady() {
				return
			}
			rd := h.core.Ready()
			for _, ev := range rd.Events {
				h.metrics.events.WithLabelValues(ev.Kind.String(), ev.Resource.String()).Add(float64(ev.Amount))
			}
			pending = rd.Resizes
			if len(pending) == 0 {
				continue
			}
		}
		for _, r := range pending {
			cpus := float64(r.CPUMillis) / 1000
			uctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
			lends := r.MemoryMB < h.alloc[r.ContainerID]
			if lends && !h.noKill[r.ContainerID] {
				// A lender that outgrows its reduced limit must wait for the safeguard to give
				// its memory back, not be killed: the OOM killer stays off while it lends.
				if err := h.sb.SetOOMKiller(uctx, r.ContainerID, false); err == nil {
					h.noKill[r.ContainerID] = true
				} else {
					h.log.Debug("oom killer not switched off", zap.String("container", shortID(r.ContainerID)), zap.Error(err))
				}
			}
			err := h.sb.Resize(uctx, r.ContainerID, r.MemoryMB, cpus)
			if err != nil && lends && r.FromMemoryMB >= h.alloc[r.ContainerID] && h.noKill[r.ContainerID] {
				// The shrink was refused: the container keeps its full allocation, and with it
				// the OOM killer.
				if h.sb.SetOOMKiller(uctx, r.ContainerID, true) == nil {
					delete(h.noKill, r.ContainerID)
				}
			}
			if err == nil && !lends && h.noKill[r.ContainerID] {
				// Back at (or above) its allocation: a real overrun is the action's own, as
				// OpenWhisk has it.
				if err := h.sb.SetOOMKiller(uctx, r.ContainerID, true); err == nil {
					delete(h.noKill, r.ContainerID)
				}
			}
			cancel()
			if err != nil {
				h.metrics.failed.Inc()
				h.log.Info("resize failed, rolled back", zap.String("container", shortID(r.ContainerID)),
					zap.Int("memoryMB", r.MemoryMB), zap.Int("cpuMillis", r.CPUMillis), zap.String("reason", r.Reason.String()), zap.Error(err))
				if ferr := h.core.UpdateFailed(h.now(), r); ferr != nil && !errors.Is(ferr, harvest.ErrStale) {
					h.log.Warn("roll back", zap.Error(ferr))
				}
				continue
			}
			reason := r.Reason.String()
			if r.Reason == 0 {
				reason = "create" // a new container's first size
			}
			h.metrics.resizes.WithLabelValues(reason).Inc()
		}
		pending = nil
	}
}

// lendable is what the ping reports.
func (h *harvester) lendable() (int, int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.core.Lendable()
}

func shortID(id string) string {
	if len(id) > 12 {
		return id[:12]
	}
	return id
}
