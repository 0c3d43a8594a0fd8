package controller

import (
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/owinvoker/owinvoker/invoker/action"
	"github.com/owinvoker/owinvoker/invoker/message"
)

func createHello(t *testing.T, e *env, extra map[string]any) {
	t.Helper()
	body := map[string]any{"exec": map[string]any{"kind": "nodejs:20", "code": helloCode}}
	for k, v := range extra {
		body[k] = v
	}
	decode(t, e.do("PUT", "/api/v1/namespaces/_/actions/hello", body))
}

func TestInvokeErrors(t *testing.T) {
	e := newEnv(t, func(c *Config) {
		c.Limits.PayloadMaxBytes = 100
		c.BlockingWait = 2 * time.Second
	})
	createHello(t, e, map[string]any{
		"parameters":  []any{map[string]any{"key": "name", "value": "World"}, map[string]any{"key": "unset", "value": nil}},
		"annotations": []any{map[string]any{"key": "final", "value": true}},
	})
	path := "/api/v1/namespaces/_/actions/hello"
	for _, tc := range []struct {
		name   string
		path   string
		body   any
		status int
		text   string
	}{
		{"unknown action", "/api/v1/namespaces/_/actions/nothing", `{}`, 404, textNotFound},
		{"timeout zero", path + "?blocking=true&timeout=0", `{}`, 400, textMalformedQuery("timeout", "Timeout must be number of milliseconds up to 2000.")},
		{"timeout too long", path + "?blocking=true&timeout=2001", `{}`, 400, textMalformedQuery("timeout", "Timeout must be number of milliseconds up to 2000.")},
		{"timeout not a number", path + "?blocking=true&timeout=soon", `{}`, 400, textMalformedQuery("timeout", "Timeout must be number of milliseconds up to 2000.")},
		{"bad blocking", path + "?blocking=perhaps", `{}`, 400, textMalformedQuery("blocking", "'perhaps' is not a valid Boolean value")},
		{"payload too large", path, `{"x":"` + strings.Repeat("y", 100) + `"}`, 413, "Request larger than allowed: 108 > 100 bytes."},
		{"not json", path, `{"x":`, 400, textMalformedPrefix + "unexpected end of JSON input"},
		{"not an object", path, `"text"`, 400, textMalformedPrefix + "Object expected"},
		{"final parameter", path, `{"name":"Bob"}`, 400, textParamsNotAllowed},
		{"no invoker", path, `{"unset":"ok"}`, 503, textUnavailable},
		{"no invoker, blocking", path + "?blocking=true&result=true", ``, 503, textUnavailable},
		{"no invoker, array", path, `[1,2]`, 503, textUnavailable},
	} {
		t.Run(tc.name, func(t *testing.T) {
			wantError(t, e.do("POST", tc.path, tc.body), tc.status, tc.text)
		})
	}
	if n := e.c.waits.len(); n != 0 {
		t.Errorf("%d blocking waits left behind", n)
	}
	if n := e.c.balancer.Active(); n != 0 {
		t.Errorf("%d activations in flight", n)
	}
}

func TestInvokeRateThrottle(t *testing.T) {
	e := newEnv(t)
	e.addSubject("limited", "limitedns", otherKey, `{"invocationsPerMinute":2}`)
	decode(t, e.do("PUT", "/api/v1/namespaces/_/actions/hello", map[string]any{"exec": map[string]any{"kind": "nodejs:20", "code": "x"}}, as(otherKey)))
	path := "/api/v1/namespaces/_/actions/hello"
	// Rejected invokes count too, as in OpenWhisk (here: no invoker, 503).
	wantError(t, e.do("POST", path, `{}`, as(otherKey)), 503, textUnavailable)
	wantError(t, e.do("POST", path, `{}`, as(otherKey)), 503, textUnavailable)
	wantError(t, e.do("POST", path, `{}`, as(otherKey)), 429, textTooManyRequests(3, 2))
	// guest has its own count.
	wantError(t, e.do("POST", path, `{}`), 404, textNotFound)
	// The next minute starts afresh.
	e.advance(time.Minute)
	wantError(t, e.do("POST", path, `{}`, as(otherKey)), 503, textUnavailable)
}

