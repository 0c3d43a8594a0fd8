package predict

import (
	"container/list"
	"errors"
	"fmt"
	"math"
	"math/bits"
	"slices"
	"strconv"
	"strings"
)

// Key identifies an action's code: its namespace, its name (with the package, if any) and its
// document revision.
type Key struct {
	Namespace string
	Action    string
	Revision  string
}

// Sample is what one finished activation used.
type Sample struct {
	// InputBytes is the size of the activation's input (its parameters), negative if unknown.
	InputBytes int64
	// CPUMillis is the peak CPU use, in millicores.
	CPUMillis int
	// MemoryMB is the peak memory use, in MB.
	MemoryMB int
}

// Prediction is what the next activation is expected to need.
type Prediction struct {
	// OK is false when there is no prediction (too few samples, or an unknown action or
	// revision); the other fields are then zero and the activation runs at its allocation.
	OK bool
	// CPUMillis and MemoryMB are the predicted demand: the quantile of the peaks plus head-room.
	CPUMillis int
	MemoryMB  int
	// PeakCPUMillis and PeakMemoryMB are the quantile of the peaks alone.
	PeakCPUMillis int
	PeakMemoryMB  int
	// Samples is how many samples the prediction rests on.
	Samples int
	// Bucketed is true when the samples are those of the input's size bucket only.
	Bucketed bool
}

// Config tunes a Predictor. The zero value gives the defaults.
type Config struct {
	// Quantile of the peaks that is predicted, in (0, 1]. Default 0.95.
	Quantile float64
	// Window is how many recent samples each history keeps. Default 64.
	Window int
	// MinSamples is how many samples a history needs before it predicts. Default 5; at most Window.
	MinSamples int
	// HeadroomFraction is added to the quantile as a fraction of it. Default 0.10; negative
	// means none.
	HeadroomFraction float64
	// MinHeadroomCPUMillis and MinHeadroomMemoryMB are the least head-room added. Defaults 50
	// millicores and 16 MB; negative means none.
	MinHeadroomCPUMillis int
	MinHeadroomMemoryMB  int
	// MaxActions bounds how many actions are tracked. Default 4096.
	MaxActions int
	// MaxBuckets bounds how many input-size buckets each action keeps. Default 8.
	MaxBuckets int
	// NoSizeBuckets turns input-size buckets off: every prediction uses the action's whole window.
	NoSizeBuckets bool
}

// Defaults of Config.
const (
	DefaultQuantile             = 0.95
	DefaultWindow               = 64
	DefaultMinSamples           = 5
	DefaultHeadroomFraction     = 0.10
	DefaultMinHeadroomCPUMillis = 50
	DefaultMinHeadroomMemoryMB  = 16
	DefaultMaxActions           = 4096
	DefaultMaxBuckets           = 8
)

// WithDefaults returns c with every zero field set to its default and negative head-room set to
// none. It does not validate.
func (c Config) WithDefaults() Config {
	if c.Quantile == 0 {
		c.Quantile = DefaultQuantile
	}
	if c.Window == 0 {
		c.Window = DefaultWindow
	}
	if c.MinSamples == 0 {
		c.MinSamples = DefaultMinSamples
	}
	switch {
	case c.HeadroomFraction == 0:
		c.HeadroomFraction = DefaultHeadroomFraction
	case c.HeadroomFraction < 0:
		c.HeadroomFraction = 0
	}
	switch {
	case c.MinHeadroomCPUMillis == 0:
		c.MinHeadroomCPUMillis = DefaultMinHeadroomCPUMillis
	case c.MinHeadroomCPUMillis < 0:
		c.MinHeadroomCPUMillis = 0
	}
	switch {
	case c.MinHeadroomMemoryMB == 0:
		c.MinHeadroomMemoryMB = DefaultMinHeadroomMemoryMB
	case c.MinHeadroomMemoryMB < 0:
		c.MinHeadroomMemoryMB = 0
	}
	if c.MaxActions == 0 {
		c.MaxActions = DefaultMaxActions
	}
	if c.MaxBuckets == 0 {
		c.MaxBuckets = DefaultMaxBuckets
	}
	return c
}

