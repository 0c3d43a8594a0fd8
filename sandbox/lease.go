package sandbox

import (
	"context"

	"go.uber.org/zap"

	"github.com/owinvoker/owinvoker/sandbox/actionproxy"
)

// Lease is a container reserved for one activation.
type Lease struct {
	s *Sandbox
	e *entry

	Start Start
	// Proxy talks to the container's action proxy.
	Proxy *actionproxy.Client
	Name  string
	ID    string
	// Initialized: /init already ran in this container; send /run only.
	Initialized bool
	// Sentinelled: the runtime writes log sentinels and the container runs one activation at
	// a time, so logs can be attributed to this activation.
	Sentinelled bool
	// ScratchMB is the container's in-memory scratch: charged to its memory, never lendable.
	ScratchMB int
	released  bool
}

// MarkInitialized records a successful /init: the container now belongs to its action.
func (l *Lease) MarkInitialized() {
	l.s.mu.Lock()
	l.e.initialized = true
	l.s.mu.Unlock()
	l.e.settle(true)
	l.Initialized = true
}

// Logs reads this activation's log lines (spec §8.6). ok is false when collection failed
// (the container should then be destroyed).
func (l *Lease) Logs(ctx context.Context, limitBytes int64, waitSentinels, developerError bool) (lines []string, ok bool) {
	if l.e.logs == nil {
		return nil, true
	}
	return l.e.logs.collect(ctx, l.s.now, limitBytes, waitSentinels, developerError)
}

// OOMKilled reports whether the engine killed the container for running out of memory.
func (l *Lease) OOMKilled(ctx context.Context) bool {
	n, err := l.s.docker.OOMKills(ctx, l.ID)
	if err != nil {
		l.s.log.Debug("oom check", zap.Error(err))
	}
	return n > 0
}

// Release gives the container back: destroy removes it, otherwise it stays warm for the
// next activation of the same action. Release is idempotent.
func (l *Lease) Release(destroy bool) {
	if l.released {
		return
	}
	l.released = true
	l.s.release(l.e, destroy)
}
