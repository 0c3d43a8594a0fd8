package harvest

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/owinvoker/owinvoker/harvest/predict"
)

// Errors the Harvester returns; callers branch on them with errors.Is.
var (
	// ErrBusy: Start names a container that is running another activation.
	ErrBusy = errors.New("harvest: container is busy")
	// ErrExists: Start creates (Warm false) a container the harvester still tracks, or reuses an
	// activation id.
	ErrExists = errors.New("harvest: already tracked")
	// ErrUnknown: End names an activation the harvester does not track.
	ErrUnknown = errors.New("harvest: unknown activation")
	// ErrNoHarvest: Start asks for more harvested memory than the pool has free, or
	// admission on harvested memory is off.
	ErrNoHarvest = errors.New("harvest: not enough harvested memory")
	// ErrStale: UpdateFailed reports a Resize that a later one, already handed out, superseded.
	ErrStale = errors.New("harvest: resize superseded")
)

// Size is a container's CPU quota and memory limit.
type Size struct {
	CPUMillis int
	MemoryMB  int
}

// Activation is an activation about to run in a container.
type Activation struct {
	ID  string
	Key predict.Key
	// InputBytes is the size of the input, negative if unknown; it picks the predictor's bucket
	// when the profile is learnt at End.
	InputBytes int64
	// ContainerID names the container (the edge may choose it before creating the container).
	ContainerID string
	// Warm is true when the container exists (warm, paused or a stem cell): its new size comes
	// as a Resize. False: it is about to be created with the Size Start returns.
	Warm bool
	// AllocMemoryMB is the action's memory limit; AllocCPUMillis the CPU quota proportional to
	// it (0: no quota, and CPU is not harvested for this activation).
	AllocMemoryMB  int
	AllocCPUMillis int
	// ScratchMB is the container's in-memory scratch (tmpfs) size. Its pages are charged to the
	// container's memory, so it is never lent: a lender keeps its prediction plus ScratchMB.
	ScratchMB int
	// Prediction travels with the activation (from Harvester.Predict at admission, or from the
	// controller); it is never looked up again by action name.
	Prediction predict.Prediction
	// HarvestedMB is how much of the allocation was admitted beyond the invoker's user memory on
	// harvested memory (Config.AdmitOnHarvest); only for a container new to the harvester. It
	// stays reserved from the pool until the container is removed.
	HarvestedMB int
}

// Profile is what an activation used, from the profiler (harvest/profile.Summary).
type Profile struct {
	PeakCPUMillis int
	PeakMemoryMB  int
	// Samples is how many sample windows the peaks rest on; 0 means no profile (nothing is
	// learnt).
	Samples int
	// CPUTime is the CPU the activation used, Throttled how long its container was held
	// back by its CPU quota, Duration its run time. A container throttled for at least
	// ThrottledShare of its run shows no more CPU than its quota gives; its demand is then
	// estimated as CPUTime / (Duration − Throttled), what it used while it was allowed to
	// run. For an activation that would not have been busy all the time the estimate is
	// high; the prediction comes down again from unthrottled runs.
	CPUTime, Throttled, Duration time.Duration
	// OOMKilled says the kernel killed the activation at its memory limit: its demand is
	// unknown but above the limit, and twice the limit is learnt, so that the next run
	// borrows (when the pool has it) instead of dying the same way.
	OOMKilled bool
}

// ThrottledShare is the share of an activation's run its container must have been
// throttled for its CPU demand to be estimated above what it was seen using.
const ThrottledShare = 0.1

// Pool is the ledger of one resource, in millicores or MB.
type Pool struct {
	Lent     int // Σ allocation − limit over lenders
	Borrowed int // Σ limit − allocation over borrowers
	Admitted int // Σ HarvestedMB of containers admitted on harvested memory (memory only)
	Free     int // Lent − Borrowed − Admitted when positive: what a borrower can take now
	Debt     int // Borrowed + Admitted − Lent when positive: overcommit still to reclaim
}

// Stats is a snapshot of the ledger.
type Stats struct {
	Containers int
	Busy       int
	CPU        Pool
	Memory     Pool
}

// Harvester is the harvesting core. See the package doc.
type Harvester struct {
	cfg        Config
	pred       *predict.Predictor
	containers map[string]*container
	order      []*container          // the containers in id order, for deterministic decisions
	running    map[string]*container // by activation id
	seq        uint64
	pending    []Resize
	pendingAt  map[string]int // container id → index in pending
	events     []Event
	debt       int // memory debt last reported
}

