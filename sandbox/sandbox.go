// Package sandbox runs action containers for the invoker: it keeps the warm pool and the stem
// cells (prewarmed containers) of one invoker within its user memory, carries out the pool's
// decisions through the Docker engine, and hands out Leases: a container reserved for one
// activation, with its /init /run client and its log reader.
//
// Containers are keyed by invoking namespace + action + revision (OpenWhisk never shares a
// container between namespaces or revisions). Order of preference for a request (spec §10.2):
// a warm container of the key with spare concurrency, a stem cell of the same kind and memory,
// a cold container if memory allows, a cold container after evicting idle warm ones (least
// recently used first), otherwise wait in a FIFO queue.
package sandbox

import (
	"container/list"
	"context"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/owinvoker/owinvoker/sandbox/actionproxy"
	"github.com/owinvoker/owinvoker/sandbox/docker"
	"github.com/owinvoker/owinvoker/sandbox/manifest"
)

// ErrTooLarge is returned by Acquire for a request that needs more memory than the invoker
// has at all: it could never be placed.
var ErrTooLarge = errors.New("sandbox: action memory exceeds the invoker's user memory")

// ErrDraining is returned by Acquire to an activation that would have to wait for memory
// while the invoker is stopping (RejectWaiters).
var ErrDraining = errors.New("sandbox: draining, no container for new work")

// ErrContainerFailed is returned by Acquire to an activation that waited for a container of
// its action to start and initialize, when that failed.
var ErrContainerFailed = errors.New("sandbox: the container failed to start or initialize")

// LabelInvoker marks every container of an invoker with its container-name prefix, so that
// leftovers of an earlier run are found and removed at start-up.
const LabelInvoker = "owinvoker.invoker"

// Config configures a Sandbox.
type Config struct {
	// Prefix of container names: "wsk" + uniqueName + id, e.g. "wsk00" (spec §10.5).
	Prefix       string
	UserMemoryMB int
	// UserCPUs, when set, gives every container a CPU quota proportional to its memory.
	UserCPUs     float64
	PauseGrace   time.Duration // default 10 s
	IdleTimeout  time.Duration // default 10 min
	Manifest     *manifest.Manifest
	Registry     string // runtimes registry for managed images
	Proxy        actionproxy.Config
	TickInterval time.Duration // default 100 ms (pause grace resolution)
	// ReconcileInterval: how often the pool is compared with the engine's list of our
	// containers besides each reconnect of the event stream (default 30 s). It retries the
	// removal of containers whose removal failed, e.g. while the engine was away.
	ReconcileInterval time.Duration
	// Scratch, when set, mounts an in-memory scratch directory into every container.
	Scratch       *ScratchConfig
	StemCellBoost bool // size stem cells from recent cold starts (default on via New)
}

func (c *Config) validate() error {
	if c.Prefix == "" {
		return errors.New("sandbox: container name prefix is required")
	}
	if c.UserMemoryMB <= 0 {
		return errors.New("sandbox: user memory must be positive")
	}
	if c.Manifest == nil {
		return errors.New("sandbox: a runtimes manifest is required")
	}
	if c.PauseGrace <= 0 {
		c.PauseGrace = 10 * time.Second
	}
	if c.IdleTimeout <= 0 {
		c.IdleTimeout = 10 * time.Minute
	}
	if c.TickInterval <= 0 {
		c.TickInterval = 100 * time.Millisecond
	}
	if c.ReconcileInterval <= 0 {
		c.ReconcileInterval = 30 * time.Second
	}
	return nil
}

// Request describes the container one activation needs.
type Request struct {
	Namespace   string // invoking namespace
	Action      string // action document id, "ns[/pkg]/name"
	ActionName  string // last segment, for the container name
	Revision    string
	Kind        string // manifest kind, or "blackbox"
	Image       string // image reference to run
	MemoryMB    int
	Concurrency int // activations per container, ≥ 1
	// Pull and PullRequired apply to user blackbox images (see docker.Spec).
	Pull, PullRequired bool
	// Sentinelled: the runtime writes log sentinels after each activation.
	Sentinelled bool
}

