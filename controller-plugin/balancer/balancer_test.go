package balancer

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func id(i int) string { return fmt.Sprintf("act%d", i) }

// healthy returns n healthy invokers with the same memory.
func healthy(n, memoryMB int) []Invoker {
	list := make([]Invoker, n)
	for i := range list {
		list[i] = Invoker{ID: i, UserMemoryMB: memoryMB, Healthy: true}
	}
	return list
}

func newTestBalancer(t *testing.T, cfg Config, list ...Invoker) *Balancer {
	t.Helper()
	if cfg.Rand == nil {
		cfg.Rand = rand.New(rand.NewPCG(1, 2))
	}
	b, err := New(cfg)
	if err != nil {
		t.Fatalf("New(%+v): %v", cfg, err)
	}
	if err := b.UpdateInvokers(list); err != nil {
		t.Fatalf("UpdateInvokers(%+v): %v", list, err)
	}
	return b
}

func pools(b *Balancer) (managed, blackbox []int) {
	for _, s := range b.Invokers() {
		if s.Managed {
			managed = append(managed, s.ID)
		}
		if s.Blackbox {
			blackbox = append(blackbox, s.ID)
		}
	}
	return managed, blackbox
}

func span(from, to int) []int {
	var s []int
	for i := from; i < to; i++ {
		s = append(s, i)
	}
	return s
}

func TestPools(t *testing.T) {
	tests := []struct {
		name              string
		cfg               Config
		n                 int
		managed, blackbox []int
	}{
		{"one invoker serves both", Config{}, 1, []int{0}, []int{0}},
		{"two", Config{}, 2, []int{0, 1}, []int{1}},
		{"ten", Config{}, 10, span(0, 9), []int{9}},
		{"eleven", Config{}, 11, span(0, 10), []int{10}},
		{"twenty", Config{}, 20, span(0, 18), []int{18, 19}},
		{"blackbox fraction raised to cover the rest", Config{ManagedFraction: 0.5, BlackboxFraction: 0.1}, 10, span(0, 5), span(5, 10)},
		{"managed fraction clamped to 1", Config{ManagedFraction: 2}, 10, span(0, 10), []int{9}},
		{"negative managed fraction is 0, still one invoker", Config{ManagedFraction: -1}, 4, []int{0}, span(0, 4)},
		{"blackbox fraction clamped to 1", Config{ManagedFraction: 0.5, BlackboxFraction: 3}, 4, span(0, 2), span(0, 4)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := newTestBalancer(t, tt.cfg, healthy(tt.n, 1024)...)
			managed, blackbox := pools(b)
			if !slices.Equal(managed, tt.managed) || !slices.Equal(blackbox, tt.blackbox) {
				t.Errorf("n=%d %+v: pools managed %v blackbox %v, want %v and %v",
					tt.n, tt.cfg, managed, blackbox, tt.managed, tt.blackbox)
			}
		})
	}
}

