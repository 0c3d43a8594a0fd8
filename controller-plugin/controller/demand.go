package controller

import (
	"bytes"
	"encoding/json"
	"sync"

	"github.com/owinvoker/owinvoker/invoker/message"
)

// Annotations an invoker may add to activation records to tell the harvest policy
// what an activation really used. All are optional; the controller learns an action's
// predicted extra demand from the full activations it sees in result acks and in
// records read for blocking invokes.
const (
	// AnnotationPeakMemMB is the activation's peak memory use in MB. Its excess over
	// the action's memory limit (the limits annotation) is the extra memory demand.
	AnnotationPeakMemMB = "harvest.peakMemMB"
	// AnnotationPeakCPUMillis is the activation's peak CPU use in millicores.
	AnnotationPeakCPUMillis = "harvest.peakCpuMillis"
	// AnnotationAllocCPUMillis is the CPU the activation's container was allocated, in
	// millicores. The excess of the peak over it is the extra CPU demand; without it
	// the extra CPU demand is unknown (zero).
	AnnotationAllocCPUMillis = "harvest.allocCpuMillis"
	// AnnotationCPUMs and AnnotationThrottledMS are the CPU time the activation used and
	// how long its quota held it back. A container throttled for a tenth of its run or
	// more shows no more CPU than its quota; its demand is estimated, as the invoker's
	// harvester does, as CPU time / (duration − throttled).
	AnnotationCPUMs       = "harvest.cpuMs"
	AnnotationThrottledMS = "harvest.throttledMs"
)

// demandWindow is how many recent observations per action the prediction covers.
const demandWindow = 5

// maxDemandActions bounds the actions remembered.
const maxDemandActions = 10000

// demand predicts each action's extra demand (beyond its allocation) as the largest
// extra seen in its last few activations. Zero means none or unknown.
type demand struct {
	window int
	mu     sync.Mutex
	m      map[string]*observations // by action "ns/[pkg/]name"
}

type observations struct {
	cpu, mem []int // most recent last
}

func newDemand(window int) *demand {
	return &demand{window: window, m: map[string]*observations{}}
}

// observe records the harvest annotations of a finished activation, if it has any.
func (d *demand) observe(a *message.WhiskActivation) {
	path, ok := a.Annotations.GetString(message.AnnotationPath)
	if !ok {
		return
	}
	extraCPU, extraMem := -1, -1
	var limit int64 = -1
	if raw, ok := a.Annotations.Get(message.AnnotationLimits); ok {
		var l struct {
			Memory *int64 `json:"memory"`
		}
		if json.Unmarshal(raw, &l) == nil && l.Memory != nil {
			limit = *l.Memory
		}
	}
	if peak, ok := a.Annotations.GetInt(AnnotationPeakMemMB); ok && limit >= 0 {
		extraMem = int(max(peak-limit, 0))
	}
	// Killed at its memory limit: its demand is unknown but above it. Twice the limit,
	// as the invoker's harvester learns it.
	if limit > 0 && a.Response.StatusCode == message.StatusDeveloperError && bytes.Contains(a.Response.Result, []byte(message.TextMemoryExhausted)) {
		extraMem = max(extraMem, int(limit))
	}
	if alloc, ok := a.Annotations.GetInt(AnnotationAllocCPUMillis); ok {
		if peak, ok := a.Annotations.GetInt(AnnotationPeakCPUMillis); ok {
			extraCPU = int(max(peak-alloc, 0))
		}
		used, ok1 := a.Annotations.GetInt(AnnotationCPUMs)
		throttled, ok2 := a.Annotations.GetInt(AnnotationThrottledMS)
		if ok1 && ok2 && a.Duration != nil && *a.Duration > throttled && throttled*10 >= *a.Duration {
			demand := used * 1000 / (*a.Duration - throttled)
			extraCPU = max(extraCPU, int(max(demand-alloc, 0)))
		}
	}
	if extraCPU < 0 && extraMem < 0 {
		return
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	o, ok := d.m[path]
	if !ok {
		if len(d.m) >= maxDemandActions {
			for k := range d.m { // forget an arbitrary action
				delete(d.m, k)
				break
			}
		}
		o = &observations{}
		d.m[path] = o
	}
	push := func(s []int, v int) []int {
		s = append(s, v)
		if len(s) > d.window {
			s = s[len(s)-d.window:]
		}
		return s
	}
	o.cpu = push(o.cpu, max(extraCPU, 0))
	o.mem = push(o.mem, max(extraMem, 0))
}

// predict returns the predicted extra CPU (millicores) and memory (MB) of an action.
func (d *demand) predict(path string) (cpu, mem int) {
	d.mu.Lock()
	defer d.mu.Unlock()
	o, ok := d.m[path]
	if !ok {
		return 0, 0
	}
	for _, v := range o.cpu {
		cpu = max(cpu, v)
	}
	for _, v := range o.mem {
		mem = max(mem, v)
	}
	return cpu, mem
}
