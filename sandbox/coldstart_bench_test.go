package sandbox_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/owinvoker/owinvoker/deploy/dev/testenv"
	"github.com/owinvoker/owinvoker/sandbox"
	"github.com/owinvoker/owinvoker/sandbox/actionproxy"
	"github.com/owinvoker/owinvoker/sandbox/docker"
	"github.com/owinvoker/owinvoker/sandbox/manifest"
)

// BenchmarkColdStart measures an activation of an action the pool has no container for,
// from Acquire to the first /run result: from nothing (create and start a container, /init,
// /run) and from a stem cell (a prewarmed nodejs:20 container of the same memory: /init and
// /run only). Between iterations the stem cell is replaced, untimed.
func BenchmarkColdStart(b *testing.B) {
	for _, stem := range []bool{false, true} {
		name := "nothing"
		if stem {
			name = "stemcell"
		}
		b.Run(name, func(b *testing.B) {
			sb := benchSandbox(b, stem)
			ctx := context.Background()
			starts := map[sandbox.Start]int{}
			n := 0
			for b.Loop() {
				if stem {
					b.StopTimer()
					deadline := time.Now().Add(time.Minute)
					for sb.Stats().StemCells < 1 {
						if time.Now().After(deadline) {
							b.Fatal("no stem cell after a minute")
						}
						time.Sleep(20 * time.Millisecond)
					}
					b.StartTimer()
				}
				n++
				lease, err := sb.Acquire(ctx, sandbox.Request{Namespace: "guest", Action: fmt.Sprintf("guest/cold%d", n),
					ActionName: fmt.Sprintf("cold%d", n), Revision: "1", Kind: "nodejs:20",
					Image: "openwhisk/action-nodejs-v20:nightly", MemoryMB: 256, Concurrency: 1, Sentinelled: true})
				if err != nil {
					b.Fatal(err)
				}
				starts[lease.Start]++
				if r, err := lease.Proxy.Init(ctx, actionproxy.InitRequest{Code: "function main(p) { return {hello: p.name}; }",
					Timeout: time.Minute}); err != nil || r.Status != actionproxy.Success {
					b.Fatalf("init: %+v, %v", r, err)
				}
				if r, err := lease.Proxy.Run(ctx, actionproxy.RunRequest{Value: json.RawMessage(`{"name":"bench"}`),
					Timeout: time.Minute}); err != nil || r.Status != actionproxy.Success {
					b.Fatalf("run: %+v, %v", r, err)
				}
				b.StopTimer()
				lease.Release(true)
				b.StartTimer()
			}
			want := sandbox.Cold
			if stem {
				want = sandbox.Prewarm
			}
			if starts[want] != n {
				b.Fatalf("starts %v over %d iterations, want all %s", starts, n, want)
			}
		})
	}
}

func benchSandbox(b *testing.B, stemCells bool) *sandbox.Sandbox {
	b.Helper()
	testenv.Docker(b)
	root, err := testenv.RepoRoot()
	if err != nil {
		b.Fatal(err)
	}
	if out, err := exec.Command(filepath.Join(root, "deploy", "runtimes", "build.sh")).CombinedOutput(); err != nil {
		b.Fatalf("runtime images: %v\n%s", err, out)
	}
	data, err := os.ReadFile(filepath.Join(root, "deploy", "runtimes.json"))
	if err != nil {
		b.Fatal(err)
	}
	var doc map[string]any
	_ = json.Unmarshal(data, &doc)
	for _, fam := range doc["runtimes"].(map[string]any) {
		for _, rt := range fam.([]any) {
			r := rt.(map[string]any)
			if !stemCells || r["kind"] != "nodejs:20" {
				delete(r, "stemCells")
			}
		}
	}
	data, _ = json.Marshal(doc)
	m, err := manifest.Parse(data)
	if err != nil {
		b.Fatal(err)
	}
	d, err := docker.New(docker.Config{}, zap.NewNop())
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { d.Close() })
	sb, err := sandbox.New(sandbox.Config{Prefix: "wsk" + testenv.UniqueName("c") + "0", UserMemoryMB: 2048, Manifest: m}, d, zap.NewNop(), time.Now)
	if err != nil {
		b.Fatal(err)
	}
	if err := sb.Start(context.Background()); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		_ = sb.Close(ctx)
	})
	return sb
}
