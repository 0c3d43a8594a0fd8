package trace

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"testing/fstest"
	"time"
)

var testdata = os.DirFS("testdata")

func load2019(t testing.TB, dir string, opt JoinOptions) (*Trace, *JoinReport) {
	t.Helper()
	tr, rep, err := Load2019(testdata, Files2019{
		Invocations: dir + "/invocations.csv",
		Durations:   dir + "/durations.csv",
		Memory:      dir + "/memory.csv",
	}, opt)
	if err != nil {
		t.Fatal(err)
	}
	return tr, rep
}

func loadLibra(t testing.TB, files LibraFiles) (*Trace, *JoinReport) {
	t.Helper()
	tr, rep, err := LoadLibra(testdata, files, JoinOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return tr, rep
}

func freyrFiles() LibraFiles {
	f := LibraNames("freyr-60min/exp_openwhisk", 0)
	f.InputSizes = ""
	return f
}

func load2021(t testing.TB) *Trace {
	t.Helper()
	tr, rep, err := Load2021(testdata, "invitro-azure2021-200/Azure2021_200.csv")
	if err != nil {
		t.Fatal(err)
	}
	if rep != (Report2021{Records: 199, Functions: 31}) {
		t.Errorf("2021 report %+v, want 199 records, 31 functions, none clamped", rep)
	}
	return tr
}

func summarizeTrace(tr *Trace, rep fmt.Stringer) string {
	var b strings.Builder
	fmt.Fprintf(&b, "functions %d, minutes %d (first label %d), invocations %d\n", len(tr.Functions), tr.Minutes(), tr.FirstMinute, tr.Total())
	if rep != nil {
		fmt.Fprintf(&b, "join: %s\n", rep)
	}
	for _, f := range tr.Functions {
		fmt.Fprintf(&b, "%-17s %-13s total=%d", f.Key, f.Trigger, f.Total())
		if f.Duration != nil {
			fmt.Fprintf(&b, " dur_p50=%.6gms dur_p99=%.6gms", f.Duration.Percentiles.Value(0.5), f.Duration.Percentiles.Value(0.99))
		} else {
			b.WriteString(" dur=none")
		}
		if f.Memory != nil {
			fmt.Fprintf(&b, " mem_p50=%.6gMB mem_p99=%.6gMB app_functions=%d divided=%v", f.Memory.Percentiles.Value(0.5), f.Memory.Percentiles.Value(0.99), f.Memory.AppFunctions, f.Memory.Divided)
		} else {
			b.WriteString(" mem=none")
		}
		if f.InputSizes != nil {
			fmt.Fprintf(&b, " inputs=%v", f.InputSizes)
		}
		if f.Invocations != nil {
			fmt.Fprintf(&b, " first_start=%v", f.Invocations[0].Start.Round(time.Millisecond))
		}
		b.WriteString("\n")
	}
	return b.String()
}

// TestGoldenJoined loads every sample data set and compares its joined
// summary with testdata/golden/joined/<set>.golden.
func TestGoldenJoined(t *testing.T) {
	sets := map[string]func(t *testing.T) (*Trace, fmt.Stringer){
		"libra-demo": func(t *testing.T) (*Trace, fmt.Stringer) {
			return loadLibra(t, LibraNames("libra-demo/demo_1", 0))
		},
		"freyr-60min": func(t *testing.T) (*Trace, fmt.Stringer) {
			return loadLibra(t, freyrFiles())
		},
		"invitro-azure2019-100fn": func(t *testing.T) (*Trace, fmt.Stringer) {
			return load2019(t, "invitro-azure2019-100fn", JoinOptions{})
		},
		"invitro-azure2019-10fn-fullday": func(t *testing.T) (*Trace, fmt.Stringer) {
			return load2019(t, "invitro-azure2019-10fn-fullday", JoinOptions{})
		},
		"invitro-azure2021-200": func(t *testing.T) (*Trace, fmt.Stringer) {
			return load2021(t), nil
		},
	}
	for name, load := range sets {
		t.Run(name, func(t *testing.T) {
			tr, rep := load(t)
			if err := tr.Validate(); err != nil {
				t.Fatal(err)
			}
			checkGolden(t, filepath.Join("testdata", "golden", "joined", name+".golden"), summarizeTrace(tr, rep))
		})
	}
}

// TestSampleFacts pins the documented facts of the samples (SOURCE.md and
// the research note), independently of the golden files.
func TestSampleFacts(t *testing.T) {
	t.Run("in-vitro 100 functions", func(t *testing.T) {
		tr, rep := load2019(t, "invitro-azure2019-100fn", JoinOptions{})
		perMinute := make([]int, tr.Minutes())
		for _, f := range tr.Functions {
			for m, c := range f.Counts {
				perMinute[m] += c
			}
		}
		if len(tr.Functions) != 100 || tr.FirstMinute != 480 || tr.Minutes() != 480 || tr.Total() != 339657 {
			t.Errorf("got %d functions, minutes %d from %d, %d invocations; want 100, 480 from 480, 339657", len(tr.Functions), tr.Minutes(), tr.FirstMinute, tr.Total())
		}
		lo, hi := perMinute[0], perMinute[0]
		for _, n := range perMinute {
			lo, hi = min(lo, n), max(hi, n)
		}
		if lo != 523 || hi != 1460 {
			t.Errorf("per-minute invocations %d..%d, want 523..1460", lo, hi)
		}
		if len(rep.MissingDuration)+len(rep.MissingMemory)+len(rep.DuplicateFunctions)+rep.UnusedDurations+rep.UnusedMemory != 0 {
			t.Errorf("the In-Vitro sample joins completely, got report %s", rep)
		}
	})
	t.Run("10 functions full day", func(t *testing.T) {
		tr, _ := load2019(t, "invitro-azure2019-10fn-fullday", JoinOptions{})
		if len(tr.Functions) != 10 || tr.FirstMinute != 1 || tr.Minutes() != 1440 {
			t.Errorf("got %d functions, %d minutes from %d; want 10, 1440 from 1", len(tr.Functions), tr.Minutes(), tr.FirstMinute)
		}
		// SOURCE.md: Count in the durations file does not match the sums.
		mismatch := 0
		for _, f := range tr.Functions {
			if f.Duration.Count != f.Total() {
				mismatch++
			}
		}
		if mismatch == 0 {
			t.Error("expected the documented Count/sum mismatch")
		}
	})
	t.Run("freyr", func(t *testing.T) {
		tr, _ := loadLibra(t, freyrFiles())
		if len(tr.Functions) != 10 || tr.Minutes() != 60 || tr.Total() != 268 {
			t.Errorf("got %d functions, %d minutes, %d invocations; want 10, 60, 268", len(tr.Functions), tr.Minutes(), tr.Total())
		}
	})
	t.Run("libra demo", func(t *testing.T) {
		tr, _ := loadLibra(t, LibraNames("libra-demo/demo_1", 0))
		want := map[string]int64{"dh": 1000, "eg": 20000, "ip": 100, "vp": 1, "ir": 100, "knn": 50, "alu": 100000, "ms": 100000, "gd": 10, "dv": 500}
		for _, f := range tr.Functions {
			if len(f.InputSizes) != 1 || f.InputSizes[0] != want[f.Function] {
				t.Errorf("%s: input sizes %v, want [%d] (Libra's multi size)", f.Function, f.InputSizes, want[f.Function])
			}
		}
	})
	t.Run("2021", func(t *testing.T) {
		tr := load2021(t)
		apps := map[string]bool{}
		var first, last time.Duration = time.Hour, 0
		for _, f := range tr.Functions {
			apps[f.App] = true
			for _, inv := range f.Invocations {
				first, last = min(first, inv.Start), max(last, inv.Start)
			}
			if f.Memory != nil || f.Trigger != "" || f.Duration.Count != f.Total() {
				t.Errorf("%s: memory %v, trigger %q, duration count %d of %d", f.Key, f.Memory, f.Trigger, f.Duration.Count, f.Total())
			}
		}
		if len(apps) != 13 || tr.Total() != 199 || first < 0 || last > 1201*time.Second || tr.Minutes() != 21 {
			t.Errorf("apps %d, invocations %d, starts %v..%v, minutes %d", len(apps), tr.Total(), first, last, tr.Minutes())
		}
	})
}

// perAppFixture builds a per-application 2019 memory file from the 10
// function sample (dropping its HashFunction column) and adds, to the
// invocations, a duplicate row and a second function "extra" of the first
// app that has no duration row, and to the memory an app that has no
// function.
func perAppFixture(t *testing.T) fstest.MapFS {
	t.Helper()
	dir := "testdata/invitro-azure2019-10fn-fullday/"
	read := func(name string) []string {
		b, err := os.ReadFile(dir + name)
		if err != nil {
			t.Fatal(err)
		}
		return strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
	}
	inv := read("invocations.csv")
	first := strings.Split(inv[1], ",")
	extra := append([]string{first[0], first[1], "extra"}, first[3:]...)
	inv = append(inv, inv[2], strings.Join(extra, ","))

	var mem []string
	for _, line := range read("memory.csv") {
		f := strings.Split(line, ",")
		mem = append(mem, strings.Join(append(f[:2:2], f[3:]...), ","))
	}
	orphan := strings.Split(mem[1], ",")
	orphan[1] = "orphan-app"
	mem = append(mem, strings.Join(orphan, ","))

	b, err := os.ReadFile(dir + "durations.csv")
	if err != nil {
		t.Fatal(err)
	}
	return fstest.MapFS{
		"inv.csv": {Data: []byte(strings.Join(inv, "\n"))},
		"dur.csv": {Data: b},
		"mem.csv": {Data: []byte(strings.Join(mem, "\r\n") + "\r\n")},
	}
}

func TestJoinPerAppMemory(t *testing.T) {
	fsys := perAppFixture(t)
	files := Files2019{Invocations: "inv.csv", Durations: "dur.csv", Memory: "mem.csv"}
	asIs, rep, err := Load2019(fsys, files, JoinOptions{})
	if err != nil {
		t.Fatal(err)
	}
	dup := asIs.Functions[1].Key
	extraKey := Key{Owner: asIs.Functions[0].Owner, App: asIs.Functions[0].App, Function: "extra"}
	wantRep := &JoinReport{
		Functions:          11,
		DuplicateFunctions: []Key{dup},
		MissingDuration:    []Key{extraKey},
		UnusedMemory:       1,
	}
	if !reflect.DeepEqual(rep, wantRep) {
		t.Errorf("report\n got %+v\nwant %+v", rep, wantRep)
	}
	if got := rep.String(); got != "11 functions, 1 duplicate invocation rows dropped, 1 without duration, 1 unused memory rows" {
		t.Errorf("report string %q", got)
	}
	first, extra := asIs.Functions[0], asIs.Functions[10]
	if extra.Key != extraKey || extra.Duration != nil || extra.Memory == nil {
		t.Fatalf("extra function: %+v", extra)
	}
	if first.Memory.AppFunctions != 2 || extra.Memory.AppFunctions != 2 || first.Memory.Divided ||
		!reflect.DeepEqual(first.Memory.Percentiles, extra.Memory.Percentiles) || first.Memory.Percentiles.Value(0.99) != 245 {
		t.Errorf("as-is app memory: first %+v, extra %+v; want both the app's values (p99 245 MB), shared by 2", first.Memory, extra.Memory)
	}
	if asIs.Functions[1].Memory.AppFunctions != 1 {
		t.Errorf("single-function app: AppFunctions %d, want 1", asIs.Functions[1].Memory.AppFunctions)
	}

	split, _, err := Load2019(fsys, files, JoinOptions{SplitAppMemory: true})
	if err != nil {
		t.Fatal(err)
	}
	for _, i := range []int{0, 10} {
		m := split.Functions[i].Memory
		if !m.Divided || m.Percentiles.Value(0.99) != 122.5 || m.AverageMB != 102 || m.SampleCount != first.Memory.SampleCount {
			t.Errorf("split function %d: %+v, want halved values (p99 122.5, average 102)", i, m)
		}
	}
	if m := split.Functions[1].Memory; m.Divided || m.Percentiles.Value(0.99) != asIs.Functions[1].Memory.Percentiles.Value(0.99) {
		t.Errorf("single-function app must not be divided: %+v", m)
	}
	// Splitting must not touch the unsplit trace's rows.
	if first.Memory.Percentiles.Value(0.99) != 245 {
		t.Errorf("split changed another trace's memory: %+v", first.Memory)
	}

	dropped, rep, err := Load2019(fsys, files, JoinOptions{SplitAppMemory: true, DropIncomplete: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(dropped.Functions) != 10 || rep.Dropped != 1 || rep.Functions != 10 {
		t.Errorf("drop incomplete: %d functions, report %s", len(dropped.Functions), rep)
	}
	if m := dropped.Functions[0].Memory; m.AppFunctions != 1 || m.Divided {
		t.Errorf("after dropping extra the app has one function: %+v", m)
	}
}

func TestJoinMissingMemory(t *testing.T) {
	tab := &InvocationTable{FirstMinute: 1, Rows: []InvocationRow{
		{Key: Key{"o", "a", "f"}, Trigger: HTTP, Counts: []int{1}},
		{Key: Key{"o", "b", "g"}, Trigger: Timer, Counts: []int{2}},
	}}
	durs := []DurationRow{{Key: Key{"o", "a", "f"}}, {Key: Key{"o", "b", "g"}}, {Key: Key{"o", "a", "f"}}}
	mems := []MemoryRow{{Key: Key{Owner: "o", App: "a"}}}
	tr, rep, err := Join(tab, durs, mems, JoinOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if tr.Functions[1].Memory != nil || len(rep.MissingMemory) != 1 || rep.MissingMemory[0] != (Key{"o", "b", "g"}) || rep.DuplicateDurations != 1 {
		t.Errorf("got %+v, report %s", tr.Functions[1], rep)
	}
	if _, _, err := Join(tab, nil, append(mems, MemoryRow{Key: Key{"o", "b", "g"}, PerFunction: true}), JoinOptions{}); err == nil ||
		err.Error() != "join: memory row 2 (b/g) is per function, earlier rows are per application" {
		t.Errorf("mixed memory scopes: got %v", err)
	}
	if _, _, err := Join(nil, nil, nil, JoinOptions{}); err == nil {
		t.Error("nil table accepted")
	}
}

func TestLoadErrorsNameTheFile(t *testing.T) {
	fsys := fstest.MapFS{
		"d/inv.csv":                   {Data: []byte("HashOwner,HashApp,HashFunction,Trigger,1\no,a,f,http,1\n")},
		"d/dur.csv":                   {Data: []byte("HashOwner,HashApp,HashFunction,Average\n")},
		"d/sz.csv":                    {Data: []byte("1,2\n5,6\n")},
		"l/x_invocation_traces_3.csv": {Data: []byte("HashFunction,Trigger,1\ndh,timer,1\n")},
		"l/x_duration_traces_3.csv":   {Data: []byte("HashFunction,Average,Count,Minimum,Maximum,percentile_Average_0,percentile_Average_1,percentile_Average_25,percentile_Average_50,percentile_Average_75,percentile_Average_99,percentile_Average_100\n")},
		"l/x_memory_traces_3.csv":     {Data: []byte("HashFunction,SampleCount,AverageAllocatedMb,AverageAllocatedMb_pct1,AverageAllocatedMb_pct5,AverageAllocatedMb_pct25,AverageAllocatedMb_pct50,AverageAllocatedMb_pct75,AverageAllocatedMb_pct95,AverageAllocatedMb_pct99,AverageAllocatedMb_pct100\n")},
		"l/x_input_size_traces_3.csv": {Data: []byte("1,2\n5,6\n")},
	}
	_, _, err := Load2019(fsys, Files2019{Invocations: "d/inv.csv", Durations: "d/dur.csv", Memory: "d/mem.csv"}, JoinOptions{})
	if err == nil || !strings.HasPrefix(err.Error(), "d/dur.csv:1: 4 columns, want 14") {
		t.Errorf("bad durations: got %v", err)
	}
	_, _, err = Load2019(fsys, Files2019{Invocations: "d/inv.csv", Durations: "d/inv.csv", Memory: "d/mem.csv"}, JoinOptions{})
	if err == nil || !strings.HasPrefix(err.Error(), `d/inv.csv:1: column 4 "Trigger": want "Average"`) {
		t.Errorf("invocations as durations: got %v", err)
	}
	_, _, err = LoadLibra(fsys, LibraNames("l/x", 3), JoinOptions{})
	if err == nil || err.Error() != "l/x_input_size_traces_3.csv: input sizes: got 2, want one per invocation (1)" {
		t.Errorf("size mismatch: got %v", err)
	}
	_, _, err = LoadLibra(fsys, LibraNames("l/missing", 3), JoinOptions{})
	if !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing file: got %v, want fs.ErrNotExist", err)
	}
}

func TestWithInputSizesOrder(t *testing.T) {
	// Minute-major, then function order, then invocation: Libra's event
	// index order.
	tr := &Trace{Functions: []Function{
		{Key: Key{Function: "a"}, Counts: []int{2, 0, 1}},
		{Key: Key{Function: "b"}, Counts: []int{1, 2, 0}},
	}}
	got, err := tr.WithInputSizes([]int64{10, 11, 12, 13, 14, 15})
	if err != nil {
		t.Fatal(err)
	}
	if a, b := got.Functions[0].InputSizes, got.Functions[1].InputSizes; !reflect.DeepEqual(a, []int64{10, 11, 15}) || !reflect.DeepEqual(b, []int64{12, 13, 14}) {
		t.Errorf("sizes a=%v b=%v, want a=[10 11 15] b=[12 13 14]", a, b)
	}
	if tr.Functions[0].InputSizes != nil {
		t.Error("WithInputSizes modified its receiver")
	}
	arr, err := got.Arrivals(ArrivalOptions{Spread: LibraEven})
	if err != nil {
		t.Fatal(err)
	}
	var order []int64
	for _, a := range arr {
		s, ok := got.InputSize(a)
		if !ok {
			t.Fatalf("no input size for %+v", a)
		}
		order = append(order, s)
	}
	if !reflect.DeepEqual(order, []int64{10, 12, 11, 13, 14, 15}) {
		// a#0 and b#0 at 0 s, a#1 at 30 s, b#1 at 60 s, b#2 at 90 s, a#2 at 120 s.
		t.Errorf("sizes in arrival order %v", order)
	}
	if _, ok := tr.InputSize(arr[0]); ok {
		t.Error("InputSize on a trace without sizes reported one")
	}
}
