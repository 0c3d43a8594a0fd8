package controller_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/apache/openwhisk-client-go/whisk"
	"github.com/owinvoker/owinvoker/controller-plugin/controller"
	"github.com/owinvoker/owinvoker/controller-plugin/supervisor"
	"github.com/owinvoker/owinvoker/deploy/dev/testenv"
	"github.com/owinvoker/owinvoker/invoker/broker"
	"github.com/owinvoker/owinvoker/invoker/message"
	"github.com/owinvoker/owinvoker/invoker/store"
	"go.uber.org/zap/zaptest"
)

// cluster is a controller on real Kafka and a real CouchDB-API server, with test
// invokers that tests drive by hand.
type cluster struct {
	t       testing.TB
	brokers []string
	prefix  string
	dbs     testenv.Databases
	db      *store.Couch
	c       *controller.Controller
	url     string
}

func startCluster(t testing.TB, mutate ...func(*controller.Config)) *cluster {
	t.Helper()
	kafka := testenv.Kafka(t)
	dbs := testenv.NewDatabases(t)
	root, err := testenv.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	manifest, err := os.ReadFile(filepath.Join(root, "deploy", "runtimes.json"))
	if err != nil {
		t.Fatal(err)
	}
	log := zaptest.NewLogger(t)
	db, err := store.NewCouch(store.CouchConfig{URL: dbs.URL}, log)
	if err != nil {
		t.Fatal(err)
	}
	cl := &cluster{t: t, brokers: []string{kafka}, prefix: testenv.UniqueName("ct") + "-", dbs: dbs, db: db}
	cfg := controller.Config{
		KafkaBrokers:  cl.brokers,
		TopicPrefix:   cl.prefix,
		CouchDB:       store.CouchConfig{URL: dbs.URL},
		DBWhisks:      dbs.Whisks,
		DBActivations: dbs.Activations,
		DBSubjects:    dbs.Subjects,
		Manifest:      manifest,
		BlockingWait:  3 * time.Second,
		// A health test action whose ack the controller misses (its ack consumer still
		// joining the group on a loaded machine) is sent again soon, not after a minute.
		Supervisor: supervisor.Config{TestInterval: 3 * time.Second},
		ResultPollDelays: []time.Duration{
			100 * time.Millisecond, 300 * time.Millisecond, 500 * time.Millisecond, 700 * time.Millisecond,
		},
	}
	for _, m := range mutate {
		m(&cfg)
	}
	c, err := controller.New(cfg, log)
	if err != nil {
		t.Fatal(err)
	}
	cl.c = c
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	cl.url = "http://" + ln.Addr().String()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Serve(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
		if err := c.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	// The API answers once Serve has prepared the databases and topics.
	deadline := time.Now().Add(time.Minute)
	for {
		resp, err := http.Get(cl.url + "/api/v1")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("controller did not come up: %v", err)
		}
		select {
		case err := <-done:
			t.Fatalf("Serve: %v", err)
		case <-time.After(50 * time.Millisecond):
		}
	}
	return cl
}

// client returns an openwhisk-client-go client (the library under wsk) for key.
func (cl *cluster) client(key string) *whisk.Client {
	cl.t.Helper()
	c, err := whisk.NewClient(&http.Client{Timeout: time.Minute}, &whisk.Config{Host: cl.url, AuthToken: key, Namespace: "_"})
	if err != nil {
		cl.t.Fatal(err)
	}
	return c
}

// invokerStates returns GET /invokers.
func (cl *cluster) invokerStates() map[string]string {
	resp, err := http.Get(cl.url + "/invokers")
	if err != nil {
		cl.t.Fatal(err)
	}
	defer resp.Body.Close()
	var m map[string]string
	if err := json.NewDecoder(resp.Body).Decode(&m); err != nil {
		cl.t.Fatal(err)
	}
	return m
}

