package trace

import (
	"fmt"
	"math"
	"math/rand/v2"
	"reflect"
	"slices"
	"testing"
	"time"
)

func keys(tr *Trace) []Key {
	var out []Key
	for _, f := range tr.Functions {
		out = append(out, f.Key)
	}
	return out
}

func TestSampleDeterministicAndNested(t *testing.T) {
	tr, _ := load2019(t, "invitro-azure2019-100fn", JoinOptions{})
	a, err := tr.Sample(10, 2023)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := tr.Sample(10, 2023)
	if !reflect.DeepEqual(keys(a), keys(b)) {
		t.Error("same seed, different samples")
	}
	c, _ := tr.Sample(10, 2024)
	if reflect.DeepEqual(keys(a), keys(c)) {
		t.Error("seeds 2023 and 2024 drew the same sample")
	}
	seen := map[Key]bool{}
	for _, k := range keys(a) {
		if seen[k] {
			t.Errorf("function %s drawn twice", k)
		}
		seen[k] = true
	}
	for _, n := range []int{0, 1, 5, 50, 100} {
		small, err := tr.Sample(n, 2023)
		if err != nil {
			t.Fatal(err)
		}
		large, _ := tr.Sample(100, 2023)
		if !slices.Equal(keys(small), keys(large)[:n]) {
			t.Errorf("Sample(%d) is not a prefix of Sample(100) with the same seed", n)
		}
	}
	// Pin one draw so a change of generator or algorithm is noticed.
	pinned, _ := tr.Sample(3, 1)
	var got []string
	for _, k := range keys(pinned) {
		got = append(got, k.String())
	}
	if want := goldenSample(); !slices.Equal(got, want) {
		t.Errorf("Sample(3, 1) = %q, want %q", got, want)
	}
	for _, n := range []int{-1, 101} {
		if _, err := tr.Sample(n, 1); err == nil {
			t.Errorf("Sample(%d) of 100 accepted", n)
		}
	}
	// The sample keeps the functions' data.
	for i, f := range a.Functions {
		orig := tr.Functions[slices.IndexFunc(tr.Functions, func(g Function) bool { return g.Key == f.Key })]
		if !reflect.DeepEqual(f, orig) {
			t.Errorf("sampled function %d differs from the original", i)
		}
	}
}

// Every function is equally likely to be drawn.
func TestSampleUniform(t *testing.T) {
	tr := &Trace{}
	for i := range 10 {
		tr.Functions = append(tr.Functions, Function{Key: Key{Function: string(rune('a' + i))}, Counts: []int{1}})
	}
	hits := map[string]int{}
	const rounds = 3000
	for seed := range uint64(rounds) {
		s, _ := tr.Sample(3, seed)
		for _, f := range s.Functions {
			hits[f.Function]++
		}
	}
	// Expected 900 each; binomial sd ≈ 25; allow 5 sd.
	for name, h := range hits {
		if math.Abs(float64(h)-900) > 125 {
			t.Errorf("function %s drawn %d times in %d samples of 3 of 10, want about 900", name, h, rounds)
		}
	}
}

func TestFilter(t *testing.T) {
	tr, _ := loadLibra(t, freyrFiles())
	// Libra's bounds: every minute within [0, 1], total within [20, 40].
	got := tr.Filter(func(f *Function) bool {
		return slices.Max(f.Counts) <= 1 && f.Total() >= 20 && f.Total() <= 40
	})
	var names []string
	for _, f := range got.Functions {
		names = append(names, f.Function)
	}
	if want := []string{"dh", "eg", "ip", "vp", "knn", "alu"}; !slices.Equal(names, want) {
		t.Errorf("filtered %v, want %v", names, want)
	}
}

func TestPercentilesValue(t *testing.T) {
	p := Percentiles{{0.01, 10}, {0.25, 20}, {0.5, 20}, {0.99, 100}, {1, 200}}
	tests := []struct{ q, want float64 }{
		{0, 10}, {0.01, 10}, {0.13, 15}, {0.25, 20}, {0.4, 20}, {0.745, 60}, {0.99, 100}, {0.995, 150}, {1, 200}, {2, 200},
	}
	for _, tc := range tests {
		if got := p.Value(tc.q); math.Abs(got-tc.want) > 1e-9 {
			t.Errorf("Value(%v) = %v, want %v", tc.q, got, tc.want)
		}
	}
	if !math.IsNaN(Percentiles(nil).Value(0.5)) {
		t.Error("empty percentiles must give NaN")
	}
	if got := (Percentiles{{0.5, 1}, {0.5, 3}}).Value(0.5); got != 1 {
		t.Errorf("repeated quantile: %v", got)
	}
}

