package profile

import (
	"testing"
	"time"
)

var t0 = time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)

func at(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }

const ms = time.Millisecond

func TestTrackerUpdate(t *testing.T) {
	const mib = 1 << 20
	steps := []struct {
		in   Reading
		want Sample
	}{
		{ // first reading: the baseline, no window
			in:   Reading{At: at(0), CPU: 7 * time.Second, Throttled: time.Second, Memory: 10 * mib, MemoryPeak: 50 * mib},
			want: Sample{At: at(0), Memory: 10 * mib, MemoryPeak: 50 * mib},
		},
		{ // one core for 100 ms
			in:   Reading{At: at(100), CPU: 7*time.Second + 100*ms, Throttled: time.Second, Memory: 12 * mib, MemoryPeak: 20 * mib},
			want: Sample{At: at(100), Window: 100 * ms, CPUMillicores: 1000, CPUDelta: 100 * ms, CPU: 100 * ms, Memory: 12 * mib, MemoryPeak: 20 * mib},
		},
		{ // half a core over 200 ms, throttled 30 ms; peak unknown -> the usage
			in:   Reading{At: at(300), CPU: 7*time.Second + 200*ms, Throttled: time.Second + 30*ms, Memory: 11 * mib},
			want: Sample{At: at(300), Window: 200 * ms, CPUMillicores: 500, CPUDelta: 100 * ms, CPU: 200 * ms, ThrottledDelta: 30 * ms, Throttled: 30 * ms, Memory: 11 * mib, MemoryPeak: 11 * mib},
		},
		{ // a counter going backwards counts as no use; the baseline follows it
			in:   Reading{At: at(400), CPU: 50 * ms, Throttled: time.Second + 30*ms, Memory: 11 * mib, MemoryPeak: 11 * mib},
			want: Sample{At: at(400), Window: 100 * ms, CPU: 200 * ms, Throttled: 30 * ms, Memory: 11 * mib, MemoryPeak: 11 * mib},
		},
		{
			in:   Reading{At: at(500), CPU: 75 * ms, Throttled: time.Second + 30*ms, Memory: 11 * mib, MemoryPeak: 11 * mib},
			want: Sample{At: at(500), Window: 100 * ms, CPUMillicores: 250, CPUDelta: 25 * ms, CPU: 225 * ms, Throttled: 30 * ms, Memory: 11 * mib, MemoryPeak: 11 * mib},
		},
		{ // the same instant again: no window, no rate, use still counted
			in:   Reading{At: at(500), CPU: 80 * ms, Throttled: time.Second + 30*ms, Memory: 11 * mib},
			want: Sample{At: at(500), CPUDelta: 5 * ms, CPU: 230 * ms, Throttled: 30 * ms, Memory: 11 * mib, MemoryPeak: 11 * mib},
		},
	}
	var tr Tracker
	for i, st := range steps {
		if got := tr.Update(st.in); got != st.want {
			t.Errorf("step %d: Update(%+v)\n got %+v\nwant %+v", i, st.in, got, st.want)
		}
	}
}

func TestSummarize(t *testing.T) {
	// Four 100 ms windows ending at 100..400 ms: 1, 0.5, 2, 0 cores; memory peaks 10, 30, 20, 5.
	samples := []Sample{
		{At: at(0), Memory: 8, MemoryPeak: 9},
		{At: at(100), Window: 100 * ms, CPUMillicores: 1000, CPUDelta: 100 * ms, Memory: 9, MemoryPeak: 10},
		{At: at(200), Window: 100 * ms, CPUMillicores: 500, CPUDelta: 50 * ms, ThrottledDelta: 20 * ms, Memory: 25, MemoryPeak: 30},
		{At: at(300), Window: 100 * ms, CPUMillicores: 2000, CPUDelta: 200 * ms, ThrottledDelta: 40 * ms, Memory: 20, MemoryPeak: 20},
		{At: at(400), Window: 100 * ms, CPUMillicores: 0, CPUDelta: 0, Memory: 5, MemoryPeak: 5},
	}
	for _, tc := range []struct {
		name       string
		start, end time.Time
		want       Summary
	}{
		{
			name: "everything", start: at(0), end: at(400),
			want: Summary{Duration: 400 * ms, Covered: 400 * ms, CPU: 350 * ms, PeakCPUCores: 2, PeakMemory: 30, Throttled: 60 * ms, Samples: 5},
		},
		{
			name: "whole windows", start: at(100), end: at(300),
			want: Summary{Duration: 200 * ms, Covered: 200 * ms, CPU: 250 * ms, PeakCPUCores: 2, PeakMemory: 30, Throttled: 60 * ms, Samples: 2},
		},
		{
			name: "cut windows count pro rata, peaks in full from windows that begin inside", start: at(150), end: at(225),
			want: Summary{Duration: 75 * ms, Covered: 75 * ms, CPU: 25*ms + 50*ms, PeakCPUCores: 2, PeakMemory: 30, Throttled: 10*ms + 10*ms, Samples: 2},
		},
		{
			// The window straddling the start ran 1 core, mostly before the interval (a cold
			// start's /init before /run): not the interval's peak.
			name: "the window straddling the start holds no CPU peak", start: at(50), end: at(200),
			want: Summary{Duration: 150 * ms, Covered: 150 * ms, CPU: 50*ms + 50*ms, PeakCPUCores: 0.5, PeakMemory: 30, Throttled: 20 * ms, Samples: 2},
		},
		{
			name: "within one window its peak is all there is", start: at(250), end: at(280),
			want: Summary{Duration: 30 * ms, Covered: 30 * ms, CPU: 60 * ms, PeakCPUCores: 2, PeakMemory: 20, Throttled: 12 * ms, Samples: 1},
		},
		{
			name: "inside one window", start: at(310), end: at(360),
			want: Summary{Duration: 50 * ms, Covered: 50 * ms, PeakMemory: 5, Samples: 1},
		},
		{
			name: "runs past the last sample: covered falls short", start: at(350), end: at(600),
			want: Summary{Duration: 250 * ms, Covered: 50 * ms, PeakMemory: 5, Samples: 1},
		},
		{
			name: "before any sample", start: at(-500), end: at(-100),
			want: Summary{Duration: 400 * ms},
		},
		{
			name: "only the first reading", start: at(-50), end: at(0),
			want: Summary{Duration: 50 * ms, PeakMemory: 9, Samples: 1},
		},
		{
			name: "end before start", start: at(300), end: at(100),
			want: Summary{},
		},
		{
			name: "empty interval on a boundary", start: at(200), end: at(200),
			want: Summary{},
		},
	} {
		if got := Summarize(samples, tc.start, tc.end); got != tc.want {
			t.Errorf("%s: Summarize(%v..%v)\n got %+v\nwant %+v", tc.name, tc.start.Sub(t0), tc.end.Sub(t0), got, tc.want)
		}
	}
	if got := Summarize(nil, at(0), at(100)); got != (Summary{Duration: 100 * ms}) {
		t.Errorf("Summarize(nil) = %+v", got)
	}
}
