package invoker_test

import (
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/owinvoker/owinvoker/invoker"
	"github.com/owinvoker/owinvoker/invoker/message"
)

// With harvesting on, an over-provisioned action becomes a memory lender once it has a
// prediction: its record says how much it lent and what it used, and the invoker's pings
// offer the lendable memory to the controller.
func TestHarvestLenderAndPing(t *testing.T) {
	h := newHarness(t, harnessOpts{harvest: true})
	pings := newPingReader(t, h.kafka, message.HealthTopic(h.prefix))
	code := `function main() { const end = Date.now() + 400; while (Date.now() < end) {} return {}; }`
	rev := h.putAction("guest", "small", "nodejs:20", code, map[string]any{
		"limits": map[string]any{"timeout": 60000, "memory": 512, "logs": 10, "concurrency": 1}})
	var last message.ActivationRecord
	for range 6 {
		last = h.runAndRecord(h.activation("guest", "small", rev, true, ""))
		if last.Response.StatusCode != 0 {
			t.Fatalf("activation failed: %s", last.Response.Result)
		}
	}
	peak, ok := last.Annotations.GetInt(invoker.AnnotationPeakMemMB)
	if !ok || peak <= 0 || peak > 200 {
		t.Fatalf("peak memory annotation = %d, %v; annotations %+v", peak, ok, last.Annotations)
	}
	lent, ok := last.Annotations.GetInt(invoker.AnnotationLentMemMB)
	if !ok || lent < 100 {
		t.Fatalf("lent memory = %d, %v after 6 runs using %d MB of 512: annotations %+v", lent, ok, peak, last.Annotations)
	}
	if used, ok := last.Annotations.GetInt(invoker.AnnotationCPUMillisUsed); !ok || used < 100 {
		t.Fatalf("cpuMs annotation = %d, %v after a 400 ms busy loop: %+v", used, ok, last.Annotations)
	}
	if inst, ok := last.Annotations.GetInt(invoker.AnnotationInvoker); !ok || inst != int64(h.cfg.Instance.Instance) {
		t.Fatalf("invoker annotation = %d, %v, want %d", inst, ok, h.cfg.Instance.Instance)
	}
	if _, ok := last.Annotations.GetInt(invoker.AnnotationAllocCPUMillis); !ok {
		t.Fatalf("no allocCpuMillis annotation: %+v", last.Annotations)
	}
	// The pool lends while the lender runs or idles; keep it busy so that pings taken on a
	// loaded host still fall into a lending window.
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			select {
			case <-stop:
				return
			default:
			}
			h.send(h.activation("guest", "small", rev, false, ""))
			time.Sleep(time.Second)
		}
	}()
	pings.waitFor(t, func(p *message.PingMessage) bool { return p.Name.UniqueName == h.unique && p.LendableMemoryMB > 0 })
	close(stop)
	if got := metricValue(t, h, "owinvoker_memory_in_use_bytes"); got < 512<<20 {
		t.Errorf("memory_in_use_bytes = %v with a 512 MB container in the pool", got)
	}
	<-done
}

// The safeguard: an action that used little memory for a while and then suddenly needs
// most of its allocation is restored before the kernel kills it, every time.
func TestHarvestSafeguardPreventsOOM(t *testing.T) {
	h := newHarness(t, harnessOpts{harvest: true})
	// Small for the first runs, then grows to 300 MB of its 512 MB in steps over ~1.5 s.
	code := `let n = 0;
async function main(p) {
  n++;
  const keep = [];
  if (p.grow) {
    for (let i = 0; i < 30; i++) { keep.push(Buffer.alloc(10 << 20, 1)); await new Promise(r => setTimeout(r, 50)); }
  } else {
    const end = Date.now() + 300; while (Date.now() < end) {}
  }
  return {n, held: keep.length * 10};
}`
	rev := h.putAction("guest", "grower", "nodejs:20", code, map[string]any{
		"limits": map[string]any{"timeout": 60000, "memory": 512, "logs": 10, "concurrency": 1}})
	for range 5 {
		if rec := h.runAndRecord(h.activation("guest", "grower", rev, true, "")); rec.Response.StatusCode != 0 {
			t.Fatalf("small run failed: %s", rec.Response.Result)
		}
	}
	for i := range 3 {
		rec := h.runAndRecord(h.activation("guest", "grower", rev, true, `{"grow":true}`))
		if rec.Response.StatusCode != 0 || strings.Contains(string(rec.Response.Result), "exhausted its memory") {
			t.Fatalf("growing run %d: %d %s, want success (the safeguard restores the lender)", i, rec.Response.StatusCode, rec.Response.Result)
		}
		if i == 0 {
			// The first growing run started as a lender and must have been restored.
			if got := metricValue(t, h, `owinvoker_harvest_events_total{kind="safeguard",resource="mem"}`); got <= 0 {
				t.Fatalf("safeguard events = %v after a lender grew, want > 0", got)
			}
		}
	}
}

// metricValue reads one series from the invoker's /metrics.
func metricValue(t *testing.T, h *harness, series string) float64 {
	t.Helper()
	rec := httptest.NewRecorder()
	h.inv.MetricsHandler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	for _, line := range strings.Split(rec.Body.String(), "\n") {
		if v, ok := strings.CutPrefix(line, series+" "); ok {
			f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
			if err != nil {
				t.Fatalf("metric %s: %v", line, err)
			}
			return f
		}
	}
	return 0
}
