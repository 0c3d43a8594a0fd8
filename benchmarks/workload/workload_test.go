package workload

import (
	"encoding/json"
	"os"
	"os/exec"
	"slices"
	"testing"
	"time"

	"github.com/owinvoker/owinvoker/benchmarks/trace"
)

func freyr(t *testing.T) *trace.Trace {
	t.Helper()
	tr, _, err := trace.LoadLibra(os.DirFS("../trace/testdata"), trace.LibraFiles{
		Invocations: "freyr-60min/exp_openwhisk_invocation_traces_0.csv",
		Durations:   "freyr-60min/exp_openwhisk_duration_traces_0.csv",
		Memory:      "freyr-60min/exp_openwhisk_memory_traces_0.csv",
	}, trace.JoinOptions{DropIncomplete: true})
	if err != nil {
		t.Fatal(err)
	}
	return tr
}

func TestBuild(t *testing.T) {
	tr := freyr(t)
	p, err := Build(tr, Options{Seed: 7, Compression: 12})
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Functions) != len(tr.Functions) || len(p.Invocations) != tr.Total() {
		t.Fatalf("plan has %d functions and %d invocations, want %d and %d", len(p.Functions), len(p.Invocations), len(tr.Functions), tr.Total())
	}
	if p.Span != 5*time.Minute {
		t.Errorf("span %v, want 60 minutes / 12 = 5m", p.Span)
	}
	calls := 0
	classes := map[trace.Provision]int{}
	for i, f := range p.Functions {
		calls += f.Calls
		classes[f.Class]++
		if f.DeclaredMB < 128 || f.DeclaredMB > 512 || f.DeclaredMB%32 != 0 {
			t.Errorf("function %d declares %d MB", i, f.DeclaredMB)
		}
		if f.CPU < 0.05 || f.CPU > 0.5 {
			t.Errorf("function %d busy fraction %v outside [0.05, 0.5]", i, f.CPU)
		}
		if f.Name != "replay-"+f.Key.Function {
			t.Errorf("function %d named %q", i, f.Name)
		}
	}
	if calls != len(p.Invocations) {
		t.Errorf("calls %d != invocations %d", calls, len(p.Invocations))
	}
	if classes[trace.OverProvisioned] == 0 || classes[trace.UnderProvisioned] == 0 {
		t.Errorf("classes %v: want both over- and under-provisioned functions", classes)
	}
	if !slices.IsSortedFunc(p.Invocations, func(a, b Invocation) int { return int(a.At - b.At) }) {
		t.Error("invocations not sorted by time")
	}
	for i, inv := range p.Invocations {
		if inv.Seq != i || inv.At < 0 || inv.At >= p.Span || inv.RunMS < 1 || inv.RunMS > 10000 || inv.MB < 0 || inv.CPU != p.Functions[inv.Function].CPU {
			t.Fatalf("invocation %d: %+v", i, inv)
		}
	}
	// Deterministic; a different seed changes the draws.
	q, _ := Build(tr, Options{Seed: 7, Compression: 12})
	if !slices.Equal(p.Invocations, q.Invocations) || !slices.Equal(p.Functions, q.Functions) {
		t.Error("same seed, different plans")
	}
	r, _ := Build(tr, Options{Seed: 8, Compression: 12})
	if slices.Equal(p.Invocations, r.Invocations) {
		t.Error("different seeds, same invocations")
	}
}

func TestBuildWindowAndSample(t *testing.T) {
	tr := freyr(t)
	p, err := Build(tr, Options{Seed: 1, Functions: 3, FromMinute: 10, Minutes: 5, Compression: 60, MaxDuration: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Functions) != 3 || p.Span != 5*time.Second {
		t.Fatalf("%d functions over %v, want 3 over 5s", len(p.Functions), p.Span)
	}
	for _, inv := range p.Invocations {
		if inv.RunMS > 1000 {
			t.Fatalf("run time %d ms above the 1 s clamp", inv.RunMS)
		}
	}
}

func TestBuildRejects(t *testing.T) {
	tr := freyr(t)
	noMem := &trace.Trace{Functions: []trace.Function{{Key: trace.Key{Function: "x"}, Counts: []int{1}}}}
	for name, tc := range map[string]struct {
		tr  *trace.Trace
		opt Options
	}{
		"empty trace":        {&trace.Trace{}, Options{}},
		"negative functions": {tr, Options{Functions: -1}},
		"too many functions": {tr, Options{Functions: 11}},
		"bad cpu range":      {tr, Options{CPU: CPURange{Low: 0.5, High: 2}}},
		"bad compression":    {tr, Options{Compression: -1}},
		"window past end":    {tr, Options{FromMinute: 59, Minutes: 5}},
		"no percentiles":     {noMem, Options{}},
		"tiny timeout":       {tr, Options{TimeoutMS: 5}},
	} {
		if _, err := Build(tc.tr, tc.opt); err == nil {
			t.Errorf("%s: Build succeeded, want an error", name)
		}
	}
}

func TestActionNames(t *testing.T) {
	for in, want := range map[string]string{"dh": "dh", "0123456789abcdef": "0123456789ab", "a/b c": "a_b_c", "": "fn"} {
		if got := actionName(trace.Key{Function: in}); got != want {
			t.Errorf("actionName(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestActionCodePaces runs the action in Node: it spends about cpu × ms of CPU,
// takes at least ms, and holds the memory it was asked for.
func TestActionCodePaces(t *testing.T) {
	node, err := exec.LookPath("node")
	if err != nil {
		if testing.Short() {
			t.Skip("no node")
		}
		t.Fatal("node not found: deploy/dev/pouchdb.sh installs it")
	}
	script := ActionCode + "\nmain(JSON.parse(process.argv[process.argv.length - 1])).then(r => console.log(JSON.stringify(r)));\n"
	for _, params := range []map[string]any{
		{"ms": 400, "mb": 16, "cpu": 0.5},
		{"ms": 200, "mb": 0, "cpu": 0},
		{"ms": 300, "mb": 1, "cpu": 1},
	} {
		arg, _ := json.Marshal(params)
		out, err := exec.Command(node, "-e", script, "--", string(arg)).Output()
		if err != nil {
			t.Fatalf("%s: %v", arg, err)
		}
		var got struct {
			CPUMs, WallMs, Held float64
		}
		if err := json.Unmarshal(out, &got); err != nil {
			t.Fatalf("%s: %q: %v", arg, out, err)
		}
		ms, mb, cpu := float64(params["ms"].(int)), float64(params["mb"].(int)), params["cpu"]
		if got.WallMs < ms {
			t.Errorf("%s: took %v ms, want at least %v", arg, got.WallMs, ms)
		}
		if c, _ := cpu.(float64); got.CPUMs < c*ms {
			t.Errorf("%s: spent %v ms of CPU, want at least %v", arg, got.CPUMs, c*ms)
		}
		if got.Held != mb*1048576 {
			t.Errorf("%s: held %v bytes, want %v", arg, got.Held, mb*1048576)
		}
	}
}
