package trace

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite testdata/golden files")

// sampleParsers maps every sample file under testdata/ to its parser and a
// summary function for its golden file.
var sampleParsers = map[string]func(name string, r io.Reader) (string, error){
	"libra-demo/demo_1_invocation_traces_0.csv":         sumOf(ParseLibraInvocations, summarizeInvocations),
	"libra-demo/demo_1_duration_traces_0.csv":           sumOf(ParseLibraDurations, summarizeDurations),
	"libra-demo/demo_1_memory_traces_0.csv":             sumOf(ParseLibraMemory, summarizeMemory),
	"libra-demo/demo_1_input_size_traces_0.csv":         sumOf(ParseLibraInputSizes, summarizeSizes),
	"freyr-60min/exp_openwhisk_invocation_traces_0.csv": sumOf(ParseLibraInvocations, summarizeInvocations),
	"freyr-60min/exp_openwhisk_duration_traces_0.csv":   sumOf(ParseLibraDurations, summarizeDurations),
	"freyr-60min/exp_openwhisk_memory_traces_0.csv":     sumOf(ParseLibraMemory, summarizeMemory),
	"invitro-azure2019-100fn/invocations.csv":           sumOf(Parse2019Invocations, summarizeInvocations),
	"invitro-azure2019-100fn/durations.csv":             sumOf(Parse2019Durations, summarizeDurations),
	"invitro-azure2019-100fn/memory.csv":                sumOf(ParseInVitroMemory, summarizeMemory),
	"invitro-azure2019-10fn-fullday/invocations.csv":    sumOf(Parse2019Invocations, summarizeInvocations),
	"invitro-azure2019-10fn-fullday/durations.csv":      sumOf(Parse2019Durations, summarizeDurations),
	"invitro-azure2019-10fn-fullday/memory.csv":         sumOf(ParseInVitroMemory, summarizeMemory),
	"invitro-azure2021-200/Azure2021_200.csv":           sumOf(Parse2021, summarize2021),
}

func sumOf[T any](parse func(string, io.Reader) (T, error), sum func(T) string) func(string, io.Reader) (string, error) {
	return func(name string, r io.Reader) (string, error) {
		v, err := parse(name, r)
		if err != nil {
			return "", err
		}
		return sum(v), nil
	}
}

// TestSampleFilesCovered fails when a CSV lands in testdata without a
// parser test.
func TestSampleFilesCovered(t *testing.T) {
	var found []string
	err := filepath.WalkDir("testdata", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && d.Name() == "golden" {
			return filepath.SkipDir
		}
		if !d.IsDir() && strings.HasSuffix(path, ".csv") {
			rel, _ := filepath.Rel("testdata", path)
			found = append(found, filepath.ToSlash(rel))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	for k := range sampleParsers {
		want = append(want, k)
	}
	slices.Sort(found)
	slices.Sort(want)
	if !slices.Equal(found, want) {
		t.Errorf("sample CSVs in testdata:\n%q\nwith parser tests:\n%q", found, want)
	}
}

// TestGoldenParse parses every sample file and compares a summary with
// testdata/golden/<file>.golden (rewrite with -update).
func TestGoldenParse(t *testing.T) {
	for file, parse := range sampleParsers {
		t.Run(file, func(t *testing.T) {
			data, err := os.ReadFile(filepath.Join("testdata", file))
			if err != nil {
				t.Fatal(err)
			}
			got, err := parse(file, bytes.NewReader(data))
			if err != nil {
				t.Fatalf("parse: %v", err)
			}
			checkGolden(t, filepath.Join("testdata", "golden", strings.TrimSuffix(file, ".csv")+".golden"), got)
		})
	}
}

// TestLineEndTolerance: CRLF and trailing empty lines change nothing.
func TestLineEndTolerance(t *testing.T) {
	for file, parse := range sampleParsers {
		t.Run(file, func(t *testing.T) {
			data, err := os.ReadFile(filepath.Join("testdata", file))
			if err != nil {
				t.Fatal(err)
			}
			want, err := parse(file, bytes.NewReader(data))
			if err != nil {
				t.Fatal(err)
			}
			crlf := bytes.ReplaceAll(data, []byte("\n"), []byte("\r\n"))
			for _, variant := range [][]byte{
				crlf,
				append(slices.Clip(data), "\n\n\n"...),
				append(slices.Clip(crlf), "\r\n\r\n"...),
				append(slices.Clip(data), "\r\n\n"...),
			} {
				got, err := parse(file, bytes.NewReader(variant))
				if err != nil {
					t.Fatalf("variant %q…: %v", tail(variant), err)
				}
				if got != want {
					t.Errorf("variant ending %q parses differently", tail(variant))
				}
			}
		})
	}
}

func tail(b []byte) []byte {
	if len(b) > 12 {
		return b[len(b)-12:]
	}
	return b
}

func checkGolden(t *testing.T, path, got string) {
	t.Helper()
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -run %s -update to create it)", err, t.Name())
	}
	if got != string(want) {
		t.Errorf("%s differs from the summary (run with -update to accept):\n--- got\n%s\n--- want\n%s", path, got, want)
	}
}

