package harvest

import "fmt"

// Resource is CPU or memory.
type Resource uint8

// Resources.
const (
	CPU Resource = iota
	Memory
)

var resources = [...]Resource{CPU, Memory}

func (r Resource) String() string {
	switch r {
	case CPU:
		return "cpu"
	case Memory:
		return "mem"
	}
	return fmt.Sprintf("Resource(%d)", uint8(r))
}

// Reason says why a container is resized. When one Resize changes both resources for different
// reasons, it carries the first of Safeguard, Restore, Reclaim, Borrow, Lend that applies.
type Reason uint8

// Reasons, from the least to the most urgent.
const (
	// Lend: a lender is shrunk to its prediction; the difference goes to the pool.
	Lend Reason = iota + 1
	// Borrow: a borrower grows beyond its allocation from the pool.
	Borrow
	// Reclaim: a borrower gives back what it borrowed (it finished, or the pool is in debt).
	Reclaim
	// Restore: a lender grows back towards its allocation because its new prediction is larger.
	Restore
	// Safeguard: a lender is put back to its full allocation at once, because it came near
	// its reduced limit or its samples stopped.
	Safeguard
)

func (r Reason) String() string {
	switch r {
	case Lend:
		return "lend"
	case Borrow:
		return "borrow"
	case Reclaim:
		return "reclaim"
	case Restore:
		return "restore"
	case Safeguard:
		return "safeguard"
	}
	return fmt.Sprintf("Reason(%d)", uint8(r))
}

// Resize asks the edge to set a running container's limits (ContainerUpdate with the CPU quota,
// memory and memory+swap). Both resources are always given; From is what the ledger believes the
// container has now. A failed update must be handed back through UpdateFailed.
type Resize struct {
	ContainerID   string
	CPUMillis     int // 0: the container has no CPU quota
	MemoryMB      int
	FromCPUMillis int
	FromMemoryMB  int
	Reason        Reason

	seq uint64 // matches a failure report with the ledger's last decision
}

// Grows reports whether the memory limit is raised (never refused by the kernel) as opposed to
// lowered (refused on cgroup v1, or an OOM kill on v2, when the container uses more).
func (r Resize) Grows() bool { return r.MemoryMB >= r.FromMemoryMB }

// EventKind classifies an Event.
type EventKind uint8

// Event kinds.
const (
	// EventLend: an activation starts as a lender of Amount.
	EventLend EventKind = iota + 1
	// EventBorrow: an activation starts with Amount borrowed from the pool.
	EventBorrow
	// EventSafeguard: a lender came near its reduced limit and got Amount back.
	EventSafeguard
	// EventStale: a lender's samples stopped; it got Amount back.
	EventStale
	// EventReclaim: a borrower gave Amount back to the pool.
	EventReclaim
	// EventDebt: the memory overcommit debt changed to Amount (see Stats).
	EventDebt
	// EventUpdateFailed: a Resize failed; the ledger rolled back Amount of the resource.
	EventUpdateFailed
)

func (k EventKind) String() string {
	switch k {
	case EventLend:
		return "lend"
	case EventBorrow:
		return "borrow"
	case EventSafeguard:
		return "safeguard"
	case EventStale:
		return "stale"
	case EventReclaim:
		return "reclaim"
	case EventDebt:
		return "debt"
	case EventUpdateFailed:
		return "update-failed"
	}
	return fmt.Sprintf("EventKind(%d)", uint8(k))
}

// Event is something for metrics and logs; nothing needs to be done about it.
type Event struct {
	Kind         EventKind
	Resource     Resource
	ContainerID  string // empty for EventDebt
	ActivationID string // the activation running in the container, if any
	Amount       int    // millicores or MB
}

// Ready is what the harvester decided since the last call to Ready.
type Ready struct {
	// Resizes to carry out, at most one per container, in the order decided.
	Resizes []Resize
	Events  []Event
}

// Empty reports whether rd holds nothing.
func (rd Ready) Empty() bool { return len(rd.Resizes) == 0 && len(rd.Events) == 0 }
