package harvest

import (
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/owinvoker/owinvoker/harvest/predict"
)

func mustNew(t testing.TB, cfg Config) *Harvester {
	t.Helper()
	h, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func TestConfigValidate(t *testing.T) {
	for _, tc := range []struct {
		cfg  Config
		want string
	}{
		{Config{}, ""},
		{Config{MemorySafeguard: 1}, "memory safeguard 1 not in (0, 1)"},
		{Config{MemorySafeguard: -0.1}, "memory safeguard -0.1"},
		{Config{CPUSafeguard: 1}, ""},
		{Config{CPUSafeguard: 1.2}, "cpu safeguard 1.2 not in (0, 1]"},
		{Config{HeadroomMB: -1}, "head-room -1 MB < 0"},
		{Config{MinMemoryMB: -1}, "min memory -1 MB < 0"},
		{Config{MinCPUMillis: -1}, "min cpu -1 millicores < 0"},
		{Config{StaleAfter: -time.Second}, "stale-after -1s < 0"},
		{Config{AdmitOnHarvest: true, DisableMemory: true}, "admission on harvested memory needs memory harvesting"},
		{Config{Predict: predict.Config{Quantile: 2}}, "predict config: quantile 2"},
	} {
		_, err := tc.cfg.Validate()
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("Validate(%+v) = %v, want no error", tc.cfg, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("Validate(%+v) = %v, want an error containing %q", tc.cfg, err, tc.want)
		}
	}
	got, _ := Config{}.Validate()
	if got.MemorySafeguard != 0.8 || got.CPUSafeguard != 0.8 || got.HeadroomMB != 32 || got.MinMemoryMB != 64 ||
		got.MinCPUMillis != 50 || got.StaleAfter != 2*time.Second || got.Predict.Quantile != 0.95 {
		t.Errorf("defaults = %+v", got)
	}
}

func TestAbove(t *testing.T) {
	for _, tc := range []struct {
		x    int
		t    float64
		want int
	}{{0, 0.8, 1}, {100, 0.8, 126}, {80, 0.8, 101}, {79, 0.8, 99}, {120, 0.8, 151}, {3, 1, 4}, {7, 0.7, 11}} {
		got := above(tc.x, tc.t)
		if got != tc.want || !(float64(tc.x) < tc.t*float64(got)) || float64(tc.x) < tc.t*float64(got-1) {
			t.Errorf("above(%d, %v) = %d, want %d", tc.x, tc.t, got, tc.want)
		}
	}
}

func TestStartErrors(t *testing.T) {
	now := time.Unix(0, 0)
	ok := Activation{ID: "a", ContainerID: "c", AllocMemoryMB: 256, AllocCPUMillis: 500}
	for _, tc := range []struct {
		name string
		mod  func(*Activation)
		want string
	}{
		{"no id", func(a *Activation) { a.ID = "" }, "empty activation id"},
		{"no container", func(a *Activation) { a.ContainerID = "" }, "empty container id"},
		{"no memory", func(a *Activation) { a.AllocMemoryMB = 0 }, "memory allocation 0 MB <= 0"},
		{"negative cpu", func(a *Activation) { a.AllocCPUMillis = -1 }, "cpu allocation -1"},
		{"negative scratch", func(a *Activation) { a.ScratchMB = -1 }, "scratch -1 MB"},
		{"harvested beyond allocation", func(a *Activation) { a.HarvestedMB = 300 }, "harvested 300 MB"},
		{"harvested while off", func(a *Activation) { a.HarvestedMB = 10 }, "admission on harvested memory is off"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := mustNew(t, Config{})
			a := ok
			tc.mod(&a)
			_, err := h.Start(now, a)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Start(%+v) = %v, want an error containing %q", a, err, tc.want)
			}
			if st := h.Stats(); st.Containers != 0 || h.HasReady() {
				t.Errorf("a refused Start changed the ledger: %+v", st)
			}
		})
	}
	h := mustNew(t, Config{})
	if _, err := h.Start(now, ok); err != nil {
		t.Fatal(err)
	}
	dup := ok
	dup.ContainerID = "other"
	if _, err := h.Start(now, dup); !errors.Is(err, ErrExists) {
		t.Errorf("Start with a running activation's id = %v, want ErrExists", err)
	}
	if err := h.End(now, "nope", Profile{}); !errors.Is(err, ErrUnknown) {
		t.Errorf("End(unknown) = %v, want ErrUnknown", err)
	}
}

