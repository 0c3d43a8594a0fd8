package scratch

import (
	"os"
	"path/filepath"
	"testing"
)

func TestPlotRatiosWritesPNG(t *testing.T) {
	path := filepath.Join(t.TempDir(), "r.png")
	err := PlotRatios(path, []string{"a", "b"}, []int{128, 256, 512}, func(m string, lim int) float64 { return float64(lim) / 100 })
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(path)
	if err != nil || len(data) < 8 || string(data[1:4]) != "PNG" {
		t.Fatalf("not a PNG: %v, %d bytes", err, len(data))
	}
}