func summarizeInvocations(tab *InvocationTable) string {
	var b strings.Builder
	minutes := 0
	if len(tab.Rows) > 0 {
		minutes = len(tab.Rows[0].Counts)
	}
	perMinute := make([]int, minutes)
	total := 0
	triggers := map[Trigger]int{}
	for _, r := range tab.Rows {
		for m, c := range r.Counts {
			perMinute[m] += c
			total += c
		}
		triggers[r.Trigger]++
	}
	fmt.Fprintf(&b, "rows %d, minutes %d (labels %d..%d), invocations %d\n", len(tab.Rows), minutes, tab.FirstMinute, tab.FirstMinute+minutes-1, total)
	if minutes > 0 {
		fmt.Fprintf(&b, "per-minute total: min %d, max %d\n", slices.Min(perMinute), slices.Max(perMinute))
	}
	fmt.Fprintf(&b, "triggers:")
	for _, tr := range []Trigger{HTTP, Timer, Event, Queue, Storage, Orchestration, Others} {
		if triggers[tr] > 0 {
			fmt.Fprintf(&b, " %s=%d", tr, triggers[tr])
		}
	}
	b.WriteString("\n")
	for _, r := range tab.Rows {
		sum, peak, active := 0, 0, 0
		for _, c := range r.Counts {
			sum += c
			peak = max(peak, c)
			if c > 0 {
				active++
			}
		}
		fmt.Fprintf(&b, "%s %s %s %s total=%d peak=%d active_minutes=%d\n", short(r.Owner), short(r.App), short(r.Function), r.Trigger, sum, peak, active)
	}
	return b.String()
}

func fmtPercentiles(p Percentiles) string {
	var parts []string
	for _, pt := range p {
		parts = append(parts, fmt.Sprintf("p%g=%.6g", pt.Q*100, pt.Value))
	}
	return strings.Join(parts, " ")
}

func summarizeDurations(rows []DurationRow) string {
	var b strings.Builder
	fmt.Fprintf(&b, "rows %d\n", len(rows))
	for _, r := range rows {
		s := r.Stats
		minS, maxS := "-", "-"
		if s.HasMinimum {
			minS = fmt.Sprintf("%g", s.MinimumMs)
		}
		if s.HasMaximum {
			maxS = fmt.Sprintf("%g", s.MaximumMs)
		}
		fmt.Fprintf(&b, "%s %s %s avg=%g count=%d min=%s max=%s %s\n", short(r.Owner), short(r.App), short(r.Function), s.AverageMs, s.Count, minS, maxS, fmtPercentiles(s.Percentiles))
	}
	return b.String()
}

func summarizeMemory(rows []MemoryRow) string {
	var b strings.Builder
	fmt.Fprintf(&b, "rows %d\n", len(rows))
	for _, r := range rows {
		s := r.Stats
		fmt.Fprintf(&b, "%s %s %s per_function=%v samples=%d avg=%.6g %s\n", short(r.Owner), short(r.App), short(r.Function), r.PerFunction, s.SampleCount, s.AverageMB, fmtPercentiles(s.Percentiles))
	}
	return b.String()
}

func summarizeSizes(sizes []int64) string {
	return fmt.Sprintf("sizes %d: %v\n", len(sizes), sizes)
}

