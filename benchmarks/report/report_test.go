package report

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/owinvoker/owinvoker/benchmarks/replay"
)

func runs() []Run {
	capacity := replay.Capacity{Cores: 2, MemoryMB: 2048, RuntimeBaseMB: 40}
	mk := func(label string, durs ...int64) Run {
		var rows []replay.Row
		at := 0.0
		for i, d := range durs {
			st := "success"
			if d < 0 {
				st, d = "action developer error", 10
			}
			rows = append(rows, replay.Row{Seq: i, Function: []string{"replay-a", "replay-b"}[i%2], Status: st, StartMS: at,
				EndMS: at + float64(d), DurationMS: d, LatencyMS: float64(d + 5), CPUMs: d / 2, AllocCPUMillis: 500, DeclaredMB: 256,
				OOM: st != "success"})
			at += 100
		}
		return Run{Label: label, Rows: rows, Summary: replay.Summarize(label, rows, capacity), Capacity: capacity}
	}
	return []Run{mk("none", 100, 400, 100, 400, -1), mk("harvest", 50, 100, 50, 100, 10)}
}

func TestTable(t *testing.T) {
	var b bytes.Buffer
	if err := Table(&b, runs()); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(b.String()), "\n")
	if len(lines) != 4 {
		t.Fatalf("table has %d lines:\n%s", len(lines), b.String())
	}
	if !strings.HasPrefix(lines[2], "| none | 5 |") || !strings.Contains(lines[2], "| 1.00× |") || !strings.Contains(lines[2], "| 1 | 0 | 0 |") {
		t.Errorf("baseline row: %s", lines[2])
	}
	// p99 latency 405 → 105.
	if !strings.Contains(lines[3], "| 0.26× |") {
		t.Errorf("harvest row: %s", lines[3])
	}
	if err := Table(&b, nil); err == nil {
		t.Error("empty table accepted")
	}
}

func TestSpeedups(t *testing.T) {
	fns, sp := Speedups(runs())
	if strings.Join(fns, ",") != "replay-a,replay-b" || len(sp) != 1 {
		t.Fatalf("functions %v, speedups %v", fns, sp)
	}
	if sp[0][0] != 2 || sp[0][1] != 4 {
		t.Errorf("speed-ups %v, want [2 4]", sp[0])
	}
}

func TestPlots(t *testing.T) {
	dir := t.TempDir()
	rs := runs()
	for name, draw := range map[string]func(string, []Run) error{"cdf.png": LatencyCDF, "util.png": Utilisation, "speedup.png": Speedup} {
		path := filepath.Join(dir, name)
		if err := draw(path, rs); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		b, err := os.ReadFile(path)
		if err != nil || !bytes.HasPrefix(b, []byte("\x89PNG")) || len(b) < 2000 {
			t.Errorf("%s: not a PNG (%d bytes, %v)", name, len(b), err)
		}
	}
}

func TestParseBench(t *testing.T) {
	in := `goos: linux
pkg: github.com/owinvoker/owinvoker/invoker
BenchmarkWarmPath-2   	     120	   9876543 ns/op	  0.91 direct-ms/op	  12 B/op
BenchmarkBroken-2 12 x ns/op
PASS
pkg: github.com/owinvoker/owinvoker/harvest
BenchmarkTick-2 1000000 1043 ns/op
ok  	github.com/owinvoker/owinvoker/harvest	1.2s
`
	bs, err := ParseBench(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	if len(bs) != 2 || bs[0].Name != "BenchmarkWarmPath-2" || bs[0].N != 120 || len(bs[0].Metrics) != 3 ||
		bs[0].Metrics[1] != (Metric{0.91, "direct-ms/op"}) || bs[1].Package != "github.com/owinvoker/owinvoker/harvest" {
		t.Fatalf("parsed %+v", bs)
	}
	var b bytes.Buffer
	_ = BenchTable(&b, bs)
	if !strings.Contains(b.String(), "| invoker | WarmPath-2 | 9.877e+06 ns/op, 0.91 direct-ms/op, 12 B/op |") {
		t.Errorf("bench table:\n%s", b.String())
	}
}
