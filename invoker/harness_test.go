package invoker_test

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	dockertypes "github.com/docker/docker/api/types/container"
	dclient "github.com/docker/docker/client"
	"github.com/segmentio/kafka-go"
	"go.uber.org/zap/zaptest"

	"github.com/owinvoker/owinvoker/deploy/dev/testenv"
	"github.com/owinvoker/owinvoker/invoker"
	"github.com/owinvoker/owinvoker/invoker/broker"
	"github.com/owinvoker/owinvoker/invoker/message"
	"github.com/owinvoker/owinvoker/invoker/store"
	"github.com/owinvoker/owinvoker/sandbox"
	"github.com/owinvoker/owinvoker/sandbox/docker"
	"github.com/owinvoker/owinvoker/sandbox/manifest"
)

// harness plays the controller's part against a real invoker: it writes action documents,
// publishes ActivationMessages on invoker0 and reads acks from completed0 and records from
// the activations database.
type harness struct {
	t        testing.TB
	kafka    string
	prefix   string // topic prefix of this test
	unique   string // invoker uniqueName of this test (container names)
	dbs      testenv.Databases
	store    *store.Couch
	producer *broker.Producer
	acks     *ackReader
	inv      *invoker.Invoker
	sb       *sandbox.Sandbox
	docker   *docker.Client
	cancel   context.CancelFunc
	done     chan error
	cfg      invoker.Config
	sbCfg    sandbox.Config
}

type harnessOpts struct {
	delivery     broker.Delivery
	userMemoryMB int
	stemCells    bool
	pauseGrace   time.Duration
	unique       string // reuse a uniqueName (restart tests)
	prefix       string
	dbs          *testenv.Databases
	harvest      bool
}

// runtimeImages builds the runtime images once per machine (the script skips images that are
// up to date).
func runtimeImages(t testing.TB) {
	t.Helper()
	testenv.Docker(t)
	root, err := testenv.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(filepath.Join(root, "deploy", "runtimes", "build.sh")).CombinedOutput()
	if err != nil {
		t.Fatalf("build runtime images: %v\n%s", err, out)
	}
}

func testManifest(t testing.TB, stemCells bool) *manifest.Manifest {
	t.Helper()
	root, _ := testenv.RepoRoot()
	data, err := os.ReadFile(filepath.Join(root, "deploy", "runtimes.json"))
	if err != nil {
		t.Fatal(err)
	}
	if !stemCells {
		var doc map[string]any
		_ = json.Unmarshal(data, &doc)
		for _, family := range doc["runtimes"].(map[string]any) {
			for _, rt := range family.([]any) {
				delete(rt.(map[string]any), "stemCells")
			}
		}
		data, _ = json.Marshal(doc)
	}
	m, err := manifest.Parse(data)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func newHarness(t testing.TB, o harnessOpts) *harness {
	t.Helper()
	runtimeImages(t)
	h := &harness{t: t, kafka: testenv.Kafka(t)}
	if o.dbs != nil {
		h.dbs = *o.dbs
	} else {
		h.dbs = testenv.NewDatabases(t)
	}
	h.prefix = o.prefix
	if h.prefix == "" {
		h.prefix = testenv.UniqueName("t") + "_"
	}
	h.unique = o.unique
	if h.unique == "" {
		h.unique = testenv.UniqueName("u")
	}
	if o.userMemoryMB == 0 {
		o.userMemoryMB = 1024
	}
	if o.pauseGrace == 0 {
		o.pauseGrace = 10 * time.Second
	}
	log := zaptest.NewLogger(t)
	var err error
	h.store, err = store.NewCouch(store.CouchConfig{URL: h.dbs.URL}, log)
	if err != nil {
		t.Fatal(err)
	}
	h.producer, err = broker.NewProducer(broker.ProducerConfig{Brokers: []string{h.kafka}}, log)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.producer.Close() })
	h.acks = newAckReader(t, h.kafka, message.CompletedTopic(h.prefix, "0"))

	h.docker, err = docker.New(docker.Config{ExtraEnv: []string{"__OW_ALLOW_CONCURRENT=true"}}, log)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.docker.Close() })
	m := testManifest(t, o.stemCells)
	h.sbCfg = sandbox.Config{Prefix: "wsk" + h.unique + "0", UserMemoryMB: o.userMemoryMB, PauseGrace: o.pauseGrace, Manifest: m}
	var hv invoker.HarvestConfig
	if o.harvest {
		h.sbCfg.UserCPUs = 2
		hv = invoker.HarvestConfig{Enabled: true, UserCPUs: 2}
		hv.Harvest.Predict.MinSamples = 3
	}
	h.cfg = invoker.Config{
		Instance: message.InvokerInstanceID{Instance: 0, UniqueName: h.unique, UserMemory: message.ByteSize(o.userMemoryMB) * message.Megabyte},
		Brokers:  []string{h.kafka}, TopicPrefix: h.prefix, Delivery: o.delivery, MaxPeek: 8,
		WhisksDB: h.dbs.Whisks, ActivationsDB: h.dbs.Activations, SubjectsDB: h.dbs.Subjects, CouchURL: h.dbs.URL,
		PingInterval: 200 * time.Millisecond, DrainTimeout: 30 * time.Second, Harvest: hv,
	}
	h.start()
	return h
}