// Validate fills in the defaults and rejects contradictions.
func (c Config) Validate() (Config, error) {
	c = c.WithDefaults()
	var errs []error
	if !(c.Quantile > 0 && c.Quantile <= 1) { // also rejects NaN
		errs = append(errs, fmt.Errorf("quantile %v not in (0, 1]", c.Quantile))
	}
	if c.Window < 1 {
		errs = append(errs, fmt.Errorf("window %d < 1", c.Window))
	}
	if c.MinSamples < 1 || c.MinSamples > c.Window {
		errs = append(errs, fmt.Errorf("min samples %d not in [1, window %d]", c.MinSamples, c.Window))
	}
	if math.IsNaN(c.HeadroomFraction) || math.IsInf(c.HeadroomFraction, 0) {
		errs = append(errs, fmt.Errorf("head-room fraction %v is not a number", c.HeadroomFraction))
	}
	if c.MaxActions < 1 {
		errs = append(errs, fmt.Errorf("max actions %d < 1", c.MaxActions))
	}
	if c.MaxBuckets < 1 {
		errs = append(errs, fmt.Errorf("max buckets %d < 1", c.MaxBuckets))
	}
	if err := errors.Join(errs...); err != nil {
		return c, fmt.Errorf("predict config: %w", err)
	}
	return c, nil
}

// Predictor predicts per-action demand from recent peaks. See the package doc.
type Predictor struct {
	cfg     Config
	actions map[name]*list.Element // → *action in lru
	lru     *list.List             // front: most recently used
	tick    uint64                 // orders bucket use within an action
	scratch []int                  // sort buffer
}

// New returns a Predictor, or an error if cfg is invalid.
func New(cfg Config) (*Predictor, error) {
	cfg, err := cfg.Validate()
	if err != nil {
		return nil, err
	}
	return &Predictor{
		cfg:     cfg,
		actions: make(map[name]*list.Element),
		lru:     list.New(),
		scratch: make([]int, 0, cfg.Window),
	}, nil
}

// Config returns the validated configuration in use.
func (p *Predictor) Config() Config { return p.cfg }

// Len returns how many actions are tracked.
func (p *Predictor) Len() int { return len(p.actions) }

// name identifies an action across its revisions.
type name struct{ namespace, action string }

type action struct {
	name     name
	revision string
	all      history
	buckets  []bucket
}

type bucket struct {
	id   int
	used uint64
	h    history
}

// history is a ring of the last len(cpu) samples with a cached prediction.
type history struct {
	cpu, mem []int
	next     int
	n        int
	cached   Prediction
	valid    bool
}

func newHistory(window int) history {
	return history{cpu: make([]int, window), mem: make([]int, window)}
}

func (h *history) add(cpu, mem int) {
	h.cpu[h.next], h.mem[h.next] = cpu, mem
	h.next = (h.next + 1) % len(h.cpu)
	h.n = min(h.n+1, len(h.cpu))
	h.valid = false
}

func actionName(k Key) name { return name{k.Namespace, k.Action} }

// Observe records what one activation of k used.
func (p *Predictor) Observe(k Key, s Sample) {
	n := actionName(k)
	a := p.lookup(n)
	switch {
	case a == nil:
		a = p.insert(n, k.Revision)
	case a.revision == k.Revision:
	case older(k.Revision, a.revision):
		return // a late activation of code that has since been replaced
	default:
		a.reset(k.Revision)
	}
	cpu, mem := max(s.CPUMillis, 0), max(s.MemoryMB, 0)
	a.all.add(cpu, mem)
	if p.cfg.NoSizeBuckets || s.InputBytes < 0 {
		return
	}
	p.tick++
	b := a.bucket(sizeBucket(s.InputBytes))
	if b == nil {
		b = p.addBucket(a, sizeBucket(s.InputBytes))
	}
	b.used = p.tick
	b.h.add(cpu, mem)
}

// Predict returns the predicted demand of an activation of k with an input of inputBytes
// (negative: unknown).
func (p *Predictor) Predict(k Key, inputBytes int64) Prediction {
	n := actionName(k)
	a := p.lookup(n)
	if a == nil {
		return Prediction{}
	}
	if a.revision != k.Revision {
		if !older(k.Revision, a.revision) {
			p.forget(n) // new code: what the old code did says nothing about it
		}
		return Prediction{}
	}
	if !p.cfg.NoSizeBuckets && inputBytes >= 0 {
		if b := a.bucket(sizeBucket(inputBytes)); b != nil && b.h.n >= p.cfg.MinSamples {
			pr := p.predict(&b.h)
			pr.Bucketed = true
			return pr
		}
	}
	if a.all.n >= p.cfg.MinSamples {
		return p.predict(&a.all)
	}
	return Prediction{}
}

