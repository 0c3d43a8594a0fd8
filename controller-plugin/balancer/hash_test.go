package balancer

import (
	"math"
	"slices"
	"testing"
)

func TestJavaHashCode(t *testing.T) {
	tests := []struct {
		in   string
		want int32
	}{
		{"", 0},
		{"a", 97},
		{"guest", 98708952},
		{"guest/hello", 86723035},
		{"é", 233},
		// U+1F600 is two UTF-16 code units, 0xD83D 0xDE00: 0xD83D·31 + 0xDE00.
		{"😀", 0xD83D*31 + 0xDE00},
		// A well-known string whose Java hash code is Integer.MIN_VALUE.
		{"polygenelubricants", math.MinInt32},
	}
	for _, tt := range tests {
		if got := javaHashCode(tt.in); got != tt.want {
			t.Errorf("javaHashCode(%q) = %d, want %d", tt.in, got, tt.want)
		}
	}
}

func TestHash(t *testing.T) {
	tests := []struct {
		namespace, action string
		want              int
	}{
		{"guest", "guest/hello", 13198339},
		{"guest", "guest/pkg/echo", 51535097},
		{"guest", "guest", 0},
		// Java's abs leaves MIN_VALUE negative; we map it to 2³¹.
		{"", "polygenelubricants", 1 << 31},
		{"polygenelubricants", "", 1 << 31},
	}
	for _, tt := range tests {
		if got := Hash(tt.namespace, tt.action); got != tt.want {
			t.Errorf("Hash(%q, %q) = %d, want %d", tt.namespace, tt.action, got, tt.want)
		}
	}
}

func TestStepSizes(t *testing.T) {
	tests := []struct {
		n    int
		want []int
	}{
		{0, []int{1}},
		{1, []int{1}},
		{2, []int{1}},
		{3, []int{1, 2}},
		{4, []int{1, 3}},
		{5, []int{1, 2, 3}},
		{6, []int{1, 5}},
		{10, []int{1, 3, 7}},
		{12, []int{1, 5, 7, 11}},
	}
	for _, tt := range tests {
		if got := StepSizes(tt.n); !slices.Equal(got, tt.want) {
			t.Errorf("StepSizes(%d) = %v, want %v", tt.n, got, tt.want)
		}
	}
	// Every step is coprime to n, so a walk visits every invoker once before repeating.
	for n := 1; n <= 64; n++ {
		for _, s := range StepSizes(n) {
			seen := map[int]bool{}
			for k, i := 0, 0; k < n; k, i = k+1, (i+s)%n {
				seen[i] = true
			}
			if len(seen) != n {
				t.Errorf("StepSizes(%d): step %d visits %d of %d invokers", n, s, len(seen), n)
			}
		}
	}
}

// TestWalk checks the spec's walks: with every invoker able to take exactly one
// activation of the action, successive activations land on the walk's invokers in
// order.
func TestWalk(t *testing.T) {
	tests := []struct {
		n         int
		namespace string
		action    string
		want      []int
	}{
		{10, "guest", "guest/hello", []int{9, 2, 5, 8, 1, 4, 7, 0, 3, 6}},
		{5, "guest", "guest/hello", []int{4, 1, 3, 0, 2}},
		{10, "guest", "guest/pkg/echo", []int{7, 4, 1, 8, 5, 2, 9, 6, 3, 0}},
	}
	for _, tt := range tests {
		// A managed fraction of 1 makes all n invokers the managed pool.
		b := newTestBalancer(t, Config{ManagedFraction: 1}, healthy(tt.n, 256)...)
		var got []int
		for i := range tt.n {
			p, err := b.Schedule(t0, Request{ActivationID: id(i), Namespace: tt.namespace, Action: tt.action, MemoryMB: 256})
			if err != nil {
				t.Fatalf("n=%d %s: Schedule #%d: %v", tt.n, tt.action, i, err)
			}
			if p.Forced {
				t.Fatalf("n=%d %s: Schedule #%d forced onto %d", tt.n, tt.action, i, p.Invoker)
			}
			got = append(got, p.Invoker)
		}
		if !slices.Equal(got, tt.want) {
			t.Errorf("n=%d: walk of (%s, %s) = %v, want %v", tt.n, tt.namespace, tt.action, got, tt.want)
		}
	}
}
