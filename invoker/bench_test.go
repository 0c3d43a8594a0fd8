package invoker_test

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/owinvoker/owinvoker/sandbox"
	"github.com/owinvoker/owinvoker/sandbox/actionproxy"
)

func percentile(d []time.Duration, p float64) time.Duration {
	if len(d) == 0 {
		return 0
	}
	s := append([]time.Duration(nil), d...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[min(len(s)-1, int(float64(len(s))*p))]
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// BenchmarkWarmPath measures what the invoker adds on the warm path: a blocking activation
// from publish on invoker0 to its ResultMessage on completed0, against a direct /run on the
// same kind of warm container. Reported: p50/p99 of both and the difference.
//
//	go test -run '^$' -bench WarmPath -benchtime 200x ./invoker/
func BenchmarkWarmPath(b *testing.B) {
	h := newHarness(benchT(b), harnessOpts{})
	rev := h.putAction("guest", "bench", "nodejs:20", `function main(p) { return {ok: true}; }`, nil)
	h.runAndRecord(h.activation("guest", "bench", rev, true, "")) // warm it up

	var viaInvoker []time.Duration
	for b.Loop() {
		msg := h.activation("guest", "bench", rev, true, `{"n":1}`)
		start := time.Now()
		h.send(msg)
		h.acks.waitResult(b, msg.ActivationID)
		viaInvoker = append(viaInvoker, time.Since(start))
	}

	// Direct /run on a container of the same image, through the same client.
	sb := h.sb
	lease, err := sb.Acquire(context.Background(), sandbox.Request{Namespace: "bench", Action: "bench/direct", ActionName: "direct",
		Revision: "1", Kind: "nodejs:20", Image: "openwhisk/action-nodejs-v20:nightly", MemoryMB: 256, Concurrency: 1, Sentinelled: true})
	if err != nil {
		b.Fatal(err)
	}
	defer lease.Release(true)
	if _, err := lease.Proxy.Init(context.Background(), actionproxy.InitRequest{Name: "direct", Main: "main",
		Code: `function main(p) { return {ok: true}; }`, Timeout: time.Minute}); err != nil {
		b.Fatal(err)
	}
	var direct []time.Duration
	for range max(len(viaInvoker), 50) {
		start := time.Now()
		if _, err := lease.Proxy.Run(context.Background(), actionproxy.RunRequest{Value: []byte(`{"n":1}`), Timeout: time.Minute}); err != nil {
			b.Fatal(err)
		}
		direct = append(direct, time.Since(start))
	}
	b.ReportMetric(ms(percentile(viaInvoker, 0.5)), "invoker_p50_ms")
	b.ReportMetric(ms(percentile(viaInvoker, 0.99)), "invoker_p99_ms")
	b.ReportMetric(ms(percentile(direct, 0.5)), "direct_p50_ms")
	b.ReportMetric(ms(percentile(direct, 0.99)), "direct_p99_ms")
	b.ReportMetric(ms(percentile(viaInvoker, 0.5)-percentile(direct, 0.5)), "added_p50_ms")
}

// BenchmarkWarmThroughput keeps one activation in flight per warm container (4 actions,
// 4 containers: as a controller does, which never sends an invoker more than its memory
// holds) and reports completed activations per second.
func BenchmarkWarmThroughput(b *testing.B) {
	h := newHarness(benchT(b), harnessOpts{userMemoryMB: 1024})
	const n = 4
	revs := make([]string, n)
	names := make([]string, n)
	for i := range n {
		names[i] = fmt.Sprintf("tp%d", i)
		revs[i] = h.putAction("guest", names[i], "nodejs:20", `function main() { return {}; }`, nil)
		h.runAndRecord(h.activation("guest", names[i], revs[i], true, ""))
	}
	var done atomic.Int64
	start := time.Now()
	var wg sync.WaitGroup
	next := make(chan struct{})
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range next {
				msg := h.activation("guest", names[i], revs[i], true, "")
				h.send(msg)
				h.acks.waitSlot(b, msg.ActivationID)
				done.Add(1)
			}
		}()
	}
	for b.Loop() {
		next <- struct{}{}
	}
	close(next)
	wg.Wait()
	b.ReportMetric(float64(done.Load())/time.Since(start).Seconds(), "activations/s")
}
