package trace

import (
	"fmt"
	"math"
	"math/rand/v2"
)

// Provision is how a function's declared memory limit relates to its need.
type Provision int

const (
	RightSized Provision = iota
	OverProvisioned
	UnderProvisioned
)

func (p Provision) String() string {
	switch p {
	case RightSized:
		return "right"
	case OverProvisioned:
		return "over"
	case UnderProvisioned:
		return "under"
	}
	return fmt.Sprintf("Provision(%d)", int(p))
}

// ClassSpec is one provisioning class: the share of functions in it and the
// range of declared/need ratios it draws from.
type ClassSpec struct {
	Share     float64 // fraction of the functions, in [0, 1]
	Low, High float64 // declared limit = need × factor, factor in [Low, High]
}

// LimitConfig describes a mix of declared memory limits. Build it from
// DefaultLimitConfig and adjust.
type LimitConfig struct {
	Over, Under, Right ClassSpec
	// Quantile of the memory percentiles taken as the function's need.
	Quantile float64
	// Allowed declared values: MinMB, MinMB+StepMB, …, MaxMB (OpenWhisk's
	// memory limit range; MaxMB-MinMB must be a multiple of StepMB).
	MinMB, MaxMB, StepMB int
}

// DefaultLimitConfig is 60 % of functions over-provisioned at 2–4× their
// p99 memory, 20 % under-provisioned at 0.5–0.9× and 20 % right-sized at
// 1–1.25×, declared in steps of 32 MB within OpenWhisk's default 128–512 MB.
func DefaultLimitConfig() LimitConfig {
	return LimitConfig{
		Over:     ClassSpec{Share: 0.6, Low: 2, High: 4},
		Under:    ClassSpec{Share: 0.2, Low: 0.5, High: 0.9},
		Right:    ClassSpec{Share: 0.2, Low: 1, High: 1.25},
		Quantile: 0.99,
		MinMB:    128,
		MaxMB:    512,
		StepMB:   32,
	}
}

func (c *LimitConfig) validate() error {
	sum := 0.0
	for _, cl := range []struct {
		name string
		spec ClassSpec
	}{{"over", c.Over}, {"under", c.Under}, {"right", c.Right}} {
		s := cl.spec
		if !(s.Share >= 0 && s.Share <= 1) {
			return fmt.Errorf("%s share %v: want a fraction in [0, 1]", cl.name, s.Share)
		}
		if !(s.Low > 0 && s.Low <= s.High) || math.IsInf(s.High, 0) {
			return fmt.Errorf("%s factors [%v, %v]: want 0 < low <= high, finite", cl.name, s.Low, s.High)
		}
		sum += s.Share
	}
	if math.Abs(sum-1) > 1e-9 {
		return fmt.Errorf("shares sum to %.6g, want 1", sum)
	}
	if !(c.Quantile > 0 && c.Quantile <= 1) {
		return fmt.Errorf("quantile %v: want (0, 1]", c.Quantile)
	}
	if c.MinMB <= 0 || c.StepMB <= 0 || c.MaxMB < c.MinMB || (c.MaxMB-c.MinMB)%c.StepMB != 0 {
		return fmt.Errorf("allowed memory %d..%d step %d: want 0 < min <= max, (max-min) a multiple of step", c.MinMB, c.MaxMB, c.StepMB)
	}
	return nil
}

// Limit is the declared memory limit drawn for one function.
type Limit struct {
	Class      Provision
	NeedMB     float64 // the memory percentile at LimitConfig.Quantile
	DeclaredMB int
	// Forced is set when no allowed value lies in the class's factor range
	// for this function, nor in any other class's (e.g. a function needing
	// 20 MB: even 128 MB is more than 4× its need); DeclaredMB is then the
	// allowed value nearest to need × the drawn factor.
	Forced bool
}

// Factor is DeclaredMB/NeedMB.
func (l Limit) Factor() float64 { return float64(l.DeclaredMB) / l.NeedMB }

