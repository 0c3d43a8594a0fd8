package profile

import "time"

// Reading is one read of a container's counters, as the sources report them.
type Reading struct {
	At               time.Time
	CPU              time.Duration // cumulative on-CPU time (the CPU source's counter)
	Throttled        time.Duration // cumulative time throttled by the CFS quota
	ThrottledPeriods uint64        // cumulative number of throttled periods
	Memory           uint64        // bytes charged now
	MemoryPeak       uint64        // high-water mark since the previous read; 0 when unknown
}

// Sample is what one window of a container looked like. A window is (At−Window, At]. Cumulative
// fields count from the first reading after the container was added.
type Sample struct {
	At             time.Time
	Window         time.Duration // since the previous sample; 0 on the first one
	CPUMillicores  float64       // mean CPU use over the window (1000 = one core)
	CPUDelta       time.Duration // CPU time used in the window
	CPU            time.Duration // cumulative CPU time
	ThrottledDelta time.Duration // time throttled in the window
	Throttled      time.Duration // cumulative time throttled
	Memory         uint64        // bytes charged at At
	MemoryPeak     uint64        // highest charge within the window (at least Memory)
}

// Tracker turns successive Readings of one container into Samples, keeping the previous
// reading. The zero value is ready. Not safe for concurrent use.
type Tracker struct {
	prev      Reading
	started   bool
	cpu       time.Duration
	throttled time.Duration
}

// Update takes the next reading and returns the sample of the window since the previous one.
// A counter that goes backwards (the source was reset) counts as no use in that window.
func (t *Tracker) Update(r Reading) Sample {
	s := Sample{At: r.At, Memory: r.Memory, MemoryPeak: max(r.MemoryPeak, r.Memory)}
	if !t.started {
		t.prev, t.started = r, true
		return s
	}
	s.Window = r.At.Sub(t.prev.At)
	s.CPUDelta = nonNegative(r.CPU - t.prev.CPU)
	s.ThrottledDelta = nonNegative(r.Throttled - t.prev.Throttled)
	if s.Window > 0 {
		s.CPUMillicores = 1000 * float64(s.CPUDelta) / float64(s.Window)
	} else {
		s.Window = 0
	}
	t.cpu += s.CPUDelta
	t.throttled += s.ThrottledDelta
	s.CPU, s.Throttled = t.cpu, t.throttled
	t.prev = r
	return s
}

func nonNegative(d time.Duration) time.Duration {
	return max(d, 0)
}

// Summary describes a container's use over an interval, e.g. one activation.
type Summary struct {
	Duration     time.Duration // end − start
	Covered      time.Duration // how much of [start, end] the sample windows cover
	CPU          time.Duration // CPU time used (windows cut by the interval count pro rata)
	PeakCPUCores float64       // highest mean use over one window overlapping the interval
	PeakMemory   uint64        // highest charge in a window overlapping the interval
	Throttled    time.Duration // time throttled (pro rata like CPU)
	Samples      int           // windows that overlap the interval
}

// Summarize reduces the samples of one container, in time order, to the interval [start, end].
// A window (At−Window, At] counts if it overlaps the interval; its CPU and throttled time count in
// proportion to the overlap, its memory peak in full (a peak cannot be placed inside a window).
// Its CPU peak counts only when the window begins inside the interval, or when no window does
// (an interval within one window): the window that straddles the start holds what ran before
// it — for an activation's /run, the cold start's runtime boot and /init, a burst of a whole
// core that is not the action's demand. A window that straddles the end holds only the idle
// tail, which cannot raise a peak. A first
// sample (Window 0) counts for memory when At lies in the interval. Covered < Duration means the
// samples do not reach all of it yet: call again after the sample that ends after end has been
// taken, or the history was too short.
func Summarize(samples []Sample, start, end time.Time) Summary {
	sum := Summary{Duration: nonNegative(end.Sub(start))}
	if sum.Duration == 0 && !end.Equal(start) {
		return sum
	}
	var straddling float64 // CPU peak of the window that begins before start
	inside := false
	for _, s := range samples {
		from := s.At.Add(-s.Window)
		if s.Window == 0 {
			if s.At.Before(start) || s.At.After(end) {
				continue
			}
			sum.PeakMemory = max(sum.PeakMemory, s.MemoryPeak, s.Memory)
			sum.Samples++
			continue
		}
		lo, hi := later(from, start), earlier(s.At, end)
		if !hi.After(lo) {
			continue
		}
		ov := hi.Sub(lo)
		frac := float64(ov) / float64(s.Window)
		sum.Covered += ov
		sum.CPU += time.Duration(frac * float64(s.CPUDelta))
		sum.Throttled += time.Duration(frac * float64(s.ThrottledDelta))
		if from.Before(start) {
			straddling = max(straddling, s.CPUMillicores/1000)
		} else {
			inside = true
			sum.PeakCPUCores = max(sum.PeakCPUCores, s.CPUMillicores/1000)
		}
		sum.PeakMemory = max(sum.PeakMemory, s.MemoryPeak, s.Memory)
		sum.Samples++
	}
	if !inside {
		sum.PeakCPUCores = straddling
	}
	return sum
}

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

func earlier(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}