type amounts [2]int // indexed by Resource

type container struct {
	id       string
	alloc    amounts
	limit    amounts // the ledger's belief (decisions count as applied once decided)
	scratch  int
	admitted int

	act     *Activation
	started time.Time

	sampled    bool
	sampledAt  time.Time
	usedMB     int // max(use, window peak) of the last sample
	cpuMillis  int
	borrowSeq  [2]uint64 // when it last grew beyond its allocation; later reclaims first
	handedOut  uint64    // seq of the last Resize handed out in a Ready
	holdShrink bool      // a shrink failed: not tried again before the next Tick
}

// New returns a Harvester, or an error if cfg is invalid.
func New(cfg Config) (*Harvester, error) {
	cfg, err := cfg.Validate()
	if err != nil {
		return nil, err
	}
	p, err := predict.New(cfg.Predict)
	if err != nil {
		return nil, fmt.Errorf("harvest: %w", err)
	}
	return &Harvester{
		cfg:        cfg,
		pred:       p,
		containers: make(map[string]*container),
		running:    make(map[string]*container),
		pendingAt:  make(map[string]int),
	}, nil
}

// Config returns the validated configuration in use.
func (h *Harvester) Config() Config { return h.cfg }

// Predict returns the prediction for an activation of k with an input of inputBytes (negative:
// unknown), to be carried in Activation.Prediction.
func (h *Harvester) Predict(k predict.Key, inputBytes int64) predict.Prediction {
	return h.pred.Predict(k, inputBytes)
}

func (h *Harvester) enabled(r Resource) bool {
	if r == CPU {
		return !h.cfg.DisableCPU
	}
	return !h.cfg.DisableMemory
}

// Start sizes the container of an activation about to run and returns its size: for a new
// container (Warm false) the size to create it with; for an existing one the same numbers also
// come as a Resize in the next Ready when they differ from its current size.
//
// Errors: ErrBusy, ErrExists, ErrNoHarvest, or an invalid Activation. On error nothing changes.
func (h *Harvester) Start(now time.Time, a Activation) (Size, error) {
	if err := validActivation(a); err != nil {
		return Size{}, err
	}
	if _, ok := h.running[a.ID]; ok {
		return Size{}, fmt.Errorf("start activation %s: %w", a.ID, ErrExists)
	}
	c := h.containers[a.ContainerID]
	switch {
	case c != nil && c.act != nil:
		return Size{}, fmt.Errorf("start activation %s in container %s running %s: %w", a.ID, a.ContainerID, c.act.ID, ErrBusy)
	case c != nil && !a.Warm:
		return Size{}, fmt.Errorf("start activation %s in new container %s: %w", a.ID, a.ContainerID, ErrExists)
	case c != nil && a.HarvestedMB > 0:
		return Size{}, fmt.Errorf("start activation %s: harvested admission for existing container %s", a.ID, a.ContainerID)
	case a.HarvestedMB > 0 && !h.cfg.AdmitOnHarvest:
		return Size{}, fmt.Errorf("start activation %s: admission on harvested memory is off: %w", a.ID, ErrNoHarvest)
	case a.HarvestedMB > 0 && h.pool(Memory).Free < a.HarvestedMB:
		return Size{}, fmt.Errorf("start activation %s: %d MB harvested asked, %d MB free: %w", a.ID, a.HarvestedMB, h.pool(Memory).Free, ErrNoHarvest)
	}
	alloc := amounts{CPU: a.AllocCPUMillis, Memory: a.AllocMemoryMB}
	if c == nil {
		// A new container is created at, and an unknown existing one (a stem cell) has, its
		// allocation.
		c = &container{id: a.ContainerID, limit: alloc, admitted: a.HarvestedMB}
		h.containers[c.id] = c
		i, _ := slices.BinarySearchFunc(h.order, c.id, byID)
		h.order = slices.Insert(h.order, i, c)
	}
	act := a
	c.alloc, c.scratch, c.act, c.started = alloc, a.ScratchMB, &act, now
	h.running[a.ID] = c

	from := c.limit
	c.limit = h.size(c, a.Prediction, a.Warm)
	for _, r := range resources {
		switch {
		case c.limit[r] < c.alloc[r]:
			h.event(EventLend, r, c, c.alloc[r]-c.limit[r])
		case c.limit[r] > c.alloc[r]:
			h.event(EventBorrow, r, c, c.limit[r]-c.alloc[r])
			if c.limit[r] > from[r] {
				h.seq++
				c.borrowSeq[r] = h.seq
			}
		}
	}
	if a.Warm {
		h.queue(c, from, 0)
	}
	h.reconcile()
	return Size{CPUMillis: c.limit[CPU], MemoryMB: c.limit[Memory]}, nil
}

