package trace

import (
	"math"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"testing"
)

func withNeeds(needs ...float64) *Trace {
	tr := &Trace{}
	for i, n := range needs {
		tr.Functions = append(tr.Functions, Function{
			Key:    Key{Function: string(rune('a' + i%26))},
			Counts: []int{1},
			Memory: &MemoryStats{Percentiles: Percentiles{{0.01, n / 2}, {0.99, n}, {1, n * 1.1}}},
		})
	}
	return tr
}

func specOf(cfg LimitConfig, c Provision) ClassSpec {
	switch c {
	case OverProvisioned:
		return cfg.Over
	case UnderProvisioned:
		return cfg.Under
	}
	return cfg.Right
}

// checkLimits verifies what holds for any trace: allowed values only,
// non-forced factors inside their class, forced only when nothing fits.
func checkLimits(t *testing.T, tr *Trace, cfg LimitConfig, limits []Limit) {
	t.Helper()
	if len(limits) != len(tr.Functions) {
		t.Fatalf("%d limits for %d functions", len(limits), len(tr.Functions))
	}
	for i, l := range limits {
		if l.DeclaredMB < cfg.MinMB || l.DeclaredMB > cfg.MaxMB || (l.DeclaredMB-cfg.MinMB)%cfg.StepMB != 0 {
			t.Errorf("function %d: declared %d MB is not an allowed value", i, l.DeclaredMB)
		}
		if want := tr.Functions[i].Memory.Percentiles.Value(cfg.Quantile); l.NeedMB != want {
			t.Errorf("function %d: need %v, want p%g %v", i, l.NeedMB, cfg.Quantile*100, want)
		}
		fitsAny := false
		for _, c := range []Provision{OverProvisioned, UnderProvisioned, RightSized} {
			s := specOf(cfg, c)
			if _, ok := allowedIn(&cfg, l.NeedMB*s.Low, l.NeedMB*s.High); ok {
				fitsAny = true
			}
		}
		s := specOf(cfg, l.Class)
		if l.Forced {
			if fitsAny {
				t.Errorf("function %d (need %v MB) forced although some class fits", i, l.NeedMB)
			}
			continue
		}
		if f := l.Factor(); f < s.Low-1e-9 || f > s.High+1e-9 {
			t.Errorf("function %d: %v class factor %.3f (%d/%v MB) outside [%v, %v]", i, l.Class, f, l.DeclaredMB, l.NeedMB, s.Low, s.High)
		}
	}
}

func classCounts(limits []Limit) map[Provision]int {
	out := map[Provision]int{}
	for _, l := range limits {
		out[l.Class]++
	}
	return out
}

func TestDeclareLimitsFullDay(t *testing.T) {
	tr, _ := load2019(t, "invitro-azure2019-10fn-fullday", JoinOptions{})
	cfg := DefaultLimitConfig()
	limits, err := tr.DeclareLimits(cfg, 7)
	if err != nil {
		t.Fatal(err)
	}
	checkLimits(t, tr, cfg, limits)
	// p99 needs are 155..396 MB: every class can be filled exactly.
	if got, want := classCounts(limits), map[Provision]int{OverProvisioned: 6, UnderProvisioned: 2, RightSized: 2}; !reflect.DeepEqual(got, want) {
		t.Errorf("classes %v, want %v", got, want)
	}
	for i, l := range limits {
		if l.Forced {
			t.Errorf("function %d forced", i)
		}
		// 396 MB cannot be doubled within 512 MB.
		if l.NeedMB > 256 && l.Class == OverProvisioned {
			t.Errorf("function %d needing %v MB is over-provisioned within 512 MB", i, l.NeedMB)
		}
	}
	again, _ := tr.DeclareLimits(cfg, 7)
	if !reflect.DeepEqual(limits, again) {
		t.Error("same seed, different limits")
	}
	other, _ := tr.DeclareLimits(cfg, 8)
	if reflect.DeepEqual(limits, other) {
		t.Error("seeds 7 and 8 gave the same limits")
	}
}

// Small needs cannot be under-provisioned or right-sized above a 128 MB
// floor, and tiny ones fit no class at all: the mix shifts and says so.
func TestDeclareLimitsSmallNeeds(t *testing.T) {
	cfg := DefaultLimitConfig()
	tr := withNeeds(10, 20, 40, 60, 80, 110, 150, 200, 300, 600)
	limits, err := tr.DeclareLimits(cfg, 1)
	if err != nil {
		t.Fatal(err)
	}
	checkLimits(t, tr, cfg, limits)
	byNeed := map[float64]Limit{}
	for _, l := range limits {
		byNeed[l.NeedMB] = l
	}
	for _, need := range []float64{10, 20} {
		if l := byNeed[need]; !l.Forced || l.DeclaredMB != 128 {
			t.Errorf("need %v MB: %+v, want forced at 128 MB", need, l)
		}
	}
	for _, need := range []float64{40, 60} {
		if l := byNeed[need]; l.Forced || l.Class != OverProvisioned {
			t.Errorf("need %v MB: %+v, want over-provisioned (only over fits)", need, l)
		}
	}
	if l := byNeed[600]; l.Forced || l.Class != UnderProvisioned || l.DeclaredMB < 320 || l.DeclaredMB > 512 {
		t.Errorf("need 600 MB: %+v, want under-provisioned at 320..512 MB", l)
	}

	// The real In-Vitro per-function needs are mostly tiny.
	big, _ := load2019(t, "invitro-azure2019-100fn", JoinOptions{})
	limits, err = big.DeclareLimits(cfg, 3)
	if err != nil {
		t.Fatal(err)
	}
	checkLimits(t, big, cfg, limits)
	forced := 0
	for _, l := range limits {
		if l.Forced {
			forced++
		}
	}
	if forced == 0 {
		t.Error("expected forced limits for functions needing under 32 MB")
	}
}

