package invoker_test

import (
	"archive/zip"
	"bytes"
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/owinvoker/owinvoker/invoker/broker"
	"github.com/owinvoker/owinvoker/invoker/message"
	"github.com/owinvoker/owinvoker/invoker/store"
)

// Conformance 3: no more than maxPeek activations are in the invoker at once.
func TestMaxPeekBoundsActivationsInFlight(t *testing.T) {
	h := newHarness(t, harnessOpts{userMemoryMB: 2048})
	h.cfg.MaxPeek = 2
	h.stop()
	h.start()
	var msgs []*message.ActivationMessage
	for i := range 4 {
		name := string(rune('a'+i)) + "slow"
		rev := h.putAction("guest", name, "nodejs:20", `function main() { return new Promise(r => setTimeout(() => r({}), 1500)); }`, nil)
		m := h.activation("guest", name, rev, false, "")
		msgs = append(msgs, m)
	}
	for _, m := range msgs {
		h.send(m)
	}
	peak := 0
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		peak = max(peak, h.inv.Health().InFlight())
		if _, err := h.store.Get(t.Context(), h.dbs.Activations, "guest/"+string(msgs[3].ActivationID)); err == nil {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if peak != 2 {
		t.Fatalf("peak activations in flight = %d, want maxPeek = 2", peak)
	}
}

// Conformance 10: an ack the broker refuses as too large is sent shrunk.
func TestTooLargeAckIsShrunk(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	// This test's completed0 accepts only small records.
	if err := broker.EnsureTopic(t.Context(), []string{h.kafka}, message.CompletedTopic(h.prefix, "1"),
		broker.TopicConfig{Configs: map[string]string{"max.message.bytes": "3000"}}); err != nil {
		t.Fatal(err)
	}
	acks := newAckReader(t, h.kafka, message.CompletedTopic(h.prefix, "1"))
	rev := h.putAction("guest", "big", "nodejs:20", `function main() { return {blob: "y".repeat(20000)}; }`, nil)
	msg := h.activation("guest", "big", rev, true, "")
	msg.RootControllerIndex = "1"
	h.send(msg)
	got, raw := acks.wait(t, msg.ActivationID)
	if kinds(got) != "result,completion" {
		t.Fatalf("acks = %s", kinds(got))
	}
	if res, _ := got[0].Result(); !res.Shrunk() || len(raw[0]) > 3000 {
		t.Fatalf("result ack of %d bytes not shrunk: %.200s", len(raw[0]), raw[0])
	}
	if rec := h.record(msg); !strings.Contains(string(rec.Response.Result), "yyyy") {
		t.Fatal("the record lost the result")
	}
}

// Conformance 13: a message naming a revision that is no longer current (and not cached)
// runs the latest document; a cached revision runs from the cache, as OpenWhisk does.
func TestStaleRevisionRunsLatestDocument(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	rev1 := h.putAction("guest", "ver", "nodejs:20", `function main() { return {v: 1}; }`, nil)
	h.putAction("guest", "ver", "nodejs:20", `function main() { return {v: 2}; }`, nil)
	rec := h.runAndRecord(h.activation("guest", "ver", rev1, true, ""))
	if string(rec.Response.Result) != `{"v":2}` {
		t.Fatalf("run with a stale revision = %s, want the latest document's {\"v\":2}", rec.Response.Result)
	}
}

// Conformance 14: code stored as a CouchDB attachment (couch:) is fetched, and binary code
// (a zip) is sent to /init as base64.
func TestAttachmentAndBinaryCode(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	var zbuf bytes.Buffer
	zw := zip.NewWriter(&zbuf)
	f, _ := zw.Create("package.json")
	_, _ = f.Write([]byte(`{"main": "lib.js"}`))
	f, _ = zw.Create("lib.js")
	_, _ = f.Write([]byte(`exports.main = function () { return {from: "zip"}; };`))
	_ = zw.Close()

	doc := map[string]any{
		"namespace": "guest", "name": "zipped", "entityType": "action",
		"exec": map[string]any{"kind": "nodejs:20", "binary": true,
			"code": map[string]any{"attachmentName": "couch:7f2d1c", "attachmentType": "application/octet-stream"}},
		"parameters": []any{}, "limits": map[string]any{"timeout": 60000, "memory": 256, "logs": 10, "concurrency": 1},
		"version": "0.0.1", "publish": false, "annotations": []any{}, "updated": time.Now().UnixMilli(),
	}
	body, _ := json.Marshal(doc)
	rev, err := h.store.Put(t.Context(), h.dbs.Whisks, "guest/zipped", "", body)
	if err != nil {
		t.Fatal(err)
	}
	rev, err = h.store.PutAttachment(t.Context(), h.dbs.Whisks, "guest/zipped", rev, "7f2d1c",
		store.Attachment{ContentType: "application/octet-stream", Data: zbuf.Bytes()})
	if err != nil {
		t.Fatal(err)
	}
	if rec := h.runAndRecord(h.activation("guest", "zipped", rev, true, "")); string(rec.Response.Result) != `{"from":"zip"}` {
		t.Fatalf("zipped action from a couch: attachment = %d %s", rec.Response.StatusCode, rec.Response.Result)
	}

	// The same zip inline as base64 text code (binary derived from the code).
	rev = h.putAction("guest", "inline", "nodejs:20", base64.StdEncoding.EncodeToString(zbuf.Bytes()), nil)
	if rec := h.runAndRecord(h.activation("guest", "inline", rev, true, "")); string(rec.Response.Result) != `{"from":"zip"}` {
		t.Fatalf("base64 zip action = %d %s", rec.Response.StatusCode, rec.Response.Result)
	}
}

// Conformance 16: a namespace in the subjects database's blockedNamespaces view is rejected
// with status 1 and a shrunk Combined ack, and no record is stored.
func TestBlacklistedNamespaceRejected(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	ddoc := map[string]any{"views": map[string]any{"blockedNamespaces": map[string]any{
		"map": `function (doc) { if (doc.blocked === true) { emit(doc.subject, 1); } }`}}}
	body, _ := json.Marshal(ddoc)
	if _, err := h.store.Put(t.Context(), h.dbs.Subjects, "_design/namespaceThrottlings", "", body); err != nil {
		t.Fatal(err)
	}
	subj, _ := json.Marshal(map[string]any{"subject": "blocked1", "blocked": true, "namespaces": []any{}})
	if _, err := h.store.Put(t.Context(), h.dbs.Subjects, "blocked1", "", subj); err != nil {
		t.Fatal(err)
	}
	h.cfg.BlacklistInterval = 200 * time.Millisecond
	h.stop()
	h.start()
	time.Sleep(2 * time.Second) // the poller reads the view
	rev := h.putAction("blocked1", "hello", "nodejs:20", nodeHello, nil)
	msg := h.activation("blocked1", "hello", rev, true, "")
	h.send(msg)
	acks, raw := h.acks.wait(t, msg.ActivationID)
	if kinds(acks) != "combined" || !strings.Contains(raw[0], `"response":"`+string(msg.ActivationID)+`"`) {
		t.Fatalf("acks = %v, want one shrunk combined ack", raw)
	}
	time.Sleep(500 * time.Millisecond)
	if _, err := h.store.Get(t.Context(), h.dbs.Activations, "blocked1/"+string(msg.ActivationID)); err == nil {
		t.Fatal("a blacklisted activation was stored")
	}
}

// Conformance 17: action containers are named wsk<unique><N>_<n>_<ns>_<action> and started
// with OpenWhisk's flags.
func TestContainerNameAndFlags(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	rev := h.putAction("guest", "flags", "nodejs:20", nodeHello, nil)
	h.runAndRecord(h.activation("guest", "flags", rev, true, ""))
	var id, name string
	for _, c := range h.containers() {
		if strings.HasSuffix(c.Name, "_guest_flags") {
			id, name = c.ID, c.Name
		}
	}
	if !strings.HasPrefix(name, "wsk"+h.unique+"0_") {
		t.Fatalf("container name %q, want wsk%s0_<n>_guest_flags", name, h.unique)
	}
	info, err := inspectRaw(id)
	if err != nil {
		t.Fatal(err)
	}
	hc := info.HostConfig
	checks := []struct {
		what string
		ok   bool
	}{
		{"memory 256m", hc.Memory == 256<<20},
		{"memory-swap = memory", hc.MemorySwap == hc.Memory},
		{"cpu-shares 256 (1024 MB / 256 MB)", hc.CPUShares == 256},
		{"cap-drop NET_RAW NET_ADMIN", strings.Contains(strings.Join(hc.CapDrop, ","), "NET_RAW") && strings.Contains(strings.Join(hc.CapDrop, ","), "NET_ADMIN")},
		{"pids-limit 1024", hc.PidsLimit != nil && *hc.PidsLimit == 1024},
		{"ulimit nofile 1024:1024", len(hc.Ulimits) == 1 && hc.Ulimits[0].Name == "nofile" && hc.Ulimits[0].Soft == 1024 && hc.Ulimits[0].Hard == 1024},
		{"log driver json-file", hc.LogConfig.Type == "json-file"},
		{"network bridge", string(hc.NetworkMode) == "bridge"},
		{"no-new-privileges", strings.Contains(strings.Join(hc.SecurityOpt, ","), "no-new-privileges")},
	}
	for _, c := range checks {
		if !c.ok {
			t.Errorf("container %s: want %s; host config %+v", name, c.what, hc)
		}
	}
}

// A stop drains the activations that have a container and leaves the ones still waiting for
// memory in Kafka (at-least-once): the next run executes them, nothing is lost or doubled.
func TestStopLeavesWaitingActivationsForRedelivery(t *testing.T) {
	h := newHarness(t, harnessOpts{userMemoryMB: 256, delivery: broker.AtLeastOnce})
	slowRev := h.putAction("guest", "hold", "nodejs:20", `function main() { return new Promise(r => setTimeout(() => r({held: true}), 3000)); }`, nil)
	otherRev := h.putAction("guest", "queued", "nodejs:20", `function main() { return {queued: true}; }`, nil)
	hold := h.activation("guest", "hold", slowRev, false, "")
	queued := h.activation("guest", "queued", otherRev, false, "")
	h.send(hold)
	waitFor(t, "the first activation to start", func() bool { return h.inv.Health().InFlight() == 1 && h.sb.Stats().Busy+h.sb.Stats().Starting == 1 })
	h.send(queued)
	waitFor(t, "the second activation to wait for memory", func() bool { return h.sb.Stats().Waiting == 1 })
	h.stop() // drains: the first finishes, the second is left unfinished
	if rec := h.record(hold); string(rec.Response.Result) != `{"held":true}` {
		t.Fatalf("drained activation = %s", rec.Response.Result)
	}
	if _, err := h.store.Get(t.Context(), h.dbs.Activations, "guest/"+string(queued.ActivationID)); err == nil {
		t.Fatal("the waiting activation ran during the drain")
	}
	h.start()
	if rec := h.record(queued); string(rec.Response.Result) != `{"queued":true}` {
		t.Fatalf("redelivered activation = %s", rec.Response.Result)
	}
}
