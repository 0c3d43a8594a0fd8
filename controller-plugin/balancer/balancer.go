package balancer

import (
	"cmp"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"sync"
	"time"
)

// ErrNoInvokers is returned by Schedule when no invoker of the request's pool is
// healthy. OpenWhisk answers such a request with 503 and queues nothing.
var ErrNoInvokers = errors.New("balancer: no invokers available")

// Invoker is one invoker as the controller knows it.
type Invoker struct {
	// ID is the invoker's dense instance index (0..n-1).
	ID int
	// UserMemoryMB is the memory the invoker offers to user containers.
	UserMemoryMB int
	// Healthy is true when the health supervisor reports the invoker up; only healthy
	// invokers are given work.
	Healthy bool
	// LendableCPUMillis and LendableMemoryMB are what the invoker last reported it can
	// lend to borrowers (harvest fields of its ping); zero when it reports nothing.
	LendableCPUMillis int
	LendableMemoryMB  int
}

// Request describes one activation to place.
type Request struct {
	// ActivationID identifies the activation in Release and Expire.
	ActivationID string
	// Namespace is the invoking user's namespace name (not the action's package
	// namespace); it feeds the hash.
	Namespace string
	// NamespaceUUID is the invoking namespace's uuid, for the per-namespace in-flight
	// count that the concurrency throttle (429) reads.
	NamespaceUUID string
	// Action is the action's fully qualified name without version, "ns/[pkg/]name".
	Action string
	// Version is the action's version. Concurrency slots are shared per Action and
	// Version.
	Version string
	// MemoryMB is the action's memory limit; it must be positive.
	MemoryMB int
	// MaxConcurrent is the action's concurrency limit; values below 1 mean 1.
	MaxConcurrent int
	// Blackbox is true for actions whose image is pulled (exec kind blackbox).
	Blackbox bool
	// TimeLimit is the action's time limit; it sets the completion deadline.
	TimeLimit time.Duration
	// ExtraCPUMillis and ExtraMemoryMB are the predicted demand beyond the
	// activation's allocation, zero when unknown or when none is predicted.
	ExtraCPUMillis int
	ExtraMemoryMB  int
}

// Placement is where Schedule put an activation.
type Placement struct {
	Invoker int
	// Forced is true when no probed invoker had room and the activation was forced
	// onto a random healthy invoker (OpenWhisk's "system is overloaded").
	Forced bool
}

// Released describes an activation whose slot was given back by Release or Expire.
type Released struct {
	ActivationID  string
	Invoker       int
	NamespaceUUID string
	MemoryMB      int
	Blackbox      bool
}

// InvokerStatus is a snapshot of one invoker's books. Its lendable fields are the
// balancer's view: the last report less the extra demand placed on the invoker since.
type InvokerStatus struct {
	Invoker
	// CapacityMB is the invoker's semaphore size: this controller's share of its user
	// memory. It is fixed when the invoker first appears.
	CapacityMB int
	// FreeMB is what the semaphore has left; negative after forced placements.
	FreeMB int
	// Active counts the activations placed on the invoker and not yet released.
	Active int
	// Managed and Blackbox say which pools the invoker belongs to (both for small
	// clusters).
	Managed, Blackbox bool
}

// Config configures a Balancer. The zero value gives OpenWhisk's defaults.
type Config struct {
	// ManagedFraction (whisk.loadbalancer.managed-fraction) is the share of invokers,
	// counted from the first, that run non-blackbox actions. Zero means 0.9. It is
	// clamped to [0, 1]; at least one invoker is always managed.
	ManagedFraction float64
	// BlackboxFraction (whisk.loadbalancer.blackbox-fraction) is the share of invokers,
	// counted from the last, that run blackbox actions. Zero means 0.1. It is clamped
	// to [1 − ManagedFraction, 1]; at least one invoker is always a blackbox invoker.
	BlackboxFraction float64
	// ClusterSize is the number of controllers sharing every invoker's memory. Zero
	// means 1.
	ClusterSize int
	// MinMemoryMB (whisk.memory.min) is the smallest action memory; an invoker's
	// permits never go below it. Zero means 128.
	MinMemoryMB int
	// TimeoutFactor and TimeoutAddon (whisk.loadbalancer.timeout-factor and
	// timeout-addon) set the completion deadline:
	// max(TimeLimit, StdTimeLimit) × TimeoutFactor + TimeoutAddon.
	// Zero means 2 and 1 minute; a negative TimeoutAddon means none.
	TimeoutFactor int
	TimeoutAddon  time.Duration
	// StdTimeLimit (whisk.time-limit.std) is the default action time limit. Zero means
	// 1 minute.
	StdTimeLimit time.Duration
	// Policy picks among the probed invokers. Nil means Sharding.
	Policy Policy
	// Rand chooses the invoker of a forced placement. Nil means a randomly seeded
	// source. The Balancer uses it under its lock.
	Rand *rand.Rand
}

