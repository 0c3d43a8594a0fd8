package broker

import (
	"math/rand/v2"
	"testing"
)

func TestCommitTrackerOutOfOrder(t *testing.T) {
	tests := []struct {
		name     string
		started  []int64
		finished []int64
		want     []int64 // commit position after each finish
	}{
		{"in order", []int64{0, 1, 2}, []int64{0, 1, 2}, []int64{1, 2, 3}},
		{"oldest last", []int64{5, 6, 7}, []int64{7, 6, 5}, []int64{5, 5, 8}},
		{"middle first", []int64{0, 1, 2}, []int64{1, 0, 2}, []int64{0, 2, 3}},
		{"gap in offsets", []int64{0, 2, 3}, []int64{0, 3, 2}, []int64{1, 1, 4}},
		{"unknown offset ignored", []int64{0}, []int64{9, 0}, []int64{0, 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newCommitTracker()
			for _, o := range tt.started {
				c.started(o)
			}
			for i, o := range tt.finished {
				if got, _ := c.finished(o); got != tt.want[i] {
					t.Fatalf("started %v, finished %v: commit after %d = %d, want %d", tt.started, tt.finished[:i+1], o, got, tt.want[i])
				}
			}
			if c.pending() != 0 {
				t.Fatalf("pending = %d after all finished", c.pending())
			}
		})
	}
}

// TestCommitTrackerNeverPassesInflight checks against a simple reference: the commit position
// is always the lowest in-flight offset, or one past the highest started when none is.
func TestCommitTrackerNeverPassesInflight(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for round := 0; round < 200; round++ {
		c := newCommitTracker()
		n := 1 + r.IntN(30)
		for o := int64(0); o < int64(n); o++ {
			c.started(o)
		}
		order := r.Perm(n)
		inflight := map[int64]bool{}
		for o := 0; o < n; o++ {
			inflight[int64(o)] = true
		}
		for _, o := range order {
			got, _ := c.finished(int64(o))
			delete(inflight, int64(o))
			want := int64(n)
			for k := range inflight {
				if k < want {
					want = k
				}
			}
			if got != want {
				t.Fatalf("round %d: finish order %v: after %d commit = %d, want %d", round, order, o, got, want)
			}
		}
	}
}
