package e2e_test

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/apache/openwhisk-client-go/whisk"
	"go.uber.org/zap/zaptest"

	"github.com/owinvoker/owinvoker/controller-plugin/controller"
	"github.com/owinvoker/owinvoker/deploy/dev/testenv"
	"github.com/owinvoker/owinvoker/invoker"
	"github.com/owinvoker/owinvoker/invoker/message"
	"github.com/owinvoker/owinvoker/invoker/store"
	"github.com/owinvoker/owinvoker/sandbox"
	"github.com/owinvoker/owinvoker/sandbox/docker"
	"github.com/owinvoker/owinvoker/sandbox/manifest"
)

type system struct {
	api     string
	client  *whisk.Client
	docker  *docker.Client
	uniques []string
}

// start runs a controller and n invokers (each with userMemoryMB) on real services.
func start(t *testing.T, n, userMemoryMB int, policy string) *system {
	t.Helper()
	testenv.Docker(t)
	root, err := testenv.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(filepath.Join(root, "deploy", "runtimes", "build.sh")).CombinedOutput(); err != nil {
		t.Fatalf("runtime images: %v\n%s", err, out)
	}
	manifestJSON, err := os.ReadFile(filepath.Join(root, "deploy", "runtimes.json"))
	if err != nil {
		t.Fatal(err)
	}
	m, err := manifest.Parse(manifestJSON)
	if err != nil {
		t.Fatal(err)
	}
	kafka := testenv.Kafka(t)
	dbs := testenv.NewDatabases(t)
	prefix := testenv.UniqueName("e") + "_"
	log := zaptest.NewLogger(t)
	docs, err := store.NewCouch(store.CouchConfig{URL: dbs.URL}, log)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	t.Cleanup(func() { cancel(); wg.Wait() })

	ctrl, err := controller.New(controller.Config{KafkaBrokers: []string{kafka}, TopicPrefix: prefix, CouchDB: store.CouchConfig{URL: dbs.URL},
		DBWhisks: dbs.Whisks, DBActivations: dbs.Activations, DBSubjects: dbs.Subjects, Manifest: manifestJSON,
		BlockingWait: 20 * time.Second, Policy: policy}, log.Named("controller"))
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		if err := ctrl.Serve(ctx, ln); err != nil && !errors.Is(err, context.Canceled) {
			t.Errorf("controller: %v", err)
		}
		_ = ctrl.Close()
	}()

	d, err := docker.New(docker.Config{}, log)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	sys := &system{api: "http://" + ln.Addr().String(), docker: d}
	for i := range n {
		unique := testenv.UniqueName("v")
		sys.uniques = append(sys.uniques, unique)
		sb, err := sandbox.New(sandbox.Config{Prefix: "wsk" + unique + itoa(i), UserMemoryMB: userMemoryMB, Manifest: m}, d, log, time.Now)
		if err != nil {
			t.Fatal(err)
		}
		if err := sb.Start(ctx); err != nil {
			t.Fatal(err)
		}
		inv, err := invoker.New(invoker.Config{
			Instance: message.InvokerInstanceID{Instance: i, UniqueName: unique, UserMemory: message.ByteSize(userMemoryMB) * message.Megabyte},
			Brokers:  []string{kafka}, TopicPrefix: prefix, MaxPeek: 8,
			WhisksDB: dbs.Whisks, ActivationsDB: dbs.Activations, SubjectsDB: dbs.Subjects,
		}, m, docs, sb, log.Named("invoker"+itoa(i)), time.Now)
		if err != nil {
			t.Fatal(err)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			_ = inv.Run(ctx)
			cctx, c := context.WithTimeout(context.Background(), time.Minute)
			defer c()
			_ = sb.Close(cctx)
		}()
	}
	sys.client = sys.newClient(t, controller.GuestKey)
	// Wait until every invoker is up (the controller answers 503 before).
	deadline := time.Now().Add(90 * time.Second)
	for {
		up := 0
		for _, s := range ctrl.Invokers() {
			if s.State.String() == "up" {
				up++
			}
		}
		if up == n {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("invokers up: %d of %d: %+v", up, n, ctrl.Invokers())
		}
		time.Sleep(200 * time.Millisecond)
	}
	return sys
}