func TestUpdateInvokers(t *testing.T) {
	t.Run("rejects bad lists", func(t *testing.T) {
		for _, list := range [][]Invoker{
			{{ID: -1, UserMemoryMB: 256}},
			{{ID: 0, UserMemoryMB: 256}, {ID: 0, UserMemoryMB: 256}},
			{{ID: 0, UserMemoryMB: -1}},
		} {
			b := newTestBalancer(t, Config{})
			if err := b.UpdateInvokers(list); err == nil {
				t.Errorf("UpdateInvokers(%+v) = nil, want an error", list)
			}
		}
	})
	t.Run("pads gaps, keeps semaphores, never shrinks", func(t *testing.T) {
		b := newTestBalancer(t, Config{}, Invoker{ID: 2, UserMemoryMB: 512, Healthy: true})
		got := b.Invokers()
		if len(got) != 3 || got[0].Healthy || got[0].CapacityMB != 0 || got[2].CapacityMB != 512 {
			t.Fatalf("after listing only invoker 2: %+v, want 3 entries, 0 and 1 unhealthy without capacity", got)
		}
		// A later report with more memory does not resize the semaphore.
		if err := b.UpdateInvokers([]Invoker{{ID: 2, UserMemoryMB: 4096, Healthy: true}, {ID: 0, UserMemoryMB: 256, Healthy: true}}); err != nil {
			t.Fatal(err)
		}
		got = b.Invokers()
		if got[2].CapacityMB != 512 || got[2].UserMemoryMB != 4096 || got[0].CapacityMB != 256 {
			t.Errorf("after re-report: %+v, want invoker 2 still 512 MB of permits, invoker 0 256", got)
		}
		// An empty list makes every invoker unhealthy but keeps them.
		if err := b.UpdateInvokers(nil); err != nil {
			t.Fatal(err)
		}
		got = b.Invokers()
		if len(got) != 3 || got[0].Healthy || got[2].Healthy {
			t.Errorf("after an empty list: %+v, want 3 unhealthy invokers", got)
		}
	})
	// A controller that heard invoker 1 first lists invoker 0 as down with no memory;
	// that placeholder must not size invoker 0's semaphore (it once left invoker 0 with
	// the 128 MB floor, so a 256 MB action never fit there).
	t.Run("a placeholder without memory does not size the semaphore", func(t *testing.T) {
		b := newTestBalancer(t, Config{}, Invoker{ID: 0}, Invoker{ID: 1, UserMemoryMB: 256})
		if err := b.UpdateInvokers(healthy(2, 256)); err != nil {
			t.Fatal(err)
		}
		got := b.Invokers()
		if got[0].CapacityMB != 256 || got[1].CapacityMB != 256 {
			t.Fatalf("capacities %d and %d, want 256 and 256", got[0].CapacityMB, got[1].CapacityMB)
		}
		hello := Request{ActivationID: "a", Namespace: "guest", Action: "guest/wide", MemoryMB: 256}
		first, err := b.Schedule(t0, hello)
		if err != nil {
			t.Fatal(err)
		}
		hello.ActivationID = "b"
		second, err := b.Schedule(t0, hello)
		if err != nil || second.Forced || second.Invoker == first.Invoker {
			t.Errorf("second placement %+v, %v; want the other invoker, not forced (first went to %d)", second, err, first.Invoker)
		}
	})
	t.Run("permits are shared between controllers, floored at the minimum action memory", func(t *testing.T) {
		b := newTestBalancer(t, Config{ClusterSize: 3},
			Invoker{ID: 0, UserMemoryMB: 3072, Healthy: true}, Invoker{ID: 1, UserMemoryMB: 256, Healthy: true})
		got := b.Invokers()
		if got[0].CapacityMB != 1024 || got[1].CapacityMB != 128 {
			t.Errorf("cluster of 3: capacities %d and %d, want 1024 and 128", got[0].CapacityMB, got[1].CapacityMB)
		}
	})
}

func TestNew(t *testing.T) {
	for _, cfg := range []Config{
		{ClusterSize: -1},
		{TimeoutFactor: -2},
		{MinMemoryMB: -128},
		{StdTimeLimit: -time.Second},
	} {
		if _, err := New(cfg); err == nil {
			t.Errorf("New(%+v) = nil error, want one", cfg)
		}
	}
}

// op is one step of a scheduling script.
type op struct {
	schedule *Request // Schedule at t0 + at
	release  string   // Release this id
	update   []Invoker
	at       time.Duration

	want     Placement
	wantErr  error // for schedule: errors.Is target; nil means success
	wantFree []int // FreeMB of every invoker after the step, if set
}