func summarize2021(recs []Record2021) string {
	var b strings.Builder
	apps := map[string]bool{}
	pairs := map[Key]bool{}
	minStart, maxStart, maxEnd, maxDur, sumDur := 1e18, -1e18, 0.0, 0.0, 0.0
	sorted := true
	for i, r := range recs {
		apps[r.App] = true
		pairs[Key{App: r.App, Function: r.Func}] = true
		minStart = min(minStart, r.Start())
		maxStart = max(maxStart, r.Start())
		maxEnd = max(maxEnd, r.EndSeconds)
		maxDur = max(maxDur, r.DurationSec)
		sumDur += r.DurationSec
		if i > 0 && r.Start() < recs[i-1].Start() {
			sorted = false
		}
	}
	fmt.Fprintf(&b, "records %d, apps %d, functions %d, sorted by start %v\n", len(recs), len(apps), len(pairs), sorted)
	fmt.Fprintf(&b, "start %.6g..%.6g s, last end %.6g s, longest %.6g s, total %.6g s\n", minStart, maxStart, maxEnd, maxDur, sumDur)
	for i, r := range recs {
		if i < 5 || i >= len(recs)-2 {
			fmt.Fprintf(&b, "%d: %s %s end=%.10g dur=%g\n", i+2, short(r.App), short(r.Func), r.EndSeconds, r.DurationSec)
		}
	}
	return b.String()
}

