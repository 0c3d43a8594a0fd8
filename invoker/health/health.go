// Package health keeps an invoker's enabled/draining state and makes its health pings.
//
// It is pure: the caller sends the PingMessages it returns (every second while Enabled) and
// reports in-flight counts; nothing here sleeps or does IO. The Scala invoker keeps pinging
// until /disable, then sends one last ping with isEnabled=false and stops; /enable restarts
// the pings. We do the same, and on top of it a disabled invoker stops consuming new work and
// reports when the work it already has is done (State Drained).
package health

import (
	"fmt"
	"sync"

	"github.com/owinvoker/owinvoker/invoker/message"
)

// State is where an invoker stands.
type State int

const (
	// Enabled: pinging and consuming.
	Enabled State = iota
	// Draining: disabled, finishing the activations it had.
	Draining
	// Drained: disabled with nothing in flight.
	Drained
)

func (s State) String() string {
	switch s {
	case Enabled:
		return "enabled"
	case Draining:
		return "draining"
	case Drained:
		return "drained"
	}
	return fmt.Sprintf("State(%d)", int(s))
}

// Health is safe for concurrent use: the admin API, the ping loop and the activation path
// share it.
type Health struct {
	mu       sync.Mutex
	instance message.InvokerInstanceID
	enabled  bool
	inflight int
}

// New starts enabled, as the invoker does at start-up.
func New(instance message.InvokerInstanceID) *Health {
	return &Health{instance: instance, enabled: true}
}

// Name is the instance's string form used in admin replies: invoker<N>[/<uniqueName>]...
func (h *Health) Name() string { return h.instance.String() }

// Ping returns the ping to send now and whether to send it (only while enabled). lendable
// CPU (millicores) and memory (MB) are the harvester's current offer.
func (h *Health) Ping(lendableCPUMillis, lendableMemoryMB int) (message.PingMessage, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return message.PingMessage{Name: h.instance, Enabled: true,
		LendableCPUMillis: lendableCPUMillis, LendableMemoryMB: lendableMemoryMB}, h.enabled
}

// Disable stops pinging and consuming. It returns the admin reply and, when the state
// changed, the final isEnabled=false ping to send.
func (h *Health) Disable() (reply string, final *message.PingMessage) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if !h.enabled {
		return h.instance.String() + " is already disabled.", nil
	}
	h.enabled = false
	return h.instance.String() + " is now disabled.", &message.PingMessage{Name: h.instance, Enabled: false}
}

// Enable resumes pinging and consuming and returns the admin reply.
func (h *Health) Enable() string {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.enabled {
		return h.instance.String() + " is already enabled."
	}
	h.enabled = true
	return h.instance.String() + " is now enabled."
}

// Enabled reports whether the invoker takes new work.
func (h *Health) Enabled() bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.enabled
}

// Started and Finished count the activations in flight, for the drain state.
func (h *Health) Started() {
	h.mu.Lock()
	h.inflight++
	h.mu.Unlock()
}

// Finished: see Started.
func (h *Health) Finished() {
	h.mu.Lock()
	if h.inflight > 0 {
		h.inflight--
	}
	h.mu.Unlock()
}

// State returns Enabled, Draining or Drained.
func (h *Health) State() State {
	h.mu.Lock()
	defer h.mu.Unlock()
	switch {
	case h.enabled:
		return Enabled
	case h.inflight > 0:
		return Draining
	}
	return Drained
}

// InFlight is the number of activations started and not finished.
func (h *Health) InFlight() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.inflight
}
