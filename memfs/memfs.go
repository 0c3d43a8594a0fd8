package memfs

import (
	"cmp"
	"errors"
	"fmt"
	"math"
	"slices"
	"time"
)

// MiB is 2^20 bytes.
const MiB = 1 << 20

// Errors the Ledger returns; callers branch on them with errors.Is.
var (
	// ErrExists: Reserve names a container that already has a reservation.
	ErrExists = errors.New("memfs: container already reserved")
	// ErrUnknown: the container has no reservation.
	ErrUnknown = errors.New("memfs: unknown container")
)

// Backing says where a container's scratch lives.
type Backing uint8

// Backings.
const (
	// Memory: a tmpfs of Decision.SizeBytes.
	Memory Backing = iota + 1
	// Disk: a per-container host directory, removed with the container.
	Disk
)

func (b Backing) String() string {
	switch b {
	case Memory:
		return "memory"
	case Disk:
		return "disk"
	}
	return fmt.Sprintf("Backing(%d)", uint8(b))
}

// Reason says why a Decision is what it is.
type Reason uint8

// Reasons.
const (
	// Fits: memory; the tenant and host budgets had room.
	Fits Reason = iota + 1
	// Shared: memory, after shrinking idle reservations of the same tenant (Decision.Shrinks).
	Shared
	// TooSmall: disk; the action's memory less its predicted heap and head-room leaves less than
	// MinBytes.
	TooSmall
	// TenantBudget: disk; the tenant's budget is spent, even counting its idle reservations.
	TenantBudget
	// HostBudget: disk; the host's scratch budget is spent.
	HostBudget
	// ShrinkFailed: disk; a shrink the memory reservation relied on failed.
	ShrinkFailed
)

func (r Reason) String() string {
	switch r {
	case Fits:
		return "fits"
	case Shared:
		return "shared"
	case TooSmall:
		return "too-small"
	case TenantBudget:
		return "tenant-budget"
	case HostBudget:
		return "host-budget"
	case ShrinkFailed:
		return "shrink-failed"
	}
	return fmt.Sprintf("Reason(%d)", uint8(r))
}

// Request asks for a new container's scratch.
type Request struct {
	Tenant      string // the namespace the container runs for
	ContainerID string
	// ActionMemoryMB is the action's memory limit (the container's memory limit).
	ActionMemoryMB int
	// PredictedHeapMB is the predicted peak memory of the action without its scratch; 0 when
	// there is no prediction (Config.UnknownHeapFraction of the action's memory is assumed).
	PredictedHeapMB int
}

// Resize changes a container's tmpfs size (a remount with size=ToBytes).
type Resize struct {
	ContainerID string
	FromBytes   int64
	ToBytes     int64
}

// Decision is where a container's scratch lives.
type Decision struct {
	ContainerID string
	Backing     Backing
	// SizeBytes is the tmpfs size for Memory; for Disk, the size memory would have had (disk
	// scratch is not limited by the ledger).
	SizeBytes int64
	Reason    Reason
	// Shrinks must all be carried out before the scratch is mounted; each failure is reported
	// with ShrinkFailed, and the Decision the last such call returns replaces this one.
	Shrinks []Resize
}

// Config tunes a Ledger. HostBytes is required; the rest have defaults.
type Config struct {
	// HostBytes is the host's budget for in-memory scratch, across all tenants.
	HostBytes int64
	// TenantBytes is each tenant's budget. Default HostBytes/4.
	TenantBytes int64
	// Tenants overrides TenantBytes per tenant; 0 puts that tenant's scratch on disk.
	Tenants map[string]int64
	// CapBytes is the largest scratch of one container. Default 256 MiB.
	CapBytes int64
	// MinBytes is the smallest in-memory scratch; less goes to disk. Default 16 MiB.
	MinBytes int64
	// HeadroomMB is kept free in the container's memory above its predicted heap. Default 32.
	HeadroomMB int
	// UnknownHeapFraction is the share of the action's memory assumed for the heap when there
	// is no prediction, in (0, 1]. Default 0.5.
	UnknownHeapFraction float64
	// SlackBytes is kept above an idle container's reported use when its reservation is
	// shrunk. Default 8 MiB.
	SlackBytes int64
	// IdleAfter is how long a container must have been idle before its reservation may be
	// shrunk. Default 0 (as soon as it is idle).
	IdleAfter time.Duration
	// NoShrink never shrinks idle reservations (for an edge that cannot remount a running
	// container's tmpfs): a container gets memory only from free budget, else disk.
	NoShrink bool
}

