package trace

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"time"
)

// Trigger is the Azure 2019 trigger group of a function.
type Trigger string

// The seven trigger groups of the 2019 trace. The 2021 trace has no trigger;
// its functions carry the empty Trigger.
const (
	HTTP          Trigger = "http"
	Timer         Trigger = "timer"
	Event         Trigger = "event"
	Queue         Trigger = "queue"
	Storage       Trigger = "storage"
	Orchestration Trigger = "orchestration"
	Others        Trigger = "others"
)

// Known reports whether t is one of the seven trigger groups.
func (t Trigger) Known() bool {
	switch t {
	case HTTP, Timer, Event, Queue, Storage, Orchestration, Others:
		return true
	}
	return false
}

// Key identifies a function. In the 2019 files it is (HashOwner, HashApp,
// HashFunction). Libra/Freyr files name functions by benchmark app and set
// only Function; the 2021 trace sets App and Function.
type Key struct {
	Owner, App, Function string
}

// String is Function, prefixed by App when set ("app/func"); hashes are
// shortened to 8 characters so the result fits in a log line.
func (k Key) String() string {
	if k.App == "" {
		return short(k.Function)
	}
	return short(k.App) + "/" + short(k.Function)
}

func short(s string) string {
	if len(s) > 8 {
		return s[:8]
	}
	return s
}

// Point is one percentile: Q in [0,1] and the value at Q.
type Point struct {
	Q     float64
	Value float64
}

// Percentiles is a non-decreasing step of points, ordered by Q.
type Percentiles []Point

// durationQuantiles are the quantiles of the 2019 durations file:
// percentile_Average_0, _1, _25, _50, _75, _99 and _100.
func durationQuantiles() []float64 { return []float64{0, 0.01, 0.25, 0.50, 0.75, 0.99, 1} }

// memoryQuantiles are the quantiles of the 2019 memory file:
// AverageAllocatedMb_pct1, 5, 25, 50, 75, 95, 99 and 100.
func memoryQuantiles() []float64 { return []float64{0.01, 0.05, 0.25, 0.50, 0.75, 0.95, 0.99, 1} }

// Value returns the value at quantile q, interpolating linearly between the
// two neighbouring points; below the first point it is the first value and
// above the last point the last value. It returns NaN when p is empty.
func (p Percentiles) Value(q float64) float64 {
	if len(p) == 0 {
		return math.NaN()
	}
	if q <= p[0].Q {
		return p[0].Value
	}
	for i := 1; i < len(p); i++ {
		if q <= p[i].Q {
			a, b := p[i-1], p[i]
			if b.Q == a.Q {
				return b.Value
			}
			return a.Value + (q-a.Q)/(b.Q-a.Q)*(b.Value-a.Value)
		}
	}
	return p[len(p)-1].Value
}

// Draw draws one value from the distribution the percentiles describe, the
// way In-Vitro does: a uniform quantile u picks the bracket [p_i, p_i+1] that
// contains it (so each bracket is chosen with probability Q_i+1 - Q_i) and the
// value is interpolated linearly inside it. Quantiles below the first point
// return the first value (the memory files start at p1, so 1 % of the draws
// land exactly on p1, as in In-Vitro). Draw consumes exactly one Float64 from
// r and returns NaN when p is empty.
func (p Percentiles) Draw(r *rand.Rand) float64 {
	return p.Value(r.Float64())
}

// DurationStats is one row of a durations file, in milliseconds. The 2019
// values exclude cold-start time and are weighted percentiles of 30-second
// averages (see the package doc).
type DurationStats struct {
	AverageMs   float64
	Count       int
	MinimumMs   float64 // meaningful only when HasMinimum
	MaximumMs   float64 // meaningful only when HasMaximum
	HasMinimum  bool    // false when the file leaves Minimum empty
	HasMaximum  bool    // false when the file leaves Maximum empty
	Percentiles Percentiles
}

// Bounds for Duration draws, as In-Vitro clamps them.
const (
	MinDrawnDuration = time.Millisecond
	MaxDrawnDuration = time.Minute
)

// Draw draws a run time from the percentiles (see Percentiles.Draw), rounded
// to the microsecond and clamped to [MinDrawnDuration, MaxDrawnDuration].
func (d *DurationStats) Draw(r *rand.Rand) time.Duration {
	ms := d.Percentiles.Draw(r)
	v := time.Duration(math.Round(ms*1e3)) * time.Microsecond
	return min(max(v, MinDrawnDuration), MaxDrawnDuration)
}

