package scratch_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/owinvoker/owinvoker/benchmarks/scratch"
	"github.com/owinvoker/owinvoker/deploy/dev/testenv"
	"github.com/owinvoker/owinvoker/sandbox/actionproxy"
	"github.com/owinvoker/owinvoker/sandbox/docker"
)

// series runs inside the container and prints one JSON object of measurements.
const series = `
import gzip, os, random, time
def main(p):
    d = p['dir']
    os.makedirs(d, exist_ok=True)
    r = {}
    mb = p['mb']
    buf = os.urandom(1 << 20)
    # M4: sequential write (with fsync) and read, MB/s
    t = time.perf_counter()
    with open(d + '/seq', 'wb') as f:
        for _ in range(mb):
            f.write(buf)
        f.flush(); os.fsync(f.fileno())
    r['M4_seq_write_MBps'] = mb / (time.perf_counter() - t)
    t = time.perf_counter()
    with open(d + '/seq', 'rb') as f:
        while f.read(1 << 20):
            pass
    r['M4_seq_read_MBps'] = mb / (time.perf_counter() - t)
    # M5: random 8 KiB writes and reads over the file, ops/s
    blk = os.urandom(8192)
    n = 2000
    size = mb << 20
    with open(d + '/seq', 'r+b') as f:
        t = time.perf_counter()
        for _ in range(n):
            f.seek(random.randrange(0, size - 8192)); f.write(blk)
        f.flush(); os.fsync(f.fileno())
        r['M5_rand_write_ops'] = n / (time.perf_counter() - t)
        t = time.perf_counter()
        for _ in range(n):
            f.seek(random.randrange(0, size - 8192)); f.read(8192)
        r['M5_rand_read_ops'] = n / (time.perf_counter() - t)
    os.remove(d + '/seq')
    # M6: per-operation latency: open, write 4 KiB, fsync, close (microseconds, median)
    lat = []
    small = os.urandom(4096)
    for i in range(500):
        t = time.perf_counter()
        with open(d + '/op', 'wb') as f:
            f.write(small); f.flush(); os.fsync(f.fileno())
        lat.append((time.perf_counter() - t) * 1e6)
    lat.sort()
    r['M6_op_latency_us'] = lat[len(lat) // 2]
    os.remove(d + '/op')
    # M7: gzip a file of compressible text to scratch, seconds
    text = (b'the quick brown fox jumps over the lazy dog ' * 1000)
    with open(d + '/plain', 'wb') as f:
        for _ in range(max(mb // 4, 1) * 24):
            f.write(text)
    t = time.perf_counter()
    with open(d + '/plain', 'rb') as src, gzip.open(d + '/plain.gz', 'wb', compresslevel=1) as dst:
        while True:
            c = src.read(1 << 20)
            if not c: break
            dst.write(c)
    r['M7_gzip_s'] = time.perf_counter() - t
    os.remove(d + '/plain'); os.remove(d + '/plain.gz')
    # M9: dd-style 1 MiB blocks without fsync, MB/s
    t = time.perf_counter()
    with open(d + '/dd', 'wb') as f:
        for _ in range(mb):
            f.write(buf)
    r['M9_dd_MBps'] = mb / (time.perf_counter() - t)
    os.remove(d + '/dd')
    # M10: small-file metadata: create, stat, unlink, ops/s
    n = 2000
    t = time.perf_counter()
    for i in range(n):
        with open('%s/s%d' % (d, i), 'wb') as f:
            f.write(b'x')
    for i in range(n):
        os.stat('%s/s%d' % (d, i))
    for i in range(n):
        os.remove('%s/s%d' % (d, i))
    r['M10_meta_ops'] = 3 * n / (time.perf_counter() - t)
    # M11: memory safety: write until the scratch is full
    written = 0
    outcome = 'no limit reached'
    try:
        with open(d + '/fill', 'wb') as f:
            while written < p['fill_mb']:
                f.write(buf); written += 1
            f.flush()
    except OSError as e:
        outcome = 'ENOSPC' if e.errno == 28 else 'error %d' % e.errno
    try: os.remove(d + '/fill')
    except OSError: pass
    r['M11_outcome'] = outcome
    r['M11_written_MB'] = written
    return r
`

type result map[string]any

func runSeries(b *testing.B, d *docker.Client, memMB int, tmpfs bool) (result, string) {
	ctx := context.Background()
	mb := max(memMB/8, 16)
	spec := docker.Spec{Name: testenv.UniqueName("owbench_scratch_"), Image: "openwhisk/action-python-v3.11:nightly",
		MemoryMB: memMB, CPUShares: 1024, Labels: map[string]string{"owinvoker.test": "scratch-bench"}}
	dir := "/var/tmp/overlay" // the container's writable layer
	scratchMB := 0
	if tmpfs {
		// memfs's sizing with no prediction: limit − half the limit (heap) − 32 MB head-room.
		scratchMB = memMB - memMB/2 - 32
		spec.Scratch = []docker.Scratch{{Target: "/scratch", SizeBytes: int64(scratchMB) << 20}}
		dir = "/scratch"
	}
	ctr, err := d.Run(ctx, spec)
	if err != nil {
		b.Fatal(err)
	}
	defer func() { _ = d.Remove(context.Background(), ctr.ID) }()
	c, _ := actionproxy.New(ctr.IP+":8080", actionproxy.Config{})
	defer c.Close()
	if r, err := c.Init(ctx, actionproxy.InitRequest{Name: "series", Main: "main", Code: series, Timeout: time.Minute}); err != nil || r.Status != 0 {
		b.Fatalf("init: %v %s", err, r.Result)
	}
	fill := memMB + 64 // more than the container's memory: tmpfs must stop it with ENOSPC
	v, _ := json.Marshal(map[string]any{"dir": dir, "mb": mb, "fill_mb": fill})
	r, err := c.Run(ctx, actionproxy.RunRequest{Value: v, Timeout: 5 * time.Minute})
	if err != nil {
		b.Fatal(err)
	}
	st, _ := d.Inspect(ctx, ctr.ID)
	alive := "container alive"
	if !st.Running || st.OOMKilled {
		alive = "container killed"
	}
	if r.Status != 0 {
		return result{"error": string(r.Result)}, alive
	}
	var res result
	_ = json.Unmarshal(r.Result, &res)
	res["scratch_MB"] = scratchMB
	return res, alive
}