// A failure reported while a newer decision for the same container waits: the newer one stands
// and starts from the limits the container really has.
func TestUpdateFailedWithPendingDecision(t *testing.T) {
	now := time.Unix(0, 0)
	h := mustNew(t, Config{})
	start := func(id string, warm bool, predMem int) {
		t.Helper()
		_, err := h.Start(now, Activation{ID: id, ContainerID: "c", Warm: warm, AllocMemoryMB: 256, AllocCPUMillis: 500,
			Prediction: predict.Prediction{OK: true, MemoryMB: predMem, CPUMillis: 500}})
		if err != nil {
			t.Fatal(err)
		}
	}
	start("a", false, 256)
	h.Sample(now, "c", 0, 40, 40)
	if err := h.End(now, "a", Profile{}); err != nil {
		t.Fatal(err)
	}
	h.Ready()
	start("b", true, 100)
	rd := h.Ready()
	if len(rd.Resizes) != 1 || rd.Resizes[0].MemoryMB != 100 {
		t.Fatalf("lend: %+v", rd.Resizes)
	}
	h.Sample(now, "c", 0, 85, 85) // safeguard: a restore to 256 is now pending
	if err := h.UpdateFailed(now, rd.Resizes[0]); err != nil {
		t.Fatalf("UpdateFailed = %v", err)
	}
	rd = h.Ready()
	if len(rd.Resizes) != 0 {
		t.Errorf("after the failed shrink the container is at 256 already, and so is the restore; got %+v", rd.Resizes)
	}
	if s, _ := h.Size("c"); s.MemoryMB != 256 {
		t.Errorf("Size = %+v, want 256 MB", s)
	}
	// Removed containers: nothing to roll back.
	h.Remove(now, "c")
	if err := h.UpdateFailed(now, Resize{ContainerID: "c", MemoryMB: 1}); err != nil {
		t.Errorf("UpdateFailed(removed container) = %v", err)
	}
}

func TestDisabledResources(t *testing.T) {
	now := time.Unix(0, 0)
	for _, tc := range []struct {
		cfg  Config
		want Size
	}{
		{Config{}, Size{CPUMillis: 100, MemoryMB: 100}},
		{Config{DisableCPU: true}, Size{CPUMillis: 500, MemoryMB: 100}},
		{Config{DisableMemory: true}, Size{CPUMillis: 100, MemoryMB: 256}},
		{Config{DisableCPU: true, DisableMemory: true}, Size{CPUMillis: 500, MemoryMB: 256}},
	} {
		h := mustNew(t, tc.cfg)
		got, err := h.Start(now, Activation{ID: "a", ContainerID: "c", AllocMemoryMB: 256, AllocCPUMillis: 500,
			Prediction: predict.Prediction{OK: true, MemoryMB: 100, CPUMillis: 100}})
		if err != nil || got != tc.want {
			t.Errorf("config %+v: Start = %+v, %v; want %+v", tc.cfg, got, err, tc.want)
		}
	}
	// No CPU quota: CPU is not harvested for that activation.
	h := mustNew(t, Config{})
	got, _ := h.Start(now, Activation{ID: "a", ContainerID: "c", AllocMemoryMB: 256,
		Prediction: predict.Prediction{OK: true, MemoryMB: 100, CPUMillis: 100}})
	if got != (Size{MemoryMB: 100}) {
		t.Errorf("without a CPU quota: Start = %+v, want no quota and 100 MB", got)
	}
}

