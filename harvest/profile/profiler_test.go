package profile_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest"
	"go.uber.org/zap/zaptest/observer"

	"github.com/owinvoker/owinvoker/harvest/profile"
)

// fakeHost is a procfs and a cgroup v1+v2 hybrid tree under a temporary directory, laid out
// like this host (separate cpu and cpuacct mounts, unified at .../unified, cgroupfs driver).
type fakeHost struct {
	t    *testing.T
	proc string
	cg   string
}

func newFakeHost(t *testing.T, withV2 bool) *fakeHost {
	t.Helper()
	root := t.TempDir()
	h := &fakeHost{t: t, proc: filepath.Join(root, "proc"), cg: filepath.Join(root, "cgroup")}
	mountinfo := fmt.Sprintf("32 31 0:29 / %[1]s/cpu rw,relatime - cgroup cgroup rw,cpu\n"+
		"33 31 0:30 / %[1]s/cpuacct rw,relatime - cgroup cgroup rw,cpuacct\n"+
		"35 31 0:32 / %[1]s/memory rw,relatime - cgroup cgroup rw,memory\n", h.cg)
	if withV2 {
		mountinfo += fmt.Sprintf("41 31 0:38 / %s/unified rw,relatime - cgroup2 cgroup2 rw\n", h.cg)
	}
	h.write("proc/self/mountinfo", mountinfo)
	return h
}

func (h *fakeHost) write(rel, content string) {
	h.t.Helper()
	p := filepath.Join(filepath.Dir(h.cg), rel)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		h.t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		h.t.Fatal(err)
	}
}

// container creates a container's cgroup files and the /proc/<pid>/cgroup pointing at them.
func (h *fakeHost) container(id string, pid int) {
	h.write(fmt.Sprintf("proc/%d/cgroup", pid), fmt.Sprintf("4:memory:/docker/%[1]s\n2:cpuacct:/docker/%[1]s\n1:cpu:/docker/%[1]s\n0::/docker/%[1]s\n", id))
	h.set(id, 0, 0, 1<<20, 1<<20)
	h.write("cgroup/cpu/docker/"+id+"/cpu.stat", "nr_periods 0\nnr_throttled 0\nthrottled_time 0\n")
	h.write("cgroup/unified/docker/"+id+"/cpu.stat", "usage_usec 0\n")
}

// set writes a container's counters: CPU ns, throttled ns, memory usage and window peak.
func (h *fakeHost) set(id string, cpu, throttled time.Duration, mem, peak uint64) {
	h.write("cgroup/cpuacct/docker/"+id+"/cpuacct.usage", fmt.Sprintf("%d\n", cpu))
	h.write("cgroup/cpu/docker/"+id+"/cpu.stat", fmt.Sprintf("nr_periods 10\nnr_throttled 3\nthrottled_time %d\n", throttled))
	h.write("cgroup/memory/docker/"+id+"/memory.usage_in_bytes", fmt.Sprintf("%d\n", mem))
	h.write("cgroup/memory/docker/"+id+"/memory.max_usage_in_bytes", fmt.Sprintf("%d\n", peak))
}

