// Package supervisor is the controller's per-invoker health state machine, as
// OpenWhisk's InvokerSupervision runs it: pings keep an invoker alive, the outcomes of
// its activations decide whether it gets work, and health test actions bring it back.
//
// The Supervisor does no IO. The caller feeds it pings ([Supervisor.Ping]), the
// outcomes of completed activations ([Supervisor.Ack]) and the passing of time
// ([Supervisor.Tick], at [Supervisor.NextDeadline] at the latest), and carries out the
// [Ready] each call returns: publish the new status list to the balancer when a state
// changed, and send a health test action to every invoker listed in Ready.Tests.
//
// # The state machine
//
// An invoker is registered by its first ping and starts Unhealthy. Entering Unhealthy
// or Unresponsive sends a test action, and another one follows every TestInterval (60 s)
// while the invoker stays there. Every invoker that is not Offline goes Offline when
// PingTimeout (10 s) passes without an event for it: a ping, an outcome, or its test
// timer. A ping with isEnabled=false sends it Offline at once; an enabled ping while
// Offline makes it Unhealthy again.
//
// The last BufferSize (10) outcomes are kept in a ring. On each outcome:
//   - a Success while Unhealthy sends another test action at once;
//   - a Success while Healthy, or any outcome while Offline, changes nothing;
//   - otherwise more than ErrorTolerance (3) SystemErrors in the ring make the invoker
//     Unhealthy, else more than 3 Timeouts make it Unresponsive, else a Success makes it
//     Healthy, and a SystemError (Timeout) while the ring holds at most 3 outcomes makes
//     it Unhealthy (Unresponsive).
//
// One deliberate difference from upstream: OpenWhisk cancels the test timer on a move
// from Unresponsive to Unhealthy (its two transition handlers share one timer), so such
// an invoker gets one test action and no periodic ones. Here the timer runs in both
// states, as the protocol describes.
//
// Time only moves forward: every call first fires the timers due at or before its now
// (a now earlier than one already seen counts as that one), then handles its event. A
// Supervisor is safe for concurrent use.
package supervisor

import (
	"fmt"
	"sync"
	"time"
)

// State is an invoker's health.
type State uint8

const (
	// Offline: no ping for PingTimeout, or the invoker disabled itself.
	Offline State = iota
	// Healthy: pings arrive and activations succeed; the only usable state.
	Healthy
	// Unhealthy: pings arrive but activations fail with system errors.
	Unhealthy
	// Unresponsive: pings arrive but completion acks time out.
	Unresponsive
)

// String returns the state's name in OpenWhisk's /invokers listing.
func (s State) String() string {
	switch s {
	case Offline:
		return "down"
	case Healthy:
		return "up"
	case Unhealthy:
		return "unhealthy"
	case Unresponsive:
		return "unresponsive"
	}
	return fmt.Sprintf("State(%d)", uint8(s))
}

// Usable reports whether an invoker in this state may be given work.
func (s State) Usable() bool { return s == Healthy }

// Outcome is how an activation ended, from the invoker's health point of view.
type Outcome uint8

const (
	// Success: a completion ack without isSystemError. Application and developer
	// errors count as successes.
	Success Outcome = iota
	// SystemError: a completion ack with isSystemError (status code 3).
	SystemError
	// Timeout: the controller forced the completion because no ack came in time.
	Timeout
)

func (o Outcome) String() string {
	switch o {
	case Success:
		return "success"
	case SystemError:
		return "system-error"
	case Timeout:
		return "timeout"
	}
	return fmt.Sprintf("Outcome(%d)", uint8(o))
}

// Change is one state transition of one invoker.
type Change struct {
	Invoker  int
	From, To State
}

// Ready is what the caller must carry out after a call.
type Ready struct {
	// Changes lists state transitions in the order they happened. A newly
	// registered invoker appears as a change from Offline.
	Changes []Change
	// Tests lists the invokers to send a health test action to, one entry per
	// action, in the order they were decided.
	Tests []int
}

// Empty reports whether there is nothing to do.
func (r Ready) Empty() bool { return len(r.Changes) == 0 && len(r.Tests) == 0 }