var seeds = flag.Int("seeds", 40, "random runs of TestRandomInvariants")

// world is the containers as they really are: what the edge applied, and what they use.
type world struct {
	limit map[string]Size
	alloc map[string]Size
	used  map[string]int // MB, what the last sample said (nothing else changes it)
	// admitted is the memory a container was admitted on beyond the user memory.
	admitted map[string]int
}

// TestRandomInvariants drives a Harvester with random starts, samples, ends, removals, ticks and
// failed updates, applies its decisions to a model of the containers, and checks the invariants
// of the package doc after every step.
func TestRandomInvariants(t *testing.T) {
	for seed := range uint64(*seeds) {
		t.Run(fmt.Sprint("seed", seed), func(t *testing.T) { randomRun(t, seed, 400) })
	}
}

func randomRun(t *testing.T, seed uint64, steps int) {
	rng := rand.New(rand.NewPCG(seed, 7))
	cfg := Config{AdmitOnHarvest: rng.IntN(2) == 0, DisableCPUSafeguard: rng.IntN(3) == 0}
	h := mustNew(t, cfg)
	cfg = h.Config()
	w := world{limit: map[string]Size{}, alloc: map[string]Size{}, used: map[string]int{}, admitted: map[string]int{}}
	now := time.Unix(0, 0)
	running := map[string]string{} // activation → container
	busy := map[string]bool{}      // container → running
	scratch := map[string]int{}
	unrestored := map[string]bool{} // a safeguard restore failed and no sample came since
	nextAct := 0
	const userMemory = 4096
	var log []string
	fail := func(format string, args ...any) {
		t.Helper()
		t.Fatalf("seed %d, after:\n%s\n"+format, append([]any{seed, strings.Join(log, "\n")}, args...)...)
	}

	for step := range steps {
		now = now.Add(time.Duration(rng.IntN(400)) * time.Millisecond)
		before := h.Stats()
		var op string
		switch k := rng.IntN(20); {
		case k < 6: // start
			cid := fmt.Sprint("c", rng.IntN(8))
			known := w.limit[cid] != (Size{})
			mem := []int{128, 256, 512}[rng.IntN(3)]
			a := Activation{
				ID: fmt.Sprint("a", nextAct), ContainerID: cid, Warm: known || rng.IntN(4) == 0,
				AllocMemoryMB: mem, AllocCPUMillis: mem * 2, ScratchMB: rng.IntN(mem / 3),
				InputBytes: -1,
			}
			if known {
				a.AllocMemoryMB, a.AllocCPUMillis = w.alloc[cid].MemoryMB, w.alloc[cid].CPUMillis
				a.ScratchMB = min(scratch[cid], a.AllocMemoryMB-1)
			}
			if rng.IntN(5) > 0 {
				pm, pc := rng.IntN(2*a.AllocMemoryMB), rng.IntN(2*a.AllocCPUMillis)
				a.Prediction = predict.Prediction{OK: true, MemoryMB: pm, CPUMillis: pc,
					PeakMemoryMB: pm * 9 / 10, PeakCPUMillis: pc * 9 / 10}
			}
			if !known && cfg.AdmitOnHarvest && rng.IntN(3) == 0 {
				a.HarvestedMB = rng.IntN(min(h.AdmissibleMB(userMemory)-userMemory+20, a.AllocMemoryMB) + 1)
			}
			nextAct++
			op = fmt.Sprintf("start %+v", a)
			prev := w.limit[cid]
			size, err := h.Start(now, a)
			switch {
			case busy[cid]:
				if !errors.Is(err, ErrBusy) {
					fail("%s in a busy container = %v, want ErrBusy", op, err)
				}
			case known && !a.Warm:
				if !errors.Is(err, ErrExists) {
					fail("%s = %v, want ErrExists", op, err)
				}
			case a.HarvestedMB > before.Memory.Free:
				if !errors.Is(err, ErrNoHarvest) {
					fail("%s with %d MB free = %v, want ErrNoHarvest", op, before.Memory.Free, err)
				}
			case err != nil:
				fail("%s = %v", op, err)
			default:
				running[a.ID], busy[cid], scratch[cid] = cid, true, a.ScratchMB
				w.alloc[cid] = Size{CPUMillis: a.AllocCPUMillis, MemoryMB: a.AllocMemoryMB}
				if !known {
					w.admitted[cid] = a.HarvestedMB
				}
				if !a.Warm {
					w.limit[cid] = size
					if size.MemoryMB < min(cfg.MinMemoryMB, a.AllocMemoryMB) {
						fail("%s: created at %+v, below the minimum", op, size)
					}
				} else if !known {
					w.limit[cid] = w.alloc[cid] // a stem cell, created at its allocation
				}
				if size.MemoryMB > a.AllocMemoryMB && size.MemoryMB > prev.MemoryMB && before.Memory.Debt > 0 {
					fail("%s: grew from %d to %d MB while the pool was in debt %d", op, prev.MemoryMB, size.MemoryMB, before.Memory.Debt)
				}
			}
		case k < 13: // sample; a container never uses more than its real limit
			cid := fmt.Sprint("c", rng.IntN(8))
			if w.limit[cid] == (Size{}) {
				continue
			}
			used := rng.IntN(w.limit[cid].MemoryMB + 1)
			if rng.IntN(2) == 0 { // mostly drift a little
				used = min(max(w.used[cid]+rng.IntN(41)-20, 0), w.limit[cid].MemoryMB)
			}
			cpu := rng.IntN(w.limit[cid].CPUMillis + 1)
			w.used[cid] = used
			delete(unrestored, cid)
			op = fmt.Sprintf("sample %s cpu=%d mem=%d", cid, cpu, used)
			h.Sample(now, cid, cpu, used, used)
		case k < 16: // end
			for id, cid := range running {
				op = "end " + id
				if err := h.End(now, id, Profile{PeakCPUMillis: rng.IntN(1000), PeakMemoryMB: rng.IntN(512), Samples: rng.IntN(2)}); err != nil {
					fail("%s = %v", op, err)
				}
				delete(running, id)
				busy[cid] = false
				break
			}
		case k < 17: // remove
			cid := fmt.Sprint("c", rng.IntN(8))
			op = "remove " + cid
			if got, want := h.Remove(now, cid), w.limit[cid] != (Size{}); got != want {
				fail("%s = %v, want %v", op, got, want)
			}
			for id, c := range running {
				if c == cid {
					delete(running, id)
				}
			}
			delete(w.limit, cid)
			delete(w.alloc, cid)
			delete(w.used, cid)
			delete(w.admitted, cid)
			delete(unrestored, cid)
			busy[cid] = false
		default:
			op = "tick"
			h.Tick(now)
		}
		if op == "" {
			continue
		}
		log = append(log, fmt.Sprintf("%d %v: %s", step, now.Sub(time.Unix(0, 0)), op))

		// Carry out the decisions, failing some; a shrink below real use must never be asked for.
		for round := 0; h.HasReady(); round++ {
			if round > 20 {
				fail("Ready never empties")
			}
			rd := h.Ready()
			for _, r := range rd.Resizes {
				cur, ok := w.limit[r.ContainerID]
				if !ok {
					fail("resize of unknown container %+v", r)
				}
				if cur != (Size{CPUMillis: r.FromCPUMillis, MemoryMB: r.FromMemoryMB}) {
					fail("resize %+v starts from the wrong limits: the container has %+v", r, cur)
				}
				if r.MemoryMB < r.FromMemoryMB && r.MemoryMB < w.used[r.ContainerID]+cfg.HeadroomMB {
					fail("resize %+v lowers memory below use %d + head-room", r, w.used[r.ContainerID])
				}
				if rng.IntN(8) == 0 {
					log = append(log, fmt.Sprintf("   failed %+v", r))
					if r.Reason == Safeguard {
						unrestored[r.ContainerID] = true
					}
					if err := h.UpdateFailed(now, r); err != nil {
						fail("UpdateFailed(%+v) = %v", r, err)
					}
					continue
				}
				w.limit[r.ContainerID] = Size{CPUMillis: r.CPUMillis, MemoryMB: r.MemoryMB}
				log = append(log, fmt.Sprintf("   applied %+v", r))
			}
		}

		// The ledger is the world.
		var want Stats
		var lendableCap int
		for cid, l := range w.limit {
			got, ok := h.Size(cid)
			if !ok || got != l {
				fail("ledger has %s at %+v (%v), the container is at %+v", cid, got, ok, l)
			}
			a := w.alloc[cid]
			want.Memory.Lent += max(a.MemoryMB-l.MemoryMB, 0)
			want.Memory.Borrowed += max(l.MemoryMB-a.MemoryMB, 0)
			want.CPU.Lent += max(a.CPUMillis-l.CPUMillis, 0)
			want.CPU.Borrowed += max(l.CPUMillis-a.CPUMillis, 0)
			lendableCap += max(a.MemoryMB-scratch[cid], 0)
			want.Memory.Admitted += w.admitted[cid]
			// Scratch is never lent.
			if l.MemoryMB < a.MemoryMB && l.MemoryMB <= scratch[cid] {
				fail("%s lends into its scratch: limit %d, scratch %d", cid, l.MemoryMB, scratch[cid])
			}
			// A sampled memory lender sits below the safeguard, unless its restore just failed.
			if l.MemoryMB < a.MemoryMB && !unrestored[cid] && w.used[cid] > 0 &&
				float64(w.used[cid]) >= cfg.MemorySafeguard*float64(l.MemoryMB) {
				fail("%s lends memory while using %d of %d", cid, w.used[cid], l.MemoryMB)
			}
		}
		got := h.Stats()
		if got.Containers != len(w.limit) {
			fail("Stats().Containers = %d, want %d", got.Containers, len(w.limit))
		}
		for _, p := range []struct {
			name      string
			got, want Pool
		}{{"cpu", got.CPU, want.CPU}, {"mem", got.Memory, want.Memory}} {
			if p.got.Lent != p.want.Lent || p.got.Borrowed != p.want.Borrowed || p.got.Admitted != p.want.Admitted {
				fail("%s pool %+v, the containers say lent %d borrowed %d admitted %d", p.name, p.got,
					p.want.Lent, p.want.Borrowed, p.want.Admitted)
			}
			if p.got.Free < 0 || p.got.Debt < 0 || (p.got.Free > 0 && p.got.Debt > 0) ||
				p.got.Lent-p.got.Borrowed-p.got.Admitted != p.got.Free-p.got.Debt {
				fail("%s pool %+v breaks Σ borrowed + Σ admitted = Σ lent + Free − Debt", p.name, p.got)
			}
		}
		if got.CPU.Debt != 0 {
			fail("CPU debt %d: CPU is always reclaimable", got.CPU.Debt)
		}
		if got.Memory.Borrowed > before.Memory.Borrowed && got.Memory.Debt > 0 {
			fail("borrowing grew from %d to %d MB while leaving a debt of %d", before.Memory.Borrowed, got.Memory.Borrowed, got.Memory.Debt)
		}
		if cpu, mem := h.Lendable(); cpu != got.CPU.Free || mem != got.Memory.Free || mem > lendableCap {
			fail("Lendable() = %d, %d; pools %+v; scratch-free cap %d", cpu, mem, got, lendableCap)
		}
		admissible := userMemory
		if cfg.AdmitOnHarvest {
			admissible += got.Memory.Free
		}
		if h.AdmissibleMB(userMemory) != admissible {
			fail("AdmissibleMB(%d) = %d, want %d (admission on harvest %v)", userMemory, h.AdmissibleMB(userMemory), admissible, cfg.AdmitOnHarvest)
		}
	}
}