func (h *harness) start() {
	t := h.t
	log := zaptest.NewLogger(t)
	var err error
	h.sb, err = sandbox.New(h.sbCfg, h.docker, log, time.Now)
	if err != nil {
		t.Fatal(err)
	}
	if err := h.sb.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	h.inv, err = invoker.New(h.cfg, h.sbCfg.Manifest, h.store, h.sb, log, time.Now)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	h.cancel = cancel
	h.done = make(chan error, 1)
	go func() { h.done <- h.inv.Run(ctx) }()
	t.Cleanup(h.stop)
}

// stop drains the invoker and removes its containers.
func (h *harness) stop() {
	if h.cancel == nil {
		return
	}
	h.cancel()
	h.cancel = nil

	select {
	case err := <-h.done:
		if err != nil {
			h.t.Errorf("invoker Run: %v", err)
		}
	case <-time.After(60 * time.Second):
		h.t.Errorf("invoker did not stop")
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := h.sb.Close(ctx); err != nil {
		h.t.Errorf("sandbox close: %v", err)
	}
}

// putAction stores an action document as the controller writes it.
func (h *harness) putAction(ns, name, kind, code string, extra map[string]any) string {
	h.t.Helper()
	doc := map[string]any{
		"namespace": ns, "name": name, "entityType": "action",
		"exec":        map[string]any{"kind": kind, "code": code, "binary": false},
		"parameters":  []any{},
		"limits":      map[string]any{"timeout": 60000, "memory": 256, "logs": 10, "concurrency": 1},
		"version":     "0.0.1",
		"publish":     false,
		"annotations": []any{},
		"updated":     time.Now().UnixMilli(),
	}
	for k, v := range extra {
		doc[k] = v
	}
	body, _ := json.Marshal(doc)
	id := ns + "/" + name
	rev := ""
	if old, err := h.store.Get(h.t.Context(), h.dbs.Whisks, id); err == nil {
		rev = old.Rev
	}
	rev, err := h.store.Put(h.t.Context(), h.dbs.Whisks, id, rev, body)
	if err != nil {
		h.t.Fatalf("put action %s: %v", id, err)
	}
	return rev
}

// activation builds an ActivationMessage as the Scala controller writes it.
func (h *harness) activation(ns, name, rev string, blocking bool, content string) *message.ActivationMessage {
	msg := &message.ActivationMessage{
		TransID:  message.NewTransactionID(time.Now()),
		Action:   message.FQN{Path: ns, Name: name, Version: "0.0.1"},
		Revision: message.DocRevision(rev),
		User: message.Identity{
			Subject:   ns,
			Namespace: message.Namespace{Name: ns, UUID: "23bc46b1-71f6-4ed5-8c54-816aa4f8c502"},
			AuthKey:   map[string]json.RawMessage{"api_key": json.RawMessage(`"23bc46b1-71f6-4ed5-8c54-816aa4f8c502:123zO3xZCLrMN6v2BKK1dXYFpXlPkccOFqm12CdAsMgRU4VrNZ9lyGVCGuMDGIwP"`)},
			Rights:    []string{"READ", "PUT", "DELETE", "ACTIVATE"},
		},
		ActivationID:        message.NewActivationID(),
		RootControllerIndex: "0",
		Blocking:            blocking,
	}
	if content != "" {
		msg.Content = json.RawMessage(content)
	}
	return msg
}

func (h *harness) send(msg *message.ActivationMessage) {
	h.t.Helper()
	data, err := message.Marshal(msg)
	if err != nil {
		h.t.Fatal(err)
	}
	h.sendRaw(data)
}

func (h *harness) sendRaw(data []byte) {
	h.t.Helper()
	if err := h.producer.Send(h.t.Context(), message.InvokerTopic(h.prefix, 0), data); err != nil {
		h.t.Fatalf("publish activation: %v", err)
	}
}

// record waits for the activation record of msg.
func (h *harness) record(msg *message.ActivationMessage) message.ActivationRecord {
	h.t.Helper()
	id := msg.User.Namespace.Name + "/" + string(msg.ActivationID)
	deadline := time.Now().Add(90 * time.Second)
	for time.Now().Before(deadline) {
		doc, err := h.store.Get(h.t.Context(), h.dbs.Activations, id)
		if err == nil {
			var rec message.ActivationRecord
			if err := json.Unmarshal(doc.Body, &rec); err != nil {
				h.t.Fatalf("record %s: %v\n%s", id, err, doc.Body)
			}
			return rec
		}
		if !errors.Is(err, store.ErrNotFound) {
			h.t.Fatalf("record %s: %v", id, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	h.t.Fatalf("no activation record %s", id)
	return message.ActivationRecord{}
}

// ackReader collects every ack on a completed topic, by activation id, in arrival order.
type ackReader struct {
	mu   sync.Mutex
	byID map[message.ActivationID][]message.Ack
	raw  map[message.ActivationID][]string
	cond *sync.Cond
}

func newAckReader(t testing.TB, addr, topic string) *ackReader {
	if err := broker.EnsureTopic(t.Context(), []string{addr}, topic, broker.TopicConfig{}); err != nil {
		t.Fatal(err)
	}
	a := &ackReader{byID: map[message.ActivationID][]message.Ack{}, raw: map[message.ActivationID][]string{}}
	a.cond = sync.NewCond(&a.mu)
	// A partition reader, no group: nothing to commit, so it adds no latency of its own.
	r := kafka.NewReader(kafka.ReaderConfig{Brokers: []string{addr}, Topic: topic, Partition: 0, MaxWait: 50 * time.Millisecond})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			m, err := r.ReadMessage(ctx)
			if err != nil {
				return
			}
			ack, err := message.DecodeAck(m.Value)
			if err != nil {
				t.Errorf("undecodable ack %s: %v", m.Value, err)
				continue
			}
			a.mu.Lock()
			a.byID[ack.ID()] = append(a.byID[ack.ID()], ack)
			a.raw[ack.ID()] = append(a.raw[ack.ID()], string(m.Value))
			a.cond.Broadcast()
			a.mu.Unlock()
		}
	}()
	t.Cleanup(func() { cancel(); r.Close(); <-done })
	return a
}

// wait returns the acks of id once a slot-freeing one has arrived (plus a short grace for
// anything that should not come).
func (a *ackReader) wait(t testing.TB, id message.ActivationID) ([]message.Ack, []string) {
	t.Helper()
	a.waitFor(t, id, slotFreed)
	time.Sleep(300 * time.Millisecond)
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]message.Ack(nil), a.byID[id]...), append([]string(nil), a.raw[id]...)
}