func runOps(t *testing.T, b *Balancer, ops []op) {
	t.Helper()
	for i, o := range ops {
		switch {
		case o.schedule != nil:
			p, err := b.Schedule(t0.Add(o.at), *o.schedule)
			if o.wantErr != nil {
				if !errors.Is(err, o.wantErr) {
					t.Fatalf("step %d: Schedule(%+v) = %+v, %v; want error %v", i, *o.schedule, p, err, o.wantErr)
				}
			} else if err != nil || p != o.want {
				t.Fatalf("step %d: Schedule(%+v) = %+v, %v; want %+v", i, *o.schedule, p, err, o.want)
			}
		case o.release != "":
			if _, ok := b.Release(o.release); !ok {
				t.Fatalf("step %d: Release(%s) = false, want true", i, o.release)
			}
		default:
			if err := b.UpdateInvokers(o.update); err != nil {
				t.Fatalf("step %d: UpdateInvokers: %v", i, err)
			}
		}
		if o.wantFree != nil {
			var free []int
			for _, s := range b.Invokers() {
				free = append(free, s.FreeMB)
			}
			if !slices.Equal(free, o.wantFree) {
				t.Fatalf("step %d: free memory %v, want %v", i, free, o.wantFree)
			}
		}
	}
}

// hello is the spec's action: with 5 invokers its walk is 4, 1, 3, 0, 2.
func hello(n int, memoryMB int) *Request {
	return &Request{ActivationID: id(n), Namespace: "guest", Action: "guest/hello", Version: "0.0.1", MemoryMB: memoryMB}
}