func itoa(i int) string { return string(rune('0' + i)) }

func (s *system) newClient(t *testing.T, key string) *whisk.Client {
	t.Helper()
	u, _ := url.Parse(s.api + "/api")
	c, err := whisk.NewClient(&http.Client{Timeout: 60 * time.Second}, &whisk.Config{AuthToken: key, Namespace: "guest", BaseURL: u, Host: u.Host})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func ptr[T any](v T) *T { return &v }

func statusOf(err error) int {
	var we *whisk.WskError
	if errors.As(err, &we) {
		return we.ExitCode
	}
	return 0
}

// TestActionsAndActivationsThroughTheClient drives the whole system the way wsk does.
func TestActionsAndActivationsThroughTheClient(t *testing.T) {
	sys := start(t, 1, 1024, "sharding")
	c := sys.client
	code := `function main(p) { console.log("e2e log line"); if (p.fail) return {error: "asked to fail"}; return {hello: p.name || "world"}; }`
	if _, resp, err := c.Actions.Insert(&whisk.Action{Name: "hello", Exec: &whisk.Exec{Kind: "nodejs:20", Code: &code},
		Parameters: whisk.KeyValueArr{{Key: "name", Value: "default"}}}, false); err != nil {
		t.Fatalf("create: %v (%v)", err, resp)
	}
	// Conflicting create: 409.
	if _, resp, err := c.Actions.Insert(&whisk.Action{Name: "hello", Exec: &whisk.Exec{Kind: "nodejs:20", Code: &code}}, false); err == nil || resp == nil || resp.StatusCode != http.StatusConflict {
		t.Fatalf("conflicting create: %v, %v; want 409", err, resp)
	}
	// Update with overwrite.
	if _, _, err := c.Actions.Insert(&whisk.Action{Name: "hello", Exec: &whisk.Exec{Kind: "nodejs:20", Code: &code},
		Limits: &whisk.Limits{Memory: ptr(128)}}, true); err != nil {
		t.Fatalf("update: %v", err)
	}
	got, _, err := c.Actions.Get("hello", true)
	if err != nil || got.Limits == nil || got.Limits.Memory == nil || *got.Limits.Memory != 128 {
		t.Fatalf("get after update: %+v, %v", got, err)
	}
	list, _, err := c.Actions.List("", &whisk.ActionListOptions{})
	if err != nil || len(list) != 1 {
		t.Fatalf("list: %v, %v", list, err)
	}
	// Invalid limit: 400.
	if _, resp, err := c.Actions.Insert(&whisk.Action{Name: "toobig", Exec: &whisk.Exec{Kind: "nodejs:20", Code: &code},
		Limits: &whisk.Limits{Memory: ptr(4096)}}, false); err == nil || resp == nil || resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("invalid limit: %v, %v; want 400", err, resp)
	}

	// Blocking, result only.
	res, _, err := c.Actions.Invoke("hello", map[string]any{"name": "e2e"}, true, true)
	if err != nil {
		t.Fatalf("invoke: %v", err)
	}
	if m, _ := res.(map[string]any); m["hello"] != "e2e" {
		t.Fatalf("result = %v", res)
	}
	// Blocking, full activation; an application error answers 502 with the activation.
	full, resp, err := c.Actions.Invoke("hello", map[string]any{"fail": true}, true, false)
	if resp == nil || resp.StatusCode != http.StatusBadGateway {
		t.Fatalf("failing invoke: %v, %v; want 502", resp, err)
	}
	_ = full
	// Non-blocking: 202 with an activation id, then the activation by id.
	nb, resp, err := c.Actions.Invoke("hello", nil, false, false)
	if err != nil || resp.StatusCode != http.StatusAccepted {
		t.Fatalf("non-blocking invoke: %v, %v", resp, err)
	}
	id, _ := nb.(map[string]any)["activationId"].(string)
	if id == "" {
		t.Fatalf("non-blocking answer %v has no activationId", nb)
	}
	var act *whisk.Activation
	deadline := time.Now().Add(60 * time.Second)
	for {
		act, _, err = c.Activations.Get(id)
		if err == nil || time.Now().After(deadline) {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	if err != nil || act.Response.Status != "success" {
		t.Fatalf("activation %s: %+v, %v", id, act, err)
	}
	logs, _, err := c.Activations.Logs(id)
	if err != nil || !strings.Contains(strings.Join(logs.Logs, "\n"), "e2e log line") {
		t.Fatalf("logs: %+v, %v", logs, err)
	}
	r, _, err := c.Activations.Result(id)
	if err != nil || r.Result == nil {
		t.Fatalf("result: %+v, %v", r, err)
	}
	acts, _, err := c.Activations.List(&whisk.ActivationListOptions{Name: "hello", Limit: 10})
	if err != nil || len(acts) < 3 {
		t.Fatalf("activation list: %d, %v", len(acts), err)
	}

	// A blocking invoke that outlasts the wait answers 202 with the id.
	slow := `function main() { return new Promise(r => setTimeout(() => r({done: true}), 8000)); }`
	if _, _, err := c.Actions.Insert(&whisk.Action{Name: "slow", Exec: &whisk.Exec{Kind: "nodejs:20", Code: &slow}}, false); err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest(http.MethodPost, sys.api+"/api/v1/namespaces/guest/actions/slow?blocking=true&timeout=1000", strings.NewReader("{}"))
	user, pass, _ := strings.Cut(controller.GuestKey, ":")
	req.SetBasicAuth(user, pass)
	req.Header.Set("Content-Type", "application/json")
	hresp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	hresp.Body.Close()
	if hresp.StatusCode != http.StatusAccepted || hresp.Header.Get("x-openwhisk-activation-id") == "" {
		t.Fatalf("blocking invoke past its timeout = %d (id %q), want 202 with the activation id", hresp.StatusCode, hresp.Header.Get("x-openwhisk-activation-id"))
	}

	// Missing action: 404; bad auth: 401.
	if _, resp, err := c.Actions.Invoke("nothere", nil, true, true); err == nil || resp == nil || resp.StatusCode != http.StatusNotFound {
		t.Fatalf("missing action: %v, %v; want 404", resp, err)
	}
	bad := sys.newClient(t, "23bc46b1-71f6-4ed5-8c54-816aa4f8c502:wrong")
	if _, resp, err := bad.Actions.List("", nil); err == nil || resp == nil || resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("bad auth: %v, %v; want 401", resp, err)
	}
	// Delete.
	if _, err := c.Actions.Delete("hello"); err != nil {
		t.Fatalf("delete: %v", err)
	}
	_ = statusOf
}

// TestTwoInvokersHomeAndStep: with room for one activation per invoker, two concurrent
// activations of one action run on the action's home invoker and on the next one.
func TestTwoInvokersHomeAndStep(t *testing.T) {
	sys := start(t, 2, 256, "sharding")
	c := sys.client
	slow := `function main() { return new Promise(r => setTimeout(() => r({}), 8000)); }`
	if _, _, err := c.Actions.Insert(&whisk.Action{Name: "wide", Exec: &whisk.Exec{Kind: "nodejs:20", Code: &slow}}, false); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for i := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, _, err := c.Actions.Invoke("wide", nil, true, true); err != nil {
				t.Errorf("invoke: %v", err)
			}
		}()
		if i == 0 {
			time.Sleep(time.Second) // the first holds its invoker's only slot while the second is placed
		}
	}
	wg.Wait()
	for i, u := range sys.uniques {
		l, err := sys.docker.List(context.Background(), sandbox.LabelInvoker, "wsk"+u+itoa(i))
		if err != nil {
			t.Fatal(err)
		}
		found := false
		for _, ctr := range l {
			found = found || strings.HasSuffix(ctr.Name, "_guest_wide")
		}
		if !found {
			t.Errorf("invoker%d ran no container of the action: the second activation should step to it", i)
		}
	}
}
