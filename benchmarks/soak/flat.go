package soak

import (
	"fmt"
	"slices"
)

// Tolerance is how far a series may end above where it stood after warm-up and still be
// flat: Abs in the series' unit plus Rel of the reference.
type Tolerance struct {
	Abs, Rel float64
}

// CheckFlat reports whether a series sampled at even intervals ends where it stood once
// warm: the median of its last quarter may not exceed the median of the samples between the
// end of the warm-up (the first warmup fraction, e.g. 0.2) and the middle by more than tol.
// Medians, because load noise (a GC's sawtooth, a burst of containers) moves single samples
// but not the middle of a quarter, while a leak moves the whole series. It needs at least 8
// samples.
func CheckFlat(name string, series []float64, warmup float64, tol Tolerance) error {
	n := len(series)
	if n < 8 {
		return fmt.Errorf("%s: %d samples, need at least 8 to judge growth", name, n)
	}
	from := min(int(float64(n)*warmup), n/2-1)
	ref, end := median(series[from:n/2]), median(series[n-n/4:])
	if limit := ref*(1+tol.Rel) + tol.Abs; end > limit {
		return fmt.Errorf("%s grew: median %.4g in the last quarter, %.4g after warm-up (limit %.4g)", name, end, ref, limit)
	}
	return nil
}

func median(s []float64) float64 {
	c := slices.Clone(s)
	slices.Sort(c)
	return c[len(c)/2]
}
