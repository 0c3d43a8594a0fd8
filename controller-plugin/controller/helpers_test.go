package controller

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/owinvoker/owinvoker/invoker/message"
	"github.com/owinvoker/owinvoker/invoker/store"
	"go.uber.org/zap/zaptest"
)

// env is a controller serving its API from a bbolt store, with no Kafka behind it:
// everything but publishing works.
type env struct {
	t  *testing.T
	c  *Controller
	db *store.Bolt

	mu  sync.Mutex
	now time.Time
}

var testStart = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func newEnv(t *testing.T, mutate ...func(*Config)) *env {
	t.Helper()
	db, err := store.OpenBolt(filepath.Join(t.TempDir(), "store.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	manifest, err := os.ReadFile("testdata/runtimes.json")
	if err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, db: db, now: testStart}
	cfg := Config{
		KafkaBrokers: []string{"127.0.0.1:1"}, // never contacted: no invoker is ever healthy
		Store:        db,
		Manifest:     manifest,
		Now:          e.clock,
	}
	for _, m := range mutate {
		m(&cfg)
	}
	c, err := New(cfg, zaptest.NewLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.identities.minRebuild = 0
	if err := c.Init(t.Context()); err != nil {
		t.Fatal(err)
	}
	e.c = c
	return e
}

func (e *env) clock() time.Time {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.now
}

func (e *env) advance(d time.Duration) {
	e.mu.Lock()
	e.now = e.now.Add(d)
	e.mu.Unlock()
}

type reqOpt func(*http.Request)

// as authenticates with key ("uuid:secret"); the default is the guest key.
func as(key string) reqOpt {
	return func(r *http.Request) {
		r.Header.Del("Authorization")
		if key != "" {
			u, p, _ := strings.Cut(key, ":")
			r.SetBasicAuth(u, p)
		}
	}
}

func header(k, v string) reqOpt { return func(r *http.Request) { r.Header.Set(k, v) } }

// do sends a request to the API. body is sent as is when it is a string, else as JSON.
func (e *env) do(method, path string, body any, opts ...reqOpt) *httptest.ResponseRecorder {
	e.t.Helper()
	var rd *bytes.Reader
	switch b := body.(type) {
	case nil:
		rd = bytes.NewReader(nil)
	case string:
		rd = bytes.NewReader([]byte(b))
	default:
		raw, err := json.Marshal(b)
		if err != nil {
			e.t.Fatal(err)
		}
		rd = bytes.NewReader(raw)
	}
	req := httptest.NewRequestWithContext(e.t.Context(), method, path, rd)
	req.Header.Set("Content-Type", "application/json")
	u, p, _ := strings.Cut(GuestKey, ":")
	req.SetBasicAuth(u, p)
	for _, o := range opts {
		o(req)
	}
	rec := httptest.NewRecorder()
	e.c.Handler().ServeHTTP(rec, req)
	return rec
}

// addSubject writes a subject document owning namespace ns, and its limits document
// when limits is not empty.
func (e *env) addSubject(subject, ns, key string, limits string) {
	e.t.Helper()
	uuid, secret, _ := strings.Cut(key, ":")
	doc, _ := json.Marshal(subjectDoc{Subject: subject, Namespaces: []subjectNamespace{{Name: ns, UUID: uuid, Key: secret}}})
	if _, err := e.db.Put(context.Background(), "subjects", subject, "", doc); err != nil {
		e.t.Fatal(err)
	}
	if limits != "" {
		if _, err := e.db.Put(context.Background(), "subjects", ns+"/limits", "", json.RawMessage(limits)); err != nil {
			e.t.Fatal(err)
		}
	}
}

// putRecord stores an activation record as an invoker would.
func (e *env) putRecord(a message.WhiskActivation) {
	e.t.Helper()
	body, err := message.Marshal(a.Record(a.End + 1))
	if err != nil {
		e.t.Fatal(err)
	}
	if _, err := e.db.Put(context.Background(), "activations", a.DocID(), "", body); err != nil {
		e.t.Fatal(err)
	}
}

// wantError checks an OpenWhisk error answer: status, text, and the transaction id in
// both the body and the X-Request-ID header.
func wantError(t *testing.T, rec *httptest.ResponseRecorder, status int, text string) {
	t.Helper()
	if rec.Code != status {
		t.Fatalf("status %d, want %d; body %s", rec.Code, status, rec.Body)
	}
	var body struct {
		Error string  `json:"error"`
		Code  *string `json:"code"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
		t.Fatalf("error body %q: %v", rec.Body, err)
	}
	if body.Error != text {
		t.Errorf("error %q, want %q", body.Error, text)
	}
	if body.Code == nil || *body.Code == "" || *body.Code != rec.Header().Get("X-Request-ID") {
		t.Errorf("code %v, want the X-Request-ID %q", body.Code, rec.Header().Get("X-Request-ID"))
	}
}

// decode decodes a JSON answer with status 200 (or want, when given).
func decode(t *testing.T, rec *httptest.ResponseRecorder, want ...int) any {
	t.Helper()
	status := http.StatusOK
	if len(want) > 0 {
		status = want[0]
	}
	if rec.Code != status {
		t.Fatalf("status %d, want %d; body %s", rec.Code, status, rec.Body)
	}
	if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
		t.Errorf("content type %q", ct)
	}
	var v any
	if err := json.Unmarshal(rec.Body.Bytes(), &v); err != nil {
		t.Fatalf("body %q: %v", rec.Body, err)
	}
	return v
}

// jsonEqual compares got with the JSON text want, ignoring member order.
func jsonEqual(t *testing.T, got any, want string) {
	t.Helper()
	var w any
	if err := json.Unmarshal([]byte(want), &w); err != nil {
		t.Fatalf("want %q: %v", want, err)
	}
	if raw, ok := got.([]byte); ok {
		if err := json.Unmarshal(raw, &got); err != nil {
			t.Fatalf("got %q: %v", raw, err)
		}
	}
	if !reflect.DeepEqual(normalize(got), w) {
		g, _ := json.Marshal(got)
		t.Errorf("got  %s\nwant %s", g, want)
	}
}

func normalize(v any) any {
	raw, _ := json.Marshal(v)
	var out any
	_ = json.Unmarshal(raw, &out)
	return out
}

// field walks a decoded JSON value by member names and array indexes.
func field(v any, path ...any) any {
	for _, p := range path {
		switch k := p.(type) {
		case string:
			m, _ := v.(map[string]any)
			v = m[k]
		case int:
			a, _ := v.([]any)
			if k >= len(a) {
				return nil
			}
			v = a[k]
		}
	}
	return v
}