// Defaults of Config.
const (
	DefaultCapBytes            = 256 * MiB
	DefaultMinBytes            = 16 * MiB
	DefaultHeadroomMB          = 32
	DefaultUnknownHeapFraction = 0.5
	DefaultSlackBytes          = 8 * MiB
)

// Validate fills in the defaults and rejects contradictions.
func (c Config) Validate() (Config, error) {
	if c.TenantBytes == 0 {
		c.TenantBytes = c.HostBytes / 4
	}
	if c.CapBytes == 0 {
		c.CapBytes = DefaultCapBytes
	}
	if c.MinBytes == 0 {
		c.MinBytes = DefaultMinBytes
	}
	if c.HeadroomMB == 0 {
		c.HeadroomMB = DefaultHeadroomMB
	}
	if c.UnknownHeapFraction == 0 {
		c.UnknownHeapFraction = DefaultUnknownHeapFraction
	}
	if c.SlackBytes == 0 {
		c.SlackBytes = DefaultSlackBytes
	}
	var errs []error
	if c.HostBytes <= 0 {
		errs = append(errs, fmt.Errorf("host budget %d bytes: must be set", c.HostBytes))
	}
	if c.TenantBytes < 0 {
		errs = append(errs, fmt.Errorf("tenant budget %d bytes < 0", c.TenantBytes))
	}
	for t, b := range c.Tenants {
		if b < 0 {
			errs = append(errs, fmt.Errorf("tenant %q budget %d bytes < 0", t, b))
		}
	}
	if c.MinBytes < 0 || c.CapBytes < c.MinBytes {
		errs = append(errs, fmt.Errorf("scratch sizes: min %d, cap %d bytes: want 0 <= min <= cap", c.MinBytes, c.CapBytes))
	}
	if c.HeadroomMB < 0 {
		errs = append(errs, fmt.Errorf("head-room %d MB < 0", c.HeadroomMB))
	}
	if !(c.UnknownHeapFraction > 0 && c.UnknownHeapFraction <= 1) {
		errs = append(errs, fmt.Errorf("unknown-heap fraction %v not in (0, 1]", c.UnknownHeapFraction))
	}
	if c.SlackBytes < 0 {
		errs = append(errs, fmt.Errorf("slack %d bytes < 0", c.SlackBytes))
	}
	if c.IdleAfter < 0 {
		errs = append(errs, fmt.Errorf("idle-after %v < 0", c.IdleAfter))
	}
	if err := errors.Join(errs...); err != nil {
		return c, fmt.Errorf("memfs config: %w", err)
	}
	if c.Tenants != nil {
		// The ledger keeps its own copy: the caller's map may change.
		tenants := make(map[string]int64, len(c.Tenants))
		for t, b := range c.Tenants {
			tenants[t] = b
		}
		c.Tenants = tenants
	}
	return c, nil
}

// Ledger is the scratch ledger. See the package doc.
type Ledger struct {
	cfg        Config
	tenants    map[string]*tenant
	containers map[string]*entry
	reserved   int64 // memory reservations, all tenants
	used       int64
	memory     int // memory-backed containers
	disk       int
	counts     counts
}

type counts struct {
	diskFallbacks, enospc, shrinks, shrinkFailures uint64
}

type tenant struct {
	name     string
	budget   int64
	reserved int64
	used     int64
	memory   int
	disk     int
	entries  []*entry // the tenant's memory-backed containers
	counts   counts
}

type entry struct {
	id        string
	tenant    *tenant
	backing   Backing
	reason    Reason
	size      int64 // the reservation (memory) or the size memory would have had (disk)
	full      int64 // the size computed at Reserve; a shrunk reservation grows back towards it
	used      int64
	idle      bool
	idleSince time.Time
}