func (c *Config) validate() error {
	if c.ManagedFraction == 0 {
		c.ManagedFraction = 0.9
	}
	if c.BlackboxFraction == 0 {
		c.BlackboxFraction = 0.1
	}
	if math.IsNaN(c.ManagedFraction) || math.IsNaN(c.BlackboxFraction) {
		return errors.New("balancer config: fractions must be numbers")
	}
	c.ManagedFraction = max(0, min(1, c.ManagedFraction))
	c.BlackboxFraction = max(1-c.ManagedFraction, min(1, c.BlackboxFraction))
	if c.ClusterSize == 0 {
		c.ClusterSize = 1
	}
	if c.ClusterSize < 0 {
		return fmt.Errorf("balancer config: cluster size %d is negative", c.ClusterSize)
	}
	if c.MinMemoryMB == 0 {
		c.MinMemoryMB = 128
	}
	if c.MinMemoryMB < 0 {
		return fmt.Errorf("balancer config: min memory %d MB is negative", c.MinMemoryMB)
	}
	if c.TimeoutFactor == 0 {
		c.TimeoutFactor = 2
	}
	if c.TimeoutFactor < 0 {
		return fmt.Errorf("balancer config: timeout factor %d is negative", c.TimeoutFactor)
	}
	if c.TimeoutAddon == 0 {
		c.TimeoutAddon = time.Minute
	}
	c.TimeoutAddon = max(0, c.TimeoutAddon)
	if c.StdTimeLimit == 0 {
		c.StdTimeLimit = time.Minute
	}
	if c.StdTimeLimit < 0 {
		return fmt.Errorf("balancer config: standard time limit %v is negative", c.StdTimeLimit)
	}
	if c.Policy == nil {
		c.Policy = Sharding{}
	}
	if c.Rand == nil {
		c.Rand = rand.New(rand.NewPCG(rand.Uint64(), rand.Uint64()))
	}
	return nil
}

// invoker is the balancer's view of one invoker.
type invoker struct {
	Invoker
	known   bool       // has been listed healthy or with a reported memory
	sem     *semaphore // nil until known
	active  int
	lendCPU int // lendable view: last report less extra demand placed since
	lendMem int
}

// entry is the book-keeping of one activation in flight.
type entry struct {
	invoker  int
	key      actionKey
	c, mem   int
	nsUUID   string
	blackbox bool
	deadline time.Time
}

// Balancer places activations on invokers and keeps their books. It is safe for
// concurrent use.
type Balancer struct {
	mu  sync.Mutex
	cfg Config

	invokers []invoker // indexed by ID; never shrinks
	managed  int       // the first managed invokers form the managed pool
	blackbox int       // the last blackbox invokers form the blackbox pool

	managedSteps, blackboxSteps []int

	inflight    map[string]*entry
	byNamespace map[string]int
	walk        []Candidate // scratch for Schedule
}

// New returns a Balancer that knows no invokers yet.
func New(cfg Config) (*Balancer, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	return &Balancer{
		cfg:         cfg,
		inflight:    map[string]*entry{},
		byNamespace: map[string]int{},
	}, nil
}