// Config configures a Supervisor. The zero value gives OpenWhisk's values.
type Config struct {
	// PingTimeout is how long an invoker that is not Offline may go without an event
	// before it is Offline. Zero means 10 s.
	PingTimeout time.Duration
	// TestInterval is the period of test actions while Unhealthy or Unresponsive.
	// Zero means 1 minute.
	TestInterval time.Duration
	// BufferSize is the number of recent outcomes kept per invoker. Zero means 10.
	BufferSize int
	// ErrorTolerance is the number of SystemErrors (or Timeouts) in the buffer that
	// is still tolerated. Zero means 3; a negative value means none.
	ErrorTolerance int
	// MaxInvokers bounds invoker ids: Ping refuses ids at or above it, so one bad ping
	// cannot make the status list huge. Zero means 4096.
	MaxInvokers int
}

func (c *Config) validate() error {
	if c.PingTimeout == 0 {
		c.PingTimeout = 10 * time.Second
	}
	if c.TestInterval == 0 {
		c.TestInterval = time.Minute
	}
	if c.PingTimeout < 0 || c.TestInterval < 0 {
		return fmt.Errorf("supervisor config: negative ping timeout %v or test interval %v", c.PingTimeout, c.TestInterval)
	}
	if c.BufferSize == 0 {
		c.BufferSize = 10
	}
	if c.BufferSize < 0 {
		return fmt.Errorf("supervisor config: buffer size %d is negative", c.BufferSize)
	}
	if c.ErrorTolerance == 0 {
		c.ErrorTolerance = 3
	}
	c.ErrorTolerance = max(0, c.ErrorTolerance)
	if c.MaxInvokers == 0 {
		c.MaxInvokers = 4096
	}
	if c.MaxInvokers < 0 {
		return fmt.Errorf("supervisor config: max invokers %d is negative", c.MaxInvokers)
	}
	return nil
}

// invoker is the state machine of one registered invoker.
type invoker struct {
	state State
	ring  []Outcome // the last outcomes, oldest first
	// deadline is when the invoker goes Offline without another event; zero while
	// Offline.
	deadline time.Time
	// nextTest is when the next periodic test action is due; zero when the test
	// timer is off (outside Unhealthy and Unresponsive).
	nextTest time.Time
}

// Supervisor tracks the health of every invoker that has pinged.
type Supervisor struct {
	mu       sync.Mutex
	cfg      Config
	now      time.Time
	invokers []*invoker // indexed by id; nil for ids that never pinged
}

// New returns a Supervisor that knows no invokers.
func New(cfg Config) (*Supervisor, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	return &Supervisor{cfg: cfg}, nil
}

