package sandbox_test

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"

	"github.com/owinvoker/owinvoker/deploy/dev/testenv"
	"github.com/owinvoker/owinvoker/memfs"
	"github.com/owinvoker/owinvoker/sandbox"
	"github.com/owinvoker/owinvoker/sandbox/actionproxy"
	"github.com/owinvoker/owinvoker/sandbox/docker"
	"github.com/owinvoker/owinvoker/sandbox/manifest"
)

func newScratchSandbox(t *testing.T, diskRoot string) *sandbox.Sandbox {
	t.Helper()
	// Action memory 256 MB: scratch = 256 − 128 (unknown heap) − 32 = 96 MiB. A tenant may
	// hold 150 MiB, the host 250 MiB.
	return newSandbox(t, func(c *sandbox.Config) {
		c.Scratch = &sandbox.ScratchConfig{DiskRoot: diskRoot, Ledger: memfs.Config{HostBytes: 250 << 20, TenantBytes: 150 << 20}}
	})
}

// newSandbox starts a sandbox on the machine's engine with the repository's runtimes (no
// stem cells), 2048 MB of user memory and a fresh prefix; adjust changes its Config.
func newSandbox(t *testing.T, adjust func(*sandbox.Config)) *sandbox.Sandbox {
	t.Helper()
	testenv.Docker(t)
	root, err := testenv.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(filepath.Join(root, "deploy", "runtimes", "build.sh")).CombinedOutput(); err != nil {
		t.Fatalf("runtime images: %v\n%s", err, out)
	}
	data, err := os.ReadFile(filepath.Join(root, "deploy", "runtimes.json"))
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	_ = json.Unmarshal(data, &doc)
	for _, fam := range doc["runtimes"].(map[string]any) {
		for _, rt := range fam.([]any) {
			delete(rt.(map[string]any), "stemCells")
		}
	}
	data, _ = json.Marshal(doc)
	m, err := manifest.Parse(data)
	if err != nil {
		t.Fatal(err)
	}
	log := zaptest.NewLogger(t)
	d, err := docker.New(docker.Config{}, log)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	cfg := sandbox.Config{Prefix: "wsk" + testenv.UniqueName("s") + "0", UserMemoryMB: 2048, Manifest: m}
	if adjust != nil {
		adjust(&cfg)
	}
	sb, err := sandbox.New(cfg, d, log, time.Now)
	if err != nil {
		t.Fatal(err)
	}
	if err := sb.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		_ = sb.Close(ctx)
	})
	return sb
}

type scratchAction struct {
	kind, image, code string
}

var (
	nodeScratch = scratchAction{"nodejs:20", "openwhisk/action-nodejs-v20:nightly", `
const fs = require('fs');
function main(p) {
  const dir = process.env.__OW_SCRATCH_DIR;
  try {
    fs.writeFileSync(dir + '/f', Buffer.alloc((p.mb || 1) << 20, 7));
  } catch (e) { return {error: e.code || String(e)}; }
  const back = fs.readFileSync(dir + '/f').length;
  fs.unlinkSync(dir + '/f');
  return {dir, backing: process.env.__OW_SCRATCH_BACKING, bytes: process.env.__OW_SCRATCH_BYTES || "", back};
}`}
	pythonScratch = scratchAction{"python:3", "openwhisk/action-python-v3.11:nightly", `
import os
def main(p):
    d = os.environ['__OW_SCRATCH_DIR']
    try:
        with open(d + '/f', 'wb') as f:
            f.write(b'7' * (p.get('mb', 1) << 20))
    except OSError as e:
        return {'error': os.strerror(e.errno)}
    with open(d + '/f', 'rb') as f:
        back = len(f.read())
    os.remove(d + '/f')
    return {'dir': d, 'backing': os.environ['__OW_SCRATCH_BACKING'], 'bytes': os.environ.get('__OW_SCRATCH_BYTES', ''), 'back': back}
`}
)

type scratchResult struct {
	Dir, Backing, Bytes, Error string
	Back                       int
}