// waitState waits until invoker id is in state (as /invokers names it).
func (cl *cluster) waitState(id int, state string) {
	cl.t.Helper()
	deadline := time.Now().Add(90 * time.Second)
	for {
		got := cl.invokerStates()[fmt.Sprintf("invoker%d", id)]
		if got == state {
			return
		}
		if time.Now().After(deadline) {
			cl.t.Fatalf("invoker%d is %q, want %q", id, got, state)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// putDoc writes a document of db, replacing any.
func (cl *cluster) putDoc(db, id string, body any) {
	cl.t.Helper()
	raw, err := json.Marshal(body)
	if err != nil {
		cl.t.Fatal(err)
	}
	rev := ""
	if d, err := cl.db.Get(context.Background(), db, id); err == nil {
		rev = d.Rev
	}
	if _, err := cl.db.Put(context.Background(), db, id, rev, raw); err != nil {
		cl.t.Fatal(err)
	}
}

// addSubject writes an identity (and limits, when given) to the subjects database.
func (cl *cluster) addSubject(ns, key string, limits map[string]any) {
	uuid, secret, _ := strings.Cut(key, ":")
	cl.putDoc(cl.dbs.Subjects, ns, map[string]any{
		"subject": ns, "namespaces": []any{map[string]any{"name": ns, "uuid": uuid, "key": secret}},
	})
	if limits != nil {
		cl.putDoc(cl.dbs.Subjects, ns+"/limits", limits)
	}
}

// fakeInvoker plays an invoker black-box over Kafka: it pings on health, reads its
// invoker<N> topic, acknowledges health test actions by itself and hands every other
// activation to the test, which answers it with acks of its choosing.
type fakeInvoker struct {
	cl       *cluster
	id       int
	instance message.InvokerInstanceID
	producer *broker.Producer
	lendMB   atomic.Int64
	paused   atomic.Bool // no pings while set
	user     chan *message.ActivationMessage
	health   chan *message.ActivationMessage
}

func (cl *cluster) startInvoker(id, memoryMB int) *fakeInvoker {
	t := cl.t
	t.Helper()
	topic := message.InvokerTopic(cl.prefix, id)
	ctx, cancel := context.WithCancel(context.Background())
	if err := broker.EnsureTopic(ctx, cl.brokers, topic, broker.InvokerTopicConfig(1)); err != nil {
		t.Fatal(err)
	}
	log := zaptest.NewLogger(t).Named(fmt.Sprintf("invoker%d", id))
	cons, err := broker.NewConsumer(broker.ConsumerConfig{Brokers: cl.brokers, Topic: topic}, log)
	if err != nil {
		t.Fatal(err)
	}
	prod, err := broker.NewProducer(broker.ProducerConfig{Brokers: cl.brokers}, log)
	if err != nil {
		t.Fatal(err)
	}
	f := &fakeInvoker{
		cl: cl, id: id, producer: prod,
		instance: message.InvokerInstanceID{Instance: id, UniqueName: fmt.Sprint(id),
			UserMemory: message.ByteSize(memoryMB) * message.Megabyte, Tags: []string{}, DedicatedNamespaces: []string{}},
		user:   make(chan *message.ActivationMessage, 100),
		health: make(chan *message.ActivationMessage, 100),
	}
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { // ping every 500 ms
		defer wg.Done()
		for {
			ping := message.PingMessage{Name: f.instance, Enabled: true, LendableMemoryMB: int(f.lendMB.Load())}
			if body, err := message.Marshal(ping); err == nil && !f.paused.Load() {
				_ = prod.Send(ctx, message.HealthTopic(cl.prefix), body)
			}
			select {
			case <-ctx.Done():
				return
			case <-time.After(500 * time.Millisecond):
			}
		}
	}()
	go func() {
		defer wg.Done()
		for {
			rec, err := cons.Fetch(ctx)
			if err != nil && rec.Value == nil {
				if ctx.Err() != nil {
					return
				}
				continue
			}
			m, err := message.DecodeActivationMessage(rec.Value)
			if err != nil {
				t.Errorf("invoker%d: undecodable activation message: %v\n%s", id, err, rec.Value)
				continue
			}
			if m.TransID.ID == message.TransactionInvokerHealth {
				f.health <- m
				// A non-blocking activation with logs: the invoker sends a completion.
				f.send(ctx, message.CompletionMessage{TransID: m.TransID, ActivationID: m.ActivationID, Instance: f.instance})
				continue
			}
			f.user <- m
		}
	}()
	t.Cleanup(func() {
		cancel()
		wg.Wait()
		cons.Close()
		prod.Close()
	})
	return f
}

func (f *fakeInvoker) send(ctx context.Context, ack message.Ack) {
	body, err := message.Marshal(ack)
	if err != nil {
		f.cl.t.Errorf("encode ack: %v", err)
		return
	}
	if err := f.producer.Send(ctx, message.CompletedTopic(f.cl.prefix, "0"), body); err != nil && ctx.Err() == nil {
		f.cl.t.Errorf("send ack: %v", err)
	}
}

// ack sends an ack for the test.
func (f *fakeInvoker) ack(ack message.Ack) { f.send(f.cl.t.Context(), ack) }

// next returns the next user activation this invoker received.
func (f *fakeInvoker) next() *message.ActivationMessage {
	f.cl.t.Helper()
	select {
	case m := <-f.user:
		return m
	case <-time.After(30 * time.Second):
		f.cl.t.Fatalf("invoker%d received no activation", f.id)
		return nil
	}
}

// none checks that no user activation arrives within d.
func (f *fakeInvoker) none(d time.Duration) {
	f.cl.t.Helper()
	select {
	case m := <-f.user:
		f.cl.t.Fatalf("invoker%d received activation %s, want none", f.id, m.ActivationID)
	case <-time.After(d):
	}
}

// activation builds the activation a run of m produced.
func (f *fakeInvoker) activation(m *message.ActivationMessage, code message.StatusCode, result string, ann ...message.Parameter) *message.WhiskActivation {
	start := time.Now().UnixMilli()
	d := int64(4)
	a := &message.WhiskActivation{
		Namespace: m.User.Namespace.Name, Name: m.Action.Name, Subject: m.User.Subject,
		ActivationID: m.ActivationID, Start: start, End: start + d, Duration: &d,
		Response: message.ActivationResponse{StatusCode: code, Result: json.RawMessage(result)},
		Logs:     []string{"2026-03-01T12:00:00.000000000Z stdout: ran " + string(m.ActivationID)},
		Version:  m.Action.Version,
		Annotations: append(message.Parameters{
			message.StringParam(message.AnnotationPath, m.Action.Path+"/"+m.Action.Name),
			message.StringParam(message.AnnotationKind, "nodejs:20"),
			message.RawParam(message.AnnotationLimits, json.RawMessage(`{"timeout":60000,"memory":256,"logs":10,"concurrency":1}`)),
			message.IntParam(message.AnnotationWaitTime, 2),
		}, ann...),
	}
	return a
}

// store writes the activation's record, as an invoker does with its slot-free ack.
func (f *fakeInvoker) store(a *message.WhiskActivation) {
	f.cl.t.Helper()
	body, err := message.Marshal(a.Record(time.Now().UnixMilli()))
	if err != nil {
		f.cl.t.Fatal(err)
	}
	if _, err := f.cl.db.Put(context.Background(), f.cl.dbs.Activations, a.DocID(), "", body); err != nil {
		f.cl.t.Fatal(err)
	}
}

// wskError returns the client's error as a *whisk.WskError.
func wskError(t testing.TB, err error) *whisk.WskError {
	t.Helper()
	var we *whisk.WskError
	if !errors.As(err, &we) {
		t.Fatalf("error %v (%T), want a *whisk.WskError", err, err)
	}
	return we
}
