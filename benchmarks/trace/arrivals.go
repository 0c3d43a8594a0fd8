package trace

import (
	"cmp"
	"errors"
	"fmt"
	"hash/fnv"
	"math"
	"math/bits"
	"math/rand/v2"
	"slices"
	"time"
)

// Spread says how a minute's n invocations are placed inside the minute.
// Every spread keeps the per-minute counts exactly: the arrivals of trace
// minute m all fall inside compressed minute m.
type Spread int

const (
	// Even places the i-th of n invocations at i·60 s/n (i = 0..n-1), so the
	// first one fires on the minute boundary, as Libra's generator does but
	// without its rounding (see LibraEven). With ArrivalOptions.RandomPhase
	// each function's pattern is shifted by a random fraction of its gap.
	Even Spread = iota
	// LibraEven reproduces Libra's workload_generator.py exactly: the i-th
	// of n fires at floor(60/n)·i whole seconds. For n > 60 the step is 0
	// and every invocation of the minute fires at its start.
	LibraEven
	// Uniform places each invocation independently and uniformly at random
	// within the minute.
	Uniform
	// Poisson draws n+1 exponential gaps and scales them to fill the minute,
	// placing the invocations at the first n partial sums (In-Vitro's
	// "exponential" inter-arrival times). This is a Poisson process
	// conditioned on n arrivals in the minute, which has the same
	// distribution as Uniform; the two differ in how they use the random
	// source, so the same seed gives different times.
	Poisson
	// Exact replays the recorded start times of a 2021 trace
	// (Function.Invocations); it fails for functions without them.
	Exact
)

func (s Spread) String() string {
	switch s {
	case Even:
		return "even"
	case LibraEven:
		return "libra-even"
	case Uniform:
		return "uniform"
	case Poisson:
		return "poisson"
	case Exact:
		return "exact"
	}
	return fmt.Sprintf("Spread(%d)", int(s))
}

// ParseSpread maps the names String returns back to a Spread.
func ParseSpread(s string) (Spread, error) {
	for sp := Even; sp <= Exact; sp++ {
		if sp.String() == s {
			return sp, nil
		}
	}
	return 0, fmt.Errorf("unknown spread %q (want even, libra-even, uniform, poisson or exact)", s)
}

// ArrivalOptions controls Trace.Arrivals.
type ArrivalOptions struct {
	Spread Spread
	// Compression speeds the trace up: a trace minute lasts 60 s/Compression
	// (truncated to the nanosecond). 0 means 1 (real time). Values below 1
	// slow the trace down.
	Compression float64
	// Seed drives the random spreads and RandomPhase. Each function draws
	// from its own stream, derived from Seed and its Key, so a function's
	// arrivals do not change when other functions are added or removed.
	Seed uint64
	// RandomPhase shifts each function's Even pattern by a random fraction
	// of the gap, drawn once per function, so that functions do not all
	// fire on the minute boundary. Ignored by the other spreads.
	RandomPhase bool
}

// Arrival is one invocation to send.
type Arrival struct {
	At       time.Duration // offset from the start of the replay
	Function int           // index into Trace.Functions
	Minute   int           // index into the function's Counts
	Seq      int           // index among the function's invocations, in time order
}

// MinuteLength is the length of a trace minute under compression c (0 means
// 1); arrivals of minute m lie in [m·MinuteLength, (m+1)·MinuteLength).
func MinuteLength(c float64) (time.Duration, error) {
	if c == 0 {
		c = 1
	}
	if math.IsNaN(c) || math.IsInf(c, 0) || c < 0 {
		return 0, fmt.Errorf("compression %v: want a positive finite factor", c)
	}
	span := float64(time.Minute) / c
	if span < 1 || span >= float64(math.MaxInt64) {
		return 0, fmt.Errorf("compression %v: a minute would last %v ns", c, span)
	}
	return time.Duration(span), nil
}

