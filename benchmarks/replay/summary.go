package replay

import (
	"fmt"
	"io"
	"math"
	"slices"
	"strings"
)

// Capacity is what the replayed system had for actions, summed over its invokers.
type Capacity struct {
	Cores    float64 // CPU for actions
	MemoryMB int     // user memory
	// RuntimeBaseMB is added to a row's touched memory when the invoker reports no
	// peak (workload.Options.RuntimeBaseMB).
	RuntimeBaseMB int
}

// Summary is a replay in figures.
type Summary struct {
	Label       string
	Invocations int
	Succeeded   int
	// Failures by kind; a row counts in exactly one.
	AppErrors, DevErrors, SystemErrors, ClientErrors int
	Timeouts, OOMKills                               int // subsets of DevErrors
	ColdStarts                                       int
	ColdShare                                        float64 // of activations with a record

	LatencyP50, LatencyP90, LatencyP99 float64 // ms, client side, all answered invocations
	// SuccessP50 and SuccessP99 are the latencies of successful invocations only (a failure
	// such as an OOM kill often answers sooner than the success it replaces would).
	SuccessP50, SuccessP99   float64
	DurationP50, DurationP99 float64 // ms, activation durations
	WaitP50, WaitP99         float64 // ms

	// Utilisation over the replay (Σ used / Σ allocated, in resource·seconds).
	CPUUtilisation    float64
	MemoryUtilisation float64
	// Busy is CPU used / capacity over the span of the activations.
	CPUBusy float64
	// Harvested shares: lent resource·time / allocated resource·time.
	HarvestedCPU, HarvestedMemory float64
	// Borrowers: activations that ran with more CPU or memory than allocated.
	Borrowers int
	SpanSec   float64 // first start to last end
}

// Summarize computes the summary of rows. cap is needed for CPU allocations the
// invoker does not report and for CPUBusy.
func Summarize(label string, rows []Row, cap Capacity) Summary {
	s := Summary{Label: label, Invocations: len(rows)}
	var lat, okLat, dur, wait []float64
	recorded := 0
	for i := range rows {
		r := &rows[i]
		switch r.Status {
		case "success":
			s.Succeeded++
			okLat = append(okLat, r.LatencyMS)
		case "application error":
			s.AppErrors++
		case "action developer error", "developer error":
			s.DevErrors++
		case "whisk internal error":
			s.SystemErrors++
		default:
			s.ClientErrors++
		}
		if r.Status != StatusClientError && r.Status != "" {
			recorded++
			lat = append(lat, r.LatencyMS)
			dur = append(dur, float64(r.DurationMS))
			wait = append(wait, float64(r.WaitMS))
		}
		if r.Timeout {
			s.Timeouts++
		}
		if r.OOM {
			s.OOMKills++
		}
		if r.Cold {
			s.ColdStarts++
		}
		if r.BorrowedCPU > 0 || r.BorrowedMemMB > 0 {
			s.Borrowers++
		}
	}
	if recorded > 0 {
		s.ColdShare = float64(s.ColdStarts) / float64(recorded)
	}
	s.LatencyP50, s.LatencyP90, s.LatencyP99 = quantile(lat, 0.5), quantile(lat, 0.9), quantile(lat, 0.99)
	s.SuccessP50, s.SuccessP99 = quantile(okLat, 0.5), quantile(okLat, 0.99)
	s.DurationP50, s.DurationP99 = quantile(dur, 0.5), quantile(dur, 0.99)
	s.WaitP50, s.WaitP99 = quantile(wait, 0.5), quantile(wait, 0.99)

	var cpuUsed, cpuAlloc, memUsed, memAlloc, cpuLent, memLent float64
	first, last := math.Inf(1), math.Inf(-1)
	for i := range rows {
		r := &rows[i]
		d := r.EndMS - r.StartMS
		if r.Status == StatusClientError || d <= 0 {
			continue
		}
		sec := d / 1000
		first, last = min(first, r.StartMS), max(last, r.EndMS)
		cpuUsed += float64(r.CPUMs) / 1000
		cpuAlloc += allocCores(r, cap) * sec
		memUsed += usedMB(r, cap) * sec
		memAlloc += float64(r.DeclaredMB) * sec
		cpuLent += float64(r.LentCPUMillis) / 1000 * sec
		memLent += float64(r.LentMemMB) * sec
	}
	s.CPUUtilisation, s.MemoryUtilisation = ratio(cpuUsed, cpuAlloc), ratio(memUsed, memAlloc)
	s.HarvestedCPU, s.HarvestedMemory = ratio(cpuLent, cpuAlloc), ratio(memLent, memAlloc)
	if last > first {
		s.SpanSec = (last - first) / 1000
		s.CPUBusy = ratio(cpuUsed, cap.Cores*s.SpanSec)
	}
	return s
}

