package reliability

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/client"
	"github.com/segmentio/kafka-go"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"

	"github.com/owinvoker/owinvoker/deploy/dev/testenv"
	"github.com/owinvoker/owinvoker/invoker/broker"
	"github.com/owinvoker/owinvoker/invoker/message"
	"github.com/owinvoker/owinvoker/invoker/store"
	"github.com/owinvoker/owinvoker/sandbox"
)

// SystemConfig chooses the services a System uses.
type SystemConfig struct {
	// Kafka is the bootstrap address; empty means the shared broker (testenv.Kafka).
	Kafka string
	// CouchURL is a CouchDB-API server; empty means the shared one. The databases get a
	// fresh prefix either way and are deleted when the test ends.
	CouchURL string
	// StemCells keeps the manifest's prewarmed containers (off by default: fewer
	// containers, and every start is a cold start the test controls).
	StemCells bool
	// DockerHost is a Docker engine other than the machine's (a PrivateEngine); the
	// System's client and every invoker it starts use it.
	DockerHost string
}

// System is one test's view of an OpenWhisk deployment around invokers it starts: it
// plays the controller's part (action documents, activation messages, acks) and reads
// the activation records.
type System struct {
	TB       testing.TB
	Bins     Binaries
	Kafka    string
	DBs      testenv.Databases
	Store    *store.Couch
	Prefix   string // Kafka topic prefix of this test
	Acks     *AckLog
	Sink     *Sink
	Docker   *client.Client
	Manifest string // RUNTIMES_MANIFEST
	Log      *zap.Logger
	// DockerHost is SystemConfig.DockerHost.
	DockerHost string

	producer *broker.Producer
}

// NewSystem sets up the services of one test: databases under a fresh prefix, a topic
// prefix, a producer, the ack log of completed0 and a sink.
func NewSystem(tb testing.TB, bins Binaries, cfg SystemConfig) *System {
	tb.Helper()
	testenv.Docker(tb)
	s := &System{TB: tb, Bins: bins, Kafka: cfg.Kafka, Prefix: testenv.UniqueName("rel") + "_", Log: zaptest.NewLogger(tb, zaptest.Level(zap.WarnLevel)),
		DockerHost: cfg.DockerHost}
	if s.Kafka == "" {
		s.Kafka = testenv.Kafka(tb)
	}
	if cfg.CouchURL == "" {
		s.DBs = testenv.NewDatabases(tb)
	} else {
		s.DBs = newDatabases(tb, cfg.CouchURL)
	}
	var err error
	if s.Store, err = store.NewCouch(store.CouchConfig{URL: s.DBs.URL, Attempts: 2, Timeout: 10 * time.Second}, s.Log); err != nil {
		tb.Fatal(err)
	}
	if s.producer, err = broker.NewProducer(broker.ProducerConfig{Brokers: []string{s.Kafka}, MaxBytes: 16 << 20}, s.Log); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { s.producer.Close() })
	opts := []client.Opt{client.FromEnv, client.WithAPIVersionNegotiation()}
	if cfg.DockerHost != "" {
		opts = append(opts, client.WithHost(cfg.DockerHost))
	}
	if s.Docker, err = client.NewClientWithOpts(opts...); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { s.Docker.Close() })
	s.Manifest = manifestJSON(tb, cfg.StemCells)
	s.Acks = NewAckLog(tb, s.Kafka, message.CompletedTopic(s.Prefix, "0"))
	s.Sink = NewSink(tb)
	return s
}

func newDatabases(tb testing.TB, url string) testenv.Databases {
	tb.Helper()
	prefix := testenv.UniqueName("p") + "_"
	dbs := testenv.Databases{URL: url, Prefix: prefix, Whisks: prefix + "whisks", Activations: prefix + "activations", Subjects: prefix + "subjects"}
	c, err := store.NewCouch(store.CouchConfig{URL: url}, zap.NewNop())
	if err != nil {
		tb.Fatal(err)
	}
	for _, db := range []string{dbs.Whisks, dbs.Activations, dbs.Subjects} {
		if err := c.EnsureDB(context.Background(), db); err != nil {
			tb.Fatalf("create %s: %v", db, err)
		}
	}
	return dbs
}

