package actionproxy_test

import (
	"encoding/base64"
	"slices"
	"testing"
	"time"

	"github.com/owinvoker/owinvoker/sandbox/actionproxy"
)

// benchCase is a hello-world action for one image.
type benchCase struct {
	name  string
	image string
	init  func(tb testing.TB) actionproxy.InitRequest
}

var benchCases = []benchCase{
	{"nodejs", nodeImage, func(testing.TB) actionproxy.InitRequest {
		return actionproxy.InitRequest{Code: "function main(p) { return {payload: 'Hello, ' + p.name} }"}
	}},
	{"python", pyImage, func(testing.TB) actionproxy.InitRequest {
		return actionproxy.InitRequest{Code: "def main(p):\n    return {'payload': 'Hello, ' + p['name']}\n"}
	}},
	{"skeleton", skelImage, func(tb testing.TB) actionproxy.InitRequest {
		return actionproxy.InitRequest{Binary: true, Code: base64.StdEncoding.EncodeToString(buildNative(tb))}
	}},
}

// BenchmarkColdStart measures a container from create to the first /run result:
// create+start+wait for the proxy (ready_ms), /init (init_ms) and the first /run (run_ms).
// Removing the container is not timed.
func BenchmarkColdStart(b *testing.B) {
	cli := engine(b)
	for _, bc := range benchCases {
		b.Run(bc.name, func(b *testing.B) {
			req := bc.init(b)
			req.Timeout = time.Minute
			var ready, initT, run time.Duration
			n := 0
			for b.Loop() {
				t0 := time.Now()
				box := start(b, cli, bc.image)
				t1 := time.Now()
				if r, err := box.c.Init(b.Context(), req); err != nil || r.Status != actionproxy.Success {
					b.Fatalf("Init = %+v, %v", r, err)
				}
				t2 := time.Now()
				if r, err := box.c.Run(b.Context(), actionproxy.RunRequest{Value: []byte(`{"name":"bench"}`)}); err != nil || r.Status != actionproxy.Success {
					b.Fatalf("Run = %+v, %v", r, err)
				}
				t3 := time.Now()
				ready, initT, run = ready+t1.Sub(t0), initT+t2.Sub(t1), run+t3.Sub(t2)
				n++
				b.StopTimer()
				box.remove(b)
				b.StartTimer()
			}
			ms := func(d time.Duration) float64 { return float64(d) / float64(n) / 1e6 }
			b.ReportMetric(ms(ready), "ready_ms/op")
			b.ReportMetric(ms(initT), "init_ms/op")
			b.ReportMetric(ms(run), "run_ms/op")
		})
	}
}

// BenchmarkWarmRun measures /run round trips against one initialized container.
func BenchmarkWarmRun(b *testing.B) {
	cli := engine(b)
	for _, bc := range benchCases {
		b.Run(bc.name, func(b *testing.B) {
			box := start(b, cli, bc.image)
			req := bc.init(b)
			req.Timeout = time.Minute
			if r, err := box.c.Init(b.Context(), req); err != nil || r.Status != actionproxy.Success {
				b.Fatalf("Init = %+v, %v", r, err)
			}
			run := actionproxy.RunRequest{Value: []byte(`{"name":"bench"}`), ActivationID: "5d4c6e7f8a9b4c0d9e1f2a3b4c5d6e7f", Timeout: time.Minute}
			var lat []time.Duration
			for b.Loop() {
				t0 := time.Now()
				if r, err := box.c.Run(b.Context(), run); err != nil || r.Status != actionproxy.Success {
					b.Fatalf("Run = %+v, %v", r, err)
				}
				lat = append(lat, time.Since(t0))
			}
			slices.Sort(lat)
			b.ReportMetric(float64(lat[len(lat)/2])/1e6, "p50_ms")
			b.ReportMetric(float64(lat[len(lat)*99/100])/1e6, "p99_ms")
		})
	}
}