func validActivation(a Activation) error {
	var errs []error
	if a.ID == "" {
		errs = append(errs, errors.New("empty activation id"))
	}
	if a.ContainerID == "" {
		errs = append(errs, errors.New("empty container id"))
	}
	if a.AllocMemoryMB <= 0 {
		errs = append(errs, fmt.Errorf("memory allocation %d MB <= 0", a.AllocMemoryMB))
	}
	if a.AllocCPUMillis < 0 {
		errs = append(errs, fmt.Errorf("cpu allocation %d millicores < 0", a.AllocCPUMillis))
	}
	if a.ScratchMB < 0 || a.ScratchMB >= max(a.AllocMemoryMB, 1) {
		errs = append(errs, fmt.Errorf("scratch %d MB not in [0, memory allocation %d MB)", a.ScratchMB, a.AllocMemoryMB))
	}
	if a.HarvestedMB < 0 || a.HarvestedMB > a.AllocMemoryMB {
		errs = append(errs, fmt.Errorf("harvested %d MB not in [0, memory allocation %d MB]", a.HarvestedMB, a.AllocMemoryMB))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("start activation %s: %w", a.ID, err)
	}
	return nil
}

// size decides a container's limits for a new activation.
func (h *Harvester) size(c *container, p predict.Prediction, warm bool) amounts {
	t := c.alloc
	if p.OK {
		for _, r := range resources {
			if !h.enabled(r) || c.alloc[r] == 0 {
				continue
			}
			want := h.want(r, p, c.scratch)
			switch {
			case want < c.alloc[r]:
				t[r] = min(max(want, h.least(r)), c.alloc[r])
			case want > c.alloc[r]:
				t[r] = c.alloc[r] + min(want-c.alloc[r], max(h.netWithout(r, c), 0))
			}
		}
	}
	// Memory is never lowered below what the container is seen to use plus head-room, and a
	// lender sits high enough that this use does not trip the safeguard (if that leaves nothing
	// to lend, it is not a lender). An existing container whose use was never seen is not
	// lowered at all.
	switch {
	case c.sampled:
		if t[Memory] < c.alloc[Memory] {
			t[Memory] = min(max(t[Memory], h.floor(c, true)), c.alloc[Memory])
		}
		if t[Memory] < c.limit[Memory] {
			t[Memory] = max(t[Memory], min(c.limit[Memory], h.floor(c, false)))
		}
	case warm:
		t[Memory] = max(t[Memory], c.limit[Memory])
	}
	return t
}

// want is a resource's predicted need: the prediction with head-room, and never so little that
// the predicted peak would trip the safeguard; memory adds the scratch, which is never lent.
func (h *Harvester) want(r Resource, p predict.Prediction, scratch int) int {
	if r == CPU {
		if h.cfg.DisableCPUSafeguard {
			return p.CPUMillis
		}
		return max(p.CPUMillis, above(p.PeakCPUMillis, h.cfg.CPUSafeguard))
	}
	return max(p.MemoryMB, above(p.PeakMemoryMB, h.cfg.MemorySafeguard)) + scratch
}

func (h *Harvester) least(r Resource) int {
	if r == CPU {
		return h.cfg.MinCPUMillis
	}
	return h.cfg.MinMemoryMB
}

// floor is the least memory limit c may be given now: its observed use plus head-room and, for
// a lender, high enough that this use does not trip the safeguard.
func (h *Harvester) floor(c *container, lender bool) int {
	f := c.usedMB + h.cfg.HeadroomMB
	if lender {
		f = max(f, above(c.usedMB, h.cfg.MemorySafeguard))
	}
	return f
}

func (c *container) lent(r Resource) int     { return max(c.alloc[r]-c.limit[r], 0) }
func (c *container) borrowed(r Resource) int { return max(c.limit[r]-c.alloc[r], 0) }