func (r Request) key() string {
	return r.Namespace + "\x00" + r.Action + "\x00" + r.Revision
}

// Start says how a lease's container was obtained.
type Start string

// How containers are obtained.
const (
	Cold    Start = "cold"
	Prewarm Start = "prewarm"
	Warm    Start = "warm"
)

type state int

const (
	starting state = iota
	stemCell
	ready // warm: initialized or reserved for an action
	paused
	removing
)

type entry struct {
	ctr         docker.Container
	key         string // "" for a stem cell
	kind        string
	image       string
	memoryMB    int
	scratchMB   int // in-memory scratch (tmpfs) size, charged to the container's memory
	state       state
	active      int
	maxActive   int
	initialized bool
	lastUsed    time.Time
	created     time.Time
	proxy       *actionproxy.Client
	logs        *logCursor
	sentinelled bool
	pausing     bool // a pause is under way
	// gone: the engine reported the container dead or removed, not by our doing (see
	// watch). It is never handed out again and is removed when its last activation ends.
	gone bool

	// initDone is closed once the container's first activation has initialized it (initOK)
	// or it failed before that; concurrent activations of the same action wait for it.
	initDone chan struct{}
	initOnce sync.Once
	initOK   bool
}

// settle records the outcome of the container's /init and releases the activations waiting
// for it. Only the first call counts.
func (e *entry) settle(ok bool) {
	if e.initDone == nil {
		return
	}
	e.initOnce.Do(func() {
		e.initOK = ok
		close(e.initDone)
	})
}

type waiter struct {
	req   Request
	ready chan *Lease
	err   chan error
}

// Sandbox is safe for concurrent use.
type Sandbox struct {
	cfg    Config
	docker *docker.Client
	log    *zap.Logger
	now    func() time.Time

	mu      sync.Mutex
	entries map[*entry]struct{}
	memUsed int
	waiters *list.List // of *waiter
	counter int
	// live: names of the containers being created or in the pool. A container of ours the
	// engine lists under any other name is an orphan (its removal failed) and is removed.
	live     map[string]struct{}
	stemWant map[stemKey]int // desired stem cells
	misses   map[stemKey][]time.Time
	closed   bool
	draining bool
	roomCh   chan struct{} // closed and replaced whenever the wait queue empties
	bg       sync.WaitGroup
	stop     chan struct{}
	scratch  *scratch // nil when Config.Scratch is
}

type stemKey struct {
	kind     string
	memoryMB int
	image    string
}

// New creates a sandbox; Start removes leftovers and starts the stem cells.
func New(cfg Config, d *docker.Client, log *zap.Logger, now func() time.Time) (*Sandbox, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	if now == nil {
		now = time.Now
	}
	s := &Sandbox{cfg: cfg, docker: d, log: log.Named("sandbox"), now: now,
		entries: map[*entry]struct{}{}, live: map[string]struct{}{}, waiters: list.New(), stemWant: map[stemKey]int{},
		misses: map[stemKey][]time.Time{}, roomCh: make(chan struct{}), stop: make(chan struct{})}
	close(s.roomCh) // no one waits yet
	if cfg.Scratch != nil {
		sc, err := newScratch(*cfg.Scratch, s.log)
		if err != nil {
			return nil, err
		}
		s.scratch = sc
	}
	for _, p := range cfg.Manifest.StemCells() {
		k := stemKey{kind: p.Kind, memoryMB: int(p.Memory.MB()), image: p.Image.Ref(cfg.Registry)}
		s.stemWant[k] += p.InitialCount
	}
	return s, nil
}

// Start removes containers left by an earlier run of this invoker (by name prefix and
// label), starts the stem cells and the timer loop. It returns when the leftovers are gone.
func (s *Sandbox) Start(ctx context.Context) error {
	if err := s.docker.Ping(ctx); err != nil {
		return err
	}
	if err := s.removeLeftovers(ctx); err != nil {
		return err
	}
	s.bg.Add(1)
	go func() { defer s.bg.Done(); s.watch() }()
	s.mu.Lock()
	s.backfillLocked()
	s.mu.Unlock()
	s.bg.Add(1)
	go func() {
		defer s.bg.Done()
		t := time.NewTicker(s.cfg.TickInterval)
		defer t.Stop()
		for {
			select {
			case <-s.stop:
				return
			case <-t.C:
				s.tick()
			}
		}
	}()
	return nil
}