// manifestJSON is deploy/runtimes.json, without stem cells unless asked for.
func manifestJSON(tb testing.TB, stemCells bool) string {
	tb.Helper()
	root, err := testenv.RepoRoot()
	if err != nil {
		tb.Fatal(err)
	}
	data, err := os.ReadFile(filepath.Join(root, "deploy", "runtimes.json"))
	if err != nil {
		tb.Fatal(err)
	}
	if stemCells {
		return string(data)
	}
	var doc map[string]any
	if err := json.Unmarshal(data, &doc); err != nil {
		tb.Fatal(err)
	}
	for _, family := range doc["runtimes"].(map[string]any) {
		for _, rt := range family.([]any) {
			delete(rt.(map[string]any), "stemCells")
		}
	}
	out, _ := json.Marshal(doc)
	return string(out)
}

// FreePort returns a TCP port on 127.0.0.1 that nothing listens on now.
func FreePort(tb testing.TB) int {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// InvokerConfig is one owinvoker process.
type InvokerConfig struct {
	ID       int
	Unique   string // uniqueName; empty means a fresh one
	Delivery string // at-most-once (default) or at-least-once
	// Env is added last (CONFIG_whisk_… overrides).
	Env []string
	// AdminUser and AdminPassword protect the admin API (defaults "invoker.user", "invoker.pass").
	AdminUser, AdminPassword string
}

// Invoker is a running owinvoker process.
type Invoker struct {
	*Process
	Cfg   InvokerConfig
	Admin string // http://127.0.0.1:<PORT>
	sys   *System
}

// ContainerPrefix is the invoker's container name prefix and label value.
func (inv *Invoker) ContainerPrefix() string {
	return "wsk" + inv.Cfg.Unique + strconv.Itoa(inv.Cfg.ID)
}

// StartInvoker starts owinvoker with OpenWhisk's environment for this system. When the test
// ends the process is stopped and any container it left is removed.
func (s *System) StartInvoker(cfg InvokerConfig) *Invoker {
	tb := s.TB
	tb.Helper()
	if cfg.Unique == "" {
		cfg.Unique = testenv.UniqueName("r")
	}
	if cfg.Delivery == "" {
		cfg.Delivery = "at-most-once"
	}
	if cfg.AdminUser == "" {
		cfg.AdminUser, cfg.AdminPassword = "invoker.user", "invoker.pass"
	}
	host, port, err := splitURL(s.DBs.URL)
	if err != nil {
		tb.Fatal(err)
	}
	admin := FreePort(tb)
	env := []string{
		"KAFKA_HOSTS=" + s.Kafka,
		"CONFIG_whisk_kafka_topics_prefix=" + s.Prefix,
		"CONFIG_whisk_couchdb_protocol=http", "CONFIG_whisk_couchdb_host=" + host, "CONFIG_whisk_couchdb_port=" + port,
		"CONFIG_whisk_couchdb_username=", "CONFIG_whisk_couchdb_password=",
		"CONFIG_whisk_couchdb_databases_WhiskEntity=" + s.DBs.Whisks,
		"CONFIG_whisk_couchdb_databases_WhiskActivation=" + s.DBs.Activations,
		"CONFIG_whisk_couchdb_databases_WhiskAuth=" + s.DBs.Subjects,
		"RUNTIMES_MANIFEST=" + s.Manifest,
		"WHISK_API_HOST_PROTO=http", "WHISK_API_HOST_NAME=127.0.0.1", "WHISK_API_HOST_PORT=1",
		"PORT=" + strconv.Itoa(admin),
		"CONFIG_whisk_invoker_delivery=" + cfg.Delivery,
		"CONFIG_whisk_invoker_username=" + cfg.AdminUser, "CONFIG_whisk_invoker_password=" + cfg.AdminPassword,
		"CONFIG_logback_log_level=DEBUG",
	}
	if s.DockerHost != "" {
		env = append(env, "DOCKER_HOST="+s.DockerHost)
	}
	env = append(env, cfg.Env...)
	inv := &Invoker{Cfg: cfg, Admin: "http://127.0.0.1:" + strconv.Itoa(admin), sys: s}
	// Registered before the process, so it runs after the process has stopped.
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		for _, c := range s.containers(ctx, inv.ContainerPrefix()) {
			_ = s.Docker.ContainerRemove(ctx, c.ID, container.RemoveOptions{Force: true})
		}
	})
	args := []string{"--id", strconv.Itoa(cfg.ID), "--uniqueName", cfg.Unique}
	inv.Process = StartProcess(tb, fmt.Sprintf("owinvoker%d-%s", cfg.ID, cfg.Unique), s.Bins.Invoker, args, env)
	inv.WaitReady(time.Minute)
	return inv
}

