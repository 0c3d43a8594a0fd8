package controller_test

import (
	"encoding/json"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/apache/openwhisk-client-go/whisk"
	"github.com/owinvoker/owinvoker/controller-plugin/controller"
	"github.com/owinvoker/owinvoker/invoker/message"
)

const helloJS = "function main(params) {\n  return {greeting: 'Hello ' + params.name};\n}\n"

// invokeResult is what a client call in the background returned.
type invokeResult struct {
	body any
	resp *http.Response
	err  error
}

func invokeAsync(c *whisk.Client, name string, payload any, blocking, result bool) <-chan invokeResult {
	ch := make(chan invokeResult, 1)
	go func() {
		body, resp, err := c.Actions.Invoke(name, payload, blocking, result)
		ch <- invokeResult{body, resp, err}
	}()
	return ch
}

func await(t *testing.T, ch <-chan invokeResult) invokeResult {
	t.Helper()
	select {
	case r := <-ch:
		return r
	case <-time.After(time.Minute):
		t.Fatal("invoke did not return")
		return invokeResult{}
	}
}

func TestIntegrationLifecycle(t *testing.T) {
	cl := startCluster(t)
	client := cl.client(controller.GuestKey)

	// Before any invoker is up, invokes get 503.
	if _, _, err := client.Actions.Insert(&whisk.Action{Name: "early", Exec: &whisk.Exec{Kind: "nodejs:default", Code: ptr("x = 1")}}, false); err != nil {
		t.Fatal(err)
	}
	_, resp, err := client.Actions.Invoke("early", map[string]any{}, false, false)
	if err == nil || resp == nil || resp.StatusCode != http.StatusServiceUnavailable || wskError(t, err).ExitCode != 503-256 {
		t.Fatalf("invoke without invokers: %v, %v; want 503", resp, err)
	}

	inv := cl.startInvoker(0, 2048)
	cl.waitState(0, "up")

	// The health test action, field by field.
	h := <-inv.health
	if h.TransID.ID != message.TransactionInvokerHealth || h.Action != (message.FQN{Path: "whisk.system", Name: "invokerHealthTestAction0", Version: "0.0.1"}) ||
		h.Revision != "" || h.User.Subject != "whisk.system" || h.User.Namespace.Name != "whisk.system" || len(h.User.Rights) != 0 ||
		h.Blocking || h.Content != nil || h.RootControllerIndex != "0" || len(h.InitArgs) != 0 || len(h.LockedArgs) != 0 {
		t.Errorf("health test action %+v", h)
	}
	if _, err := cl.db.Get(t.Context(), cl.dbs.Whisks, "whisk.system/invokerHealthTestAction0"); err != nil {
		t.Errorf("health test action document: %v", err)
	}

	info, _, err := client.Info.Get()
	if err != nil || info.BuildNo != "" {
		t.Errorf("info %+v, %v", info, err)
	}
	nss, _, err := client.Namespaces.List()
	client.Config.Namespace = "_" // List clears it
	if err != nil || len(nss) != 1 || nss[0].Name != "guest" {
		t.Errorf("namespaces %+v, %v", nss, err)
	}

	// Create, conflict, update, get, list.
	created, _, err := client.Actions.Insert(&whisk.Action{Name: "hello", Namespace: "_",
		Exec: &whisk.Exec{Kind: "nodejs:default", Code: ptr(helloJS)}}, false)
	if err != nil {
		t.Fatal(err)
	}
	if created.Exec.Kind != "nodejs:20" || created.Version != "0.0.1" || created.Annotations.GetValue("exec") != "nodejs:20" {
		t.Errorf("created %+v", created)
	}
	_, resp, err = client.Actions.Insert(&whisk.Action{Name: "hello", Exec: &whisk.Exec{Kind: "nodejs:default", Code: ptr(helloJS)}}, false)
	if err == nil || resp.StatusCode != http.StatusConflict || wskError(t, err).ExitCode != 153 ||
		!strings.Contains(err.Error(), "resource already exists") {
		t.Errorf("second create: %v, %v; want 409", resp.StatusCode, err)
	}
	updated, _, err := client.Actions.Insert(&whisk.Action{Name: "hello",
		Parameters: whisk.KeyValueArr{{Key: "name", Value: "World"}},
		Limits:     &whisk.Limits{Memory: ptr(128)}}, true)
	if err != nil {
		t.Fatal(err)
	}
	if updated.Version != "0.0.2" || *updated.Limits.Memory != 128 || *updated.Limits.Timeout != 60000 || *updated.Exec.Code != helloJS {
		t.Errorf("updated %+v %+v", updated, updated.Limits)
	}
	got, _, err := client.Actions.Get("hello", false)
	if err != nil || got.Exec.Code != nil || got.Exec.Kind != "nodejs:20" {
		t.Errorf("get without code: %+v, %v", got, err)
	}
	list, _, err := client.Actions.List("", &whisk.ActionListOptions{Limit: 30})
	if err != nil || len(list) != 2 || list[0].Name != "hello" {
		t.Errorf("list %+v, %v", list, err)
	}
	_, resp, err = client.Actions.Insert(&whisk.Action{Name: "big", Exec: &whisk.Exec{Kind: "nodejs:20", Code: ptr("x")},
		Limits: &whisk.Limits{Memory: ptr(1024)}}, false)
	if err == nil || resp.StatusCode != http.StatusBadRequest ||
		!strings.Contains(err.Error(), "memory size 1024 MB exceeds allowed threshold of 512 MB") {
		t.Errorf("create with 1024 MB: %v, %v; want 400", resp.StatusCode, err)
	}
	doc, err := cl.db.Get(t.Context(), cl.dbs.Whisks, "guest/hello")
	if err != nil {
		t.Fatal(err)
	}

	t.Run("blocking", func(t *testing.T) {
		call := invokeAsync(client, "hello", map[string]any{"name": "Bob"}, true, false)
		m := inv.next()
		// The ActivationMessage as the Scala controller builds it.
		wantUser := message.Identity{
			Subject:   "guest",
			Namespace: message.Namespace{Name: "guest", UUID: "23bc46b1-71f6-4ed5-8c54-816aa4f8c502"},
			AuthKey:   map[string]json.RawMessage{"api_key": json.RawMessage(`"` + controller.GuestKey + `"`)},
			Rights:    []string{"READ", "PUT", "DELETE", "ACTIVATE"},
		}
		if len(m.TransID.ID) != 32 || m.TransID.Start <= 0 {
			t.Errorf("transid %v", m.TransID)
		}
		if m.Action != (message.FQN{Path: "guest", Name: "hello", Version: "0.0.2"}) {
			t.Errorf("action %+v", m.Action)
		}
		if string(m.Revision) != doc.Rev {
			t.Errorf("revision %q, want the document's %q", m.Revision, doc.Rev)
		}
		if !reflect.DeepEqual(m.User, wantUser) {
			t.Errorf("user %+v, want %+v", m.User, wantUser)
		}
		if m.RootControllerIndex != "0" || !m.Blocking || len(m.ActivationID) != 32 {
			t.Errorf("root %q, blocking %v, id %q", m.RootControllerIndex, m.Blocking, m.ActivationID)
		}
		if string(m.Content) != `{"name":"Bob"}` || len(m.InitArgs) != 0 || len(m.LockedArgs) != 0 || m.Cause != "" {
			t.Errorf("content %s, initArgs %v, lockedArgs %v, cause %q", m.Content, m.InitArgs, m.LockedArgs, m.Cause)
		}
		a := inv.activation(m, message.StatusSuccess, `{"greeting":"Hello Bob"}`)
		inv.store(a)
		inv.ack(message.NewCombined(m.TransID, a, inv.instance))
		r := await(t, call)
		if r.err != nil || r.resp.StatusCode != http.StatusOK {
			t.Fatalf("blocking invoke: %v, %v", r.resp, r.err)
		}
		if r.resp.Header.Get("X-Openwhisk-Activation-Id") != string(m.ActivationID) || r.resp.Header.Get("X-Request-Id") != m.TransID.ID {
			t.Errorf("headers %v", r.resp.Header)
		}
		body := r.body.(map[string]any)
		if body["activationId"] != string(m.ActivationID) || !reflect.DeepEqual(body["response"],
			map[string]any{"status": "success", "success": true, "result": map[string]any{"greeting": "Hello Bob"}}) {
			t.Errorf("body %v", body)
		}
	})

	t.Run("result then completion", func(t *testing.T) {
		call := invokeAsync(client, "hello", map[string]any{}, true, true)
		m := inv.next()
		if string(m.Content) != `{"name":"World"}` {
			t.Errorf("content %s, want the action's parameters", m.Content)
		}
		a := inv.activation(m, message.StatusSuccess, `{"greeting":"Hello World"}`)
		noLogs := *a
		noLogs.Logs = nil
		inv.ack(message.NewResult(m.TransID, &noLogs))
		r := await(t, call)
		if r.err != nil || !reflect.DeepEqual(r.body, map[string]any{"greeting": "Hello World"}) {
			t.Errorf("result-only invoke: %v, %v", r.body, r.err)
		}
		inv.store(a)
		inv.ack(message.NewCompletion(m.TransID, a, inv.instance))
	})

	t.Run("shrunk ack", func(t *testing.T) {
		call := invokeAsync(client, "hello", map[string]any{"name": "Big"}, true, false)
		m := inv.next()
		a := inv.activation(m, message.StatusSuccess, `{"greeting":"Hello Big"}`)
		inv.store(a)
		inv.ack(message.NewCombined(m.TransID, a, inv.instance).Shrink())
		r := await(t, call)
		if r.err != nil || r.resp.StatusCode != http.StatusOK {
			t.Fatalf("invoke with a shrunk ack: %v, %v", r.resp, r.err)
		}
		body := r.body.(map[string]any)
		if body["activationId"] != string(m.ActivationID) || len(body["logs"].([]any)) != 0 {
			t.Errorf("body %v: want the stored record without logs", body)
		}
	})

	t.Run("application error", func(t *testing.T) {
		call := invokeAsync(client, "hello", map[string]any{}, true, false)
		m := inv.next()
		a := inv.activation(m, message.StatusApplicationError, `{"error":"boom"}`)
		inv.store(a)
		inv.ack(message.NewCombined(m.TransID, a, inv.instance))
		r := await(t, call)
		if r.err == nil || r.resp.StatusCode != http.StatusBadGateway || !wskError(t, r.err).ApplicationError {
			t.Errorf("application error: %v, %v; want 502", r.resp, r.err)
		}
	})

	var slowID string
	t.Run("202 after the wait", func(t *testing.T) {
		start := time.Now()
		call := invokeAsync(client, "hello", map[string]any{}, true, false)
		m := inv.next()
		r := await(t, call)
		if r.resp == nil || r.resp.StatusCode != http.StatusAccepted || !wskError(t, r.err).TimedOut {
			t.Fatalf("slow invoke: %v, %v; want 202", r.resp, r.err)
		}
		if waited := time.Since(start); waited < 3*time.Second {
			t.Errorf("answered after %v, before the 3 s blocking wait", waited)
		}
		if body := r.body.(map[string]any); body["activationId"] != string(m.ActivationID) {
			t.Errorf("body %v", body)
		}
		slowID = string(m.ActivationID)
		// It finishes later; its record appears.
		a := inv.activation(m, message.StatusSuccess, `{"late":true}`)
		inv.store(a)
		inv.ack(message.NewCombined(m.TransID, a, inv.instance))
	})

	var nonBlockingID string
	t.Run("non-blocking", func(t *testing.T) {
		body, resp, err := client.Actions.Invoke("hello", map[string]any{"name": "Async"}, false, false)
		if err != nil || resp.StatusCode != http.StatusAccepted {
			t.Fatalf("non-blocking invoke: %v, %v", resp, err)
		}
		m := inv.next()
		if m.Blocking {
			t.Error("message is blocking")
		}
		nonBlockingID = body.(map[string]any)["activationId"].(string)
		if nonBlockingID != string(m.ActivationID) || resp.Header.Get("X-Openwhisk-Activation-Id") != nonBlockingID {
			t.Errorf("activation id %q, header %q, message %q", nonBlockingID, resp.Header.Get("X-Openwhisk-Activation-Id"), m.ActivationID)
		}
		a := inv.activation(m, message.StatusSuccess, `{"greeting":"Hello Async"}`)
		inv.store(a)
		inv.ack(message.NewCompletion(m.TransID, a, inv.instance))
	})

	t.Run("activations", func(t *testing.T) {
		acts, _, err := client.Activations.List(&whisk.ActivationListOptions{Limit: 30})
		if err != nil {
			t.Fatal(err)
		}
		if len(acts) != 6 || acts[0].ActivationID != nonBlockingID || acts[1].ActivationID != slowID {
			t.Fatalf("list: %d activations, first %+v", len(acts), acts)
		}
		if acts[0].StatusCode != 0 || acts[0].Logs != nil || acts[0].Annotations.GetValue("kind") != "nodejs:20" {
			t.Errorf("summary %+v", acts[0])
		}
		named, _, err := client.Activations.List(&whisk.ActivationListOptions{Name: "hello", Limit: 2})
		if err != nil || len(named) != 2 {
			t.Errorf("list by name: %d, %v", len(named), err)
		}
		a, _, err := client.Activations.Get(nonBlockingID)
		if err != nil || a.Response.Status != "success" || !a.Response.Success || a.Duration != 4 ||
			!reflect.DeepEqual(a.Response.Result, map[string]any{"greeting": "Hello Async"}) {
			t.Errorf("get %+v, %v", a, err)
		}
		logs, _, err := client.Activations.Logs(nonBlockingID)
		if err != nil || len(logs.Logs) != 1 || !strings.HasSuffix(logs.Logs[0], "ran "+nonBlockingID) {
			t.Errorf("logs %+v, %v", logs, err)
		}
		res, _, err := client.Activations.Result(slowID)
		if err != nil || !reflect.DeepEqual(res.Result, map[string]any{"late": true}) {
			t.Errorf("result %+v, %v", res, err)
		}
		_, resp, err := client.Activations.Get(strings.Repeat("0", 32))
		if err == nil || resp.StatusCode != http.StatusNotFound || wskError(t, err).ExitCode != 148 {
			t.Errorf("unknown activation: %v, %v", resp.StatusCode, err)
		}
	})

	t.Run("delete", func(t *testing.T) {
		if _, err := client.Actions.Delete("hello"); err != nil {
			t.Fatal(err)
		}
		_, resp, err := client.Actions.Get("hello", false)
		if err == nil || resp.StatusCode != http.StatusNotFound {
			t.Errorf("get after delete: %v, %v", resp.StatusCode, err)
		}
		_, resp, err = client.Actions.Invoke("hello", map[string]any{}, true, true)
		if err == nil || resp.StatusCode != http.StatusNotFound {
			t.Errorf("invoke after delete: %v, %v", resp.StatusCode, err)
		}
	})

	t.Run("wrong key", func(t *testing.T) {
		bad := cl.client("23bc46b1-71f6-4ed5-8c54-816aa4f8c502:" + strings.Repeat("x", 64))
		_, resp, err := bad.Actions.List("", &whisk.ActionListOptions{Limit: 30})
		if err == nil || resp.StatusCode != http.StatusUnauthorized || wskError(t, err).ExitCode != 145 {
			t.Errorf("wrong key: %v, %v; want 401", resp.StatusCode, err)
		}
	})
}