// Sample records a container's use: CPU in millicores over the last window, memory in use now
// and its peak within the window, in MB. A memory lender whose use reaches the safeguard (and a
// running CPU lender whose CPU does) is restored to its allocation at once. Samples of
// containers the harvester does not track are ignored.
func (h *Harvester) Sample(now time.Time, containerID string, cpuMillis, memUsedMB, memPeakMB int) {
	c := h.containers[containerID]
	if c == nil {
		return
	}
	c.sampled, c.sampledAt = true, now
	c.usedMB, c.cpuMillis = max(memUsedMB, memPeakMB, 0), max(cpuMillis, 0)
	fired := false
	if c.lent(Memory) > 0 && float64(c.usedMB) >= h.cfg.MemorySafeguard*float64(c.limit[Memory]) {
		h.restore(c, Memory, EventSafeguard)
		fired = true
	}
	if !h.cfg.DisableCPUSafeguard && c.act != nil && c.lent(CPU) > 0 &&
		float64(c.cpuMillis) >= h.cfg.CPUSafeguard*float64(c.limit[CPU]) {
		h.restore(c, CPU, EventSafeguard)
		fired = true
	}
	if fired {
		h.reconcile()
	}
}

// restore puts a lender back to its allocation of r.
func (h *Harvester) restore(c *container, r Resource, kind EventKind) {
	from := c.limit
	h.event(kind, r, c, c.alloc[r]-c.limit[r])
	c.limit[r] = c.alloc[r]
	h.queue(c, from, Safeguard)
}

// End records that an activation finished and learns its profile (under the Key it started
// with). A CPU borrower gives back what it borrowed at once, a memory borrower as soon as its use
// allows; a lender keeps lending while its container stays idle, until it is reused or removed.
//
// Errors: ErrUnknown.
func (h *Harvester) End(now time.Time, activationID string, p Profile) error {
	c := h.running[activationID]
	if c == nil {
		return fmt.Errorf("end activation %s: %w", activationID, ErrUnknown)
	}
	a := c.act
	if p.Samples > 0 {
		s := predict.Sample{InputBytes: a.InputBytes, CPUMillis: p.PeakCPUMillis, MemoryMB: p.PeakMemoryMB}
		if p.Throttled > 0 && p.Duration > p.Throttled && float64(p.Throttled) >= ThrottledShare*float64(p.Duration) {
			demand := int(float64(p.CPUTime) / float64(p.Duration-p.Throttled) * 1000)
			s.CPUMillis = max(s.CPUMillis, demand)
		}
		// A peak that reached a lender's reduced limit says only that the demand is at least
		// that limit: learn the allocation instead, or the prediction could never grow.
		if c.lent(CPU) > 0 && float64(s.CPUMillis) >= h.cfg.CPUSafeguard*float64(c.limit[CPU]) {
			s.CPUMillis = max(s.CPUMillis, c.alloc[CPU])
		}
		if c.lent(Memory) > 0 && float64(s.MemoryMB) >= h.cfg.MemorySafeguard*float64(c.limit[Memory]) {
			s.MemoryMB = max(s.MemoryMB, c.alloc[Memory])
		}
		if p.OOMKilled {
			s.MemoryMB = max(s.MemoryMB, c.alloc[Memory], 2*c.limit[Memory])
		}
		h.pred.Observe(a.Key, s)
	}
	delete(h.running, activationID)
	c.act = nil
	h.reconcile()
	return nil
}

// Remove forgets a container that is being removed: what it lent leaves the pool (and is
// reclaimed from borrowers if the pool cannot cover it), what it borrowed or was admitted on
// returns to it. It reports whether the container was tracked.
func (h *Harvester) Remove(now time.Time, containerID string) bool {
	c := h.containers[containerID]
	if c == nil {
		return false
	}
	if c.act != nil {
		delete(h.running, c.act.ID)
	}
	delete(h.containers, containerID)
	if i, ok := slices.BinarySearchFunc(h.order, containerID, byID); ok {
		h.order = slices.Delete(h.order, i, i+1)
	}
	if i, ok := h.pendingAt[containerID]; ok {
		h.pending[i].ContainerID = "" // dropped when Ready is built
		delete(h.pendingAt, containerID)
	}
	h.reconcile()
	return true
}

// Tick retries deferred reclaims and restores running lenders whose samples stopped.
func (h *Harvester) Tick(now time.Time) {
	for _, c := range h.order {
		c.holdShrink = false
		if c.act == nil {
			continue
		}
		last := c.started
		if c.sampled && c.sampledAt.After(last) {
			last = c.sampledAt
		}
		if now.Sub(last) < h.cfg.StaleAfter {
			continue
		}
		for _, r := range resources {
			if c.lent(r) > 0 {
				h.restore(c, r, EventStale)
			}
		}
	}
	h.reconcile()
}

