package memfs

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
)

func mustNew(t testing.TB, cfg Config) *Ledger {
	t.Helper()
	l, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func TestConfigValidate(t *testing.T) {
	for _, tc := range []struct {
		cfg  Config
		want string
	}{
		{Config{HostBytes: 1 << 30}, ""},
		{Config{}, "host budget 0 bytes: must be set"},
		{Config{HostBytes: 1 << 30, TenantBytes: -1}, "tenant budget -1"},
		{Config{HostBytes: 1 << 30, Tenants: map[string]int64{"x": -5}}, `tenant "x" budget -5`},
		{Config{HostBytes: 1 << 30, MinBytes: 64 * MiB, CapBytes: 32 * MiB}, "want 0 <= min <= cap"},
		{Config{HostBytes: 1 << 30, HeadroomMB: -1}, "head-room -1"},
		{Config{HostBytes: 1 << 30, UnknownHeapFraction: 1.5}, "unknown-heap fraction 1.5"},
		{Config{HostBytes: 1 << 30, SlackBytes: -1}, "slack -1"},
		{Config{HostBytes: 1 << 30, IdleAfter: -time.Second}, "idle-after -1s"},
	} {
		_, err := tc.cfg.Validate()
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("Validate(%+v) = %v, want no error", tc.cfg, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("Validate(%+v) = %v, want an error containing %q", tc.cfg, err, tc.want)
		}
	}
	got, _ := Config{HostBytes: 1 << 30}.Validate()
	if got.TenantBytes != 256*MiB || got.CapBytes != 256*MiB || got.MinBytes != 16*MiB || got.HeadroomMB != 32 ||
		got.UnknownHeapFraction != 0.5 || got.SlackBytes != 8*MiB {
		t.Errorf("defaults = %+v", got)
	}
	// The ledger keeps its own copy of the tenant budgets.
	tenants := map[string]int64{"a": MiB}
	l := mustNew(t, Config{HostBytes: 1 << 30, Tenants: tenants})
	tenants["a"] = 0
	if l.Config().Tenants["a"] != MiB {
		t.Error("the ledger shares the caller's Tenants map")
	}
}

func TestSizeFor(t *testing.T) {
	l := mustNew(t, Config{HostBytes: 1 << 30})
	for _, tc := range []struct {
		mem, heap int
		want      int64
	}{
		{256, 100, 124 * MiB},  // 256 − 100 − 32
		{1024, 100, 256 * MiB}, // capped
		{256, 0, 96 * MiB},     // no prediction: half of 256 is assumed for the heap
		{128, 0, 32 * MiB},
		{128, 80, 16 * MiB}, // exactly the minimum
		{128, 81, 0},        // 15 MiB: too small
		{64, 0, 0},
		{256, 300, 0}, // predicted heap above the limit
	} {
		if got := l.SizeFor(Request{ActionMemoryMB: tc.mem, PredictedHeapMB: tc.heap}); got != tc.want {
			t.Errorf("SizeFor(mem %d MB, heap %d MB) = %d MiB, want %d MiB", tc.mem, tc.heap, got/MiB, tc.want/MiB)
		}
	}
}

type step struct {
	op   string // reserve, release, usage, idle, busy, enospc, shrink-failed
	req  Request
	id   string
	used int64
	now  time.Duration
	// for shrink-failed: the shrink and the requester
	failed    Resize
	requester string

	want    Decision // reserve, shrink-failed
	wantR   Resize   // busy
	wantOK  bool     // busy: a resize; release/usage/enospc: known
	wantErr error
}

func TestLedger(t *testing.T) {
	const host = 1024 * MiB
	req := func(tenant, id string, mem, heap int) Request {
		return Request{Tenant: tenant, ContainerID: id, ActionMemoryMB: mem, PredictedHeapMB: heap}
	}
	mem := func(id string, size int64, why Reason, shrinks ...Resize) Decision {
		return Decision{ContainerID: id, Backing: Memory, SizeBytes: size, Reason: why, Shrinks: shrinks}
	}
	disk := func(id string, size int64, why Reason) Decision {
		return Decision{ContainerID: id, Backing: Disk, SizeBytes: size, Reason: why}
	}
	for _, tc := range []struct {
		name  string
		cfg   Config
		steps []step
		snap  func(Snapshot) string // "" if fine
	}{
		{
			name: "fits, then the tenant budget is spent",
			cfg:  Config{HostBytes: host, TenantBytes: 300 * MiB},
			steps: []step{
				{op: "reserve", req: req("a", "c1", 256, 100), want: mem("c1", 124*MiB, Fits)},
				{op: "reserve", req: req("a", "c2", 256, 100), want: mem("c2", 124*MiB, Fits)},
				{op: "reserve", req: req("a", "c3", 256, 100), want: disk("c3", 124*MiB, TenantBudget)},
				// Another tenant has its own budget.
				{op: "reserve", req: req("b", "c4", 256, 100), want: mem("c4", 124*MiB, Fits)},
				// A release makes room again.
				{op: "release", id: "c1", wantOK: true},
				{op: "reserve", req: req("a", "c5", 256, 100), want: mem("c5", 124*MiB, Fits)},
			},
			snap: func(s Snapshot) string {
				if s.ReservedBytes != 3*124*MiB || s.MemoryContainers != 3 || s.DiskContainers != 1 || s.DiskFallbacks != 1 ||
					len(s.Tenants) != 2 || s.Tenants[0].ReservedBytes != 248*MiB || s.Tenants[1].ReservedBytes != 124*MiB {
					return "want a: 2×124 MiB + 1 on disk, b: 124 MiB"
				}
				return ""
			},
		},
		{
			name: "host budget spent",
			cfg:  Config{HostBytes: 200 * MiB, TenantBytes: 200 * MiB},
			steps: []step{
				{op: "reserve", req: req("a", "c1", 256, 100), want: mem("c1", 124*MiB, Fits)},
				{op: "reserve", req: req("b", "c2", 256, 100), want: disk("c2", 124*MiB, HostBudget)},
				// Another tenant's idle reservation is never shrunk for b.
				{op: "idle", id: "c1"},
				{op: "reserve", req: req("b", "c3", 256, 100), want: disk("c3", 124*MiB, HostBudget)},
			},
		},
		{
			name: "too small for memory; a zero tenant budget means disk",
			cfg:  Config{HostBytes: host, Tenants: map[string]int64{"nomem": 0}},
			steps: []step{
				{op: "reserve", req: req("a", "c1", 128, 100), want: disk("c1", 0, TooSmall)},
				{op: "reserve", req: req("nomem", "c2", 256, 100), want: disk("c2", 124*MiB, TenantBudget)},
				{op: "reserve", req: req("a", "c1", 256, 100), wantErr: ErrExists},
			},
		},
		{
			name: "idle reservations of the same tenant back a new container, idle longest first",
			cfg:  Config{HostBytes: host, TenantBytes: 300 * MiB},
			steps: []step{
				{op: "reserve", req: req("a", "c1", 256, 100), want: mem("c1", 124*MiB, Fits)},
				{op: "reserve", req: req("a", "c2", 256, 100), want: mem("c2", 124*MiB, Fits)},
				{op: "usage", id: "c1", used: 10 * MiB, wantOK: true},
				{op: "usage", id: "c2", used: 30 * MiB, wantOK: true},
				{op: "idle", id: "c2", now: time.Second},
				{op: "idle", id: "c1", now: 2 * time.Second},
				// 52 MiB free; 124 − 52 = 72 needed; c2 (idle longest) can give 124 − 38 = 86.
				{op: "reserve", req: req("a", "c3", 256, 100), now: 3 * time.Second,
					want: mem("c3", 124*MiB, Shared, Resize{"c2", 124 * MiB, 52 * MiB})},
				// c2 is reused: it grows back as far as the budget allows (nothing is free).
				{op: "busy", id: "c2"},
				{op: "release", id: "c3", wantOK: true},
				{op: "busy", id: "c2", wantR: Resize{"c2", 52 * MiB, 124 * MiB}, wantOK: true},
			},
			snap: func(s Snapshot) string {
				if s.Shrinks != 1 || s.ReservedBytes != 248*MiB || s.UsedBytes != 40*MiB {
					return "want one shrink, 248 MiB reserved, 40 MiB used"
				}
				return ""
			},
		},
		{
			name: "no shrinking",
			cfg:  Config{HostBytes: host, TenantBytes: 200 * MiB, NoShrink: true},
			steps: []step{
				{op: "reserve", req: req("a", "c1", 256, 100), want: mem("c1", 124*MiB, Fits)},
				{op: "idle", id: "c1"},
				{op: "reserve", req: req("a", "c2", 256, 100), want: disk("c2", 124*MiB, TenantBudget)},
			},
		},
		{
			name: "several idle reservations; never below use + slack or the minimum",
			cfg:  Config{HostBytes: host, TenantBytes: 200 * MiB, IdleAfter: time.Second},
			steps: []step{
				{op: "reserve", req: req("a", "c1", 128, 0), want: mem("c1", 32*MiB, Fits)},
				{op: "reserve", req: req("a", "c2", 256, 0), want: mem("c2", 96*MiB, Fits)},
				{op: "reserve", req: req("a", "c3", 128, 0), want: mem("c3", 32*MiB, Fits)},
				{op: "usage", id: "c2", used: 50 * MiB, wantOK: true},
				{op: "idle", id: "c1"},
				{op: "idle", id: "c2"},
				{op: "idle", id: "c3", now: 500 * time.Millisecond},
				// 40 MiB free, 96 wanted: 56 needed. c1 gives 16 (to the minimum), c2 38 (to
				// 58 = 50 + 8), c3 is idle for less than IdleAfter: not enough, so disk.
				{op: "reserve", req: req("a", "c4", 256, 0), now: time.Second, want: disk("c4", 96*MiB, TenantBudget)},
				// Later c3 can give 16 too.
				{op: "reserve", req: req("a", "c5", 256, 0), now: 2 * time.Second,
					want: mem("c5", 96*MiB, Shared, Resize{"c1", 32 * MiB, 16 * MiB}, Resize{"c2", 96 * MiB, 58 * MiB}, Resize{"c3", 32 * MiB, 30 * MiB})},
			},
		},
		{
			name: "a failed shrink moves the new container to disk",
			cfg:  Config{HostBytes: host, TenantBytes: 200 * MiB},
			steps: []step{
				{op: "reserve", req: req("a", "c1", 256, 100), want: mem("c1", 124*MiB, Fits)},
				{op: "idle", id: "c1"},
				{op: "reserve", req: req("a", "c2", 256, 100), want: mem("c2", 124*MiB, Shared, Resize{"c1", 124 * MiB, 76 * MiB})},
				// c1 wrote more meanwhile: the remount is refused.
				{op: "shrink-failed", requester: "c2", failed: Resize{"c1", 124 * MiB, 76 * MiB}, used: 100 * MiB,
					want: disk("c2", 124*MiB, ShrinkFailed)},
				{op: "shrink-failed", requester: "nope", failed: Resize{"c1", 124 * MiB, 76 * MiB}, wantErr: ErrUnknown},
			},
			snap: func(s Snapshot) string {
				if s.ReservedBytes != 124*MiB || s.ShrinkFailures != 1 || s.DiskFallbacks != 1 || s.UsedBytes != 100*MiB {
					return "want c1 back at 124 MiB with 100 MiB used, c2 on disk"
				}
				return ""
			},
		},
		{
			name: "ENOSPC and unknown containers",
			cfg:  Config{HostBytes: host},
			steps: []step{
				{op: "reserve", req: req("a", "c1", 256, 100), want: mem("c1", 124*MiB, Fits)},
				{op: "enospc", id: "c1", wantOK: true},
				{op: "enospc", id: "gone"},
				{op: "usage", id: "gone"},
				{op: "release", id: "gone"},
				{op: "idle", id: "gone", wantErr: ErrUnknown},
			},
			snap: func(s Snapshot) string {
				if s.ENOSPC != 2 || s.Tenants[0].ENOSPC != 1 {
					return "want 2 ENOSPC on the host, 1 for tenant a"
				}
				return ""
			},
		},
		{
			name: "invalid requests",
			cfg:  Config{HostBytes: host},
			steps: []step{
				{op: "reserve", req: req("", "c1", 256, 100), wantErr: errAny},
				{op: "reserve", req: req("a", "", 256, 100), wantErr: errAny},
				{op: "reserve", req: req("a", "c1", 0, 0), wantErr: errAny},
				{op: "reserve", req: req("a", "c1", 256, -1), wantErr: errAny},
			},
			snap: func(s Snapshot) string {
				if s.MemoryContainers+s.DiskContainers != 0 || len(s.Tenants) != 0 {
					return "a refused request left a trace"
				}
				return ""
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := mustNew(t, tc.cfg)
			epoch := time.Unix(0, 0)
			for i, s := range tc.steps {
				now := epoch.Add(s.now)
				var err error
				switch s.op {
				case "reserve":
					var d Decision
					d, err = l.Reserve(now, s.req)
					if err == nil && !equalDecision(d, s.want) {
						t.Errorf("step %d: Reserve(%+v)\n got %+v\nwant %+v", i, s.req, d, s.want)
					}
				case "shrink-failed":
					var d Decision
					d, err = l.ShrinkFailed(now, s.requester, s.failed, s.used)
					if err == nil && !equalDecision(d, s.want) {
						t.Errorf("step %d: ShrinkFailed(%s, %+v)\n got %+v\nwant %+v", i, s.requester, s.failed, d, s.want)
					}
				case "release", "usage", "enospc":
					var ok bool
					switch s.op {
					case "release":
						ok = l.Release(s.id)
					case "usage":
						ok = l.Usage(s.id, s.used)
					default:
						ok = l.RecordENOSPC(s.id)
					}
					if ok != s.wantOK {
						t.Errorf("step %d: %s(%s) = %v, want %v", i, s.op, s.id, ok, s.wantOK)
					}
				case "idle", "busy":
					var r Resize
					var ok bool
					r, ok, err = l.SetIdle(now, s.id, s.op == "idle")
					if err == nil && (ok != s.wantOK || r != s.wantR) {
						t.Errorf("step %d: SetIdle(%s, %v) = %+v, %v; want %+v, %v", i, s.id, s.op == "idle", r, ok, s.wantR, s.wantOK)
					}
				default:
					t.Fatalf("unknown op %q", s.op)
				}
				switch {
				case s.wantErr == errAny && err != nil:
				case s.wantErr != nil && !errors.Is(err, s.wantErr):
					t.Errorf("step %d: %s = %v, want %v", i, s.op, err, s.wantErr)
				case s.wantErr == nil && err != nil:
					t.Errorf("step %d: %s = %v", i, s.op, err)
				}
			}
			if tc.snap != nil {
				if msg := tc.snap(l.Snapshot()); msg != "" {
					t.Errorf("%s; got %+v", msg, l.Snapshot())
				}
			}
		})
	}
}

var errAny = errors.New("any error")

func equalDecision(a, b Decision) bool {
	if a.ContainerID != b.ContainerID || a.Backing != b.Backing || a.SizeBytes != b.SizeBytes || a.Reason != b.Reason ||
		len(a.Shrinks) != len(b.Shrinks) {
		return false
	}
	for i := range a.Shrinks {
		if a.Shrinks[i] != b.Shrinks[i] {
			return false
		}
	}
	return true
}

func BenchmarkReserveRelease(b *testing.B) {
	for _, n := range []int{10, 100} {
		b.Run(fmt.Sprint("containers=", n), func(b *testing.B) {
			l := mustNew(b, Config{HostBytes: 64 << 30, TenantBytes: 64 << 30})
			now := time.Unix(0, 0)
			for i := range n {
				id := fmt.Sprint("c", i)
				if _, err := l.Reserve(now, Request{Tenant: "t", ContainerID: id, ActionMemoryMB: 256, PredictedHeapMB: 100}); err != nil {
					b.Fatal(err)
				}
				l.Usage(id, 10*MiB)
				if _, _, err := l.SetIdle(now, id, true); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportAllocs()
			for b.Loop() {
				if _, err := l.Reserve(now, Request{Tenant: "t", ContainerID: "new", ActionMemoryMB: 256, PredictedHeapMB: 100}); err != nil {
					b.Fatal(err)
				}
				l.Release("new")
			}
		})
	}
}
