package controller

import (
	"sync"

	"github.com/owinvoker/owinvoker/invoker/message"
)

// waits routes result acks to the blocking invokes waiting for them, by activation id.
type waits struct {
	mu sync.Mutex
	m  map[message.ActivationID]chan message.ActivationOrID
}

func newWaits() *waits {
	return &waits{m: map[message.ActivationID]chan message.ActivationOrID{}}
}

// add registers a wait for id, before the activation is published so that no ack can
// come too early. cancel removes it.
func (w *waits) add(id message.ActivationID) (ch <-chan message.ActivationOrID, cancel func()) {
	c := make(chan message.ActivationOrID, 1)
	w.mu.Lock()
	w.m[id] = c
	w.mu.Unlock()
	return c, func() {
		w.mu.Lock()
		if w.m[id] == c {
			delete(w.m, id)
		}
		w.mu.Unlock()
	}
}

// resolve hands a result ack to its waiter, if any, and reports whether there was one.
// The first result wins.
func (w *waits) resolve(id message.ActivationID, res message.ActivationOrID) bool {
	w.mu.Lock()
	c, ok := w.m[id]
	delete(w.m, id)
	w.mu.Unlock()
	if ok {
		c <- res
	}
	return ok
}

// len returns the number of waits, for tests and metrics.
func (w *waits) len() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.m)
}