func TestSchedule(t *testing.T) {
	five := func(mem int) []Invoker { return healthy(5, mem) }
	tests := []struct {
		name     string
		cfg      Config
		invokers []Invoker
		ops      []op
	}{
		{
			name: "no invokers",
			ops:  []op{{schedule: hello(0, 256), wantErr: ErrNoInvokers}},
		},
		{
			name:     "none healthy",
			invokers: []Invoker{{ID: 0, UserMemoryMB: 1024}, {ID: 1, UserMemoryMB: 1024}},
			ops:      []op{{schedule: hello(0, 256), wantErr: ErrNoInvokers}},
		},
		{
			name:     "home invoker while it has room, then the next step",
			cfg:      Config{ManagedFraction: 1},
			invokers: five(512),
			ops: []op{
				{schedule: hello(0, 256), want: Placement{Invoker: 4}},
				{schedule: hello(1, 256), want: Placement{Invoker: 4}, wantFree: []int{512, 512, 512, 512, 0}},
				{schedule: hello(2, 256), want: Placement{Invoker: 1}},
				{release: id(0)},
				{schedule: hello(3, 256), want: Placement{Invoker: 4}, wantFree: []int{512, 256, 512, 512, 0}},
			},
		},
		{
			name:     "unhealthy home is skipped",
			cfg:      Config{ManagedFraction: 1},
			invokers: append(healthy(4, 512), Invoker{ID: 4, UserMemoryMB: 512}),
			ops:      []op{{schedule: hello(0, 256), want: Placement{Invoker: 1}}},
		},
		{
			name:     "health changes move work back home",
			cfg:      Config{ManagedFraction: 1},
			invokers: append(healthy(4, 512), Invoker{ID: 4, UserMemoryMB: 512}),
			ops: []op{
				{schedule: hello(0, 256), want: Placement{Invoker: 1}},
				{update: five(512)},
				{schedule: hello(1, 256), want: Placement{Invoker: 4}},
			},
		},
		{
			name:     "all full: forced onto a healthy invoker, semaphore goes negative",
			cfg:      Config{ManagedFraction: 1},
			invokers: []Invoker{{ID: 0, UserMemoryMB: 256}, {ID: 1, UserMemoryMB: 256, Healthy: true}},
			ops: []op{
				{schedule: hello(0, 256), want: Placement{Invoker: 1}},
				{schedule: hello(1, 256), want: Placement{Invoker: 1, Forced: true}, wantFree: []int{256, -256}},
				{release: id(1)},
				{release: id(0), wantFree: []int{256, 256}},
			},
		},
		{
			name:     "an action bigger than any invoker is forced",
			invokers: []Invoker{{ID: 0, UserMemoryMB: 256, Healthy: true}},
			ops:      []op{{schedule: hello(0, 512), want: Placement{Invoker: 0, Forced: true}, wantFree: []int{-256}}},
		},
		{
			name:     "blackbox actions use the last invokers only",
			invokers: healthy(10, 256),
			ops: []op{
				{schedule: &Request{ActivationID: "b0", Namespace: "guest", Action: "guest/bb", MemoryMB: 256, Blackbox: true}, want: Placement{Invoker: 9}},
				{schedule: &Request{ActivationID: "b1", Namespace: "guest", Action: "guest/bb", MemoryMB: 256, Blackbox: true}, want: Placement{Invoker: 9, Forced: true}},
			},
		},
		{
			name:     "blackbox pool has no healthy invoker",
			invokers: append(healthy(9, 256), Invoker{ID: 9, UserMemoryMB: 256}),
			ops: []op{
				{schedule: &Request{ActivationID: "b0", Namespace: "guest", Action: "guest/bb", MemoryMB: 256, Blackbox: true}, wantErr: ErrNoInvokers},
				{schedule: hello(0, 256), want: Placement{Invoker: Hash("guest", "guest/hello") % 9}},
			},
		},
		{
			name:     "concurrent action is counted per container",
			invokers: []Invoker{{ID: 0, UserMemoryMB: 512, Healthy: true}},
			ops: func() []op {
				req := func(i int) *Request {
					return &Request{ActivationID: id(i), Namespace: "guest", Action: "guest/conc", Version: "0.0.1", MemoryMB: 256, MaxConcurrent: 3}
				}
				return []op{
					{schedule: req(0), want: Placement{}, wantFree: []int{256}},
					{schedule: req(1), want: Placement{}, wantFree: []int{256}},
					{schedule: req(2), want: Placement{}, wantFree: []int{256}},
					{schedule: req(3), want: Placement{}, wantFree: []int{0}},
					{schedule: req(4), want: Placement{}},
					{schedule: req(5), want: Placement{}, wantFree: []int{0}},
					{schedule: req(6), want: Placement{Forced: true}, wantFree: []int{-256}},
					// 7 in flight in 3 containers; one container is idle once 6 remain.
					{release: id(0), wantFree: []int{0}},
					{release: id(1), wantFree: []int{0}},
					{release: id(2), wantFree: []int{0}},
					{release: id(3), wantFree: []int{256}},
					{release: id(4), wantFree: []int{256}},
					{release: id(5), wantFree: []int{256}},
					{release: id(6), wantFree: []int{512}},
					// The action's slots are gone: the next activation takes memory again.
					{schedule: req(7), want: Placement{}, wantFree: []int{256}},
				}
			}(),
		},
		{
			name:     "versions do not share concurrency slots",
			invokers: []Invoker{{ID: 0, UserMemoryMB: 1024, Healthy: true}},
			ops: []op{
				{schedule: &Request{ActivationID: "a", Action: "guest/conc", Version: "0.0.1", MemoryMB: 256, MaxConcurrent: 2}, wantFree: []int{768}},
				{schedule: &Request{ActivationID: "b", Action: "guest/conc", Version: "0.0.2", MemoryMB: 256, MaxConcurrent: 2}, wantFree: []int{512}},
				{schedule: &Request{ActivationID: "c", Action: "guest/conc", Version: "0.0.1", MemoryMB: 256, MaxConcurrent: 2}, wantFree: []int{512}},
			},
		},
		{
			// Hash("", "guest/c") is even: home 0 of 2.
			name:     "a free concurrency slot fits a full invoker",
			cfg:      Config{ManagedFraction: 1},
			invokers: healthy(2, 256),
			ops: []op{
				{schedule: &Request{ActivationID: "a", Action: "guest/c", MemoryMB: 256, MaxConcurrent: 2}, want: Placement{Invoker: 0}},
				{schedule: &Request{ActivationID: "b", Action: "guest/c", MemoryMB: 256, MaxConcurrent: 2}, want: Placement{Invoker: 0}},
				{schedule: &Request{ActivationID: "c", Action: "guest/c", MemoryMB: 256, MaxConcurrent: 2}, want: Placement{Invoker: 1}, wantFree: []int{0, 0}},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			runOps(t, newTestBalancer(t, tt.cfg, tt.invokers...), tt.ops)
		})
	}
}

