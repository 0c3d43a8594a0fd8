package predict

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

func mustNew(t testing.TB, cfg Config) *Predictor {
	t.Helper()
	p, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

var fn = Key{Namespace: "guest", Action: "pkg/fn", Revision: "1-a"}

func TestConfigValidate(t *testing.T) {
	for _, tc := range []struct {
		cfg  Config
		want string // substring of the error, "" for none
	}{
		{Config{}, ""},
		{Config{Quantile: 1}, ""},
		{Config{Quantile: 1.5}, "quantile 1.5 not in (0, 1]"},
		{Config{Quantile: -0.5}, "quantile -0.5"},
		{Config{Quantile: math.NaN()}, "quantile NaN"},
		{Config{Window: -1}, "window -1 < 1"},
		{Config{Window: 4}, "min samples 5 not in [1, window 4]"},
		{Config{Window: 4, MinSamples: 4}, ""},
		{Config{MinSamples: -2}, "min samples -2"},
		{Config{HeadroomFraction: math.Inf(1)}, "head-room fraction +Inf"},
		{Config{MaxActions: -1}, "max actions -1"},
		{Config{MaxBuckets: -1}, "max buckets -1"},
	} {
		_, err := tc.cfg.Validate()
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("Validate(%+v) = %v, want no error", tc.cfg, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("Validate(%+v) = %v, want an error containing %q", tc.cfg, err, tc.want)
		}
	}
	got, _ := Config{HeadroomFraction: -1, MinHeadroomCPUMillis: -1, MinHeadroomMemoryMB: -1}.Validate()
	if got.HeadroomFraction != 0 || got.MinHeadroomCPUMillis != 0 || got.MinHeadroomMemoryMB != 0 {
		t.Errorf("negative head-room gave %+v, want none", got)
	}
}

func TestPredict(t *testing.T) {
	type obs struct {
		k        Key
		input    int64
		cpu, mem int
	}
	seq := func(k Key, input int64, cpus, mems []int) []obs {
		var o []obs
		for i := range cpus {
			o = append(o, obs{k: k, input: input, cpu: cpus[i], mem: mems[i]})
		}
		return o
	}
	rev2 := fn
	rev2.Revision = "2-b"
	other := Key{Namespace: "guest", Action: "other", Revision: "1-a"}
	small, large := int64(100), int64(1<<20)

	for _, tc := range []struct {
		name  string
		cfg   Config
		obs   []obs
		key   Key
		input int64
		want  Prediction
	}{
		{name: "unknown action", key: fn, input: -1},
		{name: "too few samples",
			obs: seq(fn, -1, []int{100, 100, 100, 100}, []int{50, 50, 50, 50}), key: fn, input: -1},
		{name: "exactly min samples, minimum head-room",
			obs: seq(fn, -1, []int{100, 200, 300, 400, 500}, []int{10, 20, 30, 40, 50}), key: fn, input: -1,
			// p95 of 5 values is the 5th; head-room max(10 %, 50 m) and max(10 %, 16 MB)
			want: Prediction{OK: true, CPUMillis: 550, MemoryMB: 66, PeakCPUMillis: 500, PeakMemoryMB: 50, Samples: 5}},
		{name: "fractional head-room rounds up",
			obs: seq(fn, -1, []int{1001, 1001, 1001, 1001, 1001}, []int{501, 501, 501, 501, 501}), key: fn, input: -1,
			want: Prediction{OK: true, CPUMillis: 1001 + 101, MemoryMB: 501 + 51, PeakCPUMillis: 1001, PeakMemoryMB: 501, Samples: 5}},
		{name: "p50 without head-room",
			cfg: Config{Quantile: 0.5, HeadroomFraction: -1, MinHeadroomCPUMillis: -1, MinHeadroomMemoryMB: -1},
			obs: seq(fn, -1, []int{5, 1, 4, 2, 3, 6}, []int{60, 10, 40, 20, 30, 50}), key: fn, input: -1,
			want: Prediction{OK: true, CPUMillis: 3, MemoryMB: 30, PeakCPUMillis: 3, PeakMemoryMB: 30, Samples: 6}},
		{name: "window keeps the most recent samples",
			cfg: Config{Window: 5, Quantile: 1, HeadroomFraction: -1, MinHeadroomCPUMillis: -1, MinHeadroomMemoryMB: -1},
			obs: seq(fn, -1, []int{900, 1, 2, 3, 4, 5}, []int{900, 1, 2, 3, 4, 5}), key: fn, input: -1,
			want: Prediction{OK: true, CPUMillis: 5, MemoryMB: 5, PeakCPUMillis: 5, PeakMemoryMB: 5, Samples: 5}},
		{name: "negative usage counts as zero",
			cfg: Config{Quantile: 1, MinSamples: 1, HeadroomFraction: -1, MinHeadroomCPUMillis: -1, MinHeadroomMemoryMB: -1},
			obs: seq(fn, -1, []int{-5}, []int{-5}), key: fn, input: -1,
			want: Prediction{OK: true, Samples: 1}},
		{name: "bucket with enough samples is used",
			cfg: Config{HeadroomFraction: -1, MinHeadroomCPUMillis: -1, MinHeadroomMemoryMB: -1},
			obs: append(seq(fn, small, []int{10, 10, 10, 10, 10}, []int{10, 10, 10, 10, 10}),
				seq(fn, large, []int{900, 900, 900, 900, 900}, []int{800, 800, 800, 800, 800})...),
			key: fn, input: small,
			want: Prediction{OK: true, CPUMillis: 10, MemoryMB: 10, PeakCPUMillis: 10, PeakMemoryMB: 10, Samples: 5, Bucketed: true}},
		{name: "sparse bucket falls back to the whole window",
			cfg: Config{HeadroomFraction: -1, MinHeadroomCPUMillis: -1, MinHeadroomMemoryMB: -1},
			obs: append(seq(fn, small, []int{10, 10}, []int{10, 10}),
				seq(fn, large, []int{900, 900, 900, 900, 900}, []int{800, 800, 800, 800, 800})...),
			key: fn, input: small,
			want: Prediction{OK: true, CPUMillis: 900, MemoryMB: 800, PeakCPUMillis: 900, PeakMemoryMB: 800, Samples: 7}},
		{name: "unknown input size uses the whole window",
			cfg: Config{HeadroomFraction: -1, MinHeadroomCPUMillis: -1, MinHeadroomMemoryMB: -1},
			obs: append(seq(fn, small, []int{10, 10, 10, 10, 10}, []int{10, 10, 10, 10, 10}),
				seq(fn, large, []int{900, 900, 900, 900, 900}, []int{800, 800, 800, 800, 800})...),
			key: fn, input: -1,
			want: Prediction{OK: true, CPUMillis: 900, MemoryMB: 800, PeakCPUMillis: 900, PeakMemoryMB: 800, Samples: 10}},
		{name: "buckets off",
			cfg: Config{NoSizeBuckets: true, HeadroomFraction: -1, MinHeadroomCPUMillis: -1, MinHeadroomMemoryMB: -1},
			obs: append(seq(fn, small, []int{10, 10, 10, 10, 10}, []int{10, 10, 10, 10, 10}),
				seq(fn, large, []int{900, 900, 900, 900, 900}, []int{800, 800, 800, 800, 800})...),
			key: fn, input: small,
			want: Prediction{OK: true, CPUMillis: 900, MemoryMB: 800, PeakCPUMillis: 900, PeakMemoryMB: 800, Samples: 10}},
		{name: "new revision starts fresh",
			obs: append(seq(fn, -1, []int{10, 10, 10, 10, 10}, []int{10, 10, 10, 10, 10}),
				seq(rev2, -1, []int{20, 20}, []int{20, 20})...),
			key: rev2, input: -1},
		{name: "old revision has no prediction once a new one is seen",
			obs: append(seq(fn, -1, []int{10, 10, 10, 10, 10}, []int{10, 10, 10, 10, 10}),
				seq(rev2, -1, []int{20}, []int{20})...),
			key: fn, input: -1},
		{name: "late samples of an older revision are dropped",
			cfg: Config{HeadroomFraction: -1, MinHeadroomCPUMillis: -1, MinHeadroomMemoryMB: -1},
			obs: append(seq(rev2, -1, []int{20, 20, 20, 20, 20}, []int{20, 20, 20, 20, 20}),
				seq(fn, -1, []int{999, 999, 999}, []int{999, 999, 999})...),
			key: rev2, input: -1,
			want: Prediction{OK: true, CPUMillis: 20, MemoryMB: 20, PeakCPUMillis: 20, PeakMemoryMB: 20, Samples: 5}},
		{name: "actions are separate",
			obs: seq(other, -1, []int{10, 10, 10, 10, 10}, []int{10, 10, 10, 10, 10}),
			key: fn, input: -1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := mustNew(t, tc.cfg)
			for _, o := range tc.obs {
				p.Observe(o.k, Sample{InputBytes: o.input, CPUMillis: o.cpu, MemoryMB: o.mem})
			}
			if got := p.Predict(tc.key, tc.input); got != tc.want {
				t.Errorf("Predict(%v, %d) after %d samples\n got %+v\nwant %+v", tc.key, tc.input, len(tc.obs), got, tc.want)
			}
		})
	}
}