func BenchmarkScratch(b *testing.B) {
	testenv.Docker(b)
	root, err := testenv.RepoRoot()
	if err != nil {
		b.Fatal(err)
	}
	if out, err := exec.Command(filepath.Join(root, "deploy", "runtimes", "build.sh"), "python").CombinedOutput(); err != nil {
		b.Fatalf("image: %v\n%s", err, out)
	}
	d, err := docker.New(docker.Config{}, zap.NewNop())
	if err != nil {
		b.Fatal(err)
	}
	defer d.Close()
	metrics := []string{"M4_seq_write_MBps", "M4_seq_read_MBps", "M5_rand_write_ops", "M5_rand_read_ops",
		"M6_op_latency_us", "M7_gzip_s", "M9_dd_MBps", "M10_meta_ops"}
	lowerIsBetter := map[string]bool{"M6_op_latency_us": true, "M7_gzip_s": true}
	var csv strings.Builder
	csv.WriteString("memory_MB,backing,metric,value\n")
	var table strings.Builder
	table.WriteString("| metric | 128 MiB | 256 MiB | 512 MiB |\n| --- | --- | --- | --- |\n")
	ratios := map[string][]string{}
	values := map[string]float64{} // metric@limit → tmpfs/overlay speed-up
	outcomes := map[string][]string{}
	for range b.N {
		for _, mem := range []int{128, 256, 512} {
			tm, tmAlive := runSeries(b, d, mem, true)
			ov, ovAlive := runSeries(b, d, mem, false)
			for _, side := range []struct {
				name  string
				r     result
				alive string
			}{{"tmpfs", tm, tmAlive}, {"overlay", ov, ovAlive}} {
				keys := make([]string, 0, len(side.r))
				for k := range side.r {
					keys = append(keys, k)
				}
				sort.Strings(keys)
				for _, k := range keys {
					fmt.Fprintf(&csv, "%d,%s,%s,%v\n", mem, side.name, k, side.r[k])
				}
				outcomes[side.name] = append(outcomes[side.name], fmt.Sprintf("%v after %v MB, %s", side.r["M11_outcome"], side.r["M11_written_MB"], side.alive))
			}
			for _, m := range metrics {
				a, _ := tm[m].(float64)
				o, _ := ov[m].(float64)
				ratio := "n/a"
				if a > 0 && o > 0 {
					if lowerIsBetter[m] {
						ratio = fmt.Sprintf("%.2f×", o/a)
					} else {
						ratio = fmt.Sprintf("%.2f×", a/o)
					}
					b.ReportMetric(a/o, fmt.Sprintf("%s_%dMB_tmpfs/overlay", m, mem))
					values[fmt.Sprintf("%s@%d", m, mem)] = a / o
					if lowerIsBetter[m] {
						values[fmt.Sprintf("%s@%d", m, mem)] = o / a
					}
				}
				ratios[m] = append(ratios[m], ratio)
			}
		}
	}
	for _, m := range metrics {
		fmt.Fprintf(&table, "| %s | %s |\n", m, strings.Join(ratios[m], " | "))
	}
	fmt.Fprintf(&table, "| M11 tmpfs (write limit+64 MB) | %s |\n", strings.Join(outcomes["tmpfs"], " | "))
	fmt.Fprintf(&table, "| M11 overlay | %s |\n", strings.Join(outcomes["overlay"], " | "))
	out := filepath.Join(root, "benchmarks", "results", "scratch")
	if err := os.MkdirAll(out, 0o755); err != nil {
		b.Fatal(err)
	}
	_ = os.WriteFile(filepath.Join(out, "scratch.csv"), []byte(csv.String()), 0o644)
	readme := "# In-memory scratch vs the overlay writable layer\n\n" +
		"Speed-up of a sized tmpfs (what every action gets) over the container's overlay layer, same Python action, " +
		"per container memory limit (higher is better for tmpfs; M6 and M7 are time ratios overlay/tmpfs). " +
		"Measured on " + time.Now().UTC().Format("2006-01-02") + " on the 2-core development machine; rerun with\n" +
		"`go test -run '^$' -bench Scratch -benchtime 1x ./benchmarks/scratch/`.\n\n" + table.String()
	_ = os.WriteFile(filepath.Join(out, "README.md"), []byte(readme+"\n![ratios](scratch.png)\n"), 0o644)
	if err := scratch.PlotRatios(filepath.Join(out, "scratch.png"), metrics, []int{128, 256, 512}, func(m string, lim int) float64 {
		return values[fmt.Sprintf("%s@%d", m, lim)]
	}); err != nil {
		b.Errorf("plot: %v", err)
	}
	b.Log("\n" + table.String())
}