// New returns a Ledger, or an error if cfg is invalid.
func New(cfg Config) (*Ledger, error) {
	cfg, err := cfg.Validate()
	if err != nil {
		return nil, err
	}
	return &Ledger{cfg: cfg, tenants: make(map[string]*tenant), containers: make(map[string]*entry)}, nil
}

// Config returns the validated configuration in use.
func (l *Ledger) Config() Config { return l.cfg }

// SizeFor returns the scratch size a request gets in memory if the budgets allow, or 0 if it is
// too small for memory (TooSmall).
func (l *Ledger) SizeFor(req Request) int64 {
	heap := req.PredictedHeapMB
	if heap <= 0 {
		heap = int(math.Ceil(float64(req.ActionMemoryMB) * l.cfg.UnknownHeapFraction))
	}
	size := min(l.cfg.CapBytes, int64(req.ActionMemoryMB-heap-l.cfg.HeadroomMB)*MiB)
	if size < l.cfg.MinBytes || size <= 0 {
		return 0
	}
	return size
}

// Reserve decides where a new container's scratch lives and books it.
//
// Errors: ErrExists, or an invalid Request. On error nothing changes.
func (l *Ledger) Reserve(now time.Time, req Request) (Decision, error) {
	if err := validRequest(req); err != nil {
		return Decision{}, err
	}
	if _, ok := l.containers[req.ContainerID]; ok {
		return Decision{}, fmt.Errorf("reserve scratch for container %s: %w", req.ContainerID, ErrExists)
	}
	t := l.tenant(req.Tenant)
	size := l.SizeFor(req)
	e := &entry{id: req.ContainerID, tenant: t, full: size}
	l.containers[e.id] = e
	d := Decision{ContainerID: e.id, SizeBytes: size}
	if size == 0 {
		d.Backing, d.Reason = Disk, TooSmall
		l.toDisk(e, TooSmall)
		return d, nil
	}
	tenantShort := size - (t.budget - t.reserved)
	hostShort := size - (l.cfg.HostBytes - l.reserved)
	need := max(tenantShort, hostShort, 0)
	if need > 0 {
		cands, total := l.reclaimable(now, t)
		if total < need {
			d.Backing, d.Reason = Disk, TenantBudget
			if hostShort > tenantShort {
				d.Reason = HostBudget
			}
			e.size = size
			l.toDisk(e, d.Reason)
			return d, nil
		}
		for _, c := range cands {
			if need == 0 {
				break
			}
			x := min(need, c.size-l.floor(c))
			d.Shrinks = append(d.Shrinks, Resize{ContainerID: c.id, FromBytes: c.size, ToBytes: c.size - x})
			l.book(c, -x)
			need -= x
			l.counts.shrinks++
			t.counts.shrinks++
		}
		d.Reason = Shared
	} else {
		d.Reason = Fits
	}
	e.backing, e.reason = Memory, d.Reason
	t.entries = append(t.entries, e)
	t.memory++
	l.memory++
	l.book(e, size)
	d.Backing = Memory
	return d, nil
}

func validRequest(req Request) error {
	var errs []error
	if req.Tenant == "" {
		errs = append(errs, errors.New("empty tenant"))
	}
	if req.ContainerID == "" {
		errs = append(errs, errors.New("empty container id"))
	}
	if req.ActionMemoryMB <= 0 {
		errs = append(errs, fmt.Errorf("action memory %d MB <= 0", req.ActionMemoryMB))
	}
	if req.PredictedHeapMB < 0 {
		errs = append(errs, fmt.Errorf("predicted heap %d MB < 0", req.PredictedHeapMB))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("reserve scratch for container %s: %w", req.ContainerID, err)
	}
	return nil
}

func (l *Ledger) tenant(name string) *tenant {
	t := l.tenants[name]
	if t == nil {
		budget, ok := l.cfg.Tenants[name]
		if !ok {
			budget = l.cfg.TenantBytes
		}
		t = &tenant{name: name, budget: budget}
		l.tenants[name] = t
	}
	return t
}

// floor is the least an idle reservation may be shrunk to.
func (l *Ledger) floor(e *entry) int64 {
	return min(max(e.used+l.cfg.SlackBytes, l.cfg.MinBytes), e.size)
}

