package invoker_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/owinvoker/owinvoker/invoker/action"
	"github.com/owinvoker/owinvoker/invoker/broker"
	"github.com/owinvoker/owinvoker/invoker/message"
	"github.com/owinvoker/owinvoker/sandbox"
	"github.com/owinvoker/owinvoker/sandbox/docker"
)

func (h *harness) runAndRecord(msg *message.ActivationMessage) message.ActivationRecord {
	h.t.Helper()
	h.send(msg)
	h.acks.wait(h.t, msg.ActivationID)
	return h.record(msg)
}

func (h *harness) containers() []docker.Listed {
	h.t.Helper()
	l, err := h.docker.List(h.t.Context(), sandbox.LabelInvoker, h.sbCfg.Prefix)
	if err != nil {
		h.t.Fatal(err)
	}
	return l
}

func hasAnnotation(rec message.ActivationRecord, key string) bool {
	_, ok := rec.Annotations.Get(key)
	return ok
}

// Warm reuse: the second activation of the same action runs in the same container, without
// /init (no initTime annotation), and a pause after the grace is undone on reuse.
func TestWarmReuseAndPauseUnpause(t *testing.T) {
	h := newHarness(t, harnessOpts{pauseGrace: 300 * time.Millisecond})
	rev := h.putAction("guest", "warm", "nodejs:20", `let n = 0; function main() { n++; return {n}; }`, nil)
	first := h.runAndRecord(h.activation("guest", "warm", rev, true, ""))
	if !hasAnnotation(first, "initTime") || string(first.Response.Result) != `{"n":1}` {
		t.Fatalf("first run: %s, annotations %+v", first.Response.Result, first.Annotations)
	}
	second := h.runAndRecord(h.activation("guest", "warm", rev, true, ""))
	if hasAnnotation(second, "initTime") || string(second.Response.Result) != `{"n":2}` {
		t.Fatalf("second run was not warm: %s, annotations %+v", second.Response.Result, second.Annotations)
	}
	// Wait for the pause.
	var paused bool
	for i := 0; i < 100 && !paused; i++ {
		for _, c := range h.containers() {
			paused = paused || c.State == "paused"
		}
		time.Sleep(50 * time.Millisecond)
	}
	if !paused {
		t.Fatal("idle container was not paused after the pause grace")
	}
	third := h.runAndRecord(h.activation("guest", "warm", rev, true, ""))
	if string(third.Response.Result) != `{"n":3}` {
		t.Fatalf("run after pause = %s, want the same (resumed) container", third.Response.Result)
	}
	// Another namespace never shares the container.
	other := h.runAndRecord(h.activation("other", "warm", rev, true, ""))
	if string(other.Response.Result) != `{"n":1}` && other.Response.StatusCode != message.StatusApplicationError {
		t.Fatalf("another namespace reused the container: %s", other.Response.Result)
	}
}

// Stem cells: a nodejs:20 256 MB activation takes a prewarmed container (initTime present,
// no cold start), and the stem cell is replaced.
func TestStemCellUse(t *testing.T) {
	h := newHarness(t, harnessOpts{stemCells: true})
	waitFor(t, "stem cells", func() bool { return h.sb.Stats().StemCells >= 2 })
	rev := h.putAction("guest", "stem", "nodejs:20", nodeHello, nil)
	rec := h.runAndRecord(h.activation("guest", "stem", rev, true, ""))
	if rec.Response.StatusCode != 0 || !hasAnnotation(rec, "initTime") {
		t.Fatalf("record = %+v", rec)
	}
	names := ""
	for _, c := range h.containers() {
		names += c.Name + " "
	}
	if !strings.Contains(names, "_prewarm_nodejs20") {
		t.Fatalf("containers %s: want stem cells named <prefix>_<n>_prewarm_nodejs20", names)
	}
	waitFor(t, "stem cell refill", func() bool { return h.sb.Stats().StemCells >= 2 })
}