func TestMergeContent(t *testing.T) {
	params := action.Parameters{
		{Key: "name", Value: json.RawMessage(`"World"`)},
		{Key: "secret", Value: json.RawMessage(`"c2VjcmV0"`), Init: true, Encryption: "aes-256"},
		{Key: "n", Value: json.RawMessage(`{ "a" : 1 }`)},
	}
	for _, tc := range []struct {
		payload string
		want    string
	}{
		{"", `{"name":"World","secret":"c2VjcmV0","n":{"a":1}}`},
		{`{}`, `{"name":"World","secret":"c2VjcmV0","n":{"a":1}}`},
		{`{"name":"Bob","z":[1]}`, `{"secret":"c2VjcmV0","n":{"a":1},"name":"Bob","z":[1]}`},
		{`[1, 2]`, `[1, 2]`},
	} {
		got, _, err := mergeContent(params, json.RawMessage(tc.payload))
		if err != nil {
			t.Fatalf("mergeContent(%s): %v", tc.payload, err)
		}
		if string(got) != tc.want {
			t.Errorf("mergeContent(%s) = %s, want %s", tc.payload, got, tc.want)
		}
	}
}

func TestActivationMessage(t *testing.T) {
	e := newEnv(t)
	id := &identity{Subject: "guest", Namespace: "guest", UUID: "23bc46b1-71f6-4ed5-8c54-816aa4f8c502",
		Key: strings.SplitN(GuestKey, ":", 2)[1], Limits: message.UserLimits{ConcurrentInvocations: ptr(5)}}
	a := &action.Action{
		Namespace: "guest", Name: "hello", Version: "0.0.3", Rev: "3-abc",
		Parameters: action.Parameters{
			{Key: "name", Value: json.RawMessage(`"World"`)},
			{Key: "token", Value: json.RawMessage(`"x"`), Init: true},
			{Key: "secret", Value: json.RawMessage(`"c2VjcmV0"`), Encryption: "aes-128"},
			{Key: "other", Value: json.RawMessage(`"b3RoZXI="`), Encryption: "aes-128", Init: true},
		},
	}
	tid := message.TransactionID{ID: "tid123", Start: 1700000000000}
	m, err := e.c.activationMessage(tid, id, a, json.RawMessage(`{"name":"Bob","other":"plain"}`), true)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := message.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	jsonEqual(t, raw, fmt.Sprintf(`{"transid":["tid123",1700000000000],
		"action":{"path":"guest","name":"hello","version":"0.0.3"},"revision":"3-abc",
		"user":{"subject":"guest","namespace":{"name":"guest","uuid":"23bc46b1-71f6-4ed5-8c54-816aa4f8c502"},
			"authkey":{"api_key":%q},"rights":["READ","PUT","DELETE","ACTIVATE"],"limits":{"concurrentInvocations":5}},
		"activationId":%q,"rootControllerIndex":{"asString":"0","instanceType":"controller"},"blocking":true,
		"content":{"token":"x","secret":"c2VjcmV0","name":"Bob","other":"plain"},
		"initArgs":["other","token"],"lockedArgs":{"secret":"aes-128"}}`, GuestKey, m.ActivationID))
	if _, err := message.DecodeActivationMessage(raw); err != nil {
		t.Errorf("message does not decode as the invoker reads it: %v", err)
	}
}

