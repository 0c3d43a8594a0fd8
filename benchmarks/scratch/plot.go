package scratch

import (
	"fmt"
	"math"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
)

// PlotRatios draws, per metric, one bar per memory limit of tmpfs/overlay speed-up (1 is
// parity) and saves it as a PNG.
func PlotRatios(path string, metrics []string, limits []int, ratio func(metric string, limitMB int) float64) error {
	p := plot.New()
	p.Title.Text = "In-memory scratch vs overlay layer (speed-up; 1 = parity)"
	p.Y.Label.Text = "tmpfs / overlay"
	w := vg.Points(12)
	for i, lim := range limits {
		vals := make(plotter.Values, len(metrics))
		for j, m := range metrics {
			v := ratio(m, lim)
			if v <= 0 || math.IsNaN(v) {
				v = 1
			}
			vals[j] = v
		}
		bars, err := plotter.NewBarChart(vals, w)
		if err != nil {
			return fmt.Errorf("plot: %w", err)
		}
		bars.Offset = vg.Length(i-1) * w
		bars.Color = plotter.DefaultLineStyle.Color
		switch i {
		case 0:
			bars.Color = plotColor(0x99, 0xc2, 0xe8)
		case 1:
			bars.Color = plotColor(0x3b, 0x7d, 0xc4)
		default:
			bars.Color = plotColor(0x0b, 0x2f, 0x6b)
		}
		p.Add(bars)
		p.Legend.Add(fmt.Sprintf("%d MiB", lim), bars)
	}
	one, err := plotter.NewLine(plotter.XYs{{X: -0.5, Y: 1}, {X: float64(len(metrics)) - 0.5, Y: 1}})
	if err == nil {
		p.Add(one)
	}
	p.Legend.Top = true
	p.NominalX(metrics...)
	return p.Save(10*vg.Inch, 5*vg.Inch, path)
}