func TestIntegrationConcurrencyThrottle(t *testing.T) {
	cl := startCluster(t)
	const key = "d1c2d3e4-71f6-4ed5-8c54-816aa4f8c502:0123456789abcdef0123456789abcdef0123456789abcdef0123456789ABCDEF"
	cl.addSubject("limited", key, map[string]any{"concurrentInvocations": 1})
	client := cl.client(key)
	inv := cl.startInvoker(0, 1024)
	cl.waitState(0, "up")
	if _, _, err := client.Actions.Insert(&whisk.Action{Name: "sleepy", Exec: &whisk.Exec{Kind: "nodejs:20", Code: ptr(helloJS)}}, false); err != nil {
		t.Fatal(err)
	}
	if _, _, err := client.Actions.Invoke("sleepy", map[string]any{}, false, false); err != nil {
		t.Fatal(err)
	}
	m := inv.next()
	_, resp, err := client.Actions.Invoke("sleepy", map[string]any{}, false, false)
	if err == nil || resp.StatusCode != http.StatusTooManyRequests || wskError(t, err).ExitCode != 173 ||
		!strings.Contains(err.Error(), "Too many concurrent requests in flight (count: 1, allowed: 1).") {
		t.Fatalf("second invoke: %v, %v; want 429", resp.StatusCode, err)
	}
	// The completion frees the namespace's slot.
	a := inv.activation(m, message.StatusSuccess, `{}`)
	inv.ack(message.NewCompletion(m.TransID, a, inv.instance))
	deadline := time.Now().Add(30 * time.Second)
	for {
		_, resp, err := client.Actions.Invoke("sleepy", map[string]any{}, false, false)
		if err == nil {
			break
		}
		if resp == nil || resp.StatusCode != http.StatusTooManyRequests || time.Now().After(deadline) {
			t.Fatalf("invoke after the completion: %v, %v", resp, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	inv.next()
}

func TestIntegrationInvokerGoesOffline(t *testing.T) {
	cl := startCluster(t, func(c *controller.Config) { c.Supervisor.PingTimeout = 2 * time.Second })
	client := cl.client(controller.GuestKey)
	inv := cl.startInvoker(0, 1024)
	cl.waitState(0, "up")
	if _, _, err := client.Actions.Insert(&whisk.Action{Name: "hello", Exec: &whisk.Exec{Kind: "nodejs:20", Code: ptr(helloJS)}}, false); err != nil {
		t.Fatal(err)
	}
	// Silence: offline after the ping timeout, and invokes get 503.
	inv.paused.Store(true)
	cl.waitState(0, "down")
	_, resp, err := client.Actions.Invoke("hello", map[string]any{}, false, false)
	if err == nil || resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("invoke with the invoker down: %v, %v; want 503", resp, err)
	}
	// Pinging again: a new health test action brings it back.
	for len(inv.health) > 0 {
		<-inv.health
	}
	inv.paused.Store(false)
	cl.waitState(0, "up")
	select {
	case <-inv.health:
	default:
		t.Error("no health test action after coming back")
	}
	if _, _, err := client.Actions.Invoke("hello", map[string]any{}, false, false); err != nil {
		t.Fatal(err)
	}
	inv.next()
}

func ptr[T any](v T) *T { return &v }

// TestIntegrationLargeCode stores code above the 16 KiB inline limit as a CouchDB
// attachment and keeps it across updates that do not replace it.
func TestIntegrationLargeCode(t *testing.T) {
	cl := startCluster(t)
	client := cl.client(controller.GuestKey)
	big := strings.Repeat("// padding line\n", 1500) + helloJS
	if _, _, err := client.Actions.Insert(&whisk.Action{Name: "big", Exec: &whisk.Exec{Kind: "nodejs:20", Code: ptr(big)}}, false); err != nil {
		t.Fatal(err)
	}
	code := func() string {
		t.Helper()
		a, _, err := client.Actions.Get("big", true)
		if err != nil || a.Exec.Code == nil {
			t.Fatalf("get: %+v, %v", a, err)
		}
		return *a.Exec.Code
	}
	if code() != big {
		t.Fatal("large code did not round-trip")
	}
	doc, err := cl.db.Get(t.Context(), cl.dbs.Whisks, "guest/big")
	if err != nil || !strings.Contains(string(doc.Body), `"attachmentName":"couch:`) || !strings.Contains(string(doc.Body), `"_attachments"`) {
		t.Fatalf("document %.300s: %v; want a couch: attachment", doc.Body, err)
	}
	if _, _, err := client.Actions.Insert(&whisk.Action{Name: "big", Parameters: whisk.KeyValueArr{{Key: "a", Value: 1}}}, true); err != nil {
		t.Fatal(err)
	}
	if code() != big {
		t.Error("an update without exec lost the code attachment")
	}
	if _, _, err := client.Actions.Insert(&whisk.Action{Name: "big", Exec: &whisk.Exec{Kind: "nodejs:20", Code: ptr(helloJS)}}, true); err != nil {
		t.Fatal(err)
	}
	if code() != helloJS {
		t.Error("new code not stored")
	}
}