func TestAwait(t *testing.T) {
	e := newEnv(t, func(c *Config) {
		c.ResultPollDelays = []time.Duration{10 * time.Millisecond, 20 * time.Millisecond, 400 * time.Millisecond}
		c.DBPollInterval = time.Hour
	})
	full := record(aid(1), "guest/hello", 1000, message.StatusSuccess)

	t.Run("result ack", func(t *testing.T) {
		ch, cancel := e.c.waits.add(full.ActivationID)
		defer cancel()
		e.c.handleAck(t.Context(), testStart, message.NewResult(message.TransactionID{ID: "x"}, &full))
		got, err := e.c.await(t.Context(), "guest", full.ActivationID, time.Minute, ch)
		if err != nil || got == nil || got.ActivationID != full.ActivationID || len(got.Logs) != 1 {
			t.Fatalf("await = %+v, %v; want the acked activation with its logs", got, err)
		}
	})
	t.Run("shrunk ack, then the record", func(t *testing.T) {
		a := record(aid(2), "guest/hello", 2000, message.StatusSuccess)
		ch, cancel := e.c.waits.add(a.ActivationID)
		defer cancel()
		e.c.handleAck(t.Context(), testStart, message.NewCombined(message.TransactionID{ID: "x"}, &a, message.InvokerInstanceID{}).Shrink())
		go func() {
			time.Sleep(50 * time.Millisecond) // after the first quick polls
			e.putRecord(a)
		}()
		got, err := e.c.await(t.Context(), "guest", a.ActivationID, time.Minute, ch)
		if err != nil || got == nil || got.ActivationID != a.ActivationID {
			t.Fatalf("await = %+v, %v; want the stored record", got, err)
		}
		if len(got.Logs) != 0 {
			t.Errorf("logs %v: a record read for a blocking invoke has none", got.Logs)
		}
	})
	t.Run("no ack", func(t *testing.T) {
		ch, cancel := e.c.waits.add(message.ActivationID(aid(3)))
		defer cancel()
		got, err := e.c.await(t.Context(), "guest", message.ActivationID(aid(3)), 30*time.Millisecond, ch)
		if got != nil || err != nil {
			t.Fatalf("await = %+v, %v; want nothing when the wait ends", got, err)
		}
	})
}

func TestWriteActivationResult(t *testing.T) {
	e := newEnv(t)
	arr := record(aid(1), "guest/hello", 1000, message.StatusSuccess)
	arr.Response.Result = json.RawMessage(`[1, 2]`)
	for _, tc := range []struct {
		name       string
		a          message.WhiskActivation
		resultOnly bool
		status     int
		body       string
	}{
		{"success, result", record(aid(1), "guest/hello", 1000, 0), true, 200, `{"greeting":"Hello"}`},
		{"application error, result", record(aid(1), "guest/hello", 1000, 1), true, 502, `{"error":"boom"}`},
		{"developer error", record(aid(1), "guest/hello", 1000, 2), false, 502, ""},
		{"whisk error", record(aid(1), "guest/hello", 1000, 3), true, 500, `{"error":"boom"}`},
		{"array result", arr, false, 200, `[1,2]`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			e.c.writeActivationResult(rec, &tc.a, tc.resultOnly)
			got := decode(t, rec, tc.status)
			if tc.body != "" {
				jsonEqual(t, got, tc.body)
			} else if field(got, "response", "status") != "action developer error" {
				t.Errorf("body %s, want the whole activation", rec.Body)
			}
		})
	}
}

func TestRates(t *testing.T) {
	r := newRates()
	t0 := time.Date(2026, 1, 1, 0, 0, 59, 0, time.UTC)
	for i, want := range []int{1, 2, 3} {
		if got := r.add("a", t0); got != want {
			t.Errorf("add %d: %d, want %d", i, got, want)
		}
	}
	if got := r.add("b", t0); got != 1 {
		t.Errorf("other namespace: %d, want 1", got)
	}
	if got := r.add("a", t0.Add(time.Second)); got != 1 {
		t.Errorf("next minute: %d, want 1", got)
	}
}