func TestRevisionOrder(t *testing.T) {
	for _, tc := range []struct {
		a, b  string
		older bool
	}{
		{"1-a", "2-b", true},
		{"2-b", "1-a", false},
		{"9-x", "10-y", true},
		{"3-a", "3-b", false},
		{"abc", "2-b", false},
		{"1-a", "def", false},
		{"", "1-a", false},
	} {
		if got := older(tc.a, tc.b); got != tc.older {
			t.Errorf("older(%q, %q) = %v, want %v", tc.a, tc.b, got, tc.older)
		}
	}
}

func TestNewRevisionPredictForgets(t *testing.T) {
	p := mustNew(t, Config{})
	for range 5 {
		p.Observe(fn, Sample{InputBytes: -1, CPUMillis: 10, MemoryMB: 10})
	}
	rev2 := fn
	rev2.Revision = "2-b"
	if got := p.Predict(rev2, -1); got.OK {
		t.Fatalf("Predict(new revision) = %+v, want none", got)
	}
	if p.Len() != 0 {
		t.Errorf("Len() = %d after a new revision was asked for, want the old history forgotten", p.Len())
	}
	// An unordered revision string also counts as new code.
	for range 5 {
		p.Observe(fn, Sample{InputBytes: -1, CPUMillis: 10, MemoryMB: 10})
	}
	p.Observe(Key{fn.Namespace, fn.Action, "sha256:beef"}, Sample{InputBytes: -1, CPUMillis: 99, MemoryMB: 99})
	if got := p.Predict(fn, -1); got.OK {
		t.Errorf("Predict(old revision) after an unordered new one = %+v, want none", got)
	}
}