// TestParseErrors checks exact messages, lines and columns.
func TestParseErrors(t *testing.T) {
	invHeader := "HashOwner,HashApp,HashFunction,Trigger,1,2,3,4\n"
	goodInv := "o,a,f,http,1,2,3,4\n"
	durHeader := "HashOwner,HashApp,HashFunction,Average,Count,Minimum,Maximum,percentile_Average_0,percentile_Average_1,percentile_Average_25,percentile_Average_50,percentile_Average_75,percentile_Average_99,percentile_Average_100\n"
	memCols := "SampleCount,AverageAllocatedMb,AverageAllocatedMb_pct1,AverageAllocatedMb_pct5,AverageAllocatedMb_pct25,AverageAllocatedMb_pct50,AverageAllocatedMb_pct75,AverageAllocatedMb_pct95,AverageAllocatedMb_pct99,AverageAllocatedMb_pct100\n"
	type parser func(string, io.Reader) error
	wrap := func(p any) parser {
		switch p := p.(type) {
		case func(string, io.Reader) (*InvocationTable, error):
			return func(n string, r io.Reader) error { _, err := p(n, r); return err }
		case func(string, io.Reader) ([]DurationRow, error):
			return func(n string, r io.Reader) error { _, err := p(n, r); return err }
		case func(string, io.Reader) ([]MemoryRow, error):
			return func(n string, r io.Reader) error { _, err := p(n, r); return err }
		case func(string, io.Reader) ([]int64, error):
			return func(n string, r io.Reader) error { _, err := p(n, r); return err }
		case func(string, io.Reader) ([]Record2021, error):
			return func(n string, r io.Reader) error { _, err := p(n, r); return err }
		}
		panic(fmt.Sprintf("unknown parser %T", p))
	}
	inv2019 := wrap(Parse2019Invocations)
	tests := []struct {
		name   string
		parse  parser
		file   string
		input  string
		want   string
		line   int
		column int
	}{
		{"not an integer", inv2019, "invocations.csv",
			invHeader + strings.Repeat(goodInv, 10) + "o,a,g,http,1,2,x,4\n",
			`invocations.csv:12: column 7 "x": not an integer`, 12, 7},
		{"empty file", inv2019, "invocations.csv", "", `invocations.csv:1: empty file, want a header line`, 1, 0},
		{"only empty lines", inv2019, "invocations.csv", "\r\n\n", `invocations.csv:1: empty file, want a header line`, 1, 0},
		{"leading empty line", inv2019, "invocations.csv", "\n" + invHeader, `invocations.csv:1: empty line before more data`, 1, 0},
		{"empty line inside", inv2019, "invocations.csv", invHeader + goodInv + "\r\n" + goodInv, `invocations.csv:3: empty line before more data`, 3, 0},
		{"wrong key column", inv2019, "invocations.csv", "HashOwner,HashApp,HashFunc,Trigger,1\n", `invocations.csv:1: column 3 "HashFunc": want "HashFunction"`, 1, 3},
		{"short header", inv2019, "invocations.csv", "HashOwner,HashApp\n", `invocations.csv:1: 2 columns, want 4 (HashOwner,HashApp,HashFunction,Trigger)`, 1, 0},
		{"no minutes", inv2019, "invocations.csv", "HashOwner,HashApp,HashFunction,Trigger\n", `invocations.csv:1: no minute columns after column 4`, 1, 0},
		{"minute gap", inv2019, "invocations.csv", "HashOwner,HashApp,HashFunction,Trigger,1,3\n", `invocations.csv:1: column 6 "3": minute labels must be consecutive: want 2`, 1, 6},
		{"minute zero", inv2019, "invocations.csv", "HashOwner,HashApp,HashFunction,Trigger,0,1\n", `invocations.csv:1: column 5 "0": minute labels start at 1 or above`, 1, 5},
		{"minute label", inv2019, "invocations.csv", "HashOwner,HashApp,HashFunction,Trigger,1,two\n", `invocations.csv:1: column 6 "two": minute label: not an integer`, 1, 6},
		{"too few fields", inv2019, "invocations.csv", invHeader + "o,a,f,http,1,2,3\n", `invocations.csv:2: 7 columns, want 8 as in the header`, 2, 0},
		{"too many fields", inv2019, "invocations.csv", invHeader + goodInv + "o,a,f,http,1,2,3,4,\n", `invocations.csv:3: 9 columns, want 8 as in the header`, 3, 0},
		{"negative count", inv2019, "invocations.csv", invHeader + "o,a,f,http,1,-2,3,4\n", `invocations.csv:2: column 6 "-2": negative`, 2, 6},
		{"plus sign", inv2019, "invocations.csv", invHeader + "o,a,f,http,+1,2,3,4\n", `invocations.csv:2: column 5 "+1": not an integer`, 2, 5},
		{"fraction count", inv2019, "invocations.csv", invHeader + "o,a,f,http,1.0,2,3,4\n", `invocations.csv:2: column 5 "1.0": not an integer`, 2, 5},
		{"space in count", inv2019, "invocations.csv", invHeader + "o,a,f,http,1, 2,3,4\n", `invocations.csv:2: column 6 " 2": not an integer`, 2, 6},
		{"huge count", inv2019, "invocations.csv", invHeader + "o,a,f,http,1,99999999999999999999,3,4\n", `invocations.csv:2: column 6 "99999999999999999999": out of range`, 2, 6},
		{"empty count", inv2019, "invocations.csv", invHeader + "o,a,f,http,1,,3,4\n", `invocations.csv:2: column 6 "": empty`, 2, 6},
		{"unknown trigger", inv2019, "invocations.csv", invHeader + "o,a,f,webhook,1,2,3,4\n", `invocations.csv:2: column 4 "webhook": unknown trigger (want http, timer, event, queue, storage, orchestration or others)`, 2, 4},
		{"empty id", inv2019, "invocations.csv", invHeader + "o,,f,http,1,2,3,4\n", `invocations.csv:2: column 2 "": empty`, 2, 2},
		{"quoted id", inv2019, "invocations.csv", invHeader + "\"o\",a,f,http,1,2,3,4\n", `invocations.csv:2: column 1 "\"o\"": identifier contains a quote, a control character or invalid UTF-8`, 2, 1},
		{"bare CR", inv2019, "invocations.csv", invHeader + "o,a\rb,f,http,1,2,3,4\n", `invocations.csv:2: column 2 "a\rb": identifier contains a quote, a control character or invalid UTF-8`, 2, 2},
		{"bad utf-8", inv2019, "invocations.csv", invHeader + "o,a,f\xff,http,1,2,3,4\n", `invocations.csv:2: column 3 "f\xff": identifier contains a quote, a control character or invalid UTF-8`, 2, 3},
		{"BOM", inv2019, "invocations.csv", "\ufeff" + invHeader, `invocations.csv:1: column 1 "\ufeffHashOwner": want "HashOwner"`, 1, 1},

		{"libra minutes from 1", wrap(ParseLibraInvocations), "inv.csv", "HashFunction,Trigger,2,3\n", `inv.csv:1: column 3 "2": minute labels must start at 1`, 1, 3},
		{"libra key column", wrap(ParseLibraInvocations), "inv.csv", invHeader, `inv.csv:1: column 1 "HashOwner": want "HashFunction"`, 1, 1},

		{"duration percentile order", wrap(Parse2019Durations), "durations.csv", durHeader + "o,a,f,10,3,1.0,20.0,1,2,7,5,8,9,20\n", `durations.csv:2: column 11 "5": percentile below the previous one (7)`, 2, 11},
		{"duration NaN", wrap(Parse2019Durations), "durations.csv", durHeader + "o,a,f,NaN,3,1.0,20.0,1,2,3,5,8,9,20\n", `durations.csv:2: column 4 "NaN": not a number`, 2, 4},
		{"duration hex", wrap(Parse2019Durations), "durations.csv", durHeader + "o,a,f,0x10,3,1.0,20.0,1,2,3,5,8,9,20\n", `durations.csv:2: column 4 "0x10": not a number`, 2, 4},
		{"duration underscore", wrap(Parse2019Durations), "durations.csv", durHeader + "o,a,f,1_0,3,1.0,20.0,1,2,3,5,8,9,20\n", `durations.csv:2: column 4 "1_0": not a number`, 2, 4},
		{"duration overflow", wrap(Parse2019Durations), "durations.csv", durHeader + "o,a,f,1e999,3,1.0,20.0,1,2,3,5,8,9,20\n", `durations.csv:2: column 4 "1e999": out of range`, 2, 4},
		{"duration negative", wrap(Parse2019Durations), "durations.csv", durHeader + "o,a,f,10,3,-1.0,20.0,1,2,3,5,8,9,20\n", `durations.csv:2: column 6 "-1.0": negative`, 2, 6},
		{"duration count fraction", wrap(Parse2019Durations), "durations.csv", durHeader + "o,a,f,10,3.5,1.0,20.0,1,2,3,5,8,9,20\n", `durations.csv:2: column 5 "3.5": not an integer`, 2, 5},
		{"duration max below min", wrap(Parse2019Durations), "durations.csv", durHeader + "o,a,f,10,3,30.0,20.0,1,2,3,5,8,9,20\n", `durations.csv:2: column 7 "20.0": maximum below minimum (30.0)`, 2, 7},
		{"duration missing percentile", wrap(Parse2019Durations), "durations.csv", durHeader + "o,a,f,10,3,1.0,20.0,1,2,3,5,8,,20\n", `durations.csv:2: column 13 "": empty`, 2, 13},
		{"duration extra column", wrap(Parse2019Durations), "durations.csv", strings.TrimSuffix(durHeader, "\n") + ",x\n", `durations.csv:1: 15 columns, want 14 (HashOwner,HashApp,HashFunction,Average,Count,Minimum,Maximum,percentile_Average_0,percentile_Average_1,percentile_Average_25,percentile_Average_50,percentile_Average_75,percentile_Average_99,percentile_Average_100)`, 1, 0},

		{"memory per app header", wrap(Parse2019Memory), "memory.csv", "HashFunction,HashOwner,HashApp," + memCols, `memory.csv:1: column 1 "HashFunction": want "HashOwner"`, 1, 1},
		{"memory in-vitro header", wrap(ParseInVitroMemory), "memory.csv", "HashApp,HashOwner,HashFunction," + memCols, `memory.csv:1: column 1 "HashApp": want "HashFunction" or "HashOwner"`, 1, 1},
		{"memory in-vitro second column", wrap(ParseInVitroMemory), "memory.csv", "HashOwner,HashFunction,HashApp," + memCols, `memory.csv:1: column 2 "HashFunction": want "HashApp"`, 1, 2},
		{"memory pct order", wrap(Parse2019Memory), "memory.csv", "HashOwner,HashApp," + memCols + "o,a,10,5,1,2,3,4,5,6,7,6.5\n", `memory.csv:2: column 12 "6.5": percentile below the previous one (7)`, 2, 12},
		{"memory sample count", wrap(Parse2019Memory), "memory.csv", "HashOwner,HashApp," + memCols + "o,a,ten,5,1,2,3,4,5,6,7,8\n", `memory.csv:2: column 3 "ten": not an integer`, 2, 3},
		{"memory libra", wrap(ParseLibraMemory), "m.csv", "HashFunction," + memCols + "dh,10,5,1,2,3,4,5,6,7,e9\n", `m.csv:2: column 11 "e9": not a number`, 2, 11},

		{"sizes two rows", wrap(ParseLibraInputSizes), "sizes.csv", "1,2\n3,4\n5,6\n", `sizes.csv:3: more than one data line`, 3, 0},
		{"sizes no row", wrap(ParseLibraInputSizes), "sizes.csv", "1,2,3\n", `sizes.csv:2: no data line, want one row of 3 input sizes`, 2, 0},
		{"sizes label", wrap(ParseLibraInputSizes), "sizes.csv", "0,1\n", `sizes.csv:1: column 1 "0": event labels must start at 1`, 1, 1},
		{"sizes value", wrap(ParseLibraInputSizes), "sizes.csv", "1,2\n3,4.5\n", `sizes.csv:2: column 2 "4.5": not an integer`, 2, 2},
		{"sizes count", wrap(ParseLibraInputSizes), "sizes.csv", "1,2\n3\n", `sizes.csv:2: 1 columns, want 2 as in the header`, 2, 0},

		{"2021 header", wrap(Parse2021), "a.csv", "app,func,end,duration\n", `a.csv:1: column 3 "end": want "end_timestamp"`, 1, 3},
		{"2021 negative", wrap(Parse2021), "a.csv", "app,func,end_timestamp,duration\na,f,1.5,-0.1\n", `a.csv:2: column 4 "-0.1": negative`, 2, 4},
		{"2021 far future", wrap(Parse2021), "a.csv", "app,func,end_timestamp,duration\na,f,1e12,0.1\n", `a.csv:2: column 3 "1e12": out of range`, 2, 3},
		{"2021 empty func", wrap(Parse2021), "a.csv", "app,func,end_timestamp,duration\na,,1.5,0.1\n", `a.csv:2: column 2 "": empty`, 2, 2},
		{"2021 short line", wrap(Parse2021), "a.csv", "app,func,end_timestamp,duration\na,f,1.5\n", `a.csv:2: 3 columns, want 4 as in the header`, 2, 0},
		{"2021 exponent without digits", wrap(Parse2021), "a.csv", "app,func,end_timestamp,duration\na,f,1e,0.1\n", `a.csv:2: column 3 "1e": not a number`, 2, 3},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.parse(tc.file, strings.NewReader(tc.input))
			if err == nil {
				t.Fatalf("parse(%q) = nil error, want %s", tc.input, tc.want)
			}
			if err.Error() != tc.want {
				t.Errorf("parse(%q):\n got %s\nwant %s", tc.input, err, tc.want)
			}
			var pe *ParseError
			if !errors.As(err, &pe) {
				t.Fatalf("error %T is not a *ParseError", err)
			}
			if pe.File != tc.file || pe.Line != tc.line || pe.Column != tc.column {
				t.Errorf("position %s:%d col %d, want %s:%d col %d", pe.File, pe.Line, pe.Column, tc.file, tc.line, tc.column)
			}
		})
	}
}