// waitResult waits for a ResultMessage or Combined ack of id (the blocking client's answer).
func (a *ackReader) waitResult(t testing.TB, id message.ActivationID) {
	t.Helper()
	a.waitFor(t, id, func(acks []message.Ack) bool {
		for _, x := range acks {
			if _, ok := x.Result(); ok {
				return true
			}
		}
		return false
	})
}

// waitSlot waits for the slot-freeing ack of id.
func (a *ackReader) waitSlot(t testing.TB, id message.ActivationID) {
	t.Helper()
	a.waitFor(t, id, slotFreed)
}

func (a *ackReader) waitFor(t testing.TB, id message.ActivationID, done func([]message.Ack) bool) {
	t.Helper()
	deadline := time.Now().Add(90 * time.Second)
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		for {
			select {
			case <-stop:
				return
			case <-time.After(100 * time.Millisecond):
				a.cond.Broadcast()
			}
		}
	}()
	a.mu.Lock()
	defer a.mu.Unlock()
	for !done(a.byID[id]) {
		if time.Now().After(deadline) {
			t.Fatalf("no expected ack for %s", id)
		}
		a.cond.Wait()
	}
}

func slotFreed(acks []message.Ack) bool {
	for _, a := range acks {
		if _, ok := a.SlotFree(); ok {
			return true
		}
	}
	return false
}

func kinds(acks []message.Ack) string {
	var s []string
	for _, a := range acks {
		s = append(s, a.Kind().String())
	}
	return strings.Join(s, ",")
}

func newTopicReader(addr, topic string) *kafka.Reader {
	return kafka.NewReader(kafka.ReaderConfig{Brokers: []string{addr}, Topic: topic, GroupID: topic + "-" + testenv.UniqueName("r"),
		StartOffset: kafka.FirstOffset, MaxWait: 100 * time.Millisecond})
}

// benchT lets a benchmark use the harness.
func benchT(b *testing.B) testing.TB { return b }

func inspectRaw(id string) (dockertypes.InspectResponse, error) {
	cli, err := dclient.NewClientWithOpts(dclient.FromEnv, dclient.WithAPIVersionNegotiation())
	if err != nil {
		return dockertypes.InspectResponse{}, err
	}
	defer cli.Close()
	return cli.ContainerInspect(context.Background(), id)
}
