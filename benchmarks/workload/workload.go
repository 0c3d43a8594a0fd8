package workload

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"time"

	"github.com/owinvoker/owinvoker/benchmarks/trace"
)

// CPURange is the range busy fractions are drawn from, in cores (0 < Low ≤ High ≤ 1).
type CPURange struct{ Low, High float64 }

// Options controls Build. The zero value of each field means its default.
type Options struct {
	// Functions is the number of functions to sample (0: all of them).
	Functions int
	// Seed drives the sample, the arrivals, the limits and every draw.
	Seed uint64
	// FromMinute and Minutes cut a window of the trace (Minutes 0: to the end).
	FromMinute, Minutes int
	// Compression speeds the trace up (trace.ArrivalOptions.Compression).
	Compression float64
	// Spread lays a minute's invocations out in it (default trace.Even with a
	// random phase per function).
	Spread trace.Spread
	// Limits is the mix of declared memory limits (default trace.DefaultLimitConfig).
	Limits *trace.LimitConfig
	// MaxDuration clamps drawn run times (default 10 s).
	MaxDuration time.Duration
	// RuntimeBaseMB is what the runtime holds by itself; it is subtracted from
	// drawn memory (default 40 MB).
	RuntimeBaseMB int
	// CPU is the range of busy fractions (default 0.05–0.5).
	CPU CPURange
	// Prefix names the actions: Prefix + the function's short name (default "replay-").
	Prefix string
	// Kind of the actions (default "nodejs:20").
	Kind string
	// TimeoutMS is the actions' time limit (default 60000).
	TimeoutMS int
}

// Defaults of Options.
const (
	DefaultMaxDuration   = 10 * time.Second
	DefaultRuntimeBaseMB = 40
	DefaultPrefix        = "replay-"
	DefaultKind          = "nodejs:20"
	DefaultTimeoutMS     = 60000
)

// DefaultCPU is the default range of busy fractions.
var DefaultCPU = CPURange{Low: 0.05, High: 0.5}

func (o *Options) defaults() error {
	if o.Compression == 0 {
		o.Compression = 1
	}
	if o.Limits == nil {
		l := trace.DefaultLimitConfig()
		o.Limits = &l
	}
	if o.MaxDuration == 0 {
		o.MaxDuration = DefaultMaxDuration
	}
	if o.RuntimeBaseMB == 0 {
		o.RuntimeBaseMB = DefaultRuntimeBaseMB
	}
	if o.CPU == (CPURange{}) {
		o.CPU = DefaultCPU
	}
	if o.Prefix == "" {
		o.Prefix = DefaultPrefix
	}
	if o.Kind == "" {
		o.Kind = DefaultKind
	}
	if o.TimeoutMS == 0 {
		o.TimeoutMS = DefaultTimeoutMS
	}
	switch {
	case o.Functions < 0:
		return fmt.Errorf("functions %d < 0", o.Functions)
	case o.FromMinute < 0 || o.Minutes < 0:
		return fmt.Errorf("window from %d for %d minutes: want non-negative", o.FromMinute, o.Minutes)
	case o.MaxDuration < time.Millisecond:
		return fmt.Errorf("max duration %v < 1 ms", o.MaxDuration)
	case o.RuntimeBaseMB < 0:
		return fmt.Errorf("runtime base %d MB < 0", o.RuntimeBaseMB)
	case !(o.CPU.Low > 0 && o.CPU.Low <= o.CPU.High && o.CPU.High <= 1):
		return fmt.Errorf("cpu range [%v, %v]: want 0 < low <= high <= 1", o.CPU.Low, o.CPU.High)
	case o.TimeoutMS < 100:
		return fmt.Errorf("timeout %d ms < 100", o.TimeoutMS)
	}
	return nil
}

// Function is one action of the plan.
type Function struct {
	Name       string    // the action's name
	Key        trace.Key // the trace function it reproduces
	DeclaredMB int       // its memory limit
	Class      trace.Provision
	Forced     bool    // see trace.Limit.Forced
	NeedMB     float64 // the memory the limit was drawn against (p99 by default)
	CPU        float64 // busy fraction of one core while it runs
	Calls      int     // invocations in the plan
}

// Invocation is one call to send.
type Invocation struct {
	Seq      int           // index in Plan.Invocations
	At       time.Duration // offset from the start of the replay
	Function int           // index into Plan.Functions
	// Params are what the action reproduces.
	RunMS int     // run time when it gets all the CPU it asks for
	MB    int     // memory to touch, on top of the runtime's own
	CPU   float64 // busy fraction (the function's)
}

// Plan is a replay: actions and invocations, sorted by At.
type Plan struct {
	Functions   []Function
	Invocations []Invocation
	// Span is the length of the replayed window (minutes × compressed minute).
	Span time.Duration
	Kind string
	// TimeoutMS is every action's time limit.
	TimeoutMS int
	Options   Options
}