// Concurrency > 1: several activations share one container at once.
func TestConcurrencyShareOneContainer(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	code := `let active = 0, peak = 0;
async function main() { active++; peak = Math.max(peak, active); await new Promise(r => setTimeout(r, 1500)); active--; return {peak}; }`
	rev := h.putAction("guest", "conc", "nodejs:20", code, map[string]any{
		"limits": map[string]any{"timeout": 60000, "memory": 256, "logs": 10, "concurrency": 4}})
	h.cfg.Bounds = action.DefaultBounds()
	h.cfg.Bounds.Concurrency.Max = 4 // the system allows it, as whisk.concurrency-limit.max would
	h.stop()
	h.start()
	var msgs []*message.ActivationMessage
	for range 4 {
		m := h.activation("guest", "conc", rev, false, "")
		msgs = append(msgs, m)
		h.send(m)
	}
	peak := 0
	for _, m := range msgs {
		rec := h.record(m)
		var r struct{ Peak int }
		_ = json.Unmarshal(rec.Response.Result, &r)
		if rec.Response.StatusCode != 0 {
			t.Errorf("activation failed: %d %s", rec.Response.StatusCode, rec.Response.Result)
		}
		peak = max(peak, r.Peak)
	}
	if peak < 2 {
		t.Fatalf("peak concurrency inside the container = %d, want ≥ 2", peak)
	}
	n := 0
	for _, c := range h.containers() {
		if strings.HasSuffix(c.Name, "_guest_conc") {
			n++
		}
	}
	if n != 1 {
		t.Fatalf("%d containers for the concurrent action, want 1", n)
	}
}

// OOM: an action that exceeds its memory is a developer error naming the memory, and its
// container is removed.
func TestOOMIsDeveloperError(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	code := `function main() { const a = []; for (;;) { a.push(Buffer.alloc(16 << 20, 1)); } }`
	rev := h.putAction("guest", "hog", "nodejs:20", code, map[string]any{
		"limits": map[string]any{"timeout": 30000, "memory": 128, "logs": 10, "concurrency": 1}})
	rec := h.runAndRecord(h.activation("guest", "hog", rev, true, ""))
	if rec.Response.StatusCode != message.StatusDeveloperError || !strings.Contains(string(rec.Response.Result), "exhausted its memory") {
		t.Fatalf("record response = %d %s, want a developer error about memory", rec.Response.StatusCode, rec.Response.Result)
	}
	waitFor(t, "OOM container removal", func() bool {
		for _, c := range h.containers() {
			if strings.HasSuffix(c.Name, "_guest_hog") {
				return false
			}
		}
		return true
	})
}

// Large logs are truncated with OpenWhisk's message.
func TestLargeLogTruncated(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	code := `function main() { const line = "x".repeat(1000); for (let i = 0; i < 3000; i++) console.log(line); return {}; }`
	rev := h.putAction("guest", "chatty", "nodejs:20", code, map[string]any{
		"limits": map[string]any{"timeout": 60000, "memory": 256, "logs": 1, "concurrency": 1}})
	rec := h.runAndRecord(h.activation("guest", "chatty", rev, false, ""))
	if len(rec.Logs) == 0 || !strings.Contains(rec.Logs[len(rec.Logs)-1], "Logs were truncated because the total bytes size exceeds the limit of 1048576 bytes.") {
		last := ""
		if len(rec.Logs) > 0 {
			last = rec.Logs[len(rec.Logs)-1]
		}
		t.Fatalf("%d log lines, last %q: want the truncation message", len(rec.Logs), last)
	}
	if len(rec.Logs) > 1100 {
		t.Fatalf("%d log lines kept for a 1 MB limit", len(rec.Logs))
	}
	// The next activation's logs start clean.
	rev = h.putAction("guest", "chatty", "nodejs:20", `function main() { console.log("quiet"); return {}; }`, map[string]any{
		"limits": map[string]any{"timeout": 60000, "memory": 256, "logs": 1, "concurrency": 1}})
	rec = h.runAndRecord(h.activation("guest", "chatty", rev, false, ""))
	if len(rec.Logs) != 1 || !strings.Contains(rec.Logs[0], "quiet") {
		t.Fatalf("logs of the next activation = %q", rec.Logs)
	}
}

