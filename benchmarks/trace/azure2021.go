package trace

import (
	"cmp"
	"io"
	"math"
	"slices"
	"time"
)

// Record2021 is one line of the 2021 invocation trace. Times are seconds
// since the trace start (the dataset's unit; its top-level README wrongly
// says milliseconds).
type Record2021 struct {
	App, Func   string // Func is unique only within App
	EndSeconds  float64
	DurationSec float64
}

// Start is the call's start in seconds: end minus duration.
func (r Record2021) Start() float64 { return r.EndSeconds - r.DurationSec }

// Parse2021 parses AzureFunctionsInvocationTraceForTwoWeeksJan2021.txt (a CSV
// despite the extension) and its excerpts: app,func,end_timestamp,duration.
// Rows are returned in file order (the trace is not sorted).
func Parse2021(name string, r io.Reader) ([]Record2021, error) {
	t := newTable(name, r)
	header, err := t.readHeader()
	if err != nil {
		return nil, err
	}
	if err := t.expectHeader(header, []string{"app", "func", "end_timestamp", "duration"}, true); err != nil {
		return nil, err
	}
	var out []Record2021
	for {
		fields, err := t.next()
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return nil, err
		}
		if err := t.expectFields(fields); err != nil {
			return nil, err
		}
		var rec Record2021
		if rec.App, err = t.id(fields, 0); err != nil {
			return nil, err
		}
		if rec.Func, err = t.id(fields, 1); err != nil {
			return nil, err
		}
		if rec.EndSeconds, err = t.number(fields, 2); err != nil {
			return nil, err
		}
		if rec.DurationSec, err = t.number(fields, 3); err != nil {
			return nil, err
		}
		if rec.EndSeconds > maxSeconds2021 {
			return nil, t.fieldErr(2, fields[2], errOutOfRange)
		}
		if rec.DurationSec > maxSeconds2021 {
			return nil, t.fieldErr(3, fields[3], errOutOfRange)
		}
		out = append(out, rec)
	}
}

// maxSeconds2021 bounds times so they convert to time.Duration exactly
// enough and minute counts stay small: a year, against the trace's 14 days.
const maxSeconds2021 = 365 * 24 * 3600

// Report2021 says what From2021 did with the records.
type Report2021 struct {
	Records   int
	Functions int
	// ClampedStarts counts records whose duration exceeds their end
	// timestamp (the trace's timestamps were altered); they start at 0.
	ClampedStarts int
}

// From2021 turns 2021 records into a Trace: one Function per (app, func)
// pair, sorted by app then func, with Invocations holding every call
// (start = end - duration, sorted), Counts binning the starts per minute
// from 0, and Duration holding percentiles (p0, p1, p25, p50, p75, p99,
// p100; linear between order statistics), average, count, minimum and
// maximum of the calls' durations in milliseconds. The 2021 trace has no
// memory and no trigger: Memory is nil and Trigger empty. The trace is as
// long as the minute of the latest start.
func From2021(records []Record2021) (*Trace, Report2021) {
	rep := Report2021{Records: len(records)}
	type fn struct {
		key  Key
		invs []Invocation
	}
	byKey := map[Key]*fn{}
	var last time.Duration
	for _, rec := range records {
		start := rec.Start()
		if start < 0 {
			start = 0
			rep.ClampedStarts++
		}
		inv := Invocation{
			Start:    time.Duration(math.Round(start * 1e9)),
			Duration: time.Duration(math.Round(rec.DurationSec * 1e9)),
		}
		k := Key{App: rec.App, Function: rec.Func}
		f := byKey[k]
		if f == nil {
			f = &fn{key: k}
			byKey[k] = f
		}
		f.invs = append(f.invs, inv)
		last = max(last, inv.Start)
	}
	minutes := 0
	if len(records) > 0 {
		minutes = int(last/time.Minute) + 1
	}
	tr := &Trace{FirstMinute: 0}
	for _, f := range byKey {
		slices.SortStableFunc(f.invs, func(a, b Invocation) int { return cmp.Compare(a.Start, b.Start) })
		counts := make([]int, minutes)
		for _, inv := range f.invs {
			counts[inv.Start/time.Minute]++
		}
		tr.Functions = append(tr.Functions, Function{
			Key:         f.key,
			Counts:      counts,
			Duration:    durationStats(f.invs),
			Invocations: f.invs,
		})
	}
	slices.SortFunc(tr.Functions, func(a, b Function) int {
		return cmp.Or(cmp.Compare(a.App, b.App), cmp.Compare(a.Function, b.Function))
	})
	rep.Functions = len(tr.Functions)
	return tr, rep
}

func durationStats(invs []Invocation) *DurationStats {
	ms := make([]float64, len(invs))
	sum := 0.0
	for i, inv := range invs {
		ms[i] = float64(inv.Duration) / float64(time.Millisecond)
		sum += ms[i]
	}
	slices.Sort(ms)
	s := &DurationStats{
		AverageMs:  sum / float64(len(ms)),
		Count:      len(ms),
		MinimumMs:  ms[0],
		MaximumMs:  ms[len(ms)-1],
		HasMinimum: true,
		HasMaximum: true,
	}
	for _, q := range durationQuantiles() {
		s.Percentiles = append(s.Percentiles, Point{Q: q, Value: quantile(ms, q)})
	}
	return s
}

// quantile of sorted xs, linear between order statistics (Hyndman-Fan 7).
func quantile(xs []float64, q float64) float64 {
	h := q * float64(len(xs)-1)
	lo := int(math.Floor(h))
	if lo+1 >= len(xs) {
		return xs[len(xs)-1]
	}
	return xs[lo] + (h-float64(lo))*(xs[lo+1]-xs[lo])
}