// Random streams, so that one draw does not shift another.
const (
	streamCPU = 0x6370752d62757379 // "cpu-busy"
	streamRun = 0x72756e2d74696d65 // "run-time"
)

// Build makes the plan for tr under opt.
func Build(tr *trace.Trace, opt Options) (*Plan, error) {
	if err := opt.defaults(); err != nil {
		return nil, fmt.Errorf("workload: %w", err)
	}
	if tr == nil || len(tr.Functions) == 0 {
		return nil, errors.New("workload: empty trace")
	}
	t := tr
	if opt.FromMinute > 0 || opt.Minutes > 0 {
		n := opt.Minutes
		if n == 0 {
			n = t.Minutes() - opt.FromMinute
		}
		w, err := t.Window(opt.FromMinute, n)
		if err != nil {
			return nil, fmt.Errorf("workload: %w", err)
		}
		t = w
	}
	if opt.Functions > 0 {
		s, err := t.Sample(opt.Functions, opt.Seed)
		if err != nil {
			return nil, fmt.Errorf("workload: %w", err)
		}
		t = s
	}
	for i := range t.Functions {
		f := &t.Functions[i]
		if f.Duration == nil || len(f.Duration.Percentiles) == 0 || f.Memory == nil || len(f.Memory.Percentiles) == 0 {
			return nil, fmt.Errorf("workload: function %s has no duration or memory percentiles (join with DropIncomplete)", f.Key)
		}
	}
	limits, err := t.DeclareLimits(*opt.Limits, opt.Seed)
	if err != nil {
		return nil, fmt.Errorf("workload: %w", err)
	}
	spread := opt.Spread
	arrivals, err := t.Arrivals(trace.ArrivalOptions{Spread: spread, Compression: opt.Compression, Seed: opt.Seed,
		RandomPhase: spread == trace.Even})
	if err != nil {
		return nil, fmt.Errorf("workload: %w", err)
	}
	minute, _ := trace.MinuteLength(opt.Compression)

	p := &Plan{Span: time.Duration(t.Minutes()) * minute, Kind: opt.Kind, TimeoutMS: opt.TimeoutMS, Options: opt}
	names := map[string]int{}
	rng := make([]*rand.Rand, len(t.Functions))
	for i := range t.Functions {
		f := &t.Functions[i]
		name := opt.Prefix + actionName(f.Key)
		if k, dup := names[name]; dup {
			return nil, fmt.Errorf("workload: functions %d and %d are both named %q", k, i, name)
		}
		names[name] = i
		seed := keyStream(f.Key)
		cpuRand := rand.New(rand.NewPCG(opt.Seed^seed, streamCPU))
		busy := opt.CPU.Low + cpuRand.Float64()*(opt.CPU.High-opt.CPU.Low)
		busy = math.Round(busy*100) / 100
		p.Functions = append(p.Functions, Function{Name: name, Key: f.Key, DeclaredMB: limits[i].DeclaredMB,
			Class: limits[i].Class, Forced: limits[i].Forced, NeedMB: limits[i].NeedMB, CPU: busy})
		rng[i] = rand.New(rand.NewPCG(opt.Seed^seed, streamRun))
	}
	p.Invocations = make([]Invocation, 0, len(arrivals))
	for _, a := range arrivals {
		f := &t.Functions[a.Function]
		r := rng[a.Function]
		run := min(f.Duration.Draw(r), opt.MaxDuration)
		mb := int(math.Round(f.Memory.Draw(r))) - opt.RuntimeBaseMB
		p.Invocations = append(p.Invocations, Invocation{Seq: len(p.Invocations), At: a.At, Function: a.Function,
			RunMS: max(1, int(run.Round(time.Millisecond)/time.Millisecond)), MB: max(0, mb), CPU: p.Functions[a.Function].CPU})
		p.Functions[a.Function].Calls++
	}
	return p, nil
}

// actionName is a function's short name made safe for an OpenWhisk entity name.
func actionName(k trace.Key) string {
	s := k.Function
	if len(s) > 12 {
		s = s[:12]
	}
	out := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' {
			out = append(out, c)
		} else {
			out = append(out, '_')
		}
	}
	if len(out) == 0 {
		return "fn"
	}
	return string(out)
}

// keyStream hashes a function key (FNV-1a) into a stream seed.
func keyStream(k trace.Key) uint64 {
	h := uint64(14695981039346656037)
	for _, s := range []string{k.Owner, k.App, k.Function} {
		for i := 0; i < len(s); i++ {
			h ^= uint64(s[i])
			h *= 1099511628211
		}
		h ^= 0xff
		h *= 1099511628211
	}
	return h
}

// OfferedCPUSeconds is the CPU time the plan asks for: Σ run time × busy fraction.
func (p *Plan) OfferedCPUSeconds() float64 {
	s := 0.0
	for _, inv := range p.Invocations {
		s += float64(inv.RunMS) / 1000 * inv.CPU
	}
	return s
}