// Conformance 12: the controller's health test action, revision null, synthetic identity,
// acknowledged with the transid unchanged and isSystemError false.
func TestHealthTestActionFlow(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	doc := map[string]any{"_id": "whisk.system/invokerHealthTestAction0", "namespace": "whisk.system", "name": "invokerHealthTestAction0",
		"entityType": "action", "exec": map[string]any{"kind": "nodejs:20", "code": "function main(params) { return params; }", "binary": false},
		"parameters": []any{}, "limits": map[string]any{"timeout": 60000, "memory": 128, "logs": 10, "concurrency": 1},
		"version": "0.0.1", "publish": false, "annotations": []any{}, "updated": time.Now().UnixMilli()}
	body, _ := json.Marshal(doc)
	if _, err := h.store.Put(t.Context(), h.dbs.Whisks, "whisk.system/invokerHealthTestAction0", "", body); err != nil {
		t.Fatal(err)
	}
	raw := fmt.Sprintf(`{"transid":["sid_invokerHealth",1716999000000],"action":{"path":"whisk.system","name":"invokerHealthTestAction0","version":"0.0.1"},"revision":null,"user":{"subject":"whisk.system","namespace":{"name":"whisk.system","uuid":"0a4f9c2e-6b1d-4e8a-9f3c-2d7e5b1a8c90"},"authkey":{"api_key":"0a4f9c2e-6b1d-4e8a-9f3c-2d7e5b1a8c90:Yx3kq"},"rights":[],"limits":{}},"activationId":"%s","rootControllerIndex":{"asString":"0","instanceType":"controller"},"blocking":false,"initArgs":[],"lockedArgs":{}}`,
		message.NewActivationID())
	msg, err := message.DecodeActivationMessage([]byte(raw))
	if err != nil {
		t.Fatal(err)
	}
	h.sendRaw([]byte(raw))
	acks, rawAcks := h.acks.wait(t, msg.ActivationID)
	ack := acks[len(acks)-1]
	if ack.SystemError() || !strings.Contains(rawAcks[len(rawAcks)-1], `"transid":["sid_invokerHealth",1716999000000]`) {
		t.Fatalf("health ack = %s, want the transid unchanged and no system error", rawAcks[len(rawAcks)-1])
	}
}

// Drain: /disable stops pinging (a final isEnabled=false ping) and new work stays in Kafka;
// /enable resumes and the waiting activation runs.
func TestDisableDrainsAndEnableResumes(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	pings := newPingReader(t, h.kafka, message.HealthTopic(h.prefix))
	pings.waitFor(t, func(p *message.PingMessage) bool { return p.Enabled && p.Name.UniqueName == h.unique })
	reply := h.inv.Disable(t.Context())
	if !strings.HasSuffix(reply, "is now disabled.") {
		t.Fatalf("Disable = %q", reply)
	}
	pings.waitFor(t, func(p *message.PingMessage) bool { return !p.Enabled && p.Name.UniqueName == h.unique })
	waitFor(t, "drained", func() bool { return h.inv.Health().State().String() == "drained" })
	rev := h.putAction("guest", "later", "nodejs:20", nodeHello, nil)
	msg := h.activation("guest", "later", rev, false, "")
	time.Sleep(time.Second)
	h.send(msg)
	time.Sleep(2 * time.Second)
	if _, err := h.store.Get(t.Context(), h.dbs.Activations, "guest/"+string(msg.ActivationID)); err == nil {
		t.Fatal("a disabled invoker ran an activation")
	}
	h.inv.Enable()
	h.acks.wait(t, msg.ActivationID)
}

// A restarted invoker removes the containers its previous run left behind.
func TestRestartRemovesStaleContainers(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	rev := h.putAction("guest", "stale", "nodejs:20", nodeHello, nil)
	h.runAndRecord(h.activation("guest", "stale", rev, true, ""))
	var staleID string
	for _, c := range h.containers() {
		if strings.HasSuffix(c.Name, "_guest_stale") {
			staleID = c.ID
		}
	}
	if staleID == "" {
		t.Fatal("no warm container")
	}
	// Simulate a crash: forget the sandbox without closing it, then start a new one.
	h.cancel()
	<-h.done
	h.cancel = nil
	h.start()
	for _, c := range h.containers() {
		if c.ID == staleID {
			t.Fatalf("stale container %s survived the restart", c.Name)
		}
	}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		if cond() {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("timed out waiting for %s", what)
}

type pingReader struct {
	mu    sync.Mutex
	pings []*message.PingMessage
}

func newPingReader(t *testing.T, addr, topic string) *pingReader {
	p := &pingReader{}
	if err := broker.EnsureTopic(t.Context(), []string{addr}, topic, broker.TopicConfig{}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := newTopicReader(addr, topic)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			m, err := r.ReadMessage(ctx)
			if err != nil {
				return
			}
			ping, err := message.DecodePing(m.Value)
			if err != nil {
				t.Errorf("bad ping %s: %v", m.Value, err)
				continue
			}
			p.mu.Lock()
			p.pings = append(p.pings, ping)
			p.mu.Unlock()
		}
	}()
	t.Cleanup(func() { cancel(); r.Close(); <-done })
	return p
}

func (p *pingReader) waitFor(t *testing.T, match func(*message.PingMessage) bool) {
	t.Helper()
	waitFor(t, "ping", func() bool {
		p.mu.Lock()
		defer p.mu.Unlock()
		for _, x := range p.pings {
			if match(x) {
				return true
			}
		}
		return false
	})
}
