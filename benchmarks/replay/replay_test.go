package replay

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"

	"github.com/owinvoker/owinvoker/benchmarks/trace"
	"github.com/owinvoker/owinvoker/benchmarks/workload"
	"github.com/owinvoker/owinvoker/controller-plugin/controller"
	"github.com/owinvoker/owinvoker/controller-plugin/standalone"
	"github.com/owinvoker/owinvoker/deploy/dev/testenv"
)

// TestReplayAgainstStandalone replays ten compressed minutes of three Freyr functions
// against owstandalone (two invokers, harvesting on) and checks that every invocation
// is accounted for: one answered row each, a distinct activation with a record.
func TestReplayAgainstStandalone(t *testing.T) {
	testenv.Docker(t)
	root, err := testenv.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(filepath.Join(root, "deploy", "runtimes", "build.sh")).CombinedOutput(); err != nil {
		t.Fatalf("runtime images: %v\n%s", err, out)
	}
	manifest, err := os.ReadFile(filepath.Join(root, "deploy", "runtimes.json"))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	sys, err := standalone.Start(ctx, standalone.Config{DataDir: t.TempDir(), Listen: "127.0.0.1:0", Manifest: manifest,
		UserMemoryMB: 1024, Invokers: 2, Harvest: true, Policy: "harvest", BlockingWait: 30 * time.Second,
		ContainerPrefix: "wsk" + testenv.UniqueName("r")}, zaptest.NewLogger(t))
	if err != nil {
		cancel()
		t.Fatalf("standalone: %v", err)
	}
	done := make(chan error, 1)
	go func() { done <- sys.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("standalone: %v", err)
			}
		case <-time.After(90 * time.Second):
			t.Error("standalone did not stop")
		}
	})

	files := trace.LibraNames("freyr-60min/exp_openwhisk", 0)
	files.InputSizes = "" // Freyr's trace has none
	tr, _, err := trace.LoadLibra(os.DirFS("../trace/testdata"), files, trace.JoinOptions{DropIncomplete: true})
	if err != nil {
		t.Fatal(err)
	}
	plan, err := workload.Build(tr, workload.Options{Seed: 3, Functions: 3, Minutes: 10, Compression: 60, MaxDuration: 400 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if len(plan.Invocations) < 5 {
		t.Fatalf("plan has %d invocations: too few to test", len(plan.Invocations))
	}
	var progress bytes.Buffer
	r, err := New(Config{APIHost: sys.APIHost(), Auth: controller.GuestKey, Progress: &progress}, plan)
	if err != nil {
		t.Fatal(err)
	}
	wctx, wcancel := context.WithTimeout(ctx, time.Minute)
	defer wcancel()
	if err := r.WaitInvokers(wctx, 2); err != nil {
		t.Fatal(err)
	}
	if err := r.Deploy(ctx); err != nil {
		t.Fatal(err)
	}
	rows, _, err := r.Run(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != len(plan.Invocations) {
		t.Fatalf("%d rows for %d invocations", len(rows), len(plan.Invocations))
	}
	seen := map[string]bool{}
	for i, row := range rows {
		if row.Seq != i || row.ActivationID == "" || row.Status == StatusClientError || row.Status == "" {
			t.Errorf("row %d not answered: %+v", i, row)
			continue
		}
		if seen[row.ActivationID] {
			t.Errorf("row %d: activation %s twice", i, row.ActivationID)
		}
		seen[row.ActivationID] = true
		if row.SubmitMS < row.ScheduledMS || row.LatencyMS <= 0 || row.EndMS < row.StartMS {
			t.Errorf("row %d times out of order: %+v", i, row)
		}
		if row.AllocCPUMillis <= 0 {
			t.Errorf("row %d: no harvest annotations (alloc CPU %d)", i, row.AllocCPUMillis)
		}
		// The record may be stored just after the answer.
		found := false
		for deadline := time.Now().Add(20 * time.Second); !found && time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
			_, found, err = r.c.activation(ctx, row.ActivationID)
		}
		if !found {
			t.Errorf("row %d: no record of %s: %v", i, row.ActivationID, err)
		}
	}
	s := Summarize("test", rows, Capacity{Cores: 2, MemoryMB: 2048, RuntimeBaseMB: workload.DefaultRuntimeBaseMB})
	if s.ClientErrors != 0 || s.Succeeded+s.AppErrors+s.DevErrors+s.SystemErrors != len(rows) || s.ColdStarts == 0 || s.LatencyP99 <= 0 {
		t.Errorf("summary does not add up: %+v", s)
	}
	if !bytes.Contains(progress.Bytes(), []byte("done")) {
		t.Errorf("no progress line: %q", progress.String())
	}
	var out bytes.Buffer
	if err := s.Write(&out); err != nil {
		t.Fatal(err)
	}
	t.Log("\n" + out.String())
	if err := r.Clean(ctx); err != nil {
		t.Error(err)
	}
}
