package balancer

import "fmt"

// A Policy decides which of the probed invokers an activation goes to. The balancer
// calls it with its lock held, so a Policy must not call back into the Balancer.
type Policy interface {
	// Pick returns the index in walk of the invoker the request goes to, or -1 when no
	// candidate fits. It must return an index whose candidate fits. walk lists every
	// invoker of the request's pool (managed or blackbox) once, in OpenWhisk's probing
	// order: the home invoker first, then by the request's step size.
	Pick(req *Request, walk []Candidate) int
}

// Candidate is one invoker as a Policy sees it.
type Candidate struct {
	Invoker int
	// Fits is true when the invoker is healthy and its semaphore would grant the
	// request without forcing.
	Fits bool
	// Lendable resources as last reported by the invoker, less the extra demand of
	// activations placed on it since that report.
	LendableCPUMillis int
	LendableMemoryMB  int
}

// Sharding is OpenWhisk's ShardingContainerPoolBalancer rule: the first candidate in
// probing order that fits.
type Sharding struct{}

var _ Policy = Sharding{}

// Pick implements Policy.
func (Sharding) Pick(_ *Request, walk []Candidate) int {
	for i, c := range walk {
		if c.Fits {
			return i
		}
	}
	return -1
}

// Harvest prefers invokers that can lend what an activation is predicted to need
// beyond its allocation. Among the candidates that fit, it picks the first in probing
// order whose lendable CPU and memory both cover the request's ExtraCPUMillis and
// ExtraMemoryMB; when none covers them, it falls back to Sharding. Keeping the probing
// order among covering invokers keeps an action on its home invoker, and its warm
// containers, whenever the home invoker can serve it.
//
// When no candidate covers both, the first that covers the memory is taken (an
// activation short of memory is killed; one short of CPU is only slower).
//
// A request without predicted extra demand is covered everywhere, so it is placed
// exactly as Sharding places it. (Libra ranks invokers by demand over cover, which
// tries invokers with nothing to lend first; Harvest does not.)
type Harvest struct{}

var _ Policy = Harvest{}

// Pick implements Policy. When no invoker covers both, one that covers the memory is
// preferred: memory short of the demand is an OOM kill, CPU short of it only slowness.
func (Harvest) Pick(req *Request, walk []Candidate) int {
	for i, c := range walk {
		if c.Fits && c.LendableCPUMillis >= req.ExtraCPUMillis && c.LendableMemoryMB >= req.ExtraMemoryMB {
			return i
		}
	}
	if req.ExtraMemoryMB > 0 {
		for i, c := range walk {
			if c.Fits && c.LendableMemoryMB >= req.ExtraMemoryMB {
				return i
			}
		}
	}
	return Sharding{}.Pick(req, walk)
}

// ParsePolicy returns the policy with the given configuration name: "sharding"
// (OpenWhisk's rule) or "harvest".
func ParsePolicy(name string) (Policy, error) {
	switch name {
	case "sharding":
		return Sharding{}, nil
	case "harvest":
		return Harvest{}, nil
	}
	return nil, fmt.Errorf("unknown balancer policy %q (want sharding or harvest)", name)
}
