package report

import (
	"bufio"
	"fmt"
	"image/color"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"

	"github.com/owinvoker/owinvoker/benchmarks/replay"
)

// Run is one replay: its label, rows and summary.
type Run struct {
	Label   string
	Rows    []replay.Row
	Summary replay.Summary
	// Capacity of the system under test, for utilisation series.
	Capacity replay.Capacity
}

// Table writes the comparison of runs as markdown; ratios are against runs[0].
func Table(w io.Writer, runs []Run) error {
	if len(runs) == 0 {
		return fmt.Errorf("report: no runs")
	}
	base := runs[0].Summary
	var b strings.Builder
	b.WriteString("| configuration | invocations | succeeded | p50 / p99 latency (ms) | p99 ratio | p50 / p99 of successes (ms) | ratio | CPU utilisation | ratio | memory utilisation | ratio | OOM kills | timeouts | other failures | cold starts | harvested CPU / memory | borrowers |\n")
	b.WriteString("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n")
	for _, r := range runs {
		s := r.Summary
		other := s.AppErrors + s.DevErrors + s.SystemErrors + s.ClientErrors - s.OOMKills - s.Timeouts
		fmt.Fprintf(&b, "| %s | %d | %d | %.0f / %.0f | %s | %.0f / %.0f | %s | %.1f %% | %s | %.1f %% | %s | %d | %d | %d | %.1f %% | %.1f %% / %.1f %% | %d |\n",
			r.Label, s.Invocations, s.Succeeded, s.LatencyP50, s.LatencyP99, ratio(s.LatencyP99, base.LatencyP99),
			s.SuccessP50, s.SuccessP99, ratio(s.SuccessP99, base.SuccessP99),
			100*s.CPUUtilisation, ratio(s.CPUUtilisation, base.CPUUtilisation),
			100*s.MemoryUtilisation, ratio(s.MemoryUtilisation, base.MemoryUtilisation),
			s.OOMKills, s.Timeouts, other, 100*s.ColdShare, 100*s.HarvestedCPU, 100*s.HarvestedMemory, s.Borrowers)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func ratio(a, b float64) string {
	if b <= 0 || math.IsNaN(a) || math.IsNaN(b) {
		return "–"
	}
	return fmt.Sprintf("%.2f×", a/b)
}

var palette = []color.Color{
	color.RGBA{0x44, 0x44, 0x44, 255},
	color.RGBA{0x3b, 0x7d, 0xc4, 255},
	color.RGBA{0xd9, 0x5f, 0x02, 255},
	color.RGBA{0x1b, 0x9e, 0x77, 255},
}

func colorOf(i int) color.Color { return palette[i%len(palette)] }

// LatencyCDF saves the CDFs of the runs' client latencies on one figure (log x).
func LatencyCDF(path string, runs []Run) error {
	p := plot.New()
	p.Title.Text = "Response latency (client side)"
	p.X.Label.Text = "latency (ms, log scale)"
	p.Y.Label.Text = "fraction of invocations"
	p.X.Scale = plot.LogScale{}
	p.X.Tick.Marker = plot.LogTicks{Prec: -1}
	for i, r := range runs {
		lat := replay.Latencies(r.Rows)
		if len(lat) == 0 {
			continue
		}
		pts := make(plotter.XYs, len(lat))
		for k, v := range lat {
			pts[k] = plotter.XY{X: max(v, 1), Y: float64(k+1) / float64(len(lat))}
		}
		l, err := plotter.NewLine(pts)
		if err != nil {
			return fmt.Errorf("report: %w", err)
		}
		l.Color, l.Width = colorOf(i), vg.Points(1.5)
		p.Add(l)
		p.Legend.Add(r.Label, l)
	}
	p.Legend.Left, p.Legend.Top = true, true
	p.Add(plotter.NewGrid())
	return p.Save(8*vg.Inch, 5*vg.Inch, path)
}

// Utilisation saves CPU used / allocated over time (10-second buckets) per run.
func Utilisation(path string, runs []Run) error {
	p := plot.New()
	p.Title.Text = "CPU utilisation of the allocation over time (used / allocated)"
	p.X.Label.Text = "time since the replay started (s)"
	p.Y.Label.Text = "used / allocated"
	const step = 10
	for i, r := range runs {
		var pts plotter.XYs
		for _, pt := range replay.Series(r.Rows, r.Capacity, step) {
			if pt.CPUAllocated > 0 {
				pts = append(pts, plotter.XY{X: pt.AtSec + step/2, Y: pt.CPUUsed / pt.CPUAllocated})
			}
		}
		if len(pts) == 0 {
			continue
		}
		l, err := plotter.NewLine(pts)
		if err != nil {
			return fmt.Errorf("report: %w", err)
		}
		l.Color, l.Width = colorOf(i), vg.Points(1.5)
		p.Add(l)
		p.Legend.Add(r.Label, l)
	}
	p.Legend.Top = true
	p.Add(plotter.NewGrid())
	return p.Save(8*vg.Inch, 5*vg.Inch, path)
}

// Speedups are, per function, the baseline's median activation duration over each
// other run's (above 1: faster than the baseline), for successful activations.
func Speedups(runs []Run) (functions []string, speedup [][]float64) {
	med := func(r Run) map[string]float64 {
		by := map[string][]float64{}
		for _, row := range r.Rows {
			if row.Status == "success" {
				by[row.Function] = append(by[row.Function], float64(row.DurationMS))
			}
		}
		out := map[string]float64{}
		for f, d := range by {
			slices.Sort(d)
			out[f] = d[len(d)/2]
		}
		return out
	}
	if len(runs) < 2 {
		return nil, nil
	}
	base := med(runs[0])
	for f := range base {
		functions = append(functions, f)
	}
	slices.Sort(functions)
	for _, r := range runs[1:] {
		m := med(r)
		row := make([]float64, len(functions))
		for k, f := range functions {
			if v, ok := m[f]; ok && v > 0 {
				row[k] = base[f] / v
			}
		}
		speedup = append(speedup, row)
	}
	return functions, speedup
}

// Speedup saves the per-function speed-ups of runs[1:] over runs[0] as bars.
func Speedup(path string, runs []Run) error {
	fns, sp := Speedups(runs)
	if len(fns) == 0 {
		return fmt.Errorf("report: no function succeeded in the baseline")
	}
	p := plot.New()
	p.Title.Text = fmt.Sprintf("Per-function speed-up of the median duration over %s (1 = parity; 0 = no success)", runs[0].Label)
	p.Y.Label.Text = "baseline / configuration"
	w := vg.Points(10)
	for i, row := range sp {
		bars, err := plotter.NewBarChart(plotter.Values(row), w)
		if err != nil {
			return fmt.Errorf("report: %w", err)
		}
		bars.Offset = vg.Length(float64(i)-float64(len(sp)-1)/2) * w
		bars.Color = colorOf(i + 1)
		bars.LineStyle.Width = 0
		p.Add(bars)
		p.Legend.Add(runs[i+1].Label, bars)
	}
	if one, err := plotter.NewLine(plotter.XYs{{X: -0.5, Y: 1}, {X: float64(len(fns)) - 0.5, Y: 1}}); err == nil {
		p.Add(one)
	}
	names := make([]string, len(fns))
	for i, f := range fns {
		names[i] = strings.TrimPrefix(f, "replay-")
	}
	p.NominalX(names...)
	p.Legend.Top = true
	return p.Save(10*vg.Inch, 5*vg.Inch, path)
}

// Bench is one `go test -bench` result line.
type Bench struct {
	Package string
	Name    string
	N       int64
	Metrics []Metric // in the order printed
}

// Metric is one value/unit pair of a benchmark line.
type Metric struct {
	Value float64
	Unit  string
}

// ParseBench reads `go test -bench` output; "pkg:" lines set the package of the
// benchmark lines after them. Lines that are not results are skipped.
func ParseBench(r io.Reader) ([]Bench, error) {
	var out []Bench
	pkg := ""
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<16), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if p, ok := strings.CutPrefix(line, "pkg: "); ok {
			pkg = strings.TrimSpace(p)
			continue
		}
		f := strings.Fields(line)
		if len(f) < 4 || !strings.HasPrefix(f[0], "Benchmark") || len(f)%2 != 0 {
			continue
		}
		n, err := strconv.ParseInt(f[1], 10, 64)
		if err != nil {
			continue
		}
		b := Bench{Package: pkg, Name: f[0], N: n}
		ok := true
		for k := 2; k+1 < len(f); k += 2 {
			v, err := strconv.ParseFloat(f[k], 64)
			if err != nil {
				ok = false
				break
			}
			b.Metrics = append(b.Metrics, Metric{Value: v, Unit: f[k+1]})
		}
		if ok {
			out = append(out, b)
		}
	}
	return out, sc.Err()
}

// BenchTable writes benchmark results as markdown, one row per benchmark.
func BenchTable(w io.Writer, benches []Bench) error {
	var b strings.Builder
	b.WriteString("| package | benchmark | results |\n|---|---|---|\n")
	for _, bn := range benches {
		var ms []string
		for _, m := range bn.Metrics {
			ms = append(ms, fmt.Sprintf("%s %s", strconv.FormatFloat(m.Value, 'g', 4, 64), m.Unit))
		}
		pkg := strings.TrimPrefix(bn.Package, "github.com/owinvoker/owinvoker/")
		fmt.Fprintf(&b, "| %s | %s | %s |\n", pkg, strings.TrimPrefix(bn.Name, "Benchmark"), strings.Join(ms, ", "))
	}
	_, err := io.WriteString(w, b.String())
	return err
}