// UpdateFailed reports that a Resize from Ready could not be carried out: the container keeps
// the limits it had (Resize.From…). The ledger rolls back to them; if that leaves the pool short,
// borrowers are reclaimed as after a safeguard. A failed shrink is retried at the next Tick at
// the earliest. Report failures before taking the next Ready.
//
// Errors: ErrStale when a later Resize of the container was already handed out (the ledger then
// keeps that later one's limits). A Resize of a container no longer tracked is ignored.
func (h *Harvester) UpdateFailed(now time.Time, r Resize) error {
	c := h.containers[r.ContainerID]
	if c == nil {
		return nil
	}
	if r.seq != c.handedOut {
		return fmt.Errorf("update of container %s failed: %w", r.ContainerID, ErrStale)
	}
	from := amounts{CPU: r.FromCPUMillis, Memory: r.FromMemoryMB}
	to := amounts{CPU: r.CPUMillis, Memory: r.MemoryMB}
	for _, res := range resources {
		if d := to[res] - from[res]; d != 0 {
			h.event(EventUpdateFailed, res, c, max(d, -d))
		}
	}
	if to[Memory] < from[Memory] {
		c.holdShrink = true
	}
	if i, ok := h.pendingAt[c.id]; ok {
		// A newer decision is waiting: it still stands, but it starts from the old limits.
		h.pending[i].FromCPUMillis, h.pending[i].FromMemoryMB = from[CPU], from[Memory]
		return nil
	}
	c.limit = from
	h.reconcile()
	return nil
}

// reconcile makes idle borrowers give back what they borrowed and, while the pool is in debt,
// reclaims from running borrowers, most recently borrowed first. Memory is only taken from a
// container whose observed use (plus head-room) fits under the lower limit; what cannot be taken
// now stays as debt and is tried again at the next Tick.
func (h *Harvester) reconcile() {
	cs := h.order
	for _, r := range resources {
		for _, c := range cs {
			if c.act == nil && c.borrowed(r) > 0 {
				h.shrink(c, r, c.borrowed(r))
			}
		}
		debt := h.pool(r).Debt
		if debt == 0 {
			continue
		}
		busy := slices.Clone(cs)
		slices.SortStableFunc(busy, func(a, b *container) int { return cmp.Compare(b.borrowSeq[r], a.borrowSeq[r]) })
		for _, c := range busy {
			if debt == 0 {
				break
			}
			if c.act != nil && c.borrowed(r) > 0 {
				debt -= h.shrink(c, r, min(debt, c.borrowed(r)))
			}
		}
	}
	if d := h.pool(Memory).Debt; d != h.debt {
		h.debt = d
		h.events = append(h.events, Event{Kind: EventDebt, Resource: Memory, Amount: d})
	}
}

// shrink lowers a borrower's limit of r by up to n, no lower than its allocation and, for
// memory, its floor. It returns by how much.
func (h *Harvester) shrink(c *container, r Resource, n int) int {
	to := c.limit[r] - n
	if r == Memory {
		if !c.sampled || c.holdShrink {
			return 0
		}
		to = max(to, h.floor(c, false))
	}
	to = max(to, c.alloc[r])
	if to >= c.limit[r] {
		return 0
	}
	from := c.limit
	got := c.limit[r] - to
	c.limit[r] = to
	h.event(EventReclaim, r, c, got)
	h.queue(c, from, Reclaim)
	return got
}

// queue records that c's limits changed from from; reason 0 derives it from the change.
func (h *Harvester) queue(c *container, from amounts, reason Reason) {
	if reason == 0 {
		for _, r := range resources {
			switch {
			case c.limit[r] < from[r] && c.limit[r] >= c.alloc[r]:
				reason = max(reason, Reclaim)
			case c.limit[r] < from[r]:
				reason = max(reason, Lend)
			case c.limit[r] > from[r] && c.limit[r] <= c.alloc[r]:
				reason = max(reason, Restore)
			case c.limit[r] > from[r]:
				reason = max(reason, Borrow)
			}
		}
	}
	if i, ok := h.pendingAt[c.id]; ok {
		p := &h.pending[i]
		p.CPUMillis, p.MemoryMB = c.limit[CPU], c.limit[Memory]
		p.Reason = max(p.Reason, reason)
		return
	}
	if c.limit == from {
		return
	}
	h.pendingAt[c.id] = len(h.pending)
	h.pending = append(h.pending, Resize{
		ContainerID: c.id, CPUMillis: c.limit[CPU], MemoryMB: c.limit[Memory],
		FromCPUMillis: from[CPU], FromMemoryMB: from[Memory], Reason: reason,
	})
}

