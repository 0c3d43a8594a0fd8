package action

import (
	"encoding/json"
	"fmt"
)

// Standard limits, used when a document omits logs or concurrency
// (whisk.log-limit.std and whisk.concurrency-limit.std) and by the
// controller for actions created without limits.
const (
	StdTimeoutMS   = 60000
	StdMemoryMB    = 256
	StdLogsMB      = 10
	StdConcurrency = 1
)

// Limits are an action's limits (§7.2).
type Limits struct {
	TimeoutMS   int  // "timeout", required
	MemoryMB    int  // "memory", required
	LogsMB      int  // "logs"; StdLogsMB when absent
	Concurrency int  // "concurrency"; StdConcurrency when absent
	Instances   *int // "instances", FPC only; omitted when nil
}

// MarshalJSON writes the limits object, which is also the value of the
// activation's "limits" annotation.
func (l Limits) MarshalJSON() ([]byte, error) {
	return marshal(l.wire())
}

type limitsWire struct {
	Timeout     int  `json:"timeout"`
	Memory      int  `json:"memory"`
	Logs        int  `json:"logs"`
	Concurrency int  `json:"concurrency"`
	Instances   *int `json:"instances,omitempty"`
}

func (l Limits) wire() limitsWire {
	return limitsWire{l.TimeoutMS, l.MemoryMB, l.LogsMB, l.Concurrency, l.Instances}
}

// UnmarshalJSON reads limits as OpenWhisk does: timeout and memory are
// required, logs and concurrency default to the standard values, all are
// whole numbers; memory, logs and instances must not be negative. Bounds
// are not checked here: see Check.
func (l *Limits) UnmarshalJSON(raw []byte) error {
	o, err := parseObject(raw)
	if err != nil {
		return err
	}
	v := Limits{LogsMB: StdLogsMB, Concurrency: StdConcurrency}
	nonNeg := func(dst *int) func(json.RawMessage) error {
		return func(raw json.RawMessage) error {
			if err := intInto(dst)(raw); err != nil {
				return err
			}
			if *dst < 0 {
				return fmt.Errorf("negative value %d", *dst)
			}
			return nil
		}
	}
	err = first(o.req("timeout", intInto(&v.TimeoutMS)), o.req("memory", nonNeg(&v.MemoryMB)))
	if err != nil {
		return err
	}
	// Present members must be numbers: null is not "absent" here.
	if raw, ok := o["logs"]; ok {
		if err := nonNeg(&v.LogsMB)(raw); err != nil {
			return fieldError("logs", err)
		}
	}
	if raw, ok := o["concurrency"]; ok {
		if err := intInto(&v.Concurrency)(raw); err != nil {
			return fieldError("concurrency", err)
		}
	}
	if raw, ok := o["instances"]; ok {
		var n int
		if err := nonNeg(&n)(raw); err != nil {
			return fieldError("instances", err)
		}
		v.Instances = &n
	}
	*l = v
	return nil
}

// Range is an inclusive range of allowed values.
type Range struct{ Min, Max int }

// Bounds are the allowed ranges of each limit.
type Bounds struct {
	TimeoutMS   Range
	MemoryMB    Range
	LogsMB      Range
	Concurrency Range
}

// DefaultBounds returns OpenWhisk's default system limits (whisk.time-limit,
// whisk.memory, whisk.log-limit, whisk.concurrency-limit): timeout
// 100..300000 ms, memory 128..512 MB, logs 0..10 MB, concurrency 1..1.
func DefaultBounds() Bounds {
	return Bounds{
		TimeoutMS:   Range{100, 300000},
		MemoryMB:    Range{128, 512},
		LogsMB:      Range{0, 10},
		Concurrency: Range{1, 1},
	}
}

// Overrides are a namespace's own limits (the min/max action limits of its
// user limits, §2.8); nil means not set.
type Overrides struct {
	MinTimeoutMS, MaxTimeoutMS     *int
	MinMemoryMB, MaxMemoryMB       *int
	MinLogsMB, MaxLogsMB           *int
	MinConcurrency, MaxConcurrency *int
}

// Allowed returns the bounds that apply to a namespace, as OpenWhisk
// computes them: its override, or else the namespace default
// (whisk.namespace-default-limit.*, which defaults to the system bounds),
// never beyond the system bounds.
func Allowed(system, namespaceDefault Bounds, o Overrides) Bounds {
	narrow := func(sys, def Range, lo, hi *int) Range {
		r := def
		if lo != nil {
			r.Min = *lo
		}
		if hi != nil {
			r.Max = *hi
		}
		r.Min = max(r.Min, sys.Min)
		r.Max = min(r.Max, sys.Max)
		return r
	}
	return Bounds{
		TimeoutMS:   narrow(system.TimeoutMS, namespaceDefault.TimeoutMS, o.MinTimeoutMS, o.MaxTimeoutMS),
		MemoryMB:    narrow(system.MemoryMB, namespaceDefault.MemoryMB, o.MinMemoryMB, o.MaxMemoryMB),
		LogsMB:      narrow(system.LogsMB, namespaceDefault.LogsMB, o.MinLogsMB, o.MaxLogsMB),
		Concurrency: narrow(system.Concurrency, namespaceDefault.Concurrency, o.MinConcurrency, o.MaxConcurrency),
	}
}

// LimitError is a limit outside the allowed bounds. Message is OpenWhisk's
// text, which becomes the application error (status 1) of the activation,
// e.g. "memory size 1024 MB exceeds allowed threshold of 512 MB".
type LimitError struct {
	Message string
}

func (e *LimitError) Error() string { return e.Message }

// Check checks l against b in OpenWhisk's order (timeout, memory,
// concurrency, logs; maximum before minimum) and returns a *LimitError for
// the first violation.
func (l Limits) Check(b Bounds) error {
	switch {
	case l.TimeoutMS > b.TimeoutMS.Max:
		return limitErr("duration %d milliseconds exceeds allowed threshold of %d milliseconds", l.TimeoutMS, b.TimeoutMS.Max)
	case l.TimeoutMS < b.TimeoutMS.Min:
		return limitErr("duration %d milliseconds below allowed threshold of %d milliseconds", l.TimeoutMS, b.TimeoutMS.Min)
	case l.MemoryMB > b.MemoryMB.Max:
		return limitErr("memory size %d MB exceeds allowed threshold of %d MB", l.MemoryMB, b.MemoryMB.Max)
	case l.MemoryMB < b.MemoryMB.Min:
		return limitErr("memory size %d MB below allowed threshold of %d MB", l.MemoryMB, b.MemoryMB.Min)
	case l.Concurrency > b.Concurrency.Max:
		return limitErr("concurrency %d exceeds allowed threshold of %d", l.Concurrency, b.Concurrency.Max)
	case l.Concurrency < b.Concurrency.Min:
		return limitErr("concurrency %d below allowed threshold of %d", l.Concurrency, b.Concurrency.Min)
	case l.LogsMB > b.LogsMB.Max:
		return limitErr("log size %d MB exceeds allowed threshold of %d MB", l.LogsMB, b.LogsMB.Max)
	case l.LogsMB < b.LogsMB.Min:
		return limitErr("log size %d MB below allowed threshold of %d MB", l.LogsMB, b.LogsMB.Min)
	}
	return nil
}

func limitErr(format string, args ...any) error {
	return &LimitError{Message: fmt.Sprintf(format, args...)}
}
