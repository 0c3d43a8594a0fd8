package balancer

import (
	"testing"
)

func TestPick(t *testing.T) {
	cand := func(inv int, fits bool, cpu, mem int) Candidate {
		return Candidate{Invoker: inv, Fits: fits, LendableCPUMillis: cpu, LendableMemoryMB: mem}
	}
	tests := []struct {
		name            string
		extraCPU, extra int
		walk            []Candidate
		sharding        int
		harvest         int
	}{
		{
			name:     "empty walk",
			sharding: -1, harvest: -1,
		},
		{
			name:     "nothing fits",
			extraCPU: 500,
			walk:     []Candidate{cand(3, false, 1000, 0), cand(1, false, 0, 0)},
			sharding: -1, harvest: -1,
		},
		{
			name:     "no extra demand: home wins under both",
			walk:     []Candidate{cand(3, true, 0, 0), cand(1, true, 4000, 1024)},
			sharding: 0, harvest: 0,
		},
		{
			// Libra's demand/cover ranking would try the invoker with nothing to lend first.
			name:     "prefers the invoker that covers the demand",
			extraCPU: 500, extra: 64,
			walk:     []Candidate{cand(3, true, 0, 0), cand(1, true, 1000, 128)},
			sharding: 0, harvest: 1,
		},
		{
			name:     "covering invokers keep step order",
			extraCPU: 500,
			walk:     []Candidate{cand(3, true, 0, 0), cand(1, true, 600, 0), cand(2, true, 4000, 4096)},
			sharding: 0, harvest: 1,
		},
		{
			name:     "exact cover counts",
			extraCPU: 500, extra: 64,
			walk:     []Candidate{cand(3, true, 499, 64), cand(1, true, 500, 64)},
			sharding: 0, harvest: 1,
		},
		{
			name:     "memory must be covered too",
			extra:    256,
			walk:     []Candidate{cand(3, true, 4000, 128), cand(1, true, 0, 300)},
			sharding: 0, harvest: 1,
		},
		{
			name:     "a covering invoker without room is skipped",
			extraCPU: 500,
			walk:     []Candidate{cand(3, false, 4000, 0), cand(1, true, 0, 0), cand(2, true, 1000, 0)},
			sharding: 1, harvest: 2,
		},
		{
			// CPU short of the demand is slowness; memory short of it is an OOM kill.
			name:     "nobody covers both: memory first",
			extraCPU: 500, extra: 128,
			walk:     []Candidate{cand(3, true, 100, 0), cand(1, true, 0, 256), cand(2, true, 400, 100)},
			sharding: 0, harvest: 1,
		},
		{
			name:     "nobody covers: OpenWhisk's order",
			extraCPU: 5000,
			walk:     []Candidate{cand(3, false, 4000, 0), cand(1, true, 100, 0), cand(2, true, 1000, 0)},
			sharding: 1, harvest: 1,
		},
	}
	for _, tt := range tests {
		req := &Request{ExtraCPUMillis: tt.extraCPU, ExtraMemoryMB: tt.extra}
		if got := (Sharding{}).Pick(req, tt.walk); got != tt.sharding {
			t.Errorf("%s: Sharding.Pick(extra %d m, %d MB, %+v) = %d, want %d", tt.name, tt.extraCPU, tt.extra, tt.walk, got, tt.sharding)
		}
		if got := (Harvest{}).Pick(req, tt.walk); got != tt.harvest {
			t.Errorf("%s: Harvest.Pick(extra %d m, %d MB, %+v) = %d, want %d", tt.name, tt.extraCPU, tt.extra, tt.walk, got, tt.harvest)
		}
	}
}

func TestParsePolicy(t *testing.T) {
	for name, want := range map[string]Policy{"sharding": Sharding{}, "harvest": Harvest{}} {
		if got, err := ParsePolicy(name); err != nil || got != want {
			t.Errorf("ParsePolicy(%q) = %v, %v; want %T", name, got, err, want)
		}
	}
	if got, err := ParsePolicy("libra"); err == nil {
		t.Errorf("ParsePolicy(libra) = %v, nil; want an error", got)
	}
}

// TestHarvestBalancer runs the harvest policy inside the balancer: lendable figures come
// from UpdateInvokers, and placements debit them until the next report.
func TestHarvestBalancer(t *testing.T) {
	// guest/hello on 5 invokers walks 4, 1, 3, 0, 2.
	list := healthy(5, 1024)
	list[3].LendableCPUMillis, list[3].LendableMemoryMB = 1000, 256
	list[0].LendableCPUMillis, list[0].LendableMemoryMB = 800, 0
	sharding := newTestBalancer(t, Config{ManagedFraction: 1}, list...)
	harvest := newTestBalancer(t, Config{ManagedFraction: 1, Policy: Harvest{}}, list...)

	req := func(i, cpu, mem int) Request {
		r := *hello(i, 256)
		r.ExtraCPUMillis, r.ExtraMemoryMB = cpu, mem
		return r
	}
	steps := []struct {
		req               Request
		sharding, harvest int
	}{
		{req(0, 0, 0), 4, 4},     // no prediction: home
		{req(1, 600, 128), 4, 3}, // invoker 3 covers it; its view drops to 400 m, 128 MB
		{req(2, 600, 0), 4, 0},   // 3 no longer covers 600 m; 0 does (800 m)
		{req(3, 300, 128), 4, 3}, // 3 still covers 300 m, 128 MB
		{req(4, 10000, 0), 1, 4}, // nobody covers: OpenWhisk's order (sharding's home is full)
		{req(5, 10000, 0), 1, 4}, // harvest's home fills up
		{req(6, 1, 1), 1, 4},     // invoker 3's memory view is spent, 0 has none: home again
	}
	for i, s := range steps {
		for _, c := range []struct {
			name string
			b    *Balancer
			want int
		}{{"sharding", sharding, s.sharding}, {"harvest", harvest, s.harvest}} {
			p, err := c.b.Schedule(t0, s.req)
			if err != nil || p != (Placement{Invoker: c.want}) {
				t.Errorf("step %d %s: Schedule(extra %d m, %d MB) = %+v, %v; want invoker %d",
					i, c.name, s.req.ExtraCPUMillis, s.req.ExtraMemoryMB, p, err, c.want)
			}
		}
	}
	st := harvest.Invokers()
	if st[3].LendableCPUMillis != 100 || st[3].LendableMemoryMB != 0 || st[0].LendableCPUMillis != 200 {
		t.Errorf("lendable view after placements: invoker 3 %d m %d MB, invoker 0 %d m; want 100, 0, 200",
			st[3].LendableCPUMillis, st[3].LendableMemoryMB, st[0].LendableCPUMillis)
	}
	// A fresh report replaces the view.
	if err := harvest.UpdateInvokers(list); err != nil {
		t.Fatal(err)
	}
	if st := harvest.Invokers(); st[3].LendableCPUMillis != 1000 || st[3].LendableMemoryMB != 256 {
		t.Errorf("after a new report: invoker 3 %+v, want 1000 m, 256 MB", st[3])
	}
}