// Ping handles a ping from invoker id, registering the invoker if it is new. enabled
// is the ping's isEnabled (true when absent). It returns an error, and changes
// nothing, for an id outside [0, MaxInvokers).
func (s *Supervisor) Ping(now time.Time, id int, enabled bool) (Ready, error) {
	if id < 0 || id >= s.cfg.MaxInvokers {
		return Ready{}, fmt.Errorf("ping from invoker %d: id outside [0, %d)", id, s.cfg.MaxInvokers)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var r Ready
	now = s.advance(now, &r)
	for len(s.invokers) <= id {
		s.invokers = append(s.invokers, nil)
	}
	inv := s.invokers[id]
	if inv == nil {
		// A new invoker starts Unhealthy, as if it had just entered that state.
		inv = &invoker{state: Offline}
		s.invokers[id] = inv
		s.enter(id, inv, Unhealthy, now, &r)
	}
	switch {
	case inv.state == Offline && enabled:
		s.enter(id, inv, Unhealthy, now, &r)
	case inv.state != Offline && !enabled:
		s.enter(id, inv, Offline, now, &r)
	}
	s.touched(inv, now)
	return r, nil
}

// Ack handles the outcome of an activation that ran on invoker id: a completion ack
// (Success or SystemError from its isSystemError) for a user or health test action,
// or a Timeout when the balancer expired it. Outcomes for invokers that never pinged
// are ignored.
func (s *Supervisor) Ack(now time.Time, id int, o Outcome) Ready {
	s.mu.Lock()
	defer s.mu.Unlock()
	var r Ready
	now = s.advance(now, &r)
	if id < 0 || id >= len(s.invokers) || s.invokers[id] == nil {
		return r
	}
	inv := s.invokers[id]
	if len(inv.ring) == s.cfg.BufferSize {
		inv.ring = append(inv.ring[:0], inv.ring[1:]...)
	}
	if s.cfg.BufferSize > 0 {
		inv.ring = append(inv.ring, o)
	}

	if o == Success && inv.state == Unhealthy {
		r.Tests = append(r.Tests, id)
	}
	if !(inv.state == Healthy && o == Success) && inv.state != Offline {
		var errs, timeouts int
		for _, x := range inv.ring {
			switch x {
			case SystemError:
				errs++
			case Timeout:
				timeouts++
			}
		}
		tol := s.cfg.ErrorTolerance
		next := inv.state
		switch {
		case errs > tol:
			next = Unhealthy
		case timeouts > tol:
			next = Unresponsive
		case o == Success:
			next = Healthy
		case o == SystemError && len(inv.ring) <= tol:
			next = Unhealthy
		case o == Timeout && len(inv.ring) <= tol:
			next = Unresponsive
		}
		if next != inv.state {
			s.enter(id, inv, next, now, &r)
		}
	}
	s.touched(inv, now)
	return r
}

// Tick fires the timers due at or before now: ping timeouts and periodic test actions.
func (s *Supervisor) Tick(now time.Time) Ready {
	s.mu.Lock()
	defer s.mu.Unlock()
	var r Ready
	s.advance(now, &r)
	return r
}

// NextDeadline returns when the next timer is due, and false when none is running.
// Calling Tick then is enough to keep the state machines exact.
func (s *Supervisor) NextDeadline() (time.Time, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, _, at := s.nextTimer()
	return at, !at.IsZero()
}

// Status returns every invoker's state, indexed by id. Ids below the highest one that
// has pinged but that never pinged themselves are Offline.
func (s *Supervisor) Status() []State {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]State, len(s.invokers))
	for i, inv := range s.invokers {
		if inv != nil {
			out[i] = inv.state
		}
	}
	return out
}

// advance fires, in time order, every timer due at or before now, and returns now,
// raised to the latest time already seen.
func (s *Supervisor) advance(now time.Time, r *Ready) time.Time {
	if now.Before(s.now) {
		now = s.now
	}
	s.now = now
	for {
		id, test, at := s.nextTimer()
		if at.IsZero() || at.After(now) {
			return now
		}
		inv := s.invokers[id]
		if !test {
			s.enter(id, inv, Offline, at, r)
			continue
		}
		r.Tests = append(r.Tests, id)
		inv.nextTest = inv.nextTest.Add(s.cfg.TestInterval)
		s.touched(inv, at) // the timer's tick is an event for the invoker
	}
}

// nextTimer returns the earliest running timer: the invoker, whether it is the test
// timer (else the ping timeout), and when it is due. A ping timeout goes before a test
// timer due at the same time, and lower ids go first.
func (s *Supervisor) nextTimer() (id int, test bool, at time.Time) {
	consider := func(i int, t bool, when time.Time) {
		if when.IsZero() {
			return
		}
		if at.IsZero() || when.Before(at) {
			id, test, at = i, t, when
		}
	}
	for i, inv := range s.invokers {
		if inv == nil {
			continue
		}
		consider(i, false, inv.deadline)
		consider(i, true, inv.nextTest)
	}
	return id, test, at
}

// enter moves inv to state to at time at, and runs the transition's effects.
func (s *Supervisor) enter(id int, inv *invoker, to State, at time.Time, r *Ready) {
	r.Changes = append(r.Changes, Change{Invoker: id, From: inv.state, To: to})
	inv.state = to
	inv.nextTest = time.Time{}
	if to == Unhealthy || to == Unresponsive {
		r.Tests = append(r.Tests, id)
		inv.nextTest = at.Add(s.cfg.TestInterval)
	}
	if to == Offline {
		inv.deadline = time.Time{}
	}
}

// touched restarts inv's ping timeout after an event at time at.
func (s *Supervisor) touched(inv *invoker, at time.Time) {
	if inv.state == Offline {
		inv.deadline = time.Time{}
		return
	}
	inv.deadline = at.Add(s.cfg.PingTimeout)
}