// named reports whether a container name is one this sandbox gives (see ContainerName).
func (s *Sandbox) named(name string) bool {
	return strings.HasPrefix(name, s.cfg.Prefix+"_")
}

func (s *Sandbox) removeLeftovers(ctx context.Context) error {
	listed, err := s.docker.List(ctx, LabelInvoker, s.cfg.Prefix)
	if err != nil {
		return err
	}
	for _, l := range listed {
		if !s.named(l.Name) {
			continue
		}
		s.log.Info("removing leftover container", zap.String("container", l.Name))
		if err := s.docker.Remove(ctx, l.ID); err != nil {
			return fmt.Errorf("remove leftover %s: %w", l.Name, err)
		}
	}
	return nil
}

// RejectWaiters fails every activation waiting for memory with ErrDraining, and every later
// one that would have to wait: the invoker calls it when it stops, so that its drain waits
// only for work that has a container.
func (s *Sandbox) RejectWaiters() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.draining = true
	for e := s.waiters.Front(); e != nil; e = e.Next() {
		e.Value.(*waiter).err <- ErrDraining
	}
	s.waiters.Init()
	s.roomIfEmptyLocked()
}

// Close stops the timers and removes every container of this invoker.
func (s *Sandbox) Close(ctx context.Context) error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	close(s.stop)
	for e := s.waiters.Front(); e != nil; e = e.Next() {
		e.Value.(*waiter).err <- errors.New("sandbox: closed")
	}
	s.waiters.Init()
	s.mu.Unlock()
	s.bg.Wait()
	var errs []error
	s.mu.Lock()
	entries := make([]*entry, 0, len(s.entries))
	for e := range s.entries {
		entries = append(entries, e)
	}
	s.mu.Unlock()
	for _, e := range entries {
		if e.ctr.ID != "" {
			if err := s.docker.Remove(ctx, e.ctr.ID); err != nil {
				errs = append(errs, err)
			}
		}
	}
	// A container created by a run still in flight is caught by name.
	if err := s.removeLeftovers(ctx); err != nil {
		errs = append(errs, err)
	}
	for _, e := range entries {
		s.releaseScratch(e.ctr.Name)
	}
	return errors.Join(errs...)
}

// MemoryInUse is the memory of all containers: busy, warm, paused, stem cells, starting.
func (s *Sandbox) MemoryInUse() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.memUsed
}

// Stats counts containers by state, for metrics and tests.
type Stats struct {
	Starting, StemCells, Warm, Busy, Paused, Waiting int
	MemoryMB                                         int
}

// Stats returns the current counts.
func (s *Sandbox) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := Stats{Waiting: s.waiters.Len(), MemoryMB: s.memUsed}
	for e := range s.entries {
		switch {
		case e.state == starting:
			st.Starting++
		case e.state == stemCell:
			st.StemCells++
		case e.state == paused:
			st.Paused++
		case e.state == ready && e.active > 0:
			st.Busy++
		case e.state == ready:
			st.Warm++
		}
	}
	return st
}