// allocCores is a row's CPU allocation: the invoker's figure, else the declared
// memory's share of the capacity.
func allocCores(r *Row, cap Capacity) float64 {
	if r.AllocCPUMillis > 0 {
		return float64(r.AllocCPUMillis) / 1000
	}
	if cap.MemoryMB > 0 {
		return cap.Cores * float64(r.DeclaredMB) / float64(cap.MemoryMB)
	}
	return 0
}

func usedMB(r *Row, cap Capacity) float64 {
	if r.PeakMemMB > 0 {
		return float64(r.PeakMemMB)
	}
	return float64(min(r.DeclaredMB, r.MB+cap.RuntimeBaseMB))
}

func ratio(a, b float64) float64 {
	if b <= 0 {
		return 0
	}
	return a / b
}

// quantile is the q-quantile of xs (nearest rank); 0 when empty. xs is sorted in place.
func quantile(xs []float64, q float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	slices.Sort(xs)
	k := int(math.Ceil(q*float64(len(xs)))) - 1
	return xs[min(max(k, 0), len(xs)-1)]
}

// Latencies are the sorted latencies (ms) of the answered rows.
func Latencies(rows []Row) []float64 {
	var out []float64
	for i := range rows {
		if rows[i].Status != StatusClientError && rows[i].Status != "" {
			out = append(out, rows[i].LatencyMS)
		}
	}
	slices.Sort(out)
	return out
}

// Point is one bucket of a utilisation series.
type Point struct {
	AtSec                 float64 // bucket start, seconds since the replay started
	CPUUsed, CPUAllocated float64 // cores
	MemUsedMB, MemAllocMB float64
	CPULent, MemLentMB    float64
}

// Series is utilisation over time in buckets of step seconds: each activation's
// figures are spread over [start, end) in proportion to its overlap with a bucket.
func Series(rows []Row, cap Capacity, step float64) []Point {
	if step <= 0 {
		step = 1
	}
	end := 0.0
	for i := range rows {
		end = max(end, rows[i].EndMS/1000)
	}
	n := int(math.Ceil(end / step))
	pts := make([]Point, n)
	for k := range pts {
		pts[k].AtSec = float64(k) * step
	}
	for i := range rows {
		r := &rows[i]
		a, b := r.StartMS/1000, r.EndMS/1000
		if r.Status == StatusClientError || b <= a || a < 0 {
			continue
		}
		cpuRate := float64(r.CPUMs) / 1000 / (b - a)
		for k := int(a / step); k < n && float64(k)*step < b; k++ {
			lo, hi := max(a, float64(k)*step), min(b, float64(k+1)*step)
			w := (hi - lo) / step
			if w <= 0 {
				continue
			}
			pts[k].CPUUsed += cpuRate * w
			pts[k].CPUAllocated += allocCores(r, cap) * w
			pts[k].MemUsedMB += usedMB(r, cap) * w
			pts[k].MemAllocMB += float64(r.DeclaredMB) * w
			pts[k].CPULent += float64(r.LentCPUMillis) / 1000 * w
			pts[k].MemLentMB += float64(r.LentMemMB) * w
		}
	}
	return pts
}

// Write prints the summary as aligned text.
func (s Summary) Write(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "%s: %d invocations, %d succeeded\n", s.Label, s.Invocations, s.Succeeded)
	fmt.Fprintf(&b, "  failures: %d application, %d developer (%d OOM kills, %d timeouts), %d system, %d client\n",
		s.AppErrors, s.DevErrors, s.OOMKills, s.Timeouts, s.SystemErrors, s.ClientErrors)
	fmt.Fprintf(&b, "  cold starts: %d (%.1f %%)\n", s.ColdStarts, 100*s.ColdShare)
	fmt.Fprintf(&b, "  latency ms: p50 %.0f  p90 %.0f  p99 %.0f (successes: p50 %.0f p99 %.0f);  duration p50 %.0f p99 %.0f;  wait p50 %.0f p99 %.0f\n",
		s.LatencyP50, s.LatencyP90, s.LatencyP99, s.SuccessP50, s.SuccessP99, s.DurationP50, s.DurationP99, s.WaitP50, s.WaitP99)
	fmt.Fprintf(&b, "  utilisation (used/allocated): CPU %.1f %%, memory %.1f %%;  CPU busy %.1f %% of capacity over %.0f s\n",
		100*s.CPUUtilisation, 100*s.MemoryUtilisation, 100*s.CPUBusy, s.SpanSec)
	fmt.Fprintf(&b, "  harvested: CPU %.1f %%, memory %.1f %% of the allocation;  %d activations borrowed\n",
		100*s.HarvestedCPU, 100*s.HarvestedMemory, s.Borrowers)
	_, err := io.WriteString(w, b.String())
	return err
}