func TestParseAccepts(t *testing.T) {
	durHeader := "HashOwner,HashApp,HashFunction,Average,Count,Minimum,Maximum,percentile_Average_0,percentile_Average_1,percentile_Average_25,percentile_Average_50,percentile_Average_75,percentile_Average_99,percentile_Average_100\n"
	rows, err := Parse2019Durations("d.csv", strings.NewReader(durHeader+"o,a,f,10,3,,,1,2,3,5,8,9,20\no,a,g,.5,1,2.,3e0,1E-1,2,3,5,8,9,20"))
	if err != nil {
		t.Fatal(err)
	}
	if got := rows[0].Stats; got.HasMinimum || got.HasMaximum {
		t.Errorf("empty Minimum/Maximum: got HasMinimum=%v HasMaximum=%v, want false", got.HasMinimum, got.HasMaximum)
	}
	if got := rows[1].Stats; !got.HasMinimum || got.MinimumMs != 2 || got.MaximumMs != 3 || got.AverageMs != 0.5 || got.Percentiles[0].Value != 0.1 {
		t.Errorf("decimal forms: got %+v", got)
	}
	// No data lines is a valid, empty table.
	tab, err := Parse2019Invocations("i.csv", strings.NewReader("HashOwner,HashApp,HashFunction,Trigger,5,6\r\n"))
	if err != nil || len(tab.Rows) != 0 || tab.FirstMinute != 5 {
		t.Errorf("header-only file: got %+v, %v", tab, err)
	}
}

