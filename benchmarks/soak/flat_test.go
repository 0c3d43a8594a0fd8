package soak

import (
	"math"
	"testing"
)

func TestCheckFlat(t *testing.T) {
	const n = 60
	series := func(f func(i int) float64) []float64 {
		s := make([]float64, n)
		for i := range s {
			s[i] = f(i)
		}
		return s
	}
	noisy := func(i int) float64 { return 100 + 8*math.Sin(float64(i)*1.7) }
	tol := Tolerance{Abs: 2, Rel: 0.05}
	for _, c := range []struct {
		name string
		s    []float64
		flat bool
	}{
		{"constant", series(func(int) float64 { return 50 }), true},
		{"noise around a level", series(noisy), true},
		{"a warm-up climb, then level", series(func(i int) float64 { return min(100, float64(i)*20) + noisy(i) - 100 }), true},
		{"a spike at the end is not the median", series(func(i int) float64 {
			if i == n-1 {
				return 500
			}
			return noisy(i)
		}), true},
		{"a steady leak", series(func(i int) float64 { return 100 + float64(i) }), false},
		{"a slow leak under noise", series(func(i int) float64 { return noisy(i) + 0.6*float64(i) }), false},
		{"a step up in the second half", series(func(i int) float64 {
			if i > 35 {
				return 130
			}
			return 100
		}), false},
	} {
		err := CheckFlat(c.name, c.s, 0.2, tol)
		if (err == nil) != c.flat {
			t.Errorf("%s: CheckFlat = %v, want flat %v", c.name, err, c.flat)
		}
	}
	if err := CheckFlat("short", []float64{1, 2, 3}, 0.2, tol); err == nil {
		t.Error("3 samples judged")
	}
}
