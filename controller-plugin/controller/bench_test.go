package controller_test

import (
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/apache/openwhisk-client-go/whisk"
	"github.com/owinvoker/owinvoker/controller-plugin/controller"
	"github.com/owinvoker/owinvoker/invoker/message"
)

// BenchmarkIntegrationBlockingInvoke measures a blocking invoke through the controller
// and real Kafka, with a test invoker that answers at once: the controller's share of an
// activation's latency (HTTP, auth, action read from CouchDB, publish, ack).
func BenchmarkIntegrationBlockingInvoke(b *testing.B) {
	cl := startCluster(b, func(c *controller.Config) { c.Limits.InvocationsPerMinute, c.Limits.ConcurrentInvocations = -1, -1 })
	inv := cl.startInvoker(0, 1<<20)
	cl.waitState(0, "up")
	client := cl.client(controller.GuestKey)
	if _, _, err := client.Actions.Insert(&whisk.Action{Name: "hello", Exec: &whisk.Exec{Kind: "nodejs:20", Code: ptr(helloJS)}}, false); err != nil {
		b.Fatal(err)
	}
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		for {
			select {
			case <-stop:
				return
			case m := <-inv.user:
				a := inv.activation(m, message.StatusSuccess, `{"ok":true}`)
				inv.ack(message.NewCombined(m.TransID, a, inv.instance))
			}
		}
	}()
	var lat []time.Duration
	for b.Loop() {
		start := time.Now()
		_, resp, err := client.Actions.Invoke("hello", map[string]any{"name": "bench"}, true, true)
		if err != nil || resp.StatusCode != http.StatusOK {
			b.Fatalf("invoke: %v", err)
		}
		lat = append(lat, time.Since(start))
	}
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50_ms")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99_ms")
}