func TestLRUBound(t *testing.T) {
	p := mustNew(t, Config{MaxActions: 3, MinSamples: 1})
	key := func(i int) Key { return Key{Namespace: "ns", Action: fmt.Sprint("a", i), Revision: "1-x"} }
	for i := range 3 {
		p.Observe(key(i), Sample{InputBytes: -1, CPUMillis: 1, MemoryMB: 1})
	}
	p.Predict(key(0), -1) // 0 is now the most recently used; 1 the least
	p.Observe(key(3), Sample{InputBytes: -1, CPUMillis: 1, MemoryMB: 1})
	if p.Len() != 3 {
		t.Fatalf("Len() = %d, want 3", p.Len())
	}
	for i, want := range []bool{true, false, true, true} {
		if got := p.Predict(key(i), -1).OK; got != want {
			t.Errorf("after evicting one of 4 actions with MaxActions 3: Predict(a%d).OK = %v, want %v", i, got, want)
		}
	}
}

func TestBucketBound(t *testing.T) {
	p := mustNew(t, Config{MaxBuckets: 2, MinSamples: 1, HeadroomFraction: -1, MinHeadroomCPUMillis: -1, MinHeadroomMemoryMB: -1})
	p.Observe(fn, Sample{InputBytes: 1, CPUMillis: 1, MemoryMB: 1})       // bucket 1
	p.Observe(fn, Sample{InputBytes: 1 << 10, CPUMillis: 2, MemoryMB: 2}) // bucket 11
	p.Observe(fn, Sample{InputBytes: 1 << 20, CPUMillis: 3, MemoryMB: 3}) // bucket 21 replaces bucket 1
	if n := len(p.actions[actionName(fn)].Value.(*action).buckets); n != 2 {
		t.Fatalf("action keeps %d buckets, want 2", n)
	}
	if got := p.Predict(fn, 1); got.Bucketed {
		t.Errorf("Predict(evicted bucket) = %+v, want the whole window", got)
	}
	if got := p.Predict(fn, 1<<10); !got.Bucketed || got.CPUMillis != 2 {
		t.Errorf("Predict(kept bucket) = %+v, want its own sample", got)
	}
}