// The draw picks each bracket with its quantile width as probability and
// spreads uniformly inside it.
func TestPercentilesDraw(t *testing.T) {
	tests := []struct {
		name string
		p    Percentiles
	}{
		{"duration", Percentiles{{0, 100}, {0.01, 150}, {0.25, 300}, {0.5, 400}, {0.75, 600}, {0.99, 2000}, {1, 5000}}},
		{"memory", Percentiles{{0.01, 90}, {0.05, 106}, {0.25, 111}, {0.5, 115}, {0.75, 126}, {0.95, 145}, {0.99, 154}, {1, 162}}},
	}
	const n = 200000
	for _, tc := range tests {
		r := rand.New(rand.NewPCG(1, 2))
		in := make([]int, len(tc.p)+1) // in[0]: exactly the first value; in[i]: bracket (p[i-1], p[i]]
		halves := make([]int, len(tc.p))
		for range n {
			v := tc.p.Draw(r)
			if v < tc.p[0].Value || v > tc.p[len(tc.p)-1].Value {
				t.Fatalf("%s: draw %v outside [%v, %v]", tc.name, v, tc.p[0].Value, tc.p[len(tc.p)-1].Value)
			}
			if v == tc.p[0].Value {
				in[0]++
				continue
			}
			for i := 1; i < len(tc.p); i++ {
				if v <= tc.p[i].Value {
					in[i]++
					if v <= (tc.p[i-1].Value+tc.p[i].Value)/2 {
						halves[i]++
					}
					break
				}
			}
		}
		check := func(what string, got int, want float64) {
			t.Helper()
			sd := math.Sqrt(want * (1 - want) / n)
			if frac := float64(got) / n; math.Abs(frac-want) > 5*sd+1e-4 {
				t.Errorf("%s: %s drawn %.4f of the time, want %.4f", tc.name, what, frac, want)
			}
		}
		check("the first value", in[0], tc.p[0].Q)
		for i := 1; i < len(tc.p); i++ {
			w := tc.p[i].Q - tc.p[i-1].Q
			check("bracket "+qName(tc.p[i-1])+"–"+qName(tc.p[i]), in[i], w)
			check("lower half of the bracket up to "+qName(tc.p[i]), halves[i], w/2)
		}
	}
}

func qName(p Point) string { return fmt.Sprintf("p%g", p.Q*100) }

func TestDrawUsesOneFloat(t *testing.T) {
	p := Percentiles{{0, 1}, {1, 3}}
	r1 := rand.New(rand.NewPCG(9, 9))
	r2 := rand.New(rand.NewPCG(9, 9))
	for range 100 {
		if got, want := p.Draw(r1), 1+2*r2.Float64(); got != want {
			t.Fatalf("Draw = %v, want %v from the same Float64", got, want)
		}
	}
	if !math.IsNaN(Percentiles(nil).Draw(r1)) {
		t.Error("empty percentiles must draw NaN")
	}
}

func TestStatsDrawClamps(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 1))
	flat := func(v float64, qs []float64) Percentiles {
		var p Percentiles
		for _, q := range qs {
			p = append(p, Point{q, v})
		}
		return p
	}
	tests := []struct {
		name string
		got  func() float64
		want float64
	}{
		{"zero duration", func() float64 {
			d := DurationStats{Percentiles: flat(0, durationQuantiles())}
			return float64(d.Draw(r))
		}, float64(time.Millisecond)},
		{"long duration", func() float64 {
			d := DurationStats{Percentiles: flat(3e6, durationQuantiles())}
			return float64(d.Draw(r))
		}, float64(time.Minute)},
		{"fractional ms", func() float64 {
			d := DurationStats{Percentiles: flat(12.3456, durationQuantiles())}
			return float64(d.Draw(r))
		}, float64(12346 * time.Microsecond)},
		{"zero memory", func() float64 { m := MemoryStats{Percentiles: flat(0, memoryQuantiles())}; return m.Draw(r) }, 1},
		{"huge memory", func() float64 { m := MemoryStats{Percentiles: flat(1e6, memoryQuantiles())}; return m.Draw(r) }, 10240},
		{"plain memory", func() float64 { m := MemoryStats{Percentiles: flat(200.5, memoryQuantiles())}; return m.Draw(r) }, 200.5},
	}
	for _, tc := range tests {
		if got := tc.got(); got != tc.want {
			t.Errorf("%s: got %v, want %v", tc.name, got, tc.want)
		}
	}
	// Draws from a real row stay between its extreme percentiles.
	tr, _ := load2019(t, "invitro-azure2019-10fn-fullday", JoinOptions{})
	for _, f := range tr.Functions {
		lo, hi := f.Duration.Percentiles[0].Value, f.Duration.Percentiles[6].Value
		for range 1000 {
			d := float64(f.Duration.Draw(r)) / float64(time.Millisecond)
			if d < max(lo, 1)-1e-3 || d > min(hi, 60000)+1e-3 {
				t.Fatalf("%s: drew %v ms outside [%v, %v]", f.Key, d, lo, hi)
			}
			m := f.Memory.Draw(r)
			if m < f.Memory.Percentiles[0].Value || m > f.Memory.Percentiles[7].Value {
				t.Fatalf("%s: drew %v MB outside the percentiles", f.Key, m)
			}
		}
	}
}

// goldenSample is Sample(3, 1) of the In-Vitro 100-function sample with
// math/rand/v2's PCG and a partial Fisher-Yates shuffle.
func goldenSample() []string {
	return []string{"3c980cef/ef6feecf", "714b371d/9774e580", "d9005c52/e85b136c"}
}