// MemoryStats is one row of a memory file: committed memory in MB. The 2019
// file measures whole applications; see AppFunctions.
type MemoryStats struct {
	SampleCount int
	AverageMB   float64
	Percentiles Percentiles
	// AppFunctions is the number of trace functions sharing the application
	// row this came from, or 0 when the file already had one row per
	// function (In-Vitro and Libra layouts).
	AppFunctions int
	// Divided reports that the application's values were divided evenly
	// among its AppFunctions functions (JoinOptions.SplitAppMemory).
	Divided bool
}

// Bounds for Memory draws, in MB, as In-Vitro clamps them.
const (
	MinDrawnMemoryMB = 1
	MaxDrawnMemoryMB = 10240
)

// Draw draws a memory size in MB from the percentiles (see
// Percentiles.Draw), clamped to [MinDrawnMemoryMB, MaxDrawnMemoryMB].
func (m *MemoryStats) Draw(r *rand.Rand) float64 {
	return min(max(m.Percentiles.Draw(r), MinDrawnMemoryMB), MaxDrawnMemoryMB)
}

// Invocation is one exact call of the 2021 trace.
type Invocation struct {
	Start    time.Duration // since the trace's first minute
	Duration time.Duration
}

// Function is one function of a Trace.
type Function struct {
	Key
	Trigger Trigger // empty for the 2021 trace
	// Counts holds the invocations in each minute of the trace; all
	// functions of a trace have the same number of minutes.
	Counts []int
	// Duration and Memory are nil when the trace has no row for the
	// function (reported by the join).
	Duration *DurationStats
	Memory   *MemoryStats
	// InputSizes, when set, has one entry per invocation of the function, in
	// time order (Libra's input-size file).
	InputSizes []int64
	// Invocations, when set (2021 trace), lists every call sorted by start;
	// it agrees with Counts.
	Invocations []Invocation
}

// Total is the function's number of invocations.
func (f *Function) Total() int {
	n := 0
	for _, c := range f.Counts {
		n += c
	}
	return n
}

// Trace is a set of functions over a common run of minutes. Traces are
// values: the methods below return new traces and never modify the
// receiver, but results share the receiver's slices, so treat a Trace as
// read-only once built.
type Trace struct {
	// FirstMinute labels Counts[0] in the source's numbering (1 for a full
	// 2019 day, 480 for an In-Vitro excerpt starting there, 0 for 2021,
	// whose minutes count from the trace start). Arrival times are relative
	// to the start of Counts[0], whatever its label.
	FirstMinute int
	Functions   []Function
}

// Minutes is the length of the trace in minutes.
func (t *Trace) Minutes() int {
	if len(t.Functions) == 0 {
		return 0
	}
	return len(t.Functions[0].Counts)
}

// Total is the number of invocations of all functions.
func (t *Trace) Total() int {
	n := 0
	for i := range t.Functions {
		n += t.Functions[i].Total()
	}
	return n
}

// Validate checks the invariants the other methods rely on: equal minute
// counts, non-negative counts, input sizes and exact invocations that agree
// with the counts. Traces built by this package's parsers always pass.
func (t *Trace) Validate() error {
	minutes := t.Minutes()
	for i := range t.Functions {
		f := &t.Functions[i]
		if len(f.Counts) != minutes {
			return fmt.Errorf("function %d (%s): %d minutes, want %d", i, f.Key, len(f.Counts), minutes)
		}
		for m, c := range f.Counts {
			if c < 0 {
				return fmt.Errorf("function %d (%s): minute %d: negative count %d", i, f.Key, m, c)
			}
		}
		total := f.Total()
		if f.InputSizes != nil && len(f.InputSizes) != total {
			return fmt.Errorf("function %d (%s): %d input sizes for %d invocations", i, f.Key, len(f.InputSizes), total)
		}
		if f.Invocations != nil {
			if err := checkInvocations(f); err != nil {
				return fmt.Errorf("function %d (%s): %w", i, f.Key, err)
			}
		}
	}
	return nil
}

func checkInvocations(f *Function) error {
	per := make([]int, len(f.Counts))
	for k, inv := range f.Invocations {
		if k > 0 && inv.Start < f.Invocations[k-1].Start {
			return errors.New("invocations not sorted by start")
		}
		m := int(inv.Start / time.Minute)
		if inv.Start < 0 || m >= len(per) {
			return fmt.Errorf("invocation %d starts at %v, outside the trace", k, inv.Start)
		}
		per[m]++
	}
	for m := range per {
		if per[m] != f.Counts[m] {
			return fmt.Errorf("minute %d: %d invocations, count says %d", m, per[m], f.Counts[m])
		}
	}
	return nil
}

