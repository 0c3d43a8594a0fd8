package controller_test

import (
	"context"
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"

	"github.com/owinvoker/owinvoker/controller-plugin/controller"
	"github.com/owinvoker/owinvoker/invoker/store"
	"go.uber.org/zap"
)

// The API without its Kafka side: a controller on an embedded store answers wsk's
// requests. A real deployment calls Run (or Serve) instead, which also consumes acks
// and pings and places activations.
func Example() {
	dir, err := os.MkdirTemp("", "controller-example")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(dir)
	db, err := store.OpenBolt(filepath.Join(dir, "store.db"))
	if err != nil {
		panic(err)
	}
	defer db.Close()
	manifest, err := os.ReadFile("testdata/runtimes.json")
	if err != nil {
		panic(err)
	}
	c, err := controller.New(controller.Config{
		KafkaBrokers: []string{"127.0.0.1:9092"}, // contacted only by Serve
		Store:        db,
		Manifest:     manifest,
	}, zap.NewNop())
	if err != nil {
		panic(err)
	}
	defer c.Close()
	if err := c.Init(context.Background()); err != nil { // databases, guest identity, health action
		panic(err)
	}

	uuid, key, _ := strings.Cut(controller.GuestKey, ":")
	for _, r := range []struct{ method, path, body string }{
		{"GET", "/api/v1/namespaces", ""},
		{"PUT", "/api/v1/namespaces/_/actions/hello", `{"exec":{"kind":"nodejs:default","code":"function main(p) { return p; }"}}`},
		{"GET", "/api/v1/namespaces/_/actions/hello?code=false", ""},
		{"POST", "/api/v1/namespaces/_/actions/hello?blocking=true", `{}`},
	} {
		req := httptest.NewRequest(r.method, r.path, strings.NewReader(r.body))
		req.SetBasicAuth(uuid, key)
		rec := httptest.NewRecorder()
		c.Handler().ServeHTTP(rec, req)
		body := rec.Body.String()
		if i := strings.Index(body, `,"updated"`); i > 0 {
			body = body[:i] + "…" // the time of the update
		}
		if i := strings.Index(body, `,"code":"`); i > 0 && rec.Code >= 400 {
			body = body[:i] + "…" // the transaction id
		}
		fmt.Println(rec.Code, body)
	}
	// Output:
	// 200 ["guest"]
	// 200 {"namespace":"guest","name":"hello","version":"0.0.1","publish":false,"exec":{"kind":"nodejs:20","code":"function main(p) { return p; }","binary":false},"annotations":[{"key":"provide-api-key","value":false},{"key":"exec","value":"nodejs:20"}],"parameters":[],"limits":{"timeout":60000,"memory":256,"logs":10,"concurrency":1}…
	// 200 {"namespace":"guest","name":"hello","version":"0.0.1","publish":false,"exec":{"kind":"nodejs:20","binary":false},"annotations":[{"key":"provide-api-key","value":false},{"key":"exec","value":"nodejs:20"}],"parameters":[],"limits":{"timeout":60000,"memory":256,"logs":10,"concurrency":1}…
	// 503 {"error":"The server is currently unavailable (because it is overloaded or down for maintenance)."…
}
