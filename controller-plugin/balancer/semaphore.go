package balancer

// actionKey names an action with its version: concurrency slots are shared only by
// activations of the same revision of an action.
type actionKey struct {
	action, version string
}

// slots are the concurrency slots of one action on one invoker, for an action whose
// containers run c activations at once. Every counted container contributes c slots;
// the free ones can take an activation without taking memory.
type slots struct {
	c    int
	free int // slots free in containers already counted
	ops  int // activations holding a slot
}

// semaphore is one invoker's memory semaphore with per-action concurrency slots
// (OpenWhisk's NestedSemaphore). free may go negative after forced acquisitions.
type semaphore struct {
	capacity int
	free     int
	actions  map[actionKey]*slots
}

func newSemaphore(permits int) *semaphore {
	return &semaphore{capacity: permits, free: permits, actions: map[actionKey]*slots{}}
}

// fits reports whether acquire would succeed without force.
func (s *semaphore) fits(k actionKey, c, mem int) bool {
	if c > 1 {
		if a := s.actions[k]; a != nil && a.free > 0 {
			return true
		}
	}
	return s.free >= mem
}

// acquire takes a slot for one activation: a free concurrency slot when the action
// has one, otherwise mem permits for a new container. Without force it fails when
// fewer than mem permits are free; with force it always succeeds.
func (s *semaphore) acquire(k actionKey, c, mem int, force bool) bool {
	if c <= 1 {
		if !force && s.free < mem {
			return false
		}
		s.free -= mem
		return true
	}
	a := s.actions[k]
	if a != nil && a.free > 0 {
		a.free--
		a.ops++
		return true
	}
	if !force && s.free < mem {
		return false
	}
	s.free -= mem
	if a == nil {
		a = &slots{c: c}
		s.actions[k] = a
	}
	a.free += a.c - 1 // this activation uses the container's first slot
	a.ops++
	return true
}

// release gives back what acquire took for one activation. For concurrent actions it
// returns a slot, releases a container's memory once a whole container's slots are
// free, and forgets the action when nothing of it is in flight.
func (s *semaphore) release(k actionKey, c, mem int) {
	if c <= 1 {
		s.free += mem
		return
	}
	a := s.actions[k]
	if a == nil {
		return
	}
	a.free++
	a.ops--
	if a.free%a.c == 0 {
		a.free -= a.c
		s.free += mem
	}
	if a.ops <= 0 {
		delete(s.actions, k)
	}
}
