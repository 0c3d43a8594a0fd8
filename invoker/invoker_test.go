package invoker_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/owinvoker/owinvoker/invoker/broker"
	"github.com/owinvoker/owinvoker/invoker/message"
)

const nodeHello = `function main(params) { console.log("hello from node"); console.error("to stderr"); return {payload: "Hello, " + (params.name || "World") + "!"}; }`
const pythonHello = "def main(args):\n    print('hello from python')\n    return {'payload': 'Hello, ' + args.get('name', 'World') + '!'}\n"

func annotation(rec message.ActivationRecord, key string) (json.RawMessage, bool) {
	return rec.Annotations.Get(key)
}

// Conformance checklist 4, 5, 6, 7, 8, 13, 18, 19: a blocking nodejs activation with logs gets
// a ResultMessage (without logs) and then a CompletionMessage, transid echoed, and a record.
func TestBlockingNodeHelloResultThenCompletion(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	rev := h.putAction("guest", "hello", "nodejs:20", nodeHello, nil)
	msg := h.activation("guest", "hello", rev, true, `{"name":"Kafka"}`)
	h.send(msg)
	acks, raw := h.acks.wait(t, msg.ActivationID)
	if kinds(acks) != "result,completion" {
		t.Fatalf("acks = %s (%v), want result,completion", kinds(acks), raw)
	}
	for _, a := range acks {
		if !a.Transaction().Equal(msg.TransID) {
			t.Errorf("ack transid %v, want %v", a.Transaction(), msg.TransID)
		}
	}
	res, _ := acks[0].Result()
	if res.Activation == nil || string(res.Activation.Response.Result) != `{"payload":"Hello, Kafka!"}` || len(res.Activation.Logs) != 0 {
		t.Fatalf("result ack = %s, want the result without logs", raw[0])
	}
	if inst, _ := acks[1].SlotFree(); inst.Instance != 0 || inst.UniqueName != h.unique || acks[1].SystemError() {
		t.Fatalf("completion = %s", raw[1])
	}
	for _, field := range []string{`"tags":[]`, `"dedicatedNamespaces":[]`, `"instanceType":"invoker"`, `"userMemory":"1073741824 B"`} {
		if !strings.Contains(raw[1], field) {
			t.Errorf("completion %s lacks %s", raw[1], field)
		}
	}
	rec := h.record(msg)
	if rec.Response.StatusCode != 0 || string(rec.Response.Result) != `{"payload":"Hello, Kafka!"}` {
		t.Fatalf("record response = %+v", rec.Response)
	}
	logs := strings.Join(rec.Logs, "\n")
	if !strings.Contains(logs, "stdout: hello from node") || !strings.Contains(logs, "stderr: to stderr") || strings.Contains(logs, "XXX_THE_END") {
		t.Errorf("record logs = %q, want both lines and no sentinel", rec.Logs)
	}
	for _, key := range []string{"limits", "path", "kind", "timeout", "waitTime", "initTime"} {
		if _, ok := annotation(rec, key); !ok {
			t.Errorf("record lacks annotation %s: %+v", key, rec.Annotations)
		}
	}
	if p, _ := rec.Annotations.GetString("path"); p != "guest/hello" {
		t.Errorf("path annotation = %q", p)
	}
}

// Conformance 9: a non-blocking activation gets only a CompletionMessage; python runs.
func TestNonBlockingPythonCompletionOnly(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	rev := h.putAction("guest", "pyhello", "python:3", pythonHello, nil)
	msg := h.activation("guest", "pyhello", rev, false, `{"name":"Python"}`)
	h.send(msg)
	acks, raw := h.acks.wait(t, msg.ActivationID)
	if kinds(acks) != "completion" {
		t.Fatalf("acks = %s (%v), want completion only", kinds(acks), raw)
	}
	rec := h.record(msg)
	if string(rec.Response.Result) != `{"payload":"Hello, Python!"}` || !strings.Contains(strings.Join(rec.Logs, "\n"), "hello from python") {
		t.Fatalf("record = %+v", rec)
	}
}

// Conformance 15: a missing action is status 1, acknowledged (Combined, shrunk for
// non-blocking) and stored.
func TestMissingActionIsAcknowledgedAndStored(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	blocking := h.activation("guest", "nothere", "", true, "")
	nonBlocking := h.activation("guest", "nothere", "", false, "")
	h.send(blocking)
	h.send(nonBlocking)
	acks, raw := h.acks.wait(t, blocking.ActivationID)
	if kinds(acks) != "combined" || !strings.Contains(raw[0], "Action could not be found or may have been deleted.") {
		t.Fatalf("blocking acks = %v", raw)
	}
	acks, raw = h.acks.wait(t, nonBlocking.ActivationID)
	if kinds(acks) != "combined" || !strings.Contains(raw[0], `"response":"`+string(nonBlocking.ActivationID)+`"`) {
		t.Fatalf("non-blocking acks = %v, want a shrunk combined ack", raw)
	}
	rec := h.record(blocking)
	if rec.Response.StatusCode != message.StatusApplicationError {
		t.Fatalf("record status = %d", rec.Response.StatusCode)
	}
	if k, _ := rec.Annotations.GetString("kind"); k != "unknown" {
		t.Errorf("fallback kind annotation = %q, want unknown", k)
	}
}

