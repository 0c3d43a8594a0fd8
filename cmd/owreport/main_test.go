package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/owinvoker/owinvoker/benchmarks/replay"
)

func TestRun(t *testing.T) {
	dir := t.TempDir()
	rows := []replay.Row{
		{Seq: 0, Function: "replay-a", Status: "success", StartMS: 0, EndMS: 200, DurationMS: 200, LatencyMS: 210, CPUMs: 100, DeclaredMB: 256},
		{Seq: 1, Function: "replay-a", Status: "success", StartMS: 100, EndMS: 400, DurationMS: 300, LatencyMS: 320, CPUMs: 100, DeclaredMB: 256},
	}
	for _, name := range []string{"a.csv", "b.csv"} {
		f, _ := os.Create(filepath.Join(dir, name))
		if err := replay.WriteCSV(f, rows); err != nil {
			t.Fatal(err)
		}
		f.Close()
	}
	bench := filepath.Join(dir, "bench.txt")
	os.WriteFile(bench, []byte("pkg: x\nBenchmarkA-2 10 5 ns/op\n"), 0o644)
	out := filepath.Join(dir, "out")
	var stdout, stderr bytes.Buffer
	if err := run([]string{"--out", out, "--bench", bench, "none=" + filepath.Join(dir, "a.csv"), "harvest=" + filepath.Join(dir, "b.csv")}, &stdout, &stderr); err != nil {
		t.Fatalf("run: %v (%s)", err, stderr.String())
	}
	for _, f := range []string{"table.md", "latency-cdf.png", "cpu-utilisation.png", "speedup.png", "bench.md"} {
		if st, err := os.Stat(filepath.Join(out, f)); err != nil || st.Size() == 0 {
			t.Errorf("%s: %v", f, err)
		}
	}
	if !strings.Contains(stdout.String(), "| harvest | 2 |") {
		t.Errorf("stdout: %s", stdout.String())
	}
	for _, bad := range [][]string{{}, {"--out", out}, {"--out", out, "nolabel"}, {"--out", out, "x=/nonexistent.csv"}} {
		if err := run(bad, &stdout, &stderr); err == nil {
			t.Errorf("run(%v) succeeded", bad)
		}
	}
}