func TestDemand(t *testing.T) {
	d := newDemand(3)
	act := func(path string, ann ...message.Parameter) *message.WhiskActivation {
		return &message.WhiskActivation{Annotations: append(message.Parameters{
			message.StringParam(message.AnnotationPath, path),
			message.RawParam(message.AnnotationLimits, json.RawMessage(`{"timeout":60000,"memory":256,"logs":10,"concurrency":1}`)),
		}, ann...)}
	}
	d.observe(act("guest/a")) // no harvest annotations: nothing learnt
	if cpu, mem := d.predict("guest/a"); cpu != 0 || mem != 0 {
		t.Errorf("predict without data = %d, %d", cpu, mem)
	}
	d.observe(act("guest/a", message.IntParam(AnnotationPeakMemMB, 400), message.IntParam(AnnotationPeakCPUMillis, 900)))
	if cpu, mem := d.predict("guest/a"); cpu != 0 || mem != 144 {
		t.Errorf("predict = %d, %d; want 0 (no allocation known), 144", cpu, mem)
	}
	d.observe(act("guest/a", message.IntParam(AnnotationPeakMemMB, 100),
		message.IntParam(AnnotationPeakCPUMillis, 900), message.IntParam(AnnotationAllocCPUMillis, 250)))
	if cpu, mem := d.predict("guest/a"); cpu != 650 || mem != 144 {
		t.Errorf("predict = %d, %d; want 650, 144", cpu, mem)
	}
	// The 400 MB peak falls out of the window of 3.
	d.observe(act("guest/a", message.IntParam(AnnotationPeakMemMB, 300)))
	d.observe(act("guest/a", message.IntParam(AnnotationPeakMemMB, 200)))
	if _, mem := d.predict("guest/a"); mem != 44 {
		t.Errorf("predict mem = %d, want 44", mem)
	}
	if cpu, mem := d.predict("guest/b"); cpu != 0 || mem != 0 {
		t.Errorf("unknown action = %d, %d", cpu, mem)
	}
	// Killed at its 256 MB limit: 256 MB more. Throttled for 750 of 1000 ms while using
	// 250 ms of CPU at a 250-millicore quota: it wanted a whole core, 750 more.
	dur := int64(1000)
	oom := act("guest/c", message.IntParam(AnnotationPeakMemMB, 256), message.IntParam(AnnotationPeakCPUMillis, 250),
		message.IntParam(AnnotationAllocCPUMillis, 250), message.IntParam(AnnotationCPUMs, 250), message.IntParam(AnnotationThrottledMS, 750))
	oom.Duration = &dur
	oom.Response = message.ErrorTextResponse(message.StatusDeveloperError, message.TextMemoryExhausted)
	d.observe(oom)
	if cpu, mem := d.predict("guest/c"); cpu != 750 || mem != 256 {
		t.Errorf("killed and throttled: predict = %d, %d; want 750, 256", cpu, mem)
	}
}

func TestHealthActionDocument(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.ControllerID = "7" })
	doc, err := e.db.Get(t.Context(), "whisks", "whisk.system/invokerHealthTestAction7")
	if err != nil {
		t.Fatal(err)
	}
	a, err := action.Decode(doc.Body)
	if err != nil {
		t.Fatal(err)
	}
	if a.Exec.Kind != "nodejs:20" || a.Exec.Code.Text != healthTestCode || a.Limits.MemoryMB != 128 ||
		a.Limits.TimeoutMS != 60000 || a.Version != "0.0.1" || len(a.Annotations) != 0 {
		t.Errorf("health action %s", doc.Body)
	}
	// Init again (a restart) updates it in place.
	e.c.initDone = false
	if err := e.c.Init(t.Context()); err != nil {
		t.Fatal(err)
	}
	if doc2, _ := e.db.Get(t.Context(), "whisks", "whisk.system/invokerHealthTestAction7"); doc2.Rev == doc.Rev {
		t.Errorf("revision %s unchanged after a restart", doc2.Rev)
	}
	if e.c.healthUser.Namespace.Name != "whisk.system" || len(e.c.healthUser.Rights) != 0 ||
		!uuidRE.MatchString(e.c.healthUser.Namespace.UUID) {
		t.Errorf("health identity %+v", e.c.healthUser.Namespace)
	}
}