// WaitReady waits until the invoker's admin API answers (after a start or restart).
func (inv *Invoker) WaitReady(timeout time.Duration) {
	tb := inv.sys.TB
	tb.Helper()
	c := &http.Client{Timeout: 2 * time.Second}
	deadline := time.Now().Add(timeout)
	for {
		resp, err := c.Get(inv.Admin + "/ping")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		if !inv.Running() {
			tb.Fatalf("%s exited while starting:\n%s", inv.Name, tail(inv.Logs(), 40))
		}
		if time.Now().After(deadline) {
			tb.Fatalf("%s admin API did not answer in %v: %v", inv.Name, timeout, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// Restart starts the invoker again after a Kill or Stop, with the same id and uniqueName.
func (inv *Invoker) Restart() {
	inv.sys.TB.Helper()
	inv.Start()
	inv.WaitReady(time.Minute)
}

// Metric returns the value of one Prometheus series of the invoker's /metrics (the sum
// over its label values when series is a bare name), 0 if absent.
func (inv *Invoker) Metric(series string) float64 {
	tb := inv.sys.TB
	tb.Helper()
	resp, err := http.Get(inv.Admin + "/metrics")
	if err != nil {
		tb.Fatalf("metrics: %v", err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	sum := 0.0
	for _, line := range strings.Split(string(body), "\n") {
		if strings.HasPrefix(line, "#") {
			continue
		}
		name, value, ok := strings.Cut(line, " ")
		if !ok {
			continue
		}
		if name == series || (!strings.Contains(series, "{") && strings.HasPrefix(name, series+"{")) {
			v, _ := strconv.ParseFloat(strings.TrimSpace(value), 64)
			sum += v
		}
	}
	return sum
}

// Containers lists the invoker's containers (running or not), by its label.
func (inv *Invoker) Containers() []Listed {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return inv.sys.containers(ctx, inv.ContainerPrefix())
}

// Listed is a container found by label.
type Listed struct {
	ID, Name, State string
}

func (s *System) containers(ctx context.Context, prefix string) []Listed {
	f := filters.NewArgs(filters.Arg("label", sandbox.LabelInvoker+"="+prefix))
	cs, err := s.Docker.ContainerList(ctx, container.ListOptions{All: true, Filters: f})
	if err != nil {
		s.TB.Errorf("list containers of %s: %v", prefix, err)
		return nil
	}
	out := make([]Listed, 0, len(cs))
	for _, c := range cs {
		name := ""
		if len(c.Names) > 0 {
			name = strings.TrimPrefix(c.Names[0], "/")
		}
		out = append(out, Listed{ID: c.ID, Name: name, State: c.State})
	}
	return out
}

func splitURL(u string) (host, port string, err error) {
	hp := strings.TrimPrefix(strings.TrimPrefix(u, "http://"), "https://")
	hp = strings.TrimRight(hp, "/")
	host, port, err = net.SplitHostPort(hp)
	if err != nil {
		return "", "", fmt.Errorf("couchdb url %q: %w", u, err)
	}
	return host, port, nil
}

// Action is an action document as the controller writes it.
type Action struct {
	Namespace, Name, Kind, Code string
	TimeoutMS, MemoryMB, LogsMB int // zero: 60000, 128, 10
	Concurrency                 int // zero: 1
	Parameters                  []map[string]any
	Annotations                 []map[string]any
	// Raw, when set, replaces the limits member as is (bad-input tests).
	RawLimits json.RawMessage
}

// PutAction writes an action document and returns its revision.
func (s *System) PutAction(a Action) string {
	tb := s.TB
	tb.Helper()
	if a.Namespace == "" {
		a.Namespace = "guest"
	}
	if a.TimeoutMS == 0 {
		a.TimeoutMS = 60000
	}
	if a.MemoryMB == 0 {
		a.MemoryMB = 128
	}
	if a.LogsMB == 0 {
		a.LogsMB = 10
	}
	if a.Concurrency == 0 {
		a.Concurrency = 1
	}
	limits := json.RawMessage(fmt.Sprintf(`{"timeout":%d,"memory":%d,"logs":%d,"concurrency":%d}`, a.TimeoutMS, a.MemoryMB, a.LogsMB, a.Concurrency))
	if a.RawLimits != nil {
		limits = a.RawLimits
	}
	params, anns := a.Parameters, a.Annotations
	if params == nil {
		params = []map[string]any{}
	}
	if anns == nil {
		anns = []map[string]any{}
	}
	doc := map[string]any{
		"namespace": a.Namespace, "name": a.Name, "entityType": "action",
		"exec":   map[string]any{"kind": a.Kind, "code": a.Code, "binary": false},
		"limits": limits, "parameters": params, "annotations": anns,
		"version": "0.0.1", "publish": false, "updated": time.Now().UnixMilli(),
	}
	body, _ := json.Marshal(doc)
	id := a.Namespace + "/" + a.Name
	rev := ""
	ctx := context.Background()
	if old, err := s.Store.Get(ctx, s.DBs.Whisks, id); err == nil {
		rev = old.Rev
	}
	rev, err := s.Store.Put(ctx, s.DBs.Whisks, id, rev, body)
	if err != nil {
		tb.Fatalf("put action %s: %v", id, err)
	}
	return rev
}

// GuestAuthKey is OpenWhisk's guest key, the identity test activations run under.
const GuestAuthKey = "23bc46b1-71f6-4ed5-8c54-816aa4f8c502:123zO3xZCLrMN6v2BKK1dXYFpXlPkccOFqm12CdAsMgRU4VrNZ9lyGVCGuMDGIwP"

// Activation builds an ActivationMessage for an action, as the Scala controller writes it.
func (s *System) Activation(ns, name, rev string, blocking bool, content any) *message.ActivationMessage {
	uuid, key, _ := strings.Cut(GuestAuthKey, ":")
	msg := &message.ActivationMessage{
		TransID:  message.NewTransactionID(time.Now()),
		Action:   message.FQN{Path: ns, Name: name, Version: "0.0.1"},
		Revision: message.DocRevision(rev),
		User: message.Identity{
			Subject:   ns,
			Namespace: message.Namespace{Name: ns, UUID: uuid},
			AuthKey:   map[string]json.RawMessage{"api_key": json.RawMessage(strconv.Quote(uuid + ":" + key))},
			Rights:    []string{"READ", "PUT", "DELETE", "ACTIVATE"},
		},
		ActivationID:        message.NewActivationID(),
		RootControllerIndex: "0",
		Blocking:            blocking,
	}
	if content != nil {
		b, err := json.Marshal(content)
		if err != nil {
			s.TB.Fatal(err)
		}
		msg.Content = b
	}
	return msg
}

// Send publishes an activation message on invoker<id>.
func (s *System) Send(invoker int, msg *message.ActivationMessage) {
	s.TB.Helper()
	data, err := message.Marshal(msg)
	if err != nil {
		s.TB.Fatal(err)
	}
	s.SendRaw(invoker, data)
}

// SendRaw publishes any bytes on invoker<id>.
func (s *System) SendRaw(invoker int, data []byte) {
	s.TB.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := s.producer.Send(ctx, message.InvokerTopic(s.Prefix, invoker), data); err != nil {
		s.TB.Fatalf("publish on invoker%d: %v", invoker, err)
	}
}

// Record returns the activation record of id, or false when there is none.
func (s *System) Record(ns string, id message.ActivationID) (message.ActivationRecord, bool) {
	s.TB.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	doc, err := s.Store.Get(ctx, s.DBs.Activations, ns+"/"+string(id))
	if errors.Is(err, store.ErrNotFound) {
		return message.ActivationRecord{}, false
	}
	if err != nil {
		s.TB.Fatalf("read record %s: %v", id, err)
	}
	var rec message.ActivationRecord
	if err := json.Unmarshal(doc.Body, &rec); err != nil {
		s.TB.Fatalf("record %s: %v\n%s", id, err, doc.Body)
	}
	return rec, true
}

// WaitRecord waits for the activation record of id.
func (s *System) WaitRecord(ns string, id message.ActivationID, timeout time.Duration) message.ActivationRecord {
	s.TB.Helper()
	deadline := time.Now().Add(timeout)
	for {
		if rec, ok := s.Record(ns, id); ok {
			return rec
		}
		if time.Now().After(deadline) {
			s.TB.Fatalf("no activation record %s/%s after %v", ns, id, timeout)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// RecordCount is the number of documents in the activations database.
func (s *System) RecordCount() int {
	s.TB.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	docs, err := s.Store.List(ctx, s.DBs.Activations, store.ListOptions{})
	if err != nil {
		s.TB.Fatalf("list records: %v", err)
	}
	n := 0
	for _, d := range docs {
		if !strings.HasPrefix(d.ID, "_") {
			n++
		}
	}
	return n
}

// WaitDone waits until every activation has a record and a slot-freeing ack.
func (s *System) WaitDone(ns string, ids []message.ActivationID, timeout time.Duration) {
	s.TB.Helper()
	deadline := time.Now().Add(timeout)
	for _, id := range ids {
		s.Acks.WaitSlot(s.TB, id, time.Until(deadline))
		s.WaitRecord(ns, id, time.Until(deadline))
	}
}

// AckLog collects every ack on a completed topic, by activation id, in arrival order.
type AckLog struct {
	mu     sync.Mutex
	byID   map[message.ActivationID][]message.Ack
	change chan struct{}
	bad    int
}

// NewAckLog reads topic from its start until the test ends.
func NewAckLog(tb testing.TB, addr, topic string) *AckLog {
	tb.Helper()
	if err := broker.EnsureTopic(context.Background(), []string{addr}, topic, broker.TopicConfig{}); err != nil {
		tb.Fatal(err)
	}
	a := &AckLog{byID: map[message.ActivationID][]message.Ack{}, change: make(chan struct{})}
	// A partition reader without a group: nothing to commit, every ack seen once.
	r := kafka.NewReader(kafka.ReaderConfig{Brokers: []string{addr}, Topic: topic, Partition: 0, MaxWait: 50 * time.Millisecond,
		MaxBytes: 16 << 20, ReadBackoffMin: 50 * time.Millisecond, ReadBackoffMax: 500 * time.Millisecond})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			m, err := r.ReadMessage(ctx)
			if err != nil {
				if ctx.Err() != nil {
					return
				}
				time.Sleep(100 * time.Millisecond) // broker away: retry
				continue
			}
			ack, err := message.DecodeAck(m.Value)
			a.mu.Lock()
			if err != nil {
				a.bad++
			} else {
				a.byID[ack.ID()] = append(a.byID[ack.ID()], ack)
			}
			close(a.change)
			a.change = make(chan struct{})
			a.mu.Unlock()
		}
	}()
	tb.Cleanup(func() { cancel(); r.Close(); <-done })
	return a
}

// Of returns the acks of id so far.
func (a *AckLog) Of(id message.ActivationID) []message.Ack {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]message.Ack(nil), a.byID[id]...)
}

// Undecodable is the number of records on the topic that are not acks.
func (a *AckLog) Undecodable() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.bad
}

// SlotFrees counts the slot-freeing acks (Completion or Combined) of id.
func (a *AckLog) SlotFrees(id message.ActivationID) int {
	n := 0
	for _, x := range a.Of(id) {
		if _, ok := x.SlotFree(); ok {
			n++
		}
	}
	return n
}

// WaitSlot waits for a slot-freeing ack of id.
func (a *AckLog) WaitSlot(tb testing.TB, id message.ActivationID, timeout time.Duration) {
	tb.Helper()
	a.WaitFor(tb, id, timeout, func(acks []message.Ack) bool {
		for _, x := range acks {
			if _, ok := x.SlotFree(); ok {
				return true
			}
		}
		return false
	})
}

// WaitFor waits until done holds for the acks of id.
func (a *AckLog) WaitFor(tb testing.TB, id message.ActivationID, timeout time.Duration, done func([]message.Ack) bool) {
	tb.Helper()
	deadline := time.After(timeout)
	for {
		a.mu.Lock()
		ok, ch := done(a.byID[id]), a.change
		a.mu.Unlock()
		if ok {
			return
		}
		select {
		case <-ch:
		case <-deadline:
			tb.Fatalf("activation %s: acks %v after %v, not the ones expected", id, kinds(a.Of(id)), timeout)
		}
	}
}

func kinds(acks []message.Ack) []string {
	out := make([]string, 0, len(acks))
	for _, a := range acks {
		out = append(out, a.Kind().String())
	}
	return out
}

// PutSubject writes a subject document with one namespace of the same name and its key, as
// `wskadmin user create` does (write it before the controller starts, or wait for the
// controller's identity cache).
func (s *System) PutSubject(subject, uuid, key string) {
	s.TB.Helper()
	body, _ := json.Marshal(map[string]any{"subject": subject,
		"namespaces": []map[string]string{{"name": subject, "uuid": uuid, "key": key}}})
	if _, err := s.Store.Put(context.Background(), s.DBs.Subjects, subject, "", body); err != nil {
		s.TB.Fatalf("put subject %s: %v", subject, err)
	}
}
