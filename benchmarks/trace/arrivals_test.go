package trace

import (
	"math"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

type arrivalCase struct {
	name string
	tr   *Trace
}

func arrivalTraces(t *testing.T) []arrivalCase {
	t.Helper()
	libra, _ := loadLibra(t, LibraNames("libra-demo/demo_1", 0))
	freyr, _ := loadLibra(t, freyrFiles())
	big, _ := load2019(t, "invitro-azure2019-100fn", JoinOptions{})
	big, err := big.Window(100, 30)
	if err != nil {
		t.Fatal(err)
	}
	full, _ := load2019(t, "invitro-azure2019-10fn-fullday", JoinOptions{})
	full, err = full.Window(0, 5)
	if err != nil {
		t.Fatal(err)
	}
	return []arrivalCase{{"libra", libra}, {"freyr", freyr}, {"100fn", big}, {"10fn", full}, {"2021", load2021(t)}}
}

// checkArrivals verifies the contract of Trace.Arrivals: sorted, one arrival
// per invocation, minute m's arrivals inside compressed minute m, Seq
// counting each function's arrivals in time order.
func checkArrivals(t *testing.T, tr *Trace, arr []Arrival, span time.Duration) {
	t.Helper()
	if len(arr) != tr.Total() {
		t.Fatalf("%d arrivals for %d invocations", len(arr), tr.Total())
	}
	counts := make([][]int, len(tr.Functions))
	for i := range counts {
		counts[i] = make([]int, tr.Minutes())
	}
	nextSeq := make([]int, len(tr.Functions))
	for k, a := range arr {
		if k > 0 {
			p := arr[k-1]
			if a.At < p.At || (a.At == p.At && (a.Function < p.Function || (a.Function == p.Function && a.Seq < p.Seq))) {
				t.Fatalf("arrivals %d and %d out of order: %+v, %+v", k-1, k, p, a)
			}
		}
		m := int(a.At / span)
		if m != a.Minute {
			t.Fatalf("arrival %+v lies in compressed minute %d", a, m)
		}
		counts[a.Function][m]++
		if a.Seq != nextSeq[a.Function] {
			t.Fatalf("function %d: Seq %d, want %d", a.Function, a.Seq, nextSeq[a.Function])
		}
		nextSeq[a.Function]++
	}
	for i, f := range tr.Functions {
		if !slices.Equal(counts[i], f.Counts) {
			t.Fatalf("function %d (%s): per-minute arrivals differ from counts", i, f.Key)
		}
	}
}

func TestArrivalsPreserveCounts(t *testing.T) {
	opts := []ArrivalOptions{
		{Spread: Even},
		{Spread: Even, RandomPhase: true, Seed: 7},
		{Spread: LibraEven},
		{Spread: Uniform, Seed: 1},
		{Spread: Poisson, Seed: 2},
	}
	for _, tc := range arrivalTraces(t) {
		cases := opts
		if tc.name == "2021" {
			cases = append(slices.Clip(cases), ArrivalOptions{Spread: Exact})
		}
		for _, opt := range cases {
			for _, c := range []float64{0, 1, 2.5, 60, 0.5, 7} {
				opt.Compression = c
				name := tc.name + "/" + opt.Spread.String()
				if opt.RandomPhase {
					name += "+phase"
				}
				t.Run(name, func(t *testing.T) {
					arr, err := tc.tr.Arrivals(opt)
					if err != nil {
						t.Fatal(err)
					}
					span, err := MinuteLength(c)
					if err != nil {
						t.Fatal(err)
					}
					checkArrivals(t, tc.tr, arr, span)
				})
			}
		}
	}
}

func TestArrivalsDeterministic(t *testing.T) {
	tr, _ := loadLibra(t, freyrFiles())
	for _, sp := range []Spread{Even, Uniform, Poisson} {
		opt := ArrivalOptions{Spread: sp, Seed: 42, RandomPhase: true, Compression: 3}
		a, err := tr.Arrivals(opt)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := tr.Arrivals(opt)
		if !reflect.DeepEqual(a, b) {
			t.Errorf("%v: two runs with one seed differ", sp)
		}
		opt.Seed = 43
		c, _ := tr.Arrivals(opt)
		if reflect.DeepEqual(a, c) {
			t.Errorf("%v: seeds 42 and 43 give the same arrivals", sp)
		}
	}
	a, _ := tr.Arrivals(ArrivalOptions{Spread: Even, Seed: 1})
	b, _ := tr.Arrivals(ArrivalOptions{Spread: Even, Seed: 2})
	if !reflect.DeepEqual(a, b) {
		t.Error("Even without RandomPhase depends on the seed")
	}
}

// A function's arrivals depend on the seed and its own key only, not on
// which other functions are in the trace.
func TestArrivalsStableUnderSampling(t *testing.T) {
	full, _ := load2019(t, "invitro-azure2019-100fn", JoinOptions{})
	full, _ = full.Window(0, 20)
	sample, err := full.Sample(7, 99)
	if err != nil {
		t.Fatal(err)
	}
	byKey := func(tr *Trace, arr []Arrival) map[Key][]time.Duration {
		out := map[Key][]time.Duration{}
		for _, a := range arr {
			k := tr.Functions[a.Function].Key
			out[k] = append(out[k], a.At)
		}
		return out
	}
	for _, sp := range []Spread{Uniform, Poisson, Even} {
		opt := ArrivalOptions{Spread: sp, Seed: 5, RandomPhase: true}
		af, _ := full.Arrivals(opt)
		as, _ := sample.Arrivals(opt)
		all, sub := byKey(full, af), byKey(sample, as)
		for k, times := range sub {
			if !slices.Equal(times, all[k]) {
				t.Errorf("%v: function %s arrives differently once sampled", sp, k)
			}
		}
	}
}

func TestEvenPatterns(t *testing.T) {
	tests := []struct {
		spread Spread
		n      int
		want   []time.Duration // offsets within the minute; nil: check formula
	}{
		{Even, 1, []time.Duration{0}},
		{Even, 3, []time.Duration{0, 20 * time.Second, 40 * time.Second}},
		{Even, 7, nil},
		{LibraEven, 3, []time.Duration{0, 20 * time.Second, 40 * time.Second}},
		{LibraEven, 7, []time.Duration{0, 8 * time.Second, 16 * time.Second, 24 * time.Second, 32 * time.Second, 40 * time.Second, 48 * time.Second}},
		{LibraEven, 61, make([]time.Duration, 61)}, // floor(60/61) = 0: all on the boundary, as in Libra
	}
	for _, tc := range tests {
		tr := &Trace{Functions: []Function{{Key: Key{Function: "f"}, Counts: []int{0, tc.n}}}}
		arr, err := tr.Arrivals(ArrivalOptions{Spread: tc.spread})
		if err != nil {
			t.Fatal(err)
		}
		for i, a := range arr {
			want := time.Duration(i) * time.Minute / time.Duration(tc.n)
			if tc.want != nil {
				want = tc.want[i]
			}
			if got := a.At - time.Minute; got != want {
				t.Errorf("%v n=%d: arrival %d at +%v, want +%v", tc.spread, tc.n, i, got, want)
			}
		}
	}
	// Libra's generator: t = timestep·60 + int(60/n)·i, for the Freyr trace.
	tr, _ := loadLibra(t, freyrFiles())
	arr, _ := tr.Arrivals(ArrivalOptions{Spread: LibraEven})
	var want []Arrival
	for m := range tr.Minutes() {
		for fi, f := range tr.Functions {
			for i := range f.Counts[m] {
				want = append(want, Arrival{At: time.Duration(m*60+(60/f.Counts[m])*i) * time.Second, Function: fi, Minute: m})
			}
		}
	}
	slices.SortStableFunc(want, func(a, b Arrival) int { return int(a.At - b.At) })
	for k := range arr {
		if arr[k].At != want[k].At || arr[k].Function != want[k].Function {
			t.Fatalf("event %d: got %+v, want Libra's %+v", k, arr[k], want[k])
		}
	}
}

func TestRandomPhase(t *testing.T) {
	tr := &Trace{Functions: []Function{{Key: Key{Function: "f"}, Counts: []int{4, 4}}}}
	arr, _ := tr.Arrivals(ArrivalOptions{Spread: Even, RandomPhase: true, Seed: 3})
	phase := arr[0].At
	if phase <= 0 || phase >= 15*time.Second {
		t.Fatalf("phase %v, want in (0, 15s)", phase)
	}
	for i, a := range arr {
		want := time.Duration(i)*15*time.Second + phase
		if d := a.At - want; d < -time.Nanosecond || d > time.Nanosecond {
			t.Errorf("arrival %d at %v, want %v (same phase every minute)", i, a.At, want)
		}
	}
}

// For many arrivals in one minute, Uniform and Poisson must look like a
// Poisson process conditioned on the count: offsets uniform (Kolmogorov-
// Smirnov) and gaps exponential (coefficient of variation near 1, where an
// even spread has 0).
func TestRandomSpreadStatistics(t *testing.T) {
	const n = 20000
	tr := &Trace{Functions: []Function{{Key: Key{Function: "f"}, Counts: []int{n}}}}
	for _, sp := range []Spread{Uniform, Poisson} {
		for seed := range uint64(3) {
			arr, err := tr.Arrivals(ArrivalOptions{Spread: sp, Seed: seed})
			if err != nil {
				t.Fatal(err)
			}
			ks := 0.0
			for i, a := range arr {
				x := float64(a.At) / float64(time.Minute)
				ks = max(ks, math.Abs(x-float64(i)/n), math.Abs(x-float64(i+1)/n))
			}
			if limit := 1.95 / math.Sqrt(n); ks > limit { // alpha = 0.001
				t.Errorf("%v seed %d: KS distance to uniform %.4f > %.4f", sp, seed, ks, limit)
			}
			var sum, sq float64
			for i := 1; i < n; i++ {
				g := float64(arr[i].At - arr[i-1].At)
				sum += g
				sq += g * g
			}
			mean := sum / (n - 1)
			cv := math.Sqrt(sq/(n-1)-mean*mean) / mean
			if cv < 0.95 || cv > 1.05 {
				t.Errorf("%v seed %d: gap coefficient of variation %.3f, want about 1", sp, seed, cv)
			}
		}
	}
}

func TestCompressionScale(t *testing.T) {
	tr := &Trace{Functions: []Function{{Key: Key{Function: "f"}, Counts: []int{2, 0, 3}}}}
	arr, err := tr.Arrivals(ArrivalOptions{Spread: Even, Compression: 60})
	if err != nil {
		t.Fatal(err)
	}
	var got []time.Duration
	for _, a := range arr {
		got = append(got, a.At)
	}
	want := []time.Duration{0, 500 * time.Millisecond, 2 * time.Second, 2*time.Second + 333333333, 2*time.Second + 666666666}
	if !slices.Equal(got, want) {
		t.Errorf("compression 60: got %v, want %v", got, want)
	}
}

func TestArrivalErrors(t *testing.T) {
	ok := &Trace{Functions: []Function{{Key: Key{Function: "f"}, Counts: []int{1}}}}
	tests := []struct {
		name string
		tr   *Trace
		opt  ArrivalOptions
		want string
	}{
		{"negative compression", ok, ArrivalOptions{Compression: -1}, "arrivals: compression -1: want a positive finite factor"},
		{"NaN compression", ok, ArrivalOptions{Compression: math.NaN()}, "arrivals: compression NaN: want a positive finite factor"},
		{"infinite compression", ok, ArrivalOptions{Compression: math.Inf(1)}, "arrivals: compression +Inf: want a positive finite factor"},
		{"sub-nanosecond minute", ok, ArrivalOptions{Compression: 1e12}, "arrivals: compression 1e+12: a minute would last 0.06 ns"},
		{"unknown spread", ok, ArrivalOptions{Spread: 17}, "arrivals: unknown spread Spread(17)"},
		{"exact without starts", ok, ArrivalOptions{Spread: Exact}, "arrivals: function 0 (f) has no recorded start times; exact spread needs a 2021 trace"},
		{"ragged minutes", &Trace{Functions: []Function{{Counts: []int{1}}, {Key: Key{Function: "g"}, Counts: []int{1, 2}}}}, ArrivalOptions{}, "arrivals: function 1 (g): 2 minutes, want 1"},
		{"negative count", &Trace{Functions: []Function{{Key: Key{Function: "f"}, Counts: []int{1, -1}}}}, ArrivalOptions{}, "arrivals: function 0 (f): minute 1: negative count -1"},
		{"sizes mismatch", &Trace{Functions: []Function{{Key: Key{Function: "f"}, Counts: []int{2}, InputSizes: []int64{1}}}}, ArrivalOptions{}, "arrivals: function 0 (f): 1 input sizes for 2 invocations"},
		{"invocations mismatch", &Trace{Functions: []Function{{Key: Key{Function: "f"}, Counts: []int{1, 0}, Invocations: []Invocation{{Start: 61 * time.Second}}}}}, ArrivalOptions{}, "arrivals: function 0 (f): minute 0: 0 invocations, count says 1"},
		{"invocations unsorted", &Trace{Functions: []Function{{Key: Key{Function: "f"}, Counts: []int{2}, Invocations: []Invocation{{Start: 2}, {Start: 1}}}}}, ArrivalOptions{}, "arrivals: function 0 (f): invocations not sorted by start"},
		{"invocation outside", &Trace{Functions: []Function{{Key: Key{Function: "f"}, Counts: []int{1}, Invocations: []Invocation{{Start: time.Hour}}}}}, ArrivalOptions{}, "arrivals: function 0 (f): invocation 0 starts at 1h0m0s, outside the trace"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := tc.tr.Arrivals(tc.opt)
			if err == nil || err.Error() != tc.want {
				t.Errorf("got %v\nwant %s", err, tc.want)
			}
		})
	}
}