type failingReader struct{}

func (failingReader) Read([]byte) (int, error) { return 0, errors.New("disk on fire") }

func TestParseReadError(t *testing.T) {
	_, err := Parse2021("x.csv", failingReader{})
	if err == nil || err.Error() != "read x.csv: disk on fire" {
		t.Errorf("got %v, want the read error wrapped with the file name", err)
	}
	var pe *ParseError
	if errors.As(err, &pe) {
		t.Errorf("a read error is not a ParseError: %v", err)
	}
}

func TestParseErrorClipsLongValues(t *testing.T) {
	// 40 bytes are kept: 30 digits and five two-byte runes; the cut never
	// splits a rune (31 digits would leave room for four).
	long := strings.Repeat("9", 30) + strings.Repeat("é", 20)
	_, err := Parse2021("a.csv", strings.NewReader("app,func,end_timestamp,duration\na,f,1"+long+",1\n"))
	if want := `a.csv:2: column 3 "1999999999999999999999999999999éééé…": not a number`; err == nil || err.Error() != want {
		t.Errorf("got %v\nwant %s", err, want)
	}
	_, err = Parse2021("a.csv", strings.NewReader("app,func,end_timestamp,duration\na,f,"+long+",1\n"))
	want := `a.csv:2: column 3 "999999999999999999999999999999ééééé…": not a number`
	if err == nil || err.Error() != want {
		t.Errorf("got %v\nwant %s", err, want)
	}
}

