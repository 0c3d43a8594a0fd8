package sandbox_test

import (
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/owinvoker/owinvoker/sandbox"
)

// Containers of ours that the pool no longer knows are removed by the next reconciliation:
// one whose removal failed while the engine was stopping (TestDockerdRestart saw it "dead"
// until the invoker stopped) and one a failed start left behind. The pool's own warm
// container is left alone.
func TestReconcileRemovesOrphans(t *testing.T) {
	var prefix string
	sb := newSandbox(t, func(c *sandbox.Config) {
		c.ReconcileInterval = 200 * time.Millisecond
		prefix = c.Prefix
	})
	noop := scratchAction{"nodejs:20", "openwhisk/action-nodejs-v20:nightly", "function main() { return {}; }"}
	res, warm := runScratch(t, sb, "tenant", "w", noop, 1)
	if res.Error != "" {
		t.Fatalf("warm container: %+v", res)
	}
	warm.Release(false)

	docker := func(args ...string) string {
		t.Helper()
		out, err := exec.Command("docker", args...).CombinedOutput()
		if err != nil {
			t.Fatalf("docker %v: %v\n%s", args, err, out)
		}
		return strings.TrimSpace(string(out))
	}
	label := sandbox.LabelInvoker + "=" + prefix
	image := "openwhisk/dockerskeleton:nightly"
	created := prefix + "_900_orphan_created"
	exited := prefix + "_901_orphan_exited"
	t.Cleanup(func() { _ = exec.Command("docker", "rm", "-f", created, exited).Run() })
	docker("create", "--name", created, "--label", label, image)
	docker("create", "--name", exited, "--label", label, image)
	// Reconciliation may remove it before it has run: then start and kill have nothing to do.
	_ = exec.Command("docker", "start", exited).Run()
	_ = exec.Command("docker", "kill", exited).Run()

	ours := func() []string {
		return strings.Fields(docker("ps", "-a", "--filter", "label="+label, "--format", "{{.Names}}"))
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		names := ours()
		if len(names) == 1 && names[0] == warm.Name {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("containers labelled %s: %v, want only the pool's warm %s", label, names, warm.Name)
		}
		time.Sleep(100 * time.Millisecond)
	}
	// Reconciliation goes on and keeps the warm container, which serves again.
	time.Sleep(time.Second)
	res, again := runScratch(t, sb, "tenant", "w", noop, 1)
	if res.Error != "" || again.Name != warm.Name {
		t.Fatalf("after reconciling: %+v from %s, want the warm %s", res, again.Name, warm.Name)
	}
	again.Release(true)
}
