package replay

import (
	"bytes"
	"encoding/json"
	"math"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestCSVRoundTrip(t *testing.T) {
	rows := []Row{
		{Seq: 0, Function: "replay-a", Class: "over", DeclaredMB: 256, CPU: 0.5, RunMS: 100, ScheduledMS: 1.5, Status: "success", Cold: true, Error: `with "quotes", commas`},
		{Seq: 1, Function: "replay-b", Status: StatusClientError, Error: "refused\nnewline", LentCPUMillis: 120, CPUMs: 7},
	}
	var buf bytes.Buffer
	if err := WriteCSV(&buf, rows); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(buf.String(), "seq,function,class,declared_mb,") {
		t.Errorf("header: %q", strings.SplitN(buf.String(), "\n", 2)[0])
	}
	got, err := ReadCSV("x.csv", &buf)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, rows) {
		t.Errorf("round trip:\n got %+v\nwant %+v", got, rows)
	}
}

func TestReadCSVErrors(t *testing.T) {
	if _, err := ReadCSV("a.csv", strings.NewReader("x,y\n1,2\n")); err == nil || !strings.Contains(err.Error(), "a.csv") {
		t.Errorf("foreign header: %v", err)
	}
	var buf bytes.Buffer
	_ = WriteCSV(&buf, []Row{{Seq: 1}})
	bad := strings.Replace(buf.String(), "\n1,", "\nx,", 1)
	if _, err := ReadCSV("b.csv", strings.NewReader(bad)); err == nil || !strings.Contains(err.Error(), "b.csv:2: column 1 (seq)") {
		t.Errorf("bad number: %v", err)
	}
}

func TestFill(t *testing.T) {
	start := time.UnixMilli(1_000_000)
	body := `{"activationId":"abc","start":1001000,"end":1001500,"duration":500,
	  "response":{"status":"action developer error","result":{"error":"The action exhausted its memory and was aborted."}},
	  "annotations":[{"key":"waitTime","value":12},{"key":"initTime","value":300},{"key":"timeout","value":false},
	    {"key":"harvest.allocCpuMillis","value":250},{"key":"harvest.borrowedMemMB","value":64},{"key":"harvest.invoker","value":1}]}`
	var a activation
	if err := json.Unmarshal([]byte(body), &a); err != nil {
		t.Fatal(err)
	}
	var row Row
	fill(&row, &a, start)
	want := Row{ActivationID: "abc", Status: "action developer error", StartMS: 1000, EndMS: 1500, DurationMS: 500,
		WaitMS: 12, InitMS: 300, Cold: true, OOM: true, AllocCPUMillis: 250, BorrowedMemMB: 64, Invoker: "1",
		Error: "The action exhausted its memory and was aborted."}
	if row != want {
		t.Errorf("fill:\n got %+v\nwant %+v", row, want)
	}
	body = `{"activationId":"d","start":1000000,"end":1002000,"response":{"status":"success","result":{"cpuMs":900}},
	  "annotations":[{"key":"timeout","value":true}]}`
	a = activation{}
	_ = json.Unmarshal([]byte(body), &a)
	row = Row{}
	fill(&row, &a, start)
	if row.Cold || !row.Timeout || row.CPUMs != 900 || row.OOM || row.Error != "" {
		t.Errorf("warm success: %+v", row)
	}
}

func TestSummarizeAndSeries(t *testing.T) {
	rows := []Row{
		// 1 s at 0.5 core of a 1-core allocation, 100 of 200 MB.
		{Status: "success", StartMS: 0, EndMS: 1000, DurationMS: 1000, LatencyMS: 1100, CPUMs: 500, AllocCPUMillis: 1000, DeclaredMB: 200, PeakMemMB: 100, Cold: true, LentCPUMillis: 400},
		// 2 s, no invoker figures: allocation from capacity (256/1024 × 2 cores = 0.5).
		{Status: "action developer error", OOM: true, StartMS: 1000, EndMS: 3000, DurationMS: 2000, LatencyMS: 2100, CPUMs: 1000, DeclaredMB: 256, MB: 60, BorrowedMemMB: 32},
		{Status: StatusClientError},
		{Status: "application error", StartMS: 500, EndMS: 500, LatencyMS: 50},
	}
	s := Summarize("t", rows, Capacity{Cores: 2, MemoryMB: 1024, RuntimeBaseMB: 40})
	check := func(name string, got, want float64) {
		t.Helper()
		if math.Abs(got-want) > 1e-9 {
			t.Errorf("%s = %v, want %v", name, got, want)
		}
	}
	if s.Invocations != 4 || s.Succeeded != 1 || s.DevErrors != 1 || s.ClientErrors != 1 || s.AppErrors != 1 || s.OOMKills != 1 || s.ColdStarts != 1 || s.Borrowers != 1 {
		t.Errorf("counts: %+v", s)
	}
	check("cold share", s.ColdShare, 1.0/3)
	check("p99 latency", s.LatencyP99, 2100)
	check("p50 latency", s.LatencyP50, 1100)
	check("p99 latency of successes", s.SuccessP99, 1100)
	// CPU: used 1.5 core·s of 1×1 + 0.5×2 = 2 allocated.
	check("cpu utilisation", s.CPUUtilisation, 0.75)
	// Memory: 100×1 + 100×2 (60 + 40 base) used of 200×1 + 256×2.
	check("memory utilisation", s.MemoryUtilisation, 300.0/712)
	check("harvested cpu", s.HarvestedCPU, 0.4/2)
	check("busy", s.CPUBusy, 1.5/(2*3))

	pts := Series(rows, Capacity{Cores: 2, MemoryMB: 1024, RuntimeBaseMB: 40}, 1)
	if len(pts) != 3 {
		t.Fatalf("%d points, want 3", len(pts))
	}
	check("bucket 0 cpu used", pts[0].CPUUsed, 0.5)
	check("bucket 1 cpu used", pts[1].CPUUsed, 0.5)
	check("bucket 2 allocated", pts[2].CPUAllocated, 0.5)
	check("bucket 0 lent", pts[0].CPULent, 0.4)
}