// With needs that fit every class, the counts match the shares exactly.
func TestDeclareLimitsExactShares(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 5))
	configs := []LimitConfig{DefaultLimitConfig()}
	c := DefaultLimitConfig()
	c.Over.Share, c.Under.Share, c.Right.Share = 0.1, 0.5, 0.4
	configs = append(configs, c)
	c = DefaultLimitConfig()
	c.Over.Share, c.Under.Share, c.Right.Share = 1, 0, 0
	configs = append(configs, c)
	for _, cfg := range configs {
		for n := range 40 {
			needs := make([]float64, n)
			for i := range needs {
				needs[i] = 150 + 100*r.Float64()
			}
			tr := withNeeds(needs...)
			limits, err := tr.DeclareLimits(cfg, uint64(n))
			if err != nil {
				t.Fatal(err)
			}
			checkLimits(t, tr, cfg, limits)
			want := apportion(n, []float64{cfg.Over.Share, cfg.Under.Share, cfg.Right.Share})
			got := classCounts(limits)
			if got[OverProvisioned] != want[0] || got[UnderProvisioned] != want[1] || got[RightSized] != want[2] {
				t.Errorf("n=%d shares %v/%v/%v: got %v, want %v", n, cfg.Over.Share, cfg.Under.Share, cfg.Right.Share, got, want)
			}
		}
	}
}

func TestApportion(t *testing.T) {
	tests := []struct {
		n      int
		shares []float64
		want   []int
	}{
		{10, []float64{0.6, 0.2, 0.2}, []int{6, 2, 2}},
		{7, []float64{0.6, 0.2, 0.2}, []int{4, 2, 1}},
		{1, []float64{0.6, 0.2, 0.2}, []int{1, 0, 0}},
		{0, []float64{0.6, 0.2, 0.2}, []int{0, 0, 0}},
		{3, []float64{1.0 / 3, 1.0 / 3, 1.0 / 3}, []int{1, 1, 1}},
		{5, []float64{0, 0.5, 0.5}, []int{0, 3, 2}},
	}
	for _, tc := range tests {
		if got := apportion(tc.n, tc.shares); !slices.Equal(got, tc.want) {
			t.Errorf("apportion(%d, %v) = %v, want %v", tc.n, tc.shares, got, tc.want)
		}
	}
}

func TestNearestAllowed(t *testing.T) {
	cfg := DefaultLimitConfig()
	tests := []struct {
		goal, lo, hi float64
		want         int
	}{
		{200, 0, 1000, 192},
		{208, 0, 1000, 224}, // halfway rounds up
		{10, 0, 1000, 128},
		{900, 0, 1000, 512},
		{200, 210, 260, 224}, // nearest is 192, below the range
		{250, 150, 245, 224}, // nearest is 256, above the range
	}
	for _, tc := range tests {
		if got := nearestAllowed(&cfg, tc.goal, tc.lo, tc.hi); got != tc.want {
			t.Errorf("nearestAllowed(%v in [%v, %v]) = %d, want %d", tc.goal, tc.lo, tc.hi, got, tc.want)
		}
	}
}

func TestDeclareLimitsErrors(t *testing.T) {
	tr := withNeeds(200)
	mod := func(f func(*LimitConfig)) LimitConfig {
		c := DefaultLimitConfig()
		f(&c)
		return c
	}
	tests := []struct {
		name string
		tr   *Trace
		cfg  LimitConfig
		want string
	}{
		{"shares", tr, mod(func(c *LimitConfig) { c.Over.Share = 0.7 }), "shares sum to 1.1"},
		{"negative share", tr, mod(func(c *LimitConfig) { c.Over.Share, c.Right.Share = -0.2, 1 }), "over share -0.2"},
		{"NaN share", tr, mod(func(c *LimitConfig) { c.Right.Share = math.NaN() }), "right share NaN"},
		{"inverted range", tr, mod(func(c *LimitConfig) { c.Under.Low = 1 }), "under factors [1, 0.9]"},
		{"zero factor", tr, mod(func(c *LimitConfig) { c.Over.Low = 0 }), "over factors [0, 4]"},
		{"quantile", tr, mod(func(c *LimitConfig) { c.Quantile = 0 }), "quantile 0"},
		{"step", tr, mod(func(c *LimitConfig) { c.StepMB = 100 }), "allowed memory 128..512 step 100"},
		{"zero config", tr, LimitConfig{}, "over factors [0, 0]"},
		{"no memory", &Trace{Functions: []Function{{Key: Key{Function: "f"}, Counts: []int{1}}}}, DefaultLimitConfig(), "function 0 (f) has no memory percentiles"},
		{"zero need", withNeeds(0), DefaultLimitConfig(), "function 0 (a) needs 0 MB"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := tc.tr.DeclareLimits(tc.cfg, 1)
			if err == nil || !strings.HasPrefix(err.Error(), "declare limits: "+tc.want) {
				t.Errorf("got %v, want prefix %q", err, tc.want)
			}
		})
	}
}

func TestProvisionString(t *testing.T) {
	for p, want := range map[Provision]string{RightSized: "right", OverProvisioned: "over", UnderProvisioned: "under", 9: "Provision(9)"} {
		if got := p.String(); got != want {
			t.Errorf("%d: %q, want %q", int(p), got, want)
		}
	}
}