// --- fuzzing -------------------------------------------------------------

// addSeeds seeds a fuzz target with the first lines of sample files (whole
// files make mutation slow; the golden tests cover them in full).
func addSeeds(f *testing.F, files ...string) {
	for _, file := range files {
		data, err := os.ReadFile(filepath.Join("testdata", file))
		if err != nil {
			f.Fatal(err)
		}
		lines := bytes.SplitAfter(data, []byte("\n"))
		f.Add(bytes.Join(lines[:min(4, len(lines))], nil))
	}
}

// fuzzParse checks, for any input: no panic; errors are *ParseErrors with a
// position inside the input; successful results satisfy check and do not
// change with CRLF line ends or trailing empty lines.
func fuzzParse[T any](f *testing.F, parse func(string, io.Reader) (T, error), check func(*testing.T, T)) {
	f.Fuzz(func(t *testing.T, data []byte) {
		v, err := parse("fuzz.csv", bytes.NewReader(data))
		if err != nil {
			var pe *ParseError
			if !errors.As(err, &pe) {
				t.Fatalf("error %T %v is not a *ParseError", err, err)
			}
			lines := bytes.Count(data, []byte("\n")) + 1
			if pe.File != "fuzz.csv" || pe.Line < 1 || pe.Line > lines+1 || pe.Column < 0 {
				t.Fatalf("error position out of the input (%d lines): %v", lines, err)
			}
			if pe.Err == nil || pe.Error() == "" {
				t.Fatalf("error without a cause: %#v", pe)
			}
			return
		}
		check(t, v)
		if bytes.IndexByte(data, '\r') >= 0 {
			return
		}
		for _, variant := range [][]byte{
			bytes.ReplaceAll(data, []byte("\n"), []byte("\r\n")),
			append(slices.Clip(data), "\n\r\n\n"...),
		} {
			v2, err := parse("fuzz.csv", bytes.NewReader(variant))
			if err != nil {
				t.Fatalf("accepted %q but not its variant %q: %v", data, variant, err)
			}
			if !reflect.DeepEqual(v, v2) {
				t.Fatalf("variant %q parses differently", variant)
			}
		}
	})
}

func checkPercentiles(t *testing.T, p Percentiles, n int) {
	t.Helper()
	if len(p) != n {
		t.Fatalf("%d percentiles, want %d", len(p), n)
	}
	for i := range p {
		if p[i].Value < 0 || (i > 0 && (p[i].Value < p[i-1].Value || p[i].Q <= p[i-1].Q)) {
			t.Fatalf("percentiles not non-decreasing and non-negative: %v", p)
		}
	}
}

func checkKey(t *testing.T, k Key) {
	t.Helper()
	for _, s := range []string{k.Owner, k.App, k.Function} {
		if strings.ContainsAny(s, ",\"\r\n") {
			t.Fatalf("key field %q holds a separator, quote or line end", s)
		}
	}
}

func checkTable(t *testing.T, tab *InvocationTable) {
	if tab.FirstMinute < 1 {
		t.Fatalf("first minute %d", tab.FirstMinute)
	}
	for _, r := range tab.Rows {
		checkKey(t, r.Key)
		if !r.Trigger.Known() || len(r.Counts) != len(tab.Rows[0].Counts) || len(r.Counts) == 0 {
			t.Fatalf("bad row %+v", r)
		}
		for _, c := range r.Counts {
			if c < 0 {
				t.Fatalf("negative count in %+v", r)
			}
		}
	}
}

func checkDurations(t *testing.T, rows []DurationRow) {
	for _, r := range rows {
		checkKey(t, r.Key)
		checkPercentiles(t, r.Stats.Percentiles, 7)
		if r.Stats.Count < 0 || r.Stats.AverageMs < 0 {
			t.Fatalf("bad row %+v", r)
		}
	}
}