func TestScheduleRejects(t *testing.T) {
	b := newTestBalancer(t, Config{}, healthy(1, 1024)...)
	if _, err := b.Schedule(t0, *hello(0, 128)); err != nil {
		t.Fatal(err)
	}
	for _, req := range []Request{
		{Action: "guest/hello", MemoryMB: 128},
		{ActivationID: "x", Action: "guest/hello", MemoryMB: 0},
		*hello(0, 128),
	} {
		if p, err := b.Schedule(t0, req); err == nil || errors.Is(err, ErrNoInvokers) {
			t.Errorf("Schedule(%+v) = %+v, %v; want a request error", req, p, err)
		}
	}
	if got := b.Active(); got != 1 {
		t.Errorf("Active() = %d after rejected requests, want 1", got)
	}
}

// TestForcedIsUniform checks that forced placements spread over the healthy invokers of
// the pool, and only those.
func TestForcedIsUniform(t *testing.T) {
	list := []Invoker{
		{ID: 0, UserMemoryMB: 128, Healthy: true},
		{ID: 1, UserMemoryMB: 128},
		{ID: 2, UserMemoryMB: 128, Healthy: true},
		{ID: 3, UserMemoryMB: 128, Healthy: true},
	}
	b := newTestBalancer(t, Config{ManagedFraction: 1}, list...)
	counts := map[int]int{}
	const n = 3000
	for i := range n {
		p, err := b.Schedule(t0, Request{ActivationID: id(i), Namespace: "guest", Action: "guest/big", MemoryMB: 256})
		if err != nil || !p.Forced {
			t.Fatalf("Schedule #%d = %+v, %v; want forced", i, p, err)
		}
		counts[p.Invoker]++
	}
	if counts[1] != 0 || len(counts) != 3 {
		t.Fatalf("forced placements %v, want invokers 0, 2 and 3 only", counts)
	}
	for inv, c := range counts {
		if c < n/3-200 || c > n/3+200 {
			t.Errorf("invoker %d got %d of %d forced placements, want about %d", inv, c, n, n/3)
		}
	}
}

func TestForcedIsDeterministic(t *testing.T) {
	run := func() []int {
		b := newTestBalancer(t, Config{Rand: rand.New(rand.NewPCG(7, 7))}, healthy(8, 128)...)
		var got []int
		for i := range 20 {
			p, err := b.Schedule(t0, Request{ActivationID: id(i), Namespace: "guest", Action: "guest/big", MemoryMB: 256})
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, p.Invoker)
		}
		return got
	}
	if a, b := run(), run(); !slices.Equal(a, b) {
		t.Errorf("same seed, different forced placements: %v and %v", a, b)
	}
}