func TestProfilerOverFiles(t *testing.T) {
	h := newFakeHost(t, true)
	h.container("a", 101)
	h.container("b", 102)
	p, err := profile.New(profile.Config{CPU: profile.CPUFiles, ProcRoot: h.proc, History: 3}, zaptest.NewLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	for id, pid := range map[string]int{"a": 101, "b": 102} {
		if err := p.Add(id, pid); err != nil {
			t.Fatalf("Add(%s): %v", id, err)
		}
	}
	if err := p.Add("c", 103); err == nil {
		t.Error("Add of a pid without /proc entry = nil error, want one")
	}
	t0 := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	const mib = 1 << 20
	h.set("a", time.Second, 0, 10*mib, 10*mib)
	h.set("b", 0, 0, 1*mib, 1*mib)
	if _, err := p.Sample(t0); err != nil {
		t.Fatal(err)
	}
	// In the next 100 ms a uses 150 ms of CPU (1.5 cores), 20 ms throttled, and peaks at 40 MiB.
	h.set("a", time.Second+150*time.Millisecond, 20*time.Millisecond, 12*mib, 40*mib)
	snap, err := p.Sample(t0.Add(100 * time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	if snap.Source != profile.SourceFiles || len(snap.Containers) != 2 || snap.Containers[0].ID != "a" || snap.Containers[1].ID != "b" || len(snap.Failed) != 0 {
		t.Fatalf("snapshot = %+v, want a and b from cgroupfs", snap)
	}
	want := profile.Sample{At: t0.Add(100 * time.Millisecond), Window: 100 * time.Millisecond, CPUMillicores: 1500,
		CPUDelta: 150 * time.Millisecond, CPU: 150 * time.Millisecond, ThrottledDelta: 20 * time.Millisecond,
		Throttled: 20 * time.Millisecond, Memory: 12 * mib, MemoryPeak: 40 * mib}
	if got := snap.Containers[0].Sample; got != want {
		t.Errorf("a: got  %+v\nwant %+v", got, want)
	}

	// History 3 keeps the last three samples, oldest first.
	for i := 2; i <= 4; i++ {
		if _, err := p.Sample(t0.Add(time.Duration(i) * 100 * time.Millisecond)); err != nil {
			t.Fatal(err)
		}
	}
	all, err := p.Samples("a", time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	var ats []string
	for _, s := range all {
		ats = append(ats, s.At.Sub(t0).String())
	}
	if got := strings.Join(ats, " "); got != "200ms 300ms 400ms" {
		t.Errorf("kept samples at %s, want 200ms 300ms 400ms", got)
	}
	if since, _ := p.Samples("a", t0.Add(300*time.Millisecond)); len(since) != 1 {
		t.Errorf("Samples since 300ms = %d, want 1", len(since))
	}
	sum, err := p.Summary("a", t0.Add(100*time.Millisecond), t0.Add(400*time.Millisecond))
	if err != nil || sum.Covered != 300*time.Millisecond || sum.CPU != 0 {
		t.Errorf("Summary of the idle tail = %+v, %v; want 300ms covered, no CPU", sum, err)
	}

	// A container whose files break is reported as failed, the others carry on.
	h.write("cgroup/memory/docker/b/memory.usage_in_bytes", "gone\n")
	snap, err = p.Sample(t0.Add(500 * time.Millisecond))
	if err != nil || len(snap.Containers) != 1 || len(snap.Failed) != 1 || snap.Failed[0] != "b" {
		t.Errorf("with b broken: containers %+v, failed %v, %v; want a, failed b", snap.Containers, snap.Failed, err)
	}
	p.Remove("b")
	if _, err := p.Samples("b", time.Time{}); !errors.Is(err, profile.ErrUnknownContainer) {
		t.Errorf("Samples(b) after Remove = %v, want ErrUnknownContainer", err)
	}
	if _, err := p.BPFStats(); !errors.Is(err, profile.ErrNotSupported) {
		t.Errorf("BPFStats over files = %v, want ErrNotSupported", err)
	}
}

func TestProfilerRun(t *testing.T) {
	h := newFakeHost(t, true)
	h.container("a", 101)
	synctest.Test(t, func(t *testing.T) {
		p, err := profile.New(profile.Config{CPU: profile.CPUFiles, ProcRoot: h.proc, Period: 50 * time.Millisecond}, zap.NewNop())
		if err != nil {
			t.Fatal(err)
		}
		defer p.Close()
		if err := p.Add("a", 101); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(t.Context(), time.Second+time.Millisecond)
		defer cancel()
		var snaps []profile.Snapshot
		err = p.Run(ctx, func(s profile.Snapshot) { snaps = append(snaps, s) })
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("Run = %v, want the context's error", err)
		}
		if len(snaps) != 20 || snaps[1].At.Sub(snaps[0].At) != 50*time.Millisecond || len(snaps[19].Containers) != 1 {
			t.Errorf("Run for 1 s at 50 ms: %d snapshots, want 20, 50 ms apart, one container each", len(snaps))
		}
	})
}

// TestProfilerFallback: without a cgroup v2 hierarchy there is no eBPF source; auto falls back to
// the files and says why, ebpf refuses with ErrNotSupported.
func TestProfilerFallback(t *testing.T) {
	h := newFakeHost(t, false)
	h.container("a", 101)
	core, logs := observer.New(zapcore.InfoLevel)
	p, err := profile.New(profile.Config{ProcRoot: h.proc}, zap.New(core))
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	if p.Source() != profile.SourceFiles {
		t.Errorf("auto without cgroup v2: Source = %s, want %s", p.Source(), profile.SourceFiles)
	}
	if warned := logs.FilterMessageSnippet("cgroup files").FilterLevelExact(zapcore.WarnLevel).All(); len(warned) != 1 ||
		!strings.Contains(fmt.Sprint(warned[0].ContextMap()["error"]), "no cgroup v2") {
		t.Errorf("fallback log = %+v, want one warning saying there is no cgroup v2", logs.All())
	}
	if err := p.Add("a", 101); err != nil {
		t.Fatal(err)
	}
	if _, err := profile.New(profile.Config{CPU: profile.CPUBPF, ProcRoot: h.proc}, zap.NewNop()); !errors.Is(err, profile.ErrNotSupported) {
		t.Errorf("ebpf mode without cgroup v2 = %v, want ErrNotSupported", err)
	}
	if _, err := profile.New(profile.Config{Period: time.Hour}, zap.NewNop()); err == nil {
		t.Error("New with a 1 h period = nil error, want the validation error")
	}
}

// TestProfilerBPFPerContainerFallback: where eBPF runs, a container without a cgroup v2
// directory of its own still gets CPU, from cpuacct.
func TestProfilerBPFPerContainerFallback(t *testing.T) {
	h := newFakeHost(t, true)
	h.container("a", 101)
	p, err := profile.New(profile.Config{CPU: profile.CPUBPF}, zaptest.NewLogger(t))
	if errors.Is(err, profile.ErrNotSupported) {
		t.Skipf("ebpf not allowed here: %v", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	cg := profile.Cgroup{CPU: h.cg + "/cpu/docker/a", CPUAcct: h.cg + "/cpuacct/docker/a", Memory: h.cg + "/memory/docker/a"}
	if err := p.AddCgroup("a", cg); err != nil {
		t.Fatal(err)
	}
	t0 := time.Now()
	h.set("a", time.Second, 0, 1, 1)
	if _, err := p.Sample(t0); err != nil {
		t.Fatal(err)
	}
	h.set("a", time.Second+50*time.Millisecond, 0, 1, 1)
	snap, err := p.Sample(t0.Add(100 * time.Millisecond))
	if err != nil || len(snap.Containers) != 1 || snap.Containers[0].Sample.CPUMillicores != 500 {
		t.Errorf("container without v2 under ebpf: %+v, %v; want 500 millicores from cpuacct", snap, err)
	}
}

// TestBPFSourceRefusesRoot: the root v2 cgroup (host processes, the idle task) or a missing v2
// directory is never taken for a container.
func TestBPFSourceRefusesRoot(t *testing.T) {
	bpf, err := profile.NewBPFSource(profile.Config{FlushHz: -1}, zaptest.NewLogger(t))
	if errors.Is(err, profile.ErrNotSupported) {
		t.Skipf("ebpf not allowed here: %v", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	defer bpf.Close()
	layout, err := profile.NewLayout("")
	if err != nil {
		t.Fatal(err)
	}
	roots, err := layout.Find(1)
	if err != nil || roots.V2 == "" {
		t.Skipf("pid 1 not in a v2 hierarchy: %+v, %v", roots, err)
	}
	for _, cg := range []profile.Cgroup{{V2: roots.V2}, {CPUAcct: roots.CPUAcct}} {
		if err := bpf.Add("x", cg); !errors.Is(err, profile.ErrNotSupported) {
			t.Errorf("Add(%+v) = %v, want ErrNotSupported", cg, err)
		}
	}
	if err := bpf.Add("x", profile.Cgroup{V2: "/nonexistent/cgroup"}); err == nil || errors.Is(err, profile.ErrNotSupported) {
		t.Errorf("Add of a missing directory = %v, want a plain error", err)
	}
}
