package standalone_test

import (
	"context"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/apache/openwhisk-client-go/whisk"
	"go.uber.org/zap/zaptest"

	"github.com/owinvoker/owinvoker/controller-plugin/controller"
	"github.com/owinvoker/owinvoker/controller-plugin/standalone"
	"github.com/owinvoker/owinvoker/deploy/dev/testenv"
)

// TestStandaloneInvokesThroughTheClient starts the whole system in this process (embedded
// broker and store, real Docker) and drives it with the client library wsk is built on.
func TestStandaloneInvokesThroughTheClient(t *testing.T) {
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
		UserMemoryMB: 1024, BlockingWait: 30 * time.Second}, zaptest.NewLogger(t))
	if err != nil {
		cancel()
		t.Fatalf("Start: %v", err)
	}
	done := make(chan error, 1)
	go func() { done <- sys.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Run: %v", err)
			}
		case <-time.After(90 * time.Second):
			t.Error("standalone did not stop")
		}
	})

	u, _ := url.Parse(sys.APIHost() + "/api")
	client, err := whisk.NewClient(http.DefaultClient, &whisk.Config{AuthToken: controller.GuestKey, Namespace: "guest", BaseURL: u, Host: u.Host})
	if err != nil {
		t.Fatal(err)
	}
	code := `function main(params) { return {greeting: "Hello, " + (params.name || "World") + "!"}; }`
	kind := "nodejs:default"
	_, _, err = client.Actions.Insert(&whisk.Action{Name: "hello", Namespace: "guest", Exec: &whisk.Exec{Kind: kind, Code: &code}}, false)
	if err != nil {
		t.Fatalf("create action: %v", err)
	}
	// The invoker must be healthy before the first invoke is accepted; retry while the
	// controller answers 503.
	var res interface{}
	deadline := time.Now().Add(90 * time.Second)
	for {
		res, _, err = client.Actions.Invoke("hello", map[string]interface{}{"name": "standalone"}, true, true)
		if err == nil || time.Now().After(deadline) {
			break
		}
		time.Sleep(500 * time.Millisecond)
	}
	if err != nil {
		t.Fatalf("invoke: %v", err)
	}
	if m, _ := res.(map[string]interface{}); m["greeting"] != "Hello, standalone!" {
		t.Fatalf("result = %v", res)
	}
}