func TestReleaseAndExpire(t *testing.T) {
	b := newTestBalancer(t, Config{}, healthy(1, 1024)...)
	reqs := []Request{
		{ActivationID: "short", NamespaceUUID: "ns1", Action: "guest/a", MemoryMB: 128, TimeLimit: 30 * time.Second},
		{ActivationID: "std", NamespaceUUID: "ns1", Action: "guest/a", MemoryMB: 128},
		{ActivationID: "long", NamespaceUUID: "ns2", Action: "guest/a", MemoryMB: 128, TimeLimit: 5 * time.Minute, Blackbox: false},
		{ActivationID: "done", NamespaceUUID: "ns2", Action: "guest/a", MemoryMB: 256},
	}
	for _, r := range reqs {
		if _, err := b.Schedule(t0, r); err != nil {
			t.Fatal(err)
		}
	}
	if got := [3]int{b.Active(), b.ActiveFor("ns1"), b.ActiveFor("ns2")}; got != [3]int{4, 2, 2} {
		t.Fatalf("in flight (total, ns1, ns2) = %v, want [4 2 2]", got)
	}
	rel, ok := b.Release("done")
	if want := (Released{ActivationID: "done", Invoker: 0, NamespaceUUID: "ns2", MemoryMB: 256}); !ok || rel != want {
		t.Fatalf("Release(done) = %+v, %v; want %+v, true", rel, ok, want)
	}
	if _, ok := b.Release("done"); ok {
		t.Errorf("second Release(done) = true, want false")
	}
	if _, ok := b.Release("health-test"); ok {
		t.Errorf("Release of an unknown id = true, want false")
	}

	// max(limit, 1m) × 2 + 1m: 3 minutes for 30 s and for the standard minute, 11 for 5 minutes.
	next, ok := b.NextDeadline()
	if !ok || !next.Equal(t0.Add(3*time.Minute)) {
		t.Errorf("NextDeadline() = %v, %v; want %v", next, ok, t0.Add(3*time.Minute))
	}
	if got := b.Expire(t0.Add(3*time.Minute - time.Millisecond)); len(got) != 0 {
		t.Errorf("Expire just before 3m = %+v, want nothing", got)
	}
	got := b.Expire(t0.Add(3 * time.Minute))
	want := []Released{
		{ActivationID: "short", NamespaceUUID: "ns1", MemoryMB: 128},
		{ActivationID: "std", NamespaceUUID: "ns1", MemoryMB: 128},
	}
	if !slices.Equal(got, want) {
		t.Errorf("Expire at 3m = %+v, want %+v", got, want)
	}
	if _, ok := b.Release("short"); ok {
		t.Errorf("Release after expiry = true, want false")
	}
	if got := b.ActiveFor("ns1"); got != 0 {
		t.Errorf("ActiveFor(ns1) = %d after expiry, want 0", got)
	}
	if got := b.Expire(t0.Add(11 * time.Minute)); len(got) != 1 || got[0].ActivationID != "long" {
		t.Errorf("Expire at 11m = %+v, want long", got)
	}
	if _, ok := b.NextDeadline(); ok {
		t.Errorf("NextDeadline() with nothing in flight reports a deadline")
	}
	if s := b.Invokers()[0]; s.FreeMB != 1024 || s.Active != 0 {
		t.Errorf("after everything completed: %+v, want 1024 MB free, 0 active", s)
	}
}

func TestTimeoutConfig(t *testing.T) {
	b := newTestBalancer(t, Config{TimeoutFactor: 3, TimeoutAddon: -1, StdTimeLimit: 10 * time.Second}, healthy(1, 1024)...)
	if _, err := b.Schedule(t0, Request{ActivationID: "a", MemoryMB: 128, TimeLimit: 20 * time.Second}); err != nil {
		t.Fatal(err)
	}
	if next, _ := b.NextDeadline(); !next.Equal(t0.Add(60 * time.Second)) {
		t.Errorf("deadline %v, want %v (20 s × 3, no addon)", next, t0.Add(60*time.Second))
	}
}

// TestConcurrentUse schedules and releases from several goroutines; run with -race.
// Once everything is released, every invoker's semaphore is whole again.
func TestConcurrentUse(t *testing.T) {
	b := newTestBalancer(t, Config{}, healthy(4, 1024)...)
	done := make(chan error)
	for g := range 4 {
		go func() {
			for i := range 500 {
				id := fmt.Sprintf("g%d-%d", g, i)
				req := Request{ActivationID: id, Namespace: "guest", Action: fmt.Sprintf("guest/a%d", i%3), MemoryMB: 256, MaxConcurrent: 1 + i%3}
				if _, err := b.Schedule(t0, req); err != nil {
					done <- err
					return
				}
				if i%4 == 0 {
					_ = b.UpdateInvokers(healthy(4, 1024))
				}
				if _, ok := b.Release(id); !ok {
					done <- fmt.Errorf("Release(%s) = false", id)
					return
				}
			}
			done <- nil
		}()
	}
	for range 4 {
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
	for _, s := range b.Invokers() {
		if s.FreeMB != s.CapacityMB || s.Active != 0 {
			t.Errorf("invoker %d after all releases: %d of %d MB free, %d active", s.ID, s.FreeMB, s.CapacityMB, s.Active)
		}
	}
}