func runScratch(t *testing.T, sb *sandbox.Sandbox, tenant, name string, a scratchAction, mb int) (scratchResult, *sandbox.Lease) {
	t.Helper()
	l, err := sb.Acquire(t.Context(), sandbox.Request{Namespace: tenant, Action: tenant + "/" + name, ActionName: name, Revision: "1",
		Kind: a.kind, Image: a.image, MemoryMB: 256, Concurrency: 1, Sentinelled: true})
	if err != nil {
		t.Fatal(err)
	}
	if !l.Initialized {
		if r, err := l.Proxy.Init(t.Context(), actionproxy.InitRequest{Name: name, Main: "main", Code: a.code, Timeout: time.Minute}); err != nil || r.Status != 0 {
			t.Fatalf("init %s: %v %s", name, err, r.Result)
		}
		l.MarkInitialized()
	}
	v, _ := json.Marshal(map[string]int{"mb": mb})
	r, err := l.Proxy.Run(t.Context(), actionproxy.RunRequest{Value: v, Timeout: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	var res scratchResult
	if err := json.Unmarshal(r.Result, &res); err != nil {
		t.Fatalf("result %s: %v", r.Result, err)
	}
	return res, l
}

// Node and Python actions write and read files in their in-memory scratch; writing past its
// size is a clean ENOSPC and the container lives on.
func TestScratchInMemoryAndENOSPC(t *testing.T) {
	sb := newScratchSandbox(t, t.TempDir())
	for _, a := range []scratchAction{nodeScratch, pythonScratch} {
		res, l := runScratch(t, sb, "tenant-"+strings.Split(a.kind, ":")[0], "w", a, 8)
		if res.Error != "" || res.Backing != "memory" || res.Dir != "/tmp" || res.Back != 8<<20 || res.Bytes != "100663296" {
			t.Fatalf("%s: %+v, want 8 MiB written and read back in a 96 MiB tmpfs at /tmp", a.kind, res)
		}
		l.Release(false)
		res, l = runScratch(t, sb, "tenant-"+strings.Split(a.kind, ":")[0], "w", a, 120)
		if !strings.Contains(res.Error, "ENOSPC") && !strings.Contains(res.Error, "No space left") {
			t.Fatalf("%s writing 120 MiB into 96 MiB: %+v, want ENOSPC", a.kind, res)
		}
		l.Release(false)
		res, l = runScratch(t, sb, "tenant-"+strings.Split(a.kind, ":")[0], "w", a, 1)
		if res.Error != "" || res.Back != 1<<20 {
			t.Fatalf("%s after ENOSPC: %+v, want the container alive", a.kind, res)
		}
		l.Release(true)
	}
}

// A tenant's containers share its budget; another tenant never touches it; when the host
// budget is spent, scratch goes to disk, and the directory goes with the container.
func TestScratchBudgetsAndDiskPath(t *testing.T) {
	disk := t.TempDir()
	sb := newScratchSandbox(t, disk)
	a1, l1 := runScratch(t, sb, "tenant-a", "one", nodeScratch, 1)
	a2, l2 := runScratch(t, sb, "tenant-a", "two", nodeScratch, 1)
	b1, l3 := runScratch(t, sb, "tenant-b", "one", nodeScratch, 1)
	c1, l4 := runScratch(t, sb, "tenant-c", "one", nodeScratch, 1)
	if a1.Backing != "memory" || a2.Backing != "disk" {
		t.Errorf("tenant-a: %s then %s, want memory then disk (96 + 96 > its 150 MiB)", a1.Backing, a2.Backing)
	}
	if b1.Backing != "memory" {
		t.Errorf("tenant-b: %s, want memory (its own budget)", b1.Backing)
	}
	if c1.Backing != "disk" {
		t.Errorf("tenant-c: %s, want disk (96 + 96 + 96 > the host's 250 MiB)", c1.Backing)
	}
	snap, _ := sb.ScratchSnapshot()
	if snap.DiskFallbacks != 2 || snap.MemoryContainers != 2 {
		t.Errorf("snapshot %+v: want 2 disk fall-backs, 2 memory containers", snap)
	}
	entries, _ := os.ReadDir(disk)
	if len(entries) != 2 {
		t.Fatalf("%d scratch directories, want 2", len(entries))
	}
	for _, l := range []*sandbox.Lease{l1, l2, l3, l4} {
		l.Release(true)
	}
	waitForCond(t, "scratch directories removed", func() bool {
		entries, _ := os.ReadDir(disk)
		return len(entries) == 0
	})
	waitForCond(t, "memory scratch released", func() bool {
		snap, _ := sb.ScratchSnapshot()
		return snap.MemoryContainers == 0 && snap.DiskContainers == 0
	})
	// Released budget is reusable.
	again, l5 := runScratch(t, sb, "tenant-c", "two", nodeScratch, 1)
	l5.Release(true)
	if again.Backing != "memory" {
		t.Errorf("after releases: %s, want memory", again.Backing)
	}
}

func waitForCond(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