func TestParseSpread(t *testing.T) {
	for sp := Even; sp <= Exact; sp++ {
		got, err := ParseSpread(sp.String())
		if err != nil || got != sp {
			t.Errorf("ParseSpread(%q) = %v, %v", sp.String(), got, err)
		}
	}
	if _, err := ParseSpread("bursty"); err == nil || !strings.Contains(err.Error(), `unknown spread "bursty"`) {
		t.Errorf("ParseSpread(bursty): %v", err)
	}
}

func TestWindow(t *testing.T) {
	tr := load2021(t)
	w, err := tr.Window(5, 10)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Validate(); err != nil {
		t.Fatal(err)
	}
	want := 0
	for _, f := range tr.Functions {
		for _, c := range f.Counts[5:15] {
			want += c
		}
	}
	if w.Total() != want || w.Minutes() != 10 || w.FirstMinute != 5 {
		t.Errorf("window: %d invocations over %d minutes from %d, want %d over 10 from 5", w.Total(), w.Minutes(), w.FirstMinute, want)
	}
	arr, err := w.Arrivals(ArrivalOptions{Spread: Exact})
	if err != nil {
		t.Fatal(err)
	}
	checkArrivals(t, w, arr, time.Minute)

	libra, _ := loadLibra(t, freyrFiles())
	sized, err := libra.WithInputSizes(make([]int64, libra.Total()))
	if err != nil {
		t.Fatal(err)
	}
	for i := range sized.Functions {
		for k := range sized.Functions[i].InputSizes {
			sized.Functions[i].InputSizes[k] = int64(k)
		}
	}
	ws, err := sized.Window(10, 20)
	if err != nil {
		t.Fatal(err)
	}
	if err := ws.Validate(); err != nil {
		t.Fatal(err)
	}
	f := ws.Functions[0]
	before := 0
	for _, c := range sized.Functions[0].Counts[:10] {
		before += c
	}
	if len(f.InputSizes) > 0 && f.InputSizes[0] != int64(before) {
		t.Errorf("window input sizes start at %d, want %d", f.InputSizes[0], before)
	}
	for _, bad := range [][2]int{{-1, 5}, {0, 0}, {50, 11}, {60, 1}} {
		if _, err := libra.Window(bad[0], bad[1]); err == nil {
			t.Errorf("Window(%d, %d) accepted on 60 minutes", bad[0], bad[1])
		}
	}
}

func BenchmarkArrivals(b *testing.B) {
	tr, _ := load2019(b, "invitro-azure2019-100fn", JoinOptions{})
	tr, _ = tr.Window(0, 60)
	for _, sp := range []Spread{Even, Uniform, Poisson} {
		b.Run(sp.String(), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := tr.Arrivals(ArrivalOptions{Spread: sp, Seed: 1}); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(tr.Total()), "ns/arrival")
		})
	}
}