// Window returns the excerpt of minutes [from, from+minutes), counted from
// Counts[0]. Input sizes and exact invocations are cut to match and exact
// starts are shifted so the excerpt starts at zero.
func (t *Trace) Window(from, minutes int) (*Trace, error) {
	if from < 0 || minutes < 1 || from+minutes > t.Minutes() {
		return nil, fmt.Errorf("window [%d, %d) outside the trace's %d minutes", from, from+minutes, t.Minutes())
	}
	out := &Trace{FirstMinute: t.FirstMinute + from, Functions: make([]Function, len(t.Functions))}
	lo, hi := time.Duration(from)*time.Minute, time.Duration(from+minutes)*time.Minute
	for i, f := range t.Functions {
		skip, keep := 0, 0
		for _, c := range f.Counts[:from] {
			skip += c
		}
		for _, c := range f.Counts[from : from+minutes] {
			keep += c
		}
		f.Counts = f.Counts[from : from+minutes]
		if f.InputSizes != nil {
			f.InputSizes = f.InputSizes[skip : skip+keep]
		}
		if f.Invocations != nil {
			var inv []Invocation
			for _, c := range f.Invocations {
				if c.Start >= lo && c.Start < hi {
					inv = append(inv, Invocation{Start: c.Start - lo, Duration: c.Duration})
				}
			}
			if inv == nil {
				inv = []Invocation{}
			}
			f.Invocations = inv
		}
		out.Functions[i] = f
	}
	return out, nil
}

// Sample draws n distinct functions uniformly at random. The same seed
// always gives the same functions in the same order, and the draw is
// nested: Sample(n, s) is the first n functions of Sample(m, s) for m > n,
// so load grows monotonically with n (as In-Vitro's samples do). Like
// Libra, callers may map the drawn functions in order to their own apps.
func (t *Trace) Sample(n int, seed uint64) (*Trace, error) {
	if n < 0 || n > len(t.Functions) {
		return nil, fmt.Errorf("sample %d of %d functions", n, len(t.Functions))
	}
	r := rand.New(rand.NewPCG(seed, streamSample))
	idx := make([]int, len(t.Functions))
	for i := range idx {
		idx[i] = i
	}
	out := &Trace{FirstMinute: t.FirstMinute, Functions: make([]Function, n)}
	for i := range n {
		j := i + r.IntN(len(idx)-i)
		idx[i], idx[j] = idx[j], idx[i]
		out.Functions[i] = t.Functions[idx[i]]
	}
	return out, nil
}

// Filter returns the functions for which keep returns true, in order; for
// example Libra's per-minute and total invocation bounds.
func (t *Trace) Filter(keep func(*Function) bool) *Trace {
	out := &Trace{FirstMinute: t.FirstMinute}
	for i := range t.Functions {
		if keep(&t.Functions[i]) {
			out.Functions = append(out.Functions, t.Functions[i])
		}
	}
	return out
}

// WithInputSizes attaches Libra-style input sizes: one per invocation of the
// whole trace, ordered minute by minute and, within a minute, by function
// order and then by invocation. It fails unless there is exactly one size
// per invocation.
func (t *Trace) WithInputSizes(sizes []int64) (*Trace, error) {
	if total := t.Total(); len(sizes) != total {
		return nil, fmt.Errorf("input sizes: got %d, want one per invocation (%d)", len(sizes), total)
	}
	out := &Trace{FirstMinute: t.FirstMinute, Functions: make([]Function, len(t.Functions))}
	copy(out.Functions, t.Functions)
	for i := range out.Functions {
		out.Functions[i].InputSizes = make([]int64, 0, out.Functions[i].Total())
	}
	k := 0
	for m := range t.Minutes() {
		for i := range out.Functions {
			f := &out.Functions[i]
			for range f.Counts[m] {
				f.InputSizes = append(f.InputSizes, sizes[k])
				k++
			}
		}
	}
	return out, nil
}

// InputSize returns the input size of an arrival produced by t.Arrivals.
func (t *Trace) InputSize(a Arrival) (int64, bool) {
	if a.Function < 0 || a.Function >= len(t.Functions) {
		return 0, false
	}
	s := t.Functions[a.Function].InputSizes
	if a.Seq < 0 || a.Seq >= len(s) {
		return 0, false
	}
	return s[a.Seq], true
}

// Second words of the PCG seeds, one per use, so that the same user seed
// drives independent streams for sampling, limits and arrivals.
const (
	streamSample = 0x7361_6d70_6c65 // "sample"
	streamLimits = 0x6c69_6d69_7473 // "limits"
)