func (h *Harvester) event(k EventKind, r Resource, c *container, n int) {
	e := Event{Kind: k, Resource: r, ContainerID: c.id, Amount: n}
	if c.act != nil {
		e.ActivationID = c.act.ID
	}
	h.events = append(h.events, e)
}

// HasReady reports whether Ready has anything to hand out.
func (h *Harvester) HasReady() bool { return len(h.pending) > 0 || len(h.events) > 0 }

// Ready hands out the decisions taken since the last call. The edge carries out every Resize
// (ContainerUpdate) and reports each failure with UpdateFailed before it calls Ready again.
func (h *Harvester) Ready() Ready {
	var rd Ready
	for _, p := range h.pending {
		if p.ContainerID == "" || (p.CPUMillis == p.FromCPUMillis && p.MemoryMB == p.FromMemoryMB) {
			continue
		}
		h.seq++
		p.seq = h.seq
		h.containers[p.ContainerID].handedOut = p.seq
		rd.Resizes = append(rd.Resizes, p)
	}
	rd.Events = h.events
	h.pending, h.events = h.pending[:0], nil
	clear(h.pendingAt)
	return rd
}

// netWithout is what would be free of r (negative: debt) if c neither lent nor borrowed.
func (h *Harvester) netWithout(r Resource, c *container) int {
	net := 0
	for _, o := range h.order {
		if o != c {
			net += o.lent(r) - o.borrowed(r)
			if r == Memory {
				net -= o.admitted
			}
		}
	}
	if r == Memory {
		net -= c.admitted
	}
	return net
}

// pool sums the ledger of r.
func (h *Harvester) pool(r Resource) Pool {
	var p Pool
	for _, c := range h.order {
		p.Lent += c.lent(r)
		p.Borrowed += c.borrowed(r)
		if r == Memory {
			p.Admitted += c.admitted
		}
	}
	if net := p.Lent - p.Borrowed - p.Admitted; net >= 0 {
		p.Free = net
	} else {
		p.Debt = -net
	}
	return p
}

// Stats returns a snapshot of the ledger.
func (h *Harvester) Stats() Stats {
	return Stats{Containers: len(h.containers), Busy: len(h.running), CPU: h.pool(CPU), Memory: h.pool(Memory)}
}

// Lendable returns what borrowers could take now, for the health ping: free millicores and MB.
func (h *Harvester) Lendable() (cpuMillis, memoryMB int) {
	return h.pool(CPU).Free, h.pool(Memory).Free
}

// AdmissibleMB is the memory the invoker may admit activations up to: userMemoryMB, plus the
// free harvested memory when Config.AdmitOnHarvest is on. An activation admitted beyond
// userMemoryMB carries the excess in Activation.HarvestedMB.
func (h *Harvester) AdmissibleMB(userMemoryMB int) int {
	if !h.cfg.AdmitOnHarvest {
		return userMemoryMB
	}
	return userMemoryMB + h.pool(Memory).Free
}

// Size returns the limits the ledger holds for a container, and whether it is tracked.
func (h *Harvester) Size(containerID string) (Size, bool) {
	c := h.containers[containerID]
	if c == nil {
		return Size{}, false
	}
	return Size{CPUMillis: c.limit[CPU], MemoryMB: c.limit[Memory]}, true
}

func byID(c *container, id string) int { return cmp.Compare(c.id, id) }

// HintPrediction turns a controller's hint of an activation's demand beyond its allocation
// (learnt from its records on every invoker) into a prediction, for an invoker that has none
// of its own for the action. It never predicts less than the allocation: a hint can make an
// activation a borrower, never a lender. It returns a prediction that is not OK when the hint
// asks for nothing extra.
func HintPrediction(allocCPUMillis, allocMemoryMB, extraCPUMillis, extraMemoryMB int) predict.Prediction {
	extraCPUMillis, extraMemoryMB = max(extraCPUMillis, 0), max(extraMemoryMB, 0)
	if extraCPUMillis == 0 && extraMemoryMB == 0 {
		return predict.Prediction{}
	}
	cpu, mem := allocCPUMillis+extraCPUMillis, allocMemoryMB+extraMemoryMB
	return predict.Prediction{OK: true, CPUMillis: cpu, MemoryMB: mem, PeakCPUMillis: cpu, PeakMemoryMB: mem}
}