// reclaimable lists t's idle memory reservations that can give something back, idle longest
// first, and how much they can give in all.
func (l *Ledger) reclaimable(now time.Time, t *tenant) ([]*entry, int64) {
	var cands []*entry
	var total int64
	if l.cfg.NoShrink {
		return nil, 0
	}
	for _, e := range t.entries {
		if e.idle && now.Sub(e.idleSince) >= l.cfg.IdleAfter && e.size > l.floor(e) {
			cands = append(cands, e)
			total += e.size - l.floor(e)
		}
	}
	slices.SortFunc(cands, func(a, b *entry) int {
		return cmp.Or(a.idleSince.Compare(b.idleSince), cmp.Compare(a.id, b.id))
	})
	return cands, total
}

// book changes e's memory reservation by delta.
func (l *Ledger) book(e *entry, delta int64) {
	if e.backing == Memory {
		e.size += delta
	}
	e.tenant.reserved += delta
	l.reserved += delta
}

func (l *Ledger) toDisk(e *entry, why Reason) {
	e.backing, e.reason = Disk, why
	e.tenant.disk++
	l.disk++
	l.counts.diskFallbacks++
	e.tenant.counts.diskFallbacks++
}

// ShrinkFailed reports that a shrink from the Decision of requesterID failed; usedBytes is the
// shrunk container's scratch use now (why the remount was refused). That reservation goes back to
// its old size; if the requester's memory reservation no longer fits the budgets, it moves to disk.
// It returns the requester's decision to carry out now (without Shrinks: those already carried out
// stay).
//
// Errors: ErrUnknown when requesterID has no reservation.
func (l *Ledger) ShrinkFailed(now time.Time, requesterID string, failed Resize, usedBytes int64) (Decision, error) {
	req := l.containers[requesterID]
	if req == nil {
		return Decision{}, fmt.Errorf("shrink of %s for container %s failed: %w", failed.ContainerID, requesterID, ErrUnknown)
	}
	e := l.containers[failed.ContainerID]
	if e != nil && e.tenant != req.tenant {
		return Decision{}, fmt.Errorf("shrink of %s (tenant %s) for container %s (tenant %s) failed: not a shrink the ledger asked for",
			failed.ContainerID, e.tenant.name, requesterID, req.tenant.name)
	}
	t := req.tenant
	l.counts.shrinkFailures++
	t.counts.shrinkFailures++
	if e != nil && e.backing == Memory {
		l.setUsed(e, usedBytes)
		if e.size == failed.ToBytes && failed.FromBytes > failed.ToBytes {
			l.book(e, failed.FromBytes-failed.ToBytes)
		}
	}
	if req.backing == Memory && (t.reserved > t.budget || l.reserved > l.cfg.HostBytes) {
		l.book(req, -req.size)
		t.entries = slices.DeleteFunc(t.entries, func(x *entry) bool { return x == req })
		t.memory--
		l.memory--
		req.size = req.full
		l.toDisk(req, ShrinkFailed)
	}
	return Decision{ContainerID: req.id, Backing: req.backing, SizeBytes: req.size, Reason: req.reason}, nil
}

// Release forgets a container's scratch, when the container is removed. It reports whether the
// container had a reservation.
func (l *Ledger) Release(containerID string) bool {
	e := l.containers[containerID]
	if e == nil {
		return false
	}
	delete(l.containers, containerID)
	t := e.tenant
	l.setUsed(e, 0)
	if e.backing == Memory {
		l.book(e, -e.size)
		t.entries = slices.DeleteFunc(t.entries, func(x *entry) bool { return x == e })
		t.memory--
		l.memory--
	} else {
		t.disk--
		l.disk--
	}
	if t.memory == 0 && t.disk == 0 {
		delete(l.tenants, t.name)
	}
	return true
}

// Usage records how many bytes a container's scratch holds. It reports whether the container is
// known.
func (l *Ledger) Usage(containerID string, usedBytes int64) bool {
	e := l.containers[containerID]
	if e == nil {
		return false
	}
	l.setUsed(e, usedBytes)
	return true
}