// Forget drops everything learnt about k's action (all revisions), e.g. when it is deleted.
func (p *Predictor) Forget(k Key) { p.forget(actionName(k)) }

func (p *Predictor) lookup(n name) *action {
	e, ok := p.actions[n]
	if !ok {
		return nil
	}
	p.lru.MoveToFront(e)
	return e.Value.(*action)
}

func (p *Predictor) insert(n name, revision string) *action {
	for len(p.actions) >= p.cfg.MaxActions {
		oldest := p.lru.Back()
		p.forget(oldest.Value.(*action).name)
	}
	a := &action{name: n, revision: revision, all: newHistory(p.cfg.Window)}
	p.actions[n] = p.lru.PushFront(a)
	return a
}

func (p *Predictor) forget(n name) {
	if e, ok := p.actions[n]; ok {
		p.lru.Remove(e)
		delete(p.actions, n)
	}
}

func (a *action) reset(revision string) {
	a.revision = revision
	window := len(a.all.cpu)
	a.all = newHistory(window)
	a.buckets = a.buckets[:0]
}

func (a *action) bucket(id int) *bucket {
	for i := range a.buckets {
		if a.buckets[i].id == id {
			return &a.buckets[i]
		}
	}
	return nil
}

func (p *Predictor) addBucket(a *action, id int) *bucket {
	if len(a.buckets) < p.cfg.MaxBuckets {
		a.buckets = append(a.buckets, bucket{id: id, h: newHistory(p.cfg.Window)})
		return &a.buckets[len(a.buckets)-1]
	}
	lru := 0
	for i := range a.buckets {
		if a.buckets[i].used < a.buckets[lru].used {
			lru = i
		}
	}
	b := &a.buckets[lru]
	b.id = id
	clear(b.h.cpu)
	clear(b.h.mem)
	b.h.next, b.h.n, b.h.valid = 0, 0, false
	return b
}

// sizeBucket is the log2 bucket of an input size: 0 for 0, else 1 + floor(log2(n)).
func sizeBucket(n int64) int { return bits.Len64(uint64(n)) }

func (p *Predictor) predict(h *history) Prediction {
	if h.valid {
		return h.cached
	}
	peakCPU := p.quantile(h.cpu[:h.n])
	peakMem := p.quantile(h.mem[:h.n])
	h.cached = Prediction{
		OK:            true,
		CPUMillis:     peakCPU + headroom(peakCPU, p.cfg.HeadroomFraction, p.cfg.MinHeadroomCPUMillis),
		MemoryMB:      peakMem + headroom(peakMem, p.cfg.HeadroomFraction, p.cfg.MinHeadroomMemoryMB),
		PeakCPUMillis: peakCPU,
		PeakMemoryMB:  peakMem,
		Samples:       h.n,
	}
	h.valid = true
	return h.cached
}

// quantile is the nearest-rank q-quantile of vs (the ceil(q·n)-th smallest value).
func (p *Predictor) quantile(vs []int) int {
	p.scratch = append(p.scratch[:0], vs...)
	slices.Sort(p.scratch)
	return p.scratch[rank(p.cfg.Quantile, len(vs))]
}

// rank is the 0-based index of the nearest-rank q-quantile among n sorted values.
func rank(q float64, n int) int {
	r := int(math.Ceil(q*float64(n))) - 1
	return min(max(r, 0), n-1)
}

func headroom(v int, fraction float64, least int) int {
	return max(int(math.Ceil(float64(v)*fraction)), least)
}

// older reports whether revision a is known to be older than revision b: both are CouchDB
// revisions "N-hash" and a's N is smaller.
func older(a, b string) bool {
	na, okA := generation(a)
	nb, okB := generation(b)
	return okA && okB && na < nb
}

func generation(rev string) (int, bool) {
	n, _, ok := strings.Cut(rev, "-")
	if !ok {
		return 0, false
	}
	g, err := strconv.Atoi(n)
	return g, err == nil
}