// UpdateInvokers replaces the balancer's view of the invokers with list, which holds
// every invoker the controller knows, in any order. Invokers known before and missing
// from list are treated as unhealthy; the list of invokers never shrinks, so that
// home invokers do not move when an invoker dies.
//
// When the number of invokers changes, the managed and blackbox pools and their step
// sizes are recomputed. An invoker gets its semaphore the first time it is listed
// healthy or with a UserMemoryMB above zero, sized from that report; like OpenWhisk,
// later reports do not resize it. An invoker listed unhealthy with no memory is one
// the controller has not heard from yet, and is not sized from that placeholder. Lendable figures are taken from every call.
func (b *Balancer) UpdateInvokers(list []Invoker) error {
	size := 0
	seen := map[int]bool{}
	for _, inv := range list {
		if inv.ID < 0 {
			return fmt.Errorf("update invokers: invoker id %d is negative", inv.ID)
		}
		if seen[inv.ID] {
			return fmt.Errorf("update invokers: invoker %d listed twice", inv.ID)
		}
		if inv.UserMemoryMB < 0 {
			return fmt.Errorf("update invokers: invoker %d has negative memory %d MB", inv.ID, inv.UserMemoryMB)
		}
		seen[inv.ID] = true
		size = max(size, inv.ID+1)
	}

	b.mu.Lock()
	defer b.mu.Unlock()
	old := len(b.invokers)
	for len(b.invokers) < size {
		b.invokers = append(b.invokers, invoker{Invoker: Invoker{ID: len(b.invokers)}})
	}
	for i := range b.invokers {
		b.invokers[i].Healthy = false
	}
	for _, inv := range list {
		cur := &b.invokers[inv.ID]
		cur.Invoker = inv
		cur.lendCPU = max(0, inv.LendableCPUMillis)
		cur.lendMem = max(0, inv.LendableMemoryMB)
		// A controller lists invokers it has not heard from yet (ids below the highest
		// that pinged) with no memory: sizing waits for a report.
		if !cur.known && (inv.UserMemoryMB > 0 || inv.Healthy) {
			cur.known = true
			cur.sem = newSemaphore(b.permits(inv.UserMemoryMB))
		}
	}
	if n := len(b.invokers); n != old {
		b.managed = max(1, int(math.Ceil(float64(n)*b.cfg.ManagedFraction)))
		b.blackbox = max(1, int(math.Floor(float64(n)*b.cfg.BlackboxFraction)))
		b.managedSteps = StepSizes(b.managed)
		b.blackboxSteps = StepSizes(b.blackbox)
	}
	return nil
}

// permits is this controller's share of an invoker's memory.
func (b *Balancer) permits(userMemoryMB int) int {
	return max(userMemoryMB/b.cfg.ClusterSize, b.cfg.MinMemoryMB)
}

// pool returns the invoker ids of the managed or blackbox pool.
func (b *Balancer) pool(blackbox bool) (first, n int, steps []int) {
	total := len(b.invokers)
	if blackbox {
		n = min(b.blackbox, total)
		return total - n, n, b.blackboxSteps
	}
	return 0, min(b.managed, total), b.managedSteps
}

// Schedule places the activation req at time now and holds its slot until Release or
// Expire. It returns an error wrapping ErrNoInvokers when no invoker of the request's
// pool is healthy, and an error for an invalid request or an activation id already in
// flight.
func (b *Balancer) Schedule(now time.Time, req Request) (Placement, error) {
	if req.ActivationID == "" {
		return Placement{}, errors.New("schedule: empty activation id")
	}
	if req.MemoryMB <= 0 {
		return Placement{}, fmt.Errorf("schedule %s: memory %d MB is not positive", req.ActivationID, req.MemoryMB)
	}
	c := max(1, req.MaxConcurrent)
	key := actionKey{req.Action, req.Version}

	b.mu.Lock()
	defer b.mu.Unlock()
	if _, ok := b.inflight[req.ActivationID]; ok {
		return Placement{}, fmt.Errorf("schedule %s: activation already in flight", req.ActivationID)
	}

	first, n, steps := b.pool(req.Blackbox)
	if n == 0 {
		return Placement{}, b.noInvokers(req)
	}
	hash := Hash(req.Namespace, req.Action)
	home, step := hash%n, steps[hash%len(steps)]

	walk := b.walk[:0]
	for k, i := 0, home; k < n; k, i = k+1, (i+step)%n {
		inv := &b.invokers[first+i]
		walk = append(walk, Candidate{
			Invoker:           inv.ID,
			Fits:              inv.Healthy && inv.sem != nil && inv.sem.fits(key, c, req.MemoryMB),
			LendableCPUMillis: inv.lendCPU,
			LendableMemoryMB:  inv.lendMem,
		})
	}
	b.walk = walk

	var p Placement
	if k := b.cfg.Policy.Pick(&req, walk); k >= 0 {
		if k >= len(walk) || !walk[k].Fits {
			return Placement{}, fmt.Errorf("schedule %s: policy picked candidate %d, which does not fit", req.ActivationID, k)
		}
		p.Invoker = walk[k].Invoker
		b.invokers[p.Invoker].sem.acquire(key, c, req.MemoryMB, false)
	} else {
		healthy := 0
		for i := first; i < first+n; i++ {
			if b.invokers[i].Healthy {
				healthy++
			}
		}
		if healthy == 0 {
			return Placement{}, b.noInvokers(req)
		}
		r := b.cfg.Rand.IntN(healthy)
		for i := first; i < first+n; i++ {
			if !b.invokers[i].Healthy {
				continue
			}
			if r == 0 {
				p = Placement{Invoker: i, Forced: true}
				break
			}
			r--
		}
		b.invokers[p.Invoker].sem.acquire(key, c, req.MemoryMB, true)
	}

	inv := &b.invokers[p.Invoker]
	inv.active++
	inv.lendCPU = max(0, inv.lendCPU-req.ExtraCPUMillis)
	inv.lendMem = max(0, inv.lendMem-req.ExtraMemoryMB)
	b.inflight[req.ActivationID] = &entry{
		invoker:  p.Invoker,
		key:      key,
		c:        c,
		mem:      req.MemoryMB,
		nsUUID:   req.NamespaceUUID,
		blackbox: req.Blackbox,
		deadline: now.Add(b.completionTimeout(req.TimeLimit)),
	}
	b.byNamespace[req.NamespaceUUID]++
	return p, nil
}