func (l *Ledger) setUsed(e *entry, used int64) {
	used = max(used, 0)
	e.tenant.used += used - e.used
	l.used += used - e.used
	e.used = used
}

// SetIdle records that a container is idle (no activation running: its reservation may be
// shrunk for another container of its tenant) or busy. A busy container whose reservation was
// shrunk grows back towards its size as far as the budgets allow; the returned Resize (ok true)
// is to be carried out.
//
// Errors: ErrUnknown.
func (l *Ledger) SetIdle(now time.Time, containerID string, idle bool) (r Resize, ok bool, err error) {
	e := l.containers[containerID]
	if e == nil {
		return Resize{}, false, fmt.Errorf("set container %s idle=%v: %w", containerID, idle, ErrUnknown)
	}
	if idle {
		if !e.idle {
			e.idle, e.idleSince = true, now
		}
		return Resize{}, false, nil
	}
	e.idle = false
	if e.backing != Memory || e.size >= e.full {
		return Resize{}, false, nil
	}
	t := e.tenant
	grow := min(e.full-e.size, t.budget-t.reserved, l.cfg.HostBytes-l.reserved)
	if grow <= 0 {
		return Resize{}, false, nil
	}
	r = Resize{ContainerID: e.id, FromBytes: e.size, ToBytes: e.size + grow}
	l.book(e, grow)
	return r, true, nil
}

// RecordENOSPC counts a write to a container's scratch that failed for lack of space. It reports
// whether the container is known (unknown ones count in the host total only).
func (l *Ledger) RecordENOSPC(containerID string) bool {
	l.counts.enospc++
	e := l.containers[containerID]
	if e == nil {
		return false
	}
	e.tenant.counts.enospc++
	return true
}

// Snapshot is the ledger's state, for metrics. Counters are cumulative: the host's over the
// ledger's life, a tenant's while it has containers (a tenant without containers is dropped).
type Snapshot struct {
	BudgetBytes      int64
	ReservedBytes    int64
	UsedBytes        int64
	MemoryContainers int
	DiskContainers   int
	DiskFallbacks    uint64 // disk decisions, every reason
	ENOSPC           uint64
	Shrinks          uint64 // idle reservations shrunk for another container
	ShrinkFailures   uint64
	Tenants          []TenantSnapshot // by name
}

// TenantSnapshot is one tenant's part of a Snapshot.
type TenantSnapshot struct {
	Tenant           string
	BudgetBytes      int64
	ReservedBytes    int64
	UsedBytes        int64
	MemoryContainers int
	DiskContainers   int
	DiskFallbacks    uint64
	ENOSPC           uint64
	Shrinks          uint64
	ShrinkFailures   uint64
}

// Snapshot returns the ledger's state.
func (l *Ledger) Snapshot() Snapshot {
	s := Snapshot{
		BudgetBytes: l.cfg.HostBytes, ReservedBytes: l.reserved, UsedBytes: l.used,
		MemoryContainers: l.memory, DiskContainers: l.disk,
		DiskFallbacks: l.counts.diskFallbacks, ENOSPC: l.counts.enospc,
		Shrinks: l.counts.shrinks, ShrinkFailures: l.counts.shrinkFailures,
	}
	for _, t := range l.tenants {
		s.Tenants = append(s.Tenants, TenantSnapshot{
			Tenant: t.name, BudgetBytes: t.budget, ReservedBytes: t.reserved, UsedBytes: t.used,
			MemoryContainers: t.memory, DiskContainers: t.disk,
			DiskFallbacks: t.counts.diskFallbacks, ENOSPC: t.counts.enospc,
			Shrinks: t.counts.shrinks, ShrinkFailures: t.counts.shrinkFailures,
		})
	}
	slices.SortFunc(s.Tenants, func(a, b TenantSnapshot) int { return cmp.Compare(a.Tenant, b.Tenant) })
	return s
}

// Reservation returns a container's backing and size, and whether it is known.
func (l *Ledger) Reservation(containerID string) (Backing, int64, bool) {
	e := l.containers[containerID]
	if e == nil {
		return 0, 0, false
	}
	return e.backing, e.size, true
}