// WaitForRoom blocks while activations wait for memory: the invoker fetches its next message
// only when the pool's queue is empty (OpenWhisk returns feed capacity the same way).
func (s *Sandbox) WaitForRoom(ctx context.Context) error {
	s.mu.Lock()
	ch := s.roomCh
	s.mu.Unlock()
	select {
	case <-ch:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Acquire reserves a container for one activation, starting one when needed, and waits in
// FIFO order while the invoker's memory is spent. The lease must be released.
func (s *Sandbox) Acquire(ctx context.Context, req Request) (*Lease, error) {
	if req.MemoryMB > s.cfg.UserMemoryMB {
		return nil, fmt.Errorf("%d MB > %d MB: %w", req.MemoryMB, s.cfg.UserMemoryMB, ErrTooLarge)
	}
	if req.Concurrency < 1 {
		req.Concurrency = 1
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil, errors.New("sandbox: closed")
	}
	var plan *placement
	if s.waiters.Len() == 0 {
		plan = s.placeLocked(req)
	}
	if plan == nil && s.draining {
		s.mu.Unlock()
		return nil, ErrDraining
	}
	if plan == nil {
		w := &waiter{req: req, ready: make(chan *Lease, 1), err: make(chan error, 1)}
		el := s.waiters.PushBack(w)
		if s.waiters.Len() == 1 {
			s.roomCh = make(chan struct{})
		}
		s.mu.Unlock()
		select {
		case l := <-w.ready:
			return l, nil
		case err := <-w.err:
			return nil, err
		case <-ctx.Done():
			s.mu.Lock()
			removed := false
			for e := s.waiters.Front(); e != nil; e = e.Next() {
				if e == el {
					s.waiters.Remove(el)
					removed = true
					break
				}
			}
			s.roomIfEmptyLocked()
			s.mu.Unlock()
			if !removed { // placed meanwhile: give it back
				select {
				case l := <-w.ready:
					l.Release(false)
				case <-w.err:
				}
			}
			return nil, ctx.Err()
		}
	}
	s.mu.Unlock()
	return s.carryOut(ctx, plan)
}

// placement is what placeLocked decided for one request.
type placement struct {
	req     Request
	entry   *entry
	start   Start
	unpause bool
	evict   []*entry
}

// placeLocked applies the order of preference; nil means wait.
func (s *Sandbox) placeLocked(req Request) *placement {
	key := req.key()
	// 1. A warm container of this key with spare concurrency (busy or idle, paused or not).
	var best *entry
	for e := range s.entries {
		if e.key != key || e.state == removing || e.state == stemCell || e.active >= e.maxActive || e.gone {
			continue
		}
		if e.state == starting && !(req.Concurrency > 1) {
			continue
		}
		if best == nil || e.lastUsed.After(best.lastUsed) {
			best = e
		}
	}
	if best != nil {
		p := &placement{req: req, entry: best, start: Warm, unpause: best.state == paused}
		best.active++
		if best.state == paused {
			best.state = ready
		}
		best.lastUsed = s.now()
		return p
	}
	// 2. A stem cell of the same kind and memory (the oldest first).
	var stem *entry
	for e := range s.entries {
		if e.state == stemCell && !e.gone && e.kind == req.Kind && e.memoryMB == req.MemoryMB && e.image == req.Image {
			if stem == nil || e.created.Before(stem.created) {
				stem = e
			}
		}
	}
	if stem != nil {
		stem.key, stem.state, stem.active, stem.maxActive, stem.lastUsed = key, ready, 1, req.Concurrency, s.now()
		stem.initDone = make(chan struct{})
		s.backfillLocked()
		return &placement{req: req, entry: stem, start: Prewarm}
	}
	s.recordMissLocked(req)
	// 3. Cold, if memory allows; 4. after evicting idle warm containers, LRU first.
	var evict []*entry
	if s.memUsed+req.MemoryMB > s.cfg.UserMemoryMB {
		idle := make([]*entry, 0)
		for e := range s.entries {
			if e.key != "" && e.active == 0 && (e.state == ready || e.state == paused) {
				idle = append(idle, e)
			}
		}
		sort.Slice(idle, func(i, j int) bool { return idle[i].lastUsed.Before(idle[j].lastUsed) })
		// Stem cells go last: OpenWhisk never evicts them, but a pool whose memory is all
		// stem cells of other kinds would then never run anything (an invoker with little
		// memory, or a kind the manifest does not prewarm); they are a cache, refilled later.
		var stems []*entry
		for e := range s.entries {
			if e.state == stemCell {
				stems = append(stems, e)
			}
		}
		sort.Slice(stems, func(i, j int) bool { return stems[i].created.Before(stems[j].created) })
		idle = append(idle, stems...)
		free := s.cfg.UserMemoryMB - s.memUsed
		for _, e := range idle {
			if free >= req.MemoryMB {
				break
			}
			evict = append(evict, e)
			free += e.memoryMB
		}
		if free < req.MemoryMB {
			return nil
		}
		for _, e := range evict {
			s.dropLocked(e)
		}
	}
	e := &entry{key: key, kind: req.Kind, image: req.Image, memoryMB: req.MemoryMB, state: starting, active: 1,
		maxActive: req.Concurrency, created: s.now(), lastUsed: s.now(), sentinelled: req.Sentinelled,
		initDone: make(chan struct{})}
	s.entries[e] = struct{}{}
	s.memUsed += e.memoryMB
	return &placement{req: req, entry: e, start: Cold, evict: evict}
}

// dropLocked takes an entry out of the pool and its memory out of the account; the caller
// removes the container.
func (s *Sandbox) dropLocked(e *entry) {
	if _, ok := s.entries[e]; !ok {
		return
	}
	delete(s.entries, e)
	s.memUsed -= e.memoryMB
	e.state = removing
	e.settle(false)
}

// carryOut performs a placement's docker work outside the lock.
func (s *Sandbox) carryOut(ctx context.Context, p *placement) (*Lease, error) {
	for _, e := range p.evict {
		s.removeAsync(e)
	}
	e := p.entry
	switch {
	case p.start == Cold:
		spec := s.spec(p.req.Kind, p.req.Image, p.req.MemoryMB, p.req.Namespace, p.req.ActionName, p.req.Pull, p.req.PullRequired)
		ctr, err := s.docker.Run(ctx, spec)
		if err != nil {
			s.releaseScratch(spec.Name)
			s.mu.Lock()
			delete(s.live, spec.Name)
			s.dropLocked(e)
			s.dispatchLocked()
			s.mu.Unlock()
			return nil, err
		}
		proxy, err := actionproxy.New(ctr.IP+":8080", s.cfg.Proxy)
		if err != nil {
			s.removeContainer(ctr)
			s.mu.Lock()
			s.dropLocked(e)
			s.dispatchLocked()
			s.mu.Unlock()
			return nil, err
		}
		s.mu.Lock()
		e.ctr, e.proxy, e.logs, e.state = ctr, proxy, &logCursor{path: ctr.LogPath}, ready
		e.scratchMB = memoryScratchMB(spec)
		s.mu.Unlock()
	case p.unpause:
		if err := s.docker.Unpause(ctx, e.ctr.ID); err != nil {
			s.log.Warn("unpause failed: container removed", zap.String("container", e.ctr.Name), zap.Error(err))
			s.mu.Lock()
			s.dropLocked(e)
			s.mu.Unlock()
			s.removeAsync(e)
			// The job goes back to the pool, as OpenWhisk does after a failed resume.
			return s.Acquire(ctx, p.req)
		}
	}
	if p.start == Warm {
		s.mu.Lock()
		initialized := e.initialized
		s.mu.Unlock()
		if !initialized && e.initDone != nil {
			// Another activation of this action is starting or initializing the container.
			select {
			case <-e.initDone:
			case <-ctx.Done():
				s.release(e, false)
				return nil, ctx.Err()
			}
			if !e.initOK {
				s.release(e, false)
				return nil, ErrContainerFailed
			}
		}
	}
	s.mu.Lock()
	l := &Lease{s: s, e: e, Start: p.start, Proxy: e.proxy, Name: e.ctr.Name, ID: e.ctr.ID,
		Initialized: e.initialized, Sentinelled: e.sentinelled && p.req.Concurrency == 1, ScratchMB: e.scratchMB}
	s.mu.Unlock()
	return l, nil
}

// spec builds the docker run of a container.
func (s *Sandbox) spec(kind, image string, memoryMB int, part1, part2 string, pull, pullRequired bool) docker.Spec {
	s.mu.Lock()
	s.counter++
	n := s.counter
	name := ContainerName(s.cfg.Prefix, n, part1, part2)
	s.live[name] = struct{}{}
	s.mu.Unlock()
	spec := docker.Spec{
		Name:         name,
		Image:        image,
		MemoryMB:     memoryMB,
		CPUShares:    docker.CPUShares(s.cfg.UserMemoryMB, memoryMB),
		CPUs:         docker.CPUs(s.cfg.UserCPUs, s.cfg.UserMemoryMB, memoryMB),
		Labels:       map[string]string{LabelInvoker: s.cfg.Prefix, "owinvoker.kind": kind},
		Pull:         pull,
		PullRequired: pullRequired,
	}
	if s.scratch != nil {
		tenant := part1
		if part1 == "prewarm" && part2 == kind {
			tenant = "" // a stem cell: the prewarm pool's budget
		}
		mounts, env, err := s.scratch.reserve(name, tenant, kind, memoryMB)
		if err != nil {
			s.log.Warn("no scratch", zap.String("container", name), zap.Error(err))
		} else {
			spec.Scratch, spec.Env = mounts, append(spec.Env, env...)
		}
	}
	return spec
}

// ContainerName is OpenWhisk's container name: <prefix>_<n>_<part1>_<part2>, the prefix
// keeping letters, digits, '_', '.' and '-', the parts letters, digits and '_' (spec §10.5).
func ContainerName(prefix string, n int, part1, part2 string) string {
	keep := func(s string, extra string) string {
		var b strings.Builder
		for _, r := range s {
			if (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z') || (r >= '0' && r <= '9') || r == '_' || strings.ContainsRune(extra, r) {
				b.WriteRune(r)
			}
		}
		return b.String()
	}
	return keep(prefix, ".-") + "_" + strconv.Itoa(n) + "_" + keep(part1, "") + "_" + keep(part2, "")
}

func (s *Sandbox) removeAsync(e *entry) {
	if e.proxy != nil {
		e.proxy.Close()
	}
	if e.ctr.ID == "" {
		return
	}
	ctr := e.ctr
	s.bg.Add(1)
	go func() {
		defer s.bg.Done()
		s.removeContainer(ctr)
	}()
}

// removeContainer removes a container that has left the pool. Should the engine refuse
// or be away, the container is an orphan from then on and reconcile removes it later.
func (s *Sandbox) removeContainer(ctr docker.Container) {
	s.mu.Lock()
	delete(s.live, ctr.Name)
	s.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := s.docker.Remove(ctx, ctr.ID); err != nil {
		s.log.Warn("remove container (retried by reconcile)", zap.String("container", ctr.Name), zap.Error(err))
	}
	s.releaseScratch(ctr.Name)
}

// releaseScratch returns a container's scratch; safe for containers that never got one.
func (s *Sandbox) releaseScratch(name string) {
	if s.scratch != nil && name != "" {
		s.scratch.release(name)
	}
}

// release ends one activation on a container: destroy removes it (after status 2/3
// activations, init failures, log failures), otherwise it stays warm.
func (s *Sandbox) release(e *entry, destroy bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if e.active > 0 {
		e.active--
	}
	if _, ok := s.entries[e]; !ok {
		return // already dropped
	}
	if destroy || e.gone {
		s.dropLocked(e)
		s.removeAsync(e)
	} else {
		e.lastUsed = s.now()
	}
	s.dispatchLocked()
}

// watch keeps the pool in step with the engine: a container that dies or is removed behind
// the invoker's back (docker rm -f, a crashed runtime, an operator) leaves the pool at once.
// Without this, the next activation of its action would be sent to its address, which the
// engine may meanwhile have given to another tenant's container. The stream is reopened
// after a failure, each time followed by a reconciliation against the engine's list.
func (s *Sandbox) watch() {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		<-s.stop
		cancel()
	}()
	t := time.NewTicker(s.cfg.ReconcileInterval)
	defer t.Stop()
	for ctx.Err() == nil {
		ids, errc := s.docker.Watch(ctx, LabelInvoker, s.cfg.Prefix)
		s.reconcile(ctx)
	events:
		for {
			select {
			case id, ok := <-ids:
				if !ok {
					break events
				}
				s.markGone(id)
			case <-t.C:
				s.reconcile(ctx)
			}
		}
		if err := <-errc; err != nil {
			s.log.Warn("container events", zap.Error(err))
			select {
			case <-ctx.Done():
			case <-time.After(time.Second):
			}
		}
	}
}

// reconcile marks gone every container of the pool the engine no longer runs, and removes
// every container of ours the pool does not know: one whose removal failed (the engine was
// stopping or away) or that a failed start left behind.
func (s *Sandbox) reconcile(ctx context.Context) {
	// Bounded: an engine that accepts and never answers must not stall the event loop.
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	listed, err := s.docker.List(ctx, LabelInvoker, s.cfg.Prefix)
	if err != nil {
		if ctx.Err() == nil {
			s.log.Warn("reconcile containers", zap.Error(err))
		}
		return
	}
	alive := make(map[string]bool, len(listed))
	for _, l := range listed {
		alive[l.ID] = l.State == "running" || l.State == "paused"
	}
	s.mu.Lock()
	var dead []string
	for e := range s.entries {
		if e.ctr.ID != "" && !alive[e.ctr.ID] {
			dead = append(dead, e.ctr.ID)
		}
	}
	var orphans []docker.Listed
	for _, l := range listed {
		_, known := s.live[l.Name]
		if !known && l.State != "removing" && s.named(l.Name) {
			orphans = append(orphans, l)
		}
	}
	s.mu.Unlock()
	for _, id := range dead {
		s.markGone(id)
	}
	for _, l := range orphans {
		s.log.Info("removing orphaned container", zap.String("container", l.Name), zap.String("state", l.State))
		if err := s.docker.Remove(ctx, l.ID); err != nil && ctx.Err() == nil {
			s.log.Warn("remove orphaned container", zap.String("container", l.Name), zap.Error(err))
		}
	}
}

// markGone takes a dead container out of service: an idle one leaves the pool (and its
// memory the account) now, a busy one when its activations end, which they do soon.
func (s *Sandbox) markGone(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for e := range s.entries {
		if e.ctr.ID != id || e.gone || e.state == removing {
			continue
		}
		e.gone = true
		s.log.Warn("container died or was removed by someone else", zap.String("container", e.ctr.Name), zap.Int("active", e.active))
		if e.active == 0 {
			s.dropLocked(e)
			s.removeAsync(e)
			s.dispatchLocked()
		}
		return
	}
}

// dispatchLocked places waiting requests in order, as long as the head fits.
func (s *Sandbox) dispatchLocked() {
	for s.waiters.Len() > 0 && !s.closed {
		front := s.waiters.Front()
		w := front.Value.(*waiter)
		p := s.placeLocked(w.req)
		if p == nil {
			return
		}
		s.waiters.Remove(front)
		s.bg.Add(1)
		go func() {
			defer s.bg.Done()
			l, err := s.carryOut(context.Background(), p)
			if err != nil {
				w.err <- err
				return
			}
			w.ready <- l
		}()
	}
	s.roomIfEmptyLocked()
}

func (s *Sandbox) roomIfEmptyLocked() {
	if s.waiters.Len() == 0 {
		select {
		case <-s.roomCh:
		default:
			close(s.roomCh)
		}
	}
}

// tick pauses containers idle past the pause grace, removes paused ones idle past the idle
// timeout, and refills stem cells.
func (s *Sandbox) tick() {
	now := s.now()
	var toPause, toRemove []*entry
	s.mu.Lock()
	for e := range s.entries {
		switch {
		case e.state == ready && e.active == 0 && !e.pausing && e.key != "" && now.Sub(e.lastUsed) >= s.cfg.PauseGrace:
			e.pausing = true
			toPause = append(toPause, e)
		case e.state == paused && e.active == 0 && now.Sub(e.lastUsed) >= s.cfg.IdleTimeout:
			s.dropLocked(e)
			toRemove = append(toRemove, e)
		}
	}
	s.decayMissesLocked(now)
	s.backfillLocked()
	s.mu.Unlock()
	for _, e := range toRemove {
		s.removeAsync(e)
	}
	for _, e := range toPause {
		s.pause(e)
	}
}

func (s *Sandbox) pause(e *entry) {
	if e.proxy != nil {
		e.proxy.Close() // OpenWhisk closes HTTP connections before pausing
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	err := s.docker.Pause(ctx, e.ctr.ID)
	cancel()
	s.mu.Lock()
	defer s.mu.Unlock()
	e.pausing = false
	if err != nil {
		s.log.Warn("pause failed: container removed", zap.String("container", e.ctr.Name), zap.Error(err))
		if _, ok := s.entries[e]; ok && e.active == 0 {
			s.dropLocked(e)
			s.removeAsync(e)
			s.dispatchLocked()
		}
		return
	}
	if _, ok := s.entries[e]; !ok {
		return
	}
	if e.active > 0 {
		// Work arrived while pausing: resume at once.
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			if err := s.docker.Unpause(ctx, e.ctr.ID); err != nil {
				s.log.Warn("unpause after late work", zap.String("container", e.ctr.Name), zap.Error(err))
			}
		}()
		return
	}
	e.state = paused
}

// recordMissLocked notes a cold start that a stem cell of this kind and memory would have
// avoided (Pagurus' useful part: stem cells sized from recent misses).
func (s *Sandbox) recordMissLocked(req Request) {
	if req.Kind == "" || req.Kind == "blackbox" {
		return
	}
	k := stemKey{kind: req.Kind, memoryMB: req.MemoryMB, image: req.Image}
	s.misses[k] = append(s.misses[k], s.now())
}

func (s *Sandbox) decayMissesLocked(now time.Time) {
	for k, ts := range s.misses {
		i := 0
		for i < len(ts) && now.Sub(ts[i]) > 10*time.Minute {
			i++
		}
		if i == len(ts) {
			delete(s.misses, k)
		} else {
			s.misses[k] = ts[i:]
		}
	}
}

// backfillLocked starts stem cells up to the desired counts while memory allows. The count of
// a kind from the manifest grows by recent cold-start misses (at most 2 more, and only
// for kinds the manifest prewarms).
func (s *Sandbox) backfillLocked() {
	if s.closed {
		return
	}
	have := map[stemKey]int{}
	for e := range s.entries {
		if e.key == "" && (e.state == stemCell || e.state == starting) {
			have[stemKey{kind: e.kind, memoryMB: e.memoryMB, image: e.image}]++
		}
	}
	for k, want := range s.stemWant {
		if m := len(s.misses[k]); m > 0 {
			want += min(m, 2)
		}
		for have[k] < want && s.memUsed+k.memoryMB <= s.cfg.UserMemoryMB && s.waiters.Len() == 0 {
			have[k]++
			s.startStemCellLocked(k)
		}
	}
}

func (s *Sandbox) startStemCellLocked(k stemKey) {
	e := &entry{kind: k.kind, image: k.image, memoryMB: k.memoryMB, state: starting, created: s.now(), sentinelled: true}
	s.entries[e] = struct{}{}
	s.memUsed += k.memoryMB
	s.bg.Add(1)
	go func() {
		defer s.bg.Done()
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		spec := s.spec(k.kind, k.image, k.memoryMB, "prewarm", k.kind, false, false)
		ctr, err := s.docker.Run(ctx, spec)
		s.mu.Lock()
		defer s.mu.Unlock()
		if err != nil {
			s.releaseScratch(spec.Name)
			delete(s.live, spec.Name)
			s.log.Warn("stem cell not started", zap.String("kind", k.kind), zap.Error(err))
			s.dropLocked(e)
			s.dispatchLocked()
			return
		}
		proxy, perr := actionproxy.New(ctr.IP+":8080", s.cfg.Proxy)
		if _, ok := s.entries[e]; !ok || s.closed || perr != nil {
			go s.removeContainer(ctr)
			return
		}
		e.ctr, e.proxy, e.logs, e.state = ctr, proxy, &logCursor{path: ctr.LogPath}, stemCell
		e.scratchMB = memoryScratchMB(spec)
		s.dispatchLocked()
	}()
}
