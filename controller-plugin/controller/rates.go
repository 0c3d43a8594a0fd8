package controller

import (
	"sync"
	"time"
)

// rates counts each namespace's invocations in the current clock minute, as
// OpenWhisk's RateThrottler does: the count restarts when the minute changes.
type rates struct {
	mu sync.Mutex
	m  map[string]*minuteCount
}

type minuteCount struct {
	minute int64
	count  int
}

func newRates() *rates { return &rates{m: map[string]*minuteCount{}} }

// add counts one invocation of namespace uuid at now and returns the count of its
// minute, this one included.
func (r *rates) add(uuid string, now time.Time) int {
	minute := now.UnixMilli() / 60000
	r.mu.Lock()
	defer r.mu.Unlock()
	mc, ok := r.m[uuid]
	if !ok {
		mc = &minuteCount{minute: minute}
		r.m[uuid] = mc
	}
	if mc.minute != minute {
		mc.minute, mc.count = minute, 0
	}
	mc.count++
	// Forget namespaces idle for a while so the map does not grow without bound.
	if len(r.m) > 4096 {
		for k, v := range r.m {
			if v.minute < minute-1 {
				delete(r.m, k)
			}
		}
	}
	return mc.count
}