func TestSizeBucket(t *testing.T) {
	for _, tc := range []struct {
		n    int64
		want int
	}{{0, 0}, {1, 1}, {2, 2}, {3, 2}, {4, 3}, {1023, 10}, {1024, 11}, {math.MaxInt64, 63}} {
		if got := sizeBucket(tc.n); got != tc.want {
			t.Errorf("sizeBucket(%d) = %d, want %d", tc.n, got, tc.want)
		}
	}
}

// TestQuantileProperty compares the predictor with a deliberately simple reference: keep every
// sample, take the last Window, sort them and pick the nearest rank.
func TestQuantileProperty(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for iter := range 500 {
		cfg := Config{
			Quantile:   []float64{0.5, 0.9, 0.95, 0.99, 1, rng.Float64()*0.99 + 0.01}[rng.IntN(6)],
			Window:     1 + rng.IntN(40),
			MinSamples: 1,
		}
		cfg.MinSamples = 1 + rng.IntN(cfg.Window)
		p := mustNew(t, cfg)
		var cpus, mems []int
		for range rng.IntN(100) {
			c, m := rng.IntN(4000), rng.IntN(2048)
			cpus, mems = append(cpus, c), append(mems, m)
			p.Observe(fn, Sample{InputBytes: -1, CPUMillis: c, MemoryMB: m})
			got := p.Predict(fn, -1)
			want := referencePredict(p.Config(), cpus, mems)
			if got != want {
				t.Fatalf("iteration %d, config %+v, after samples cpu %v mem %v:\n got %+v\nwant %+v",
					iter, cfg, cpus, mems, got, want)
			}
		}
	}
}

func referencePredict(cfg Config, cpus, mems []int) Prediction {
	n := len(cpus)
	if n > cfg.Window {
		cpus, mems = cpus[n-cfg.Window:], mems[n-cfg.Window:]
		n = cfg.Window
	}
	if n < cfg.MinSamples {
		return Prediction{}
	}
	pick := func(vs []int) int {
		s := slices.Clone(vs)
		slices.Sort(s)
		// The smallest value v such that at least q·n values are ≤ v.
		for i, v := range s {
			if float64(i+1) >= cfg.Quantile*float64(n) {
				return v
			}
		}
		return s[n-1]
	}
	c, m := pick(cpus), pick(mems)
	room := func(v, least int) int {
		return max(int(math.Ceil(float64(v)*cfg.HeadroomFraction)), least)
	}
	return Prediction{OK: true, Samples: n, PeakCPUMillis: c, PeakMemoryMB: m,
		CPUMillis: c + room(c, cfg.MinHeadroomCPUMillis), MemoryMB: m + room(m, cfg.MinHeadroomMemoryMB)}
}

func BenchmarkObserve(b *testing.B) {
	for _, actions := range []int{1, 1000} {
		b.Run(fmt.Sprintf("actions=%d", actions), func(b *testing.B) {
			p := mustNew(b, Config{})
			keys := make([]Key, actions)
			for i := range keys {
				keys[i] = Key{Namespace: "ns", Action: fmt.Sprint("a", i), Revision: "1-x"}
			}
			i := 0
			b.ReportAllocs()
			for b.Loop() {
				p.Observe(keys[i%actions], Sample{InputBytes: int64(i % 5000), CPUMillis: i % 1000, MemoryMB: i % 512})
				i++
			}
		})
	}
}

func BenchmarkPredict(b *testing.B) {
	for _, window := range []int{16, 64, 256} {
		// Fresh: a sample arrives before every prediction, so the quantile is recomputed.
		b.Run(fmt.Sprintf("window=%d/fresh", window), func(b *testing.B) {
			p := mustNew(b, Config{Window: window, NoSizeBuckets: true})
			i := 0
			b.ReportAllocs()
			for b.Loop() {
				p.Observe(fn, Sample{InputBytes: -1, CPUMillis: i % 1000, MemoryMB: i % 512})
				p.Predict(fn, -1)
				i++
			}
		})
		b.Run(fmt.Sprintf("window=%d/cached", window), func(b *testing.B) {
			p := mustNew(b, Config{Window: window})
			for i := range window {
				p.Observe(fn, Sample{InputBytes: 100, CPUMillis: i, MemoryMB: i})
			}
			b.ReportAllocs()
			for b.Loop() {
				p.Predict(fn, 100)
			}
		})
	}
}