func checkMemory(perFunction bool) func(*testing.T, []MemoryRow) {
	return func(t *testing.T, rows []MemoryRow) {
		for _, r := range rows {
			checkKey(t, r.Key)
			checkPercentiles(t, r.Stats.Percentiles, 8)
			if r.PerFunction != perFunction || (r.Function == "") == perFunction {
				t.Fatalf("bad row %+v", r)
			}
		}
	}
}

func FuzzParse2019Invocations(f *testing.F) {
	addSeeds(f, "invitro-azure2019-100fn/invocations.csv")
	f.Add([]byte("HashOwner,HashApp,HashFunction,Trigger,7,8\no,a,f,timer,0,3\r\n"))
	fuzzParse(f, Parse2019Invocations, checkTable)
}

func FuzzParse2019Durations(f *testing.F) {
	addSeeds(f, "invitro-azure2019-10fn-fullday/durations.csv")
	fuzzParse(f, Parse2019Durations, checkDurations)
}

func FuzzParse2019Memory(f *testing.F) {
	f.Add([]byte("HashOwner,HashApp,SampleCount,AverageAllocatedMb,AverageAllocatedMb_pct1,AverageAllocatedMb_pct5,AverageAllocatedMb_pct25,AverageAllocatedMb_pct50,AverageAllocatedMb_pct75,AverageAllocatedMb_pct95,AverageAllocatedMb_pct99,AverageAllocatedMb_pct100\no,a,100,150,120,125,140,150,160,170,180,190\n"))
	fuzzParse(f, Parse2019Memory, checkMemory(false))
}

func FuzzParseInVitroMemory(f *testing.F) {
	addSeeds(f, "invitro-azure2019-10fn-fullday/memory.csv", "invitro-azure2019-100fn/memory.csv")
	fuzzParse(f, ParseInVitroMemory, checkMemory(true))
}

func FuzzParseLibraInvocations(f *testing.F) {
	addSeeds(f, "libra-demo/demo_1_invocation_traces_0.csv", "freyr-60min/exp_openwhisk_invocation_traces_0.csv")
	fuzzParse(f, ParseLibraInvocations, checkTable)
}

func FuzzParseLibraDurations(f *testing.F) {
	addSeeds(f, "libra-demo/demo_1_duration_traces_0.csv", "freyr-60min/exp_openwhisk_duration_traces_0.csv")
	fuzzParse(f, ParseLibraDurations, checkDurations)
}

func FuzzParseLibraMemory(f *testing.F) {
	addSeeds(f, "libra-demo/demo_1_memory_traces_0.csv", "freyr-60min/exp_openwhisk_memory_traces_0.csv")
	fuzzParse(f, ParseLibraMemory, checkMemory(true))
}

func FuzzParseLibraInputSizes(f *testing.F) {
	addSeeds(f, "libra-demo/demo_1_input_size_traces_0.csv")
	fuzzParse(f, ParseLibraInputSizes, func(t *testing.T, sizes []int64) {
		if len(sizes) == 0 {
			t.Fatal("accepted an empty size list")
		}
		for _, s := range sizes {
			if s < 0 {
				t.Fatalf("negative size in %v", sizes)
			}
		}
	})
}

func FuzzParse2021(f *testing.F) {
	addSeeds(f, "invitro-azure2021-200/Azure2021_200.csv")
	f.Add([]byte("app,func,end_timestamp,duration\na,f,1.5,0.5\na,g,.5e1,3.\n"))
	fuzzParse(f, Parse2021, func(t *testing.T, recs []Record2021) {
		for _, r := range recs {
			checkKey(t, Key{App: r.App, Function: r.Func})
			if r.App == "" || r.Func == "" || !(r.EndSeconds >= 0) || !(r.DurationSec >= 0) || r.EndSeconds > maxSeconds2021 {
				t.Fatalf("bad record %+v", r)
			}
		}
		// Whatever parses must convert.
		tr, rep := From2021(recs)
		if err := tr.Validate(); err != nil || rep.Records != len(recs) || tr.Total() != len(recs) {
			t.Fatalf("From2021: %v, report %+v, total %d", err, rep, tr.Total())
		}
	})
}

func BenchmarkParse2019Invocations(b *testing.B) {
	data, err := os.ReadFile("testdata/invitro-azure2019-10fn-fullday/invocations.csv")
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Parse2019Invocations("invocations.csv", bytes.NewReader(data)); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/10, "ns/function-day")
}