func (b *Balancer) noInvokers(req Request) error {
	pool := "managed"
	if req.Blackbox {
		pool = "blackbox"
	}
	return fmt.Errorf("schedule %s (%s): %w", req.ActivationID, pool, ErrNoInvokers)
}

// completionTimeout is how long the controller waits for an activation's completion
// ack before it forces one.
func (b *Balancer) completionTimeout(limit time.Duration) time.Duration {
	return max(limit, b.cfg.StdTimeLimit)*time.Duration(b.cfg.TimeoutFactor) + b.cfg.TimeoutAddon
}

// Release gives back the slot of a completed activation (a completion or combined
// ack). It reports false when the id is not in flight: a health test action, or an
// ack arriving after the activation was expired.
func (b *Balancer) Release(activationID string) (Released, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	e, ok := b.inflight[activationID]
	if !ok {
		return Released{}, false
	}
	return b.release(activationID, e), true
}

func (b *Balancer) release(id string, e *entry) Released {
	delete(b.inflight, id)
	inv := &b.invokers[e.invoker]
	inv.sem.release(e.key, e.c, e.mem)
	inv.active--
	if b.byNamespace[e.nsUUID]--; b.byNamespace[e.nsUUID] <= 0 {
		delete(b.byNamespace, e.nsUUID)
	}
	return Released{ActivationID: id, Invoker: e.invoker, NamespaceUUID: e.nsUUID, MemoryMB: e.mem, Blackbox: e.blackbox}
}

// Expire releases every activation whose completion deadline is at or before now and
// returns them by deadline (then id). The caller fails their blocking waits and reports
// a Timeout outcome for each one's invoker; a later ack for them is not in flight.
func (b *Balancer) Expire(now time.Time) []Released {
	b.mu.Lock()
	defer b.mu.Unlock()
	type due struct {
		id string
		e  *entry
	}
	var expired []due
	for id, e := range b.inflight {
		if !e.deadline.After(now) {
			expired = append(expired, due{id, e})
		}
	}
	slices.SortFunc(expired, func(x, y due) int {
		return cmp.Or(x.e.deadline.Compare(y.e.deadline), cmp.Compare(x.id, y.id))
	})
	out := make([]Released, 0, len(expired))
	for _, d := range expired {
		out = append(out, b.release(d.id, d.e))
	}
	return out
}

// NextDeadline returns the earliest completion deadline in flight, and false when
// nothing is in flight.
func (b *Balancer) NextDeadline() (time.Time, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	var next time.Time
	for _, e := range b.inflight {
		if next.IsZero() || e.deadline.Before(next) {
			next = e.deadline
		}
	}
	return next, !next.IsZero()
}

// Active returns the number of activations in flight.
func (b *Balancer) Active() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.inflight)
}

// ActiveFor returns the number of activations in flight for a namespace uuid.
func (b *Balancer) ActiveFor(namespaceUUID string) int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.byNamespace[namespaceUUID]
}

// Invokers returns a snapshot of every invoker's books, indexed by id. Invokers that
// have never been listed show as unhealthy with no capacity.
func (b *Balancer) Invokers() []InvokerStatus {
	b.mu.Lock()
	defer b.mu.Unlock()
	n := len(b.invokers)
	out := make([]InvokerStatus, n)
	bbFirst, _, _ := b.pool(true)
	for i, inv := range b.invokers {
		s := InvokerStatus{Invoker: inv.Invoker, Active: inv.active, Managed: i < min(b.managed, n), Blackbox: i >= bbFirst}
		s.LendableCPUMillis, s.LendableMemoryMB = inv.lendCPU, inv.lendMem
		if inv.sem != nil {
			s.CapacityMB, s.FreeMB = inv.sem.capacity, inv.sem.free
		}
		out[i] = s
	}
	return out
}