// Malformed messages are skipped without an ack, and the invoker goes on.
func TestMalformedMessagesSkipped(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	h.sendRaw([]byte(`{"not":"an activation"`))
	h.sendRaw([]byte(`{"transid":["x",1],"activationId":"abc"}`))
	h.sendRaw([]byte(`{"invocationNamespace":"guest","action":{"path":"guest","name":"a"},"revision":"1-a","whiskActionMetaData":{},"transid":["x",1],"creationId":"c","rootSchedulerIndex":{"asString":"0","instanceType":"scheduler"}}`))
	rev := h.putAction("guest", "hello", "nodejs:20", nodeHello, nil)
	msg := h.activation("guest", "hello", rev, true, "")
	h.send(msg)
	acks, _ := h.acks.wait(t, msg.ActivationID)
	if !slotFreed(acks) {
		t.Fatal("the activation after malformed messages was not completed")
	}
}

// Developer errors and application errors: a thrown error, a timeout, an init failure.
func TestErrorsAreClassified(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	cases := []struct {
		name, code string
		limits     map[string]any
		status     message.StatusCode
		text       string
		timeout    bool
	}{
		{"apperror", `function main() { return {error: "bad input"}; }`, nil, message.StatusApplicationError, "bad input", false},
		// TODO(runtimes): OpenWhisk's own nodejs runtime answers a synchronous throw with 502
		// "An error has occurred: Error: boom" (a developer error); our actionloop launcher
		// reports it as an application error, as OpenWhisk's actionloop runtimes do.
		{"thrown", `function main() { throw new Error("boom"); }`, nil, message.StatusApplicationError, "boom", false},
		{"syntax", `function main( {`, nil, message.StatusDeveloperError, "", false},
		{"rejected", `function main() { return Promise.reject({reason: "no"}); }`, nil, message.StatusApplicationError, "no", false},
		{"slow", `function main() { return new Promise(r => setTimeout(() => r({}), 20000)); }`,
			map[string]any{"timeout": 4000, "memory": 256, "logs": 10, "concurrency": 1}, message.StatusDeveloperError,
			"The action exceeded its time limits of 4000 milliseconds.", true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			extra := map[string]any{}
			if c.limits != nil {
				extra["limits"] = c.limits
			}
			rev := h.putAction("guest", c.name, "nodejs:20", c.code, extra)
			msg := h.activation("guest", c.name, rev, true, "")
			h.send(msg)
			acks, raw := h.acks.wait(t, msg.ActivationID)
			for _, a := range acks {
				if a.SystemError() {
					t.Errorf("ack %v says system error", raw)
				}
			}
			rec := h.record(msg)
			if rec.Response.StatusCode != c.status || !strings.Contains(string(rec.Response.Result), c.text) {
				t.Fatalf("record response = %d %s, want %d containing %q", rec.Response.StatusCode, rec.Response.Result, c.status, c.text)
			}
			if to, _ := rec.Annotations.GetBool("timeout"); to != c.timeout {
				t.Errorf("timeout annotation = %v, want %v", to, c.timeout)
			}
		})
	}
}

// At-least-once: a redelivered activation whose record exists is acknowledged again from the
// record, not run a second time.
func TestAtLeastOnceRedeliveryDoesNotRunTwice(t *testing.T) {
	h := newHarness(t, harnessOpts{delivery: broker.AtLeastOnce})
	rev := h.putAction("guest", "counter", "nodejs:20", `function main() { console.log("ran"); return {n: 1}; }`, nil)
	msg := h.activation("guest", "counter", rev, false, "")
	h.send(msg)
	h.acks.wait(t, msg.ActivationID)
	first := h.record(msg)
	h.send(msg) // the controller never does this, a restart after a crash does
	time_ := first.Start
	acks, raw := h.acks.wait(t, msg.ActivationID)
	if len(acks) < 2 {
		// wait returns once the first slot-free ack is there; give the redelivery time.
		for i := 0; i < 50 && len(acks) < 2; i++ {
			acks, raw = h.acks.wait(t, msg.ActivationID)
		}
	}
	if len(acks) != 2 || kinds(acks) != "completion,combined" {
		t.Fatalf("acks = %s %v, want the completion then a combined re-ack", kinds(acks), raw)
	}
	again := h.record(msg)
	if again.Start != time_ {
		t.Fatalf("record changed: start %d → %d (ran twice)", time_, again.Start)
	}
}