// Arrivals lays out every invocation of the trace in time, sorted by At
// (ties by function index, then Seq). The result is a pure function of the
// trace and opt.
func (t *Trace) Arrivals(opt ArrivalOptions) ([]Arrival, error) {
	if err := t.Validate(); err != nil {
		return nil, fmt.Errorf("arrivals: %w", err)
	}
	span, err := MinuteLength(opt.Compression)
	if err != nil {
		return nil, fmt.Errorf("arrivals: %w", err)
	}
	if opt.Spread < Even || opt.Spread > Exact {
		return nil, fmt.Errorf("arrivals: unknown spread %v", opt.Spread)
	}
	if int64(t.Minutes()) > math.MaxInt64/int64(span)-1 {
		return nil, errors.New("arrivals: trace too long for this compression")
	}
	out := make([]Arrival, 0, t.Total())
	var offs []time.Duration
	var scratch []float64
	for fi := range t.Functions {
		f := &t.Functions[fi]
		if opt.Spread == Exact {
			if f.Invocations == nil {
				return nil, fmt.Errorf("arrivals: function %d (%s) has no recorded start times; exact spread needs a 2021 trace", fi, f.Key)
			}
			for seq, inv := range f.Invocations {
				m := int(inv.Start / time.Minute)
				out = append(out, Arrival{At: scale(m, inv.Start-time.Duration(m)*time.Minute, span), Function: fi, Minute: m, Seq: seq})
			}
			continue
		}
		r := rand.New(rand.NewPCG(opt.Seed, keyStream(f.Key)))
		phase := 0.0
		if opt.Spread == Even && opt.RandomPhase {
			phase = r.Float64()
		}
		seq := 0
		for m, n := range f.Counts {
			if n == 0 {
				continue
			}
			offs, scratch = spread(offs[:0], scratch, opt.Spread, n, phase, r)
			for _, o := range offs {
				out = append(out, Arrival{At: scale(m, o, span), Function: fi, Minute: m, Seq: seq})
				seq++
			}
		}
	}
	slices.SortFunc(out, func(a, b Arrival) int {
		return cmp.Or(cmp.Compare(a.At, b.At), cmp.Compare(a.Function, b.Function), cmp.Compare(a.Seq, b.Seq))
	})
	return out, nil
}

// spread appends n sorted offsets in [0, 1 min) to dst; scratch is reused
// between calls.
func spread(dst []time.Duration, scratch []float64, s Spread, n int, phase float64, r *rand.Rand) ([]time.Duration, []float64) {
	const minute = int64(time.Minute)
	switch s {
	case Even:
		for i := range n {
			dst = append(dst, time.Duration(math.Floor((float64(i)+phase)*float64(minute)/float64(n))))
		}
	case LibraEven:
		step := int64(60/n) * int64(time.Second)
		for i := range n {
			dst = append(dst, time.Duration(step*int64(i)))
		}
	case Uniform:
		for range n {
			dst = append(dst, time.Duration(r.Float64()*float64(minute)))
		}
		slices.Sort(dst)
	case Poisson:
		sums := slices.Grow(scratch[:0], n+1)[:n+1]
		scratch = sums
		total := 0.0
		for i := range sums {
			total += r.ExpFloat64()
			sums[i] = total
		}
		for i := range n {
			dst = append(dst, time.Duration(sums[i]/total*float64(minute)))
		}
	}
	for i := range dst {
		dst[i] = min(max(dst[i], 0), time.Minute-1)
	}
	return dst, scratch
}

// scale maps offset o (in [0, 1 min)) of trace minute m onto the compressed
// timeline: m·span + floor(o·span/1 min), which stays below (m+1)·span.
func scale(m int, o, span time.Duration) time.Duration {
	hi, lo := bits.Mul64(uint64(o), uint64(span))
	q, _ := bits.Div64(hi, lo, uint64(time.Minute))
	return time.Duration(m)*span + time.Duration(q)
}

// keyStream derives a function's random stream from its key.
func keyStream(k Key) uint64 {
	h := fnv.New64a()
	h.Write([]byte(k.Owner))
	h.Write([]byte{0})
	h.Write([]byte(k.App))
	h.Write([]byte{0})
	h.Write([]byte(k.Function))
	return h.Sum64()
}