func BenchmarkSample(b *testing.B) {
	for _, n := range []int{10, 100} {
		b.Run(fmt.Sprint("containers=", n), func(b *testing.B) {
			h := mustNew(b, Config{})
			now := time.Unix(0, 0)
			for i := range n {
				_, err := h.Start(now, Activation{ID: fmt.Sprint("a", i), ContainerID: fmt.Sprint("c", i),
					AllocMemoryMB: 256, AllocCPUMillis: 500, Prediction: predict.Prediction{OK: true, MemoryMB: 100, CPUMillis: 100}})
				if err != nil {
					b.Fatal(err)
				}
			}
			ids := make([]string, n)
			for i := range ids {
				ids[i] = fmt.Sprint("c", i)
			}
			i := 0
			b.ReportAllocs()
			for b.Loop() {
				h.Sample(now, ids[i%n], 50, 60, 70)
				i++
			}
		})
	}
}

// BenchmarkActivation is one activation's work in the core: predict, start, samples, end, tick
// and the Ready drain, among n other containers.
func BenchmarkActivation(b *testing.B) {
	for _, n := range []int{10, 100} {
		b.Run(fmt.Sprint("containers=", n), func(b *testing.B) {
			h := mustNew(b, Config{})
			now := time.Unix(0, 0)
			key := predict.Key{Namespace: "guest", Action: "fn", Revision: "1-a"}
			for i := range n {
				id := fmt.Sprint("c", i)
				if _, err := h.Start(now, Activation{ID: id, ContainerID: id, AllocMemoryMB: 256, AllocCPUMillis: 500,
					Prediction: predict.Prediction{OK: true, MemoryMB: 100 + 3*i, CPUMillis: 100 + 9*i}}); err != nil {
					b.Fatal(err)
				}
				h.Sample(now, id, 10, 40, 40)
				if err := h.End(now, id, Profile{PeakCPUMillis: 90, PeakMemoryMB: 80, Samples: 3}); err != nil {
					b.Fatal(err)
				}
			}
			h.Ready()
			i := 0
			b.ReportAllocs()
			for b.Loop() {
				cid := fmt.Sprint("c", i%n)
				aid := fmt.Sprint("x", i)
				p := h.Predict(key, -1)
				if _, err := h.Start(now, Activation{ID: aid, Key: key, ContainerID: cid, Warm: true,
					AllocMemoryMB: 256, AllocCPUMillis: 500, Prediction: p}); err != nil {
					b.Fatal(err)
				}
				h.Sample(now, cid, 80, 70, 75)
				if err := h.End(now, aid, Profile{PeakCPUMillis: 90, PeakMemoryMB: 80, Samples: 3}); err != nil {
					b.Fatal(err)
				}
				h.Tick(now)
				h.Ready()
				i++
			}
			cpu, mem := h.Lendable()
			b.ReportMetric(float64(mem), "lendable_MB")
			b.ReportMetric(float64(cpu), "lendable_millicores")
		})
	}
}

func TestHintPrediction(t *testing.T) {
	for _, tt := range []struct {
		alloc, allocMem, cpu, mem int
		want                      predict.Prediction
	}{
		{250, 128, 0, 0, predict.Prediction{}},
		{250, 128, -5, 0, predict.Prediction{}},
		{250, 128, 750, 0, predict.Prediction{OK: true, CPUMillis: 1000, MemoryMB: 128, PeakCPUMillis: 1000, PeakMemoryMB: 128}},
		{250, 128, 0, 128, predict.Prediction{OK: true, CPUMillis: 250, MemoryMB: 256, PeakCPUMillis: 250, PeakMemoryMB: 256}},
	} {
		if got := HintPrediction(tt.alloc, tt.allocMem, tt.cpu, tt.mem); got != tt.want {
			t.Errorf("HintPrediction(%d, %d, %d, %d) = %+v, want %+v", tt.alloc, tt.allocMem, tt.cpu, tt.mem, got, tt.want)
		}
	}
}