// DeclareLimits draws a declared memory limit for every function, in order,
// to reproduce the mis-provisioning users do: see the package doc. The
// result is a pure function of the trace, cfg and seed. It fails on an
// invalid cfg or if a function has no memory row (or a need of 0 MB).
func (t *Trace) DeclareLimits(cfg LimitConfig, seed uint64) ([]Limit, error) {
	if err := cfg.validate(); err != nil {
		return nil, fmt.Errorf("declare limits: %w", err)
	}
	n := len(t.Functions)
	need := make([]float64, n)
	for i := range t.Functions {
		f := &t.Functions[i]
		if f.Memory == nil || len(f.Memory.Percentiles) == 0 {
			return nil, fmt.Errorf("declare limits: function %d (%s) has no memory percentiles", i, f.Key)
		}
		need[i] = f.Memory.Percentiles.Value(cfg.Quantile)
		if !(need[i] > 0) {
			return nil, fmt.Errorf("declare limits: function %d (%s) needs %v MB", i, f.Key, need[i])
		}
	}
	classes := []Provision{OverProvisioned, UnderProvisioned, RightSized}
	specs := map[Provision]ClassSpec{OverProvisioned: cfg.Over, UnderProvisioned: cfg.Under, RightSized: cfg.Right}
	target := apportion(n, []float64{cfg.Over.Share, cfg.Under.Share, cfg.Right.Share})
	want := map[Provision]int{}
	for k, c := range classes {
		want[c] = target[k]
	}

	r := rand.New(rand.NewPCG(seed, streamLimits))
	order := r.Perm(n)
	out := make([]Limit, n)
	assigned := make([]bool, n)
	feasible := func(i int, c Provision) bool {
		_, ok := allowedIn(&cfg, need[i]*specs[c].Low, need[i]*specs[c].High)
		return ok
	}
	// The most constrained classes pick first, from functions that can
	// really be in them, in random order.
	for _, c := range []Provision{UnderProvisioned, RightSized, OverProvisioned} {
		for _, i := range order {
			if want[c] == 0 {
				break
			}
			if !assigned[i] && feasible(i, c) {
				out[i] = Limit{Class: c, NeedMB: need[i]}
				assigned[i] = true
				want[c]--
			}
		}
	}
	// Functions left over go where they fit, to the class furthest below
	// its share; a function that fits nowhere is forced into that class.
	for _, i := range order {
		if assigned[i] {
			continue
		}
		best, bestFits := Provision(-1), false
		for _, c := range classes {
			fits := feasible(i, c)
			if best < 0 || (fits && !bestFits) || (fits == bestFits && want[c] > want[best]) {
				best, bestFits = c, fits
			}
		}
		out[i] = Limit{Class: best, NeedMB: need[i], Forced: !bestFits}
		assigned[i] = true
		want[best]--
	}
	for i := range out {
		s := specs[out[i].Class]
		goal := need[i] * (s.Low + r.Float64()*(s.High-s.Low))
		lo, hi := need[i]*s.Low, need[i]*s.High
		if out[i].Forced {
			lo, hi = math.Inf(-1), math.Inf(1)
		}
		out[i].DeclaredMB = nearestAllowed(&cfg, goal, lo, hi)
	}
	return out, nil
}

// apportion splits n into parts proportional to shares (summing to 1) by
// largest remainder; ties go to the earlier share.
func apportion(n int, shares []float64) []int {
	out := make([]int, len(shares))
	rem := make([]float64, len(shares))
	left := n
	for k, s := range shares {
		exact := s * float64(n)
		out[k] = int(math.Floor(exact))
		rem[k] = exact - float64(out[k])
		left -= out[k]
	}
	for ; left > 0; left-- {
		best := 0
		for k := range rem {
			if rem[k] > rem[best] {
				best = k
			}
		}
		out[best]++
		rem[best] = -1
	}
	return out
}

// allowedIn returns the smallest allowed value in [lo, hi].
func allowedIn(c *LimitConfig, lo, hi float64) (int, bool) {
	v := c.MinMB
	if lo > float64(c.MinMB) {
		v = c.MinMB + int(math.Ceil((lo-float64(c.MinMB))/float64(c.StepMB)))*c.StepMB
	}
	if v > c.MaxMB || float64(v) > hi {
		return 0, false
	}
	return v, true
}

// nearestAllowed returns the allowed value in [lo, hi] nearest to goal; the
// range must hold one unless it is unbounded.
func nearestAllowed(c *LimitConfig, goal, lo, hi float64) int {
	k := math.Round((goal - float64(c.MinMB)) / float64(c.StepMB))
	steps := float64((c.MaxMB - c.MinMB) / c.StepMB)
	k = min(max(k, 0), steps)
	v := c.MinMB + int(k)*c.StepMB
	for float64(v) < lo && v+c.StepMB <= c.MaxMB {
		v += c.StepMB
	}
	for float64(v) > hi && v-c.StepMB >= c.MinMB {
		v -= c.StepMB
	}
	return v
}
