package soak_test

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/owinvoker/owinvoker/benchmarks/soak"
	"github.com/owinvoker/owinvoker/invoker/message"
	"github.com/owinvoker/owinvoker/reliability"
)

// soakAction is one kind of request of the mixed load: an action, how often it is asked
// for, and the request.
type soakAction struct {
	name     string
	weight   int
	doc      map[string]any
	blocking bool
	payload  func(r *rand.Rand) map[string]any
}

func pyAction(code string, limits map[string]any) map[string]any {
	return map[string]any{"exec": map[string]any{"kind": "python:3", "code": code}, "limits": limits}
}

// mixedLoad is what an operator's cluster sees on an ordinary day, failures included:
// warm echoes with parameters up to 64 KB, sleeps run in the background, Node.js, and
// actions that run out of memory, exit mid-run, never answer (timeout), flood their logs or
// raise.
func mixedLoad() []soakAction {
	lim := func(timeout, memory, logs int) map[string]any {
		return map[string]any{"timeout": timeout, "memory": memory, "logs": logs, "concurrency": 1}
	}
	none := func(*rand.Rand) map[string]any { return map[string]any{} }
	return []soakAction{
		{name: "echo", weight: 35, blocking: true, doc: pyAction("def main(args):\n    return {\"n\": len(str(args))}\n", lim(10000, 128, 1)),
			payload: func(r *rand.Rand) map[string]any {
				return map[string]any{"blob": strings.Repeat("p", r.IntN(64<<10))}
			}},
		{name: "sleepy", weight: 20, blocking: false, doc: pyAction(reliability.SinkAction, lim(10000, 256, 1)),
			payload: func(r *rand.Rand) map[string]any { return map[string]any{"sleep": float64(r.IntN(2000)) / 1000} }},
		{name: "node", weight: 15, blocking: true, doc: map[string]any{
			"exec":   map[string]any{"kind": "nodejs:20", "code": "function main(a) { return {hello: a.name || 'world'}; }"},
			"limits": lim(10000, 128, 1)},
			payload: func(r *rand.Rand) map[string]any { return map[string]any{"name": strconv.Itoa(r.IntN(1000))} }},
		{name: "oom", weight: 6, blocking: true, doc: pyAction(reliability.OOMAction, lim(20000, 128, 1)),
			payload: func(*rand.Rand) map[string]any { return map[string]any{"mb": 400} }},
		{name: "crash", weight: 6, blocking: true, doc: pyAction(reliability.ExitAction, lim(10000, 128, 1)), payload: none},
		{name: "silent", weight: 4, blocking: false, doc: pyAction(reliability.SilentAction, lim(1500, 128, 1)), payload: none},
		{name: "flood", weight: 6, blocking: false, doc: pyAction(reliability.LogFloodAction, lim(20000, 128, 1)),
			payload: func(*rand.Rand) map[string]any { return map[string]any{"lines": 3000} }},
		{name: "raise", weight: 8, blocking: true, doc: pyAction("def main(args):\n    raise ValueError(\"no\")\n", lim(10000, 128, 1)), payload: none},
	}
}

// soakSample is one reading of the processes and the engine.
type soakSample struct {
	at                  time.Duration
	inv, ctl            reliability.ProcStat
	goroutines          float64 // the invoker's, from its /metrics
	containers, pending int
	sent                int
}

// TestSoakSteady runs the mixed load of mixedLoad through owcontroller's REST API against
// one owinvoker (harvesting on, 2048 MB) for OW_SOAK, about 3 requests a second (what two
// cores sustain with this mix: a sixth of the requests kill their container and need a cold
// start; 4 a second outgrew them, the backlog of waiting clients growing by 0.2 a
// second), and samples every
// 10 s (OW_SOAK_SAMPLE) the resident memory, threads and open files of both processes,
// the invoker's goroutines and its containers. Every accepted activation must end with a
// record and an ack, and every series must end flat (CheckFlat: the last quarter against
// the time after a fifth of the run). OW_SOAK_OUT names a directory for steady.csv.
func TestSoakSteady(t *testing.T) {
	d := soakDuration(t)
	every := 10 * time.Second
	if v := os.Getenv("OW_SOAK_SAMPLE"); v != "" {
		var err error
		if every, err = time.ParseDuration(v); err != nil {
			t.Fatalf("OW_SOAK_SAMPLE=%q: %v", v, err)
		}
	}
	bins := binaries(t)
	sys := reliability.NewSystem(t, bins, reliability.SystemConfig{})
	inv := sys.StartInvoker(reliability.InvokerConfig{Env: []string{
		"CONFIG_whisk_invoker_harvest_enabled=true", "CONFIG_whisk_containerPool_userMemory=2048m"}})
	ctl := sys.StartController(reliability.ControllerConfig{Env: []string{
		"LIMITS_ACTIONS_INVOKES_PERMINUTE=100000", "LIMITS_ACTIONS_INVOKES_CONCURRENT=10000"}})
	ctl.WaitInvokers(1, 2*time.Minute)
	load := mixedLoad()
	total := 0
	for _, a := range load {
		ctl.PutAction(reliability.GuestAuthKey, a.name, a.doc)
		total += a.weight
	}

	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 3))
	var (
		mu      sync.Mutex
		ids     []message.ActivationID
		codes   = map[string]int{} // "<action> <status>"
		bad     []string
		pending int
		wg      sync.WaitGroup
	)
	invoke := func(a soakAction, payload map[string]any) {
		defer wg.Done()
		code, body, _, err := ctl.DoErr(http.MethodPost, "/api/v1/namespaces/_/actions/"+a.name+"?blocking="+strconv.FormatBool(a.blocking),
			reliability.GuestAuthKey, payload)
		var res struct {
			ActivationID string `json:"activationId"`
		}
		_ = json.Unmarshal(body, &res)
		mu.Lock()
		defer mu.Unlock()
		pending--
		codes[fmt.Sprintf("%s %d", a.name, code)]++
		switch {
		case err != nil:
			bad = append(bad, fmt.Sprintf("%s: %v", a.name, err))
		case code != http.StatusOK && code != http.StatusAccepted && code != http.StatusBadGateway:
			bad = append(bad, fmt.Sprintf("%s: %d %.200s", a.name, code, body))
		case res.ActivationID == "":
			bad = append(bad, fmt.Sprintf("%s: %d without an activation id: %.200s", a.name, code, body))
		default:
			ids = append(ids, message.ActivationID(res.ActivationID))
		}
	}
	stop := make(chan struct{})
	sending := make(chan struct{})
	sent := 0
	go func() {
		defer close(sending)
		for {
			select {
			case <-stop:
				return
			case <-time.After(time.Duration(250+rng.IntN(170)) * time.Millisecond):
			}
			pick := rng.IntN(total)
			a := load[0]
			for _, c := range load {
				if pick < c.weight {
					a = c
					break
				}
				pick -= c.weight
			}
			payload := a.payload(rng)
			mu.Lock()
			pending++
			sent++
			mu.Unlock()
			wg.Add(1)
			go invoke(a, payload)
		}
	}()

	var samples []soakSample
	start := time.Now()
	take := func() {
		s := soakSample{at: time.Since(start), goroutines: inv.Metric("go_goroutines"), containers: len(inv.Containers())}
		var err error
		if s.inv, err = reliability.ReadProcStat(inv.Pid()); err != nil {
			t.Fatalf("invoker: %v", err)
		}
		if s.ctl, err = reliability.ReadProcStat(ctl.Pid()); err != nil {
			t.Fatalf("controller: %v", err)
		}
		mu.Lock()
		s.pending, s.sent = pending, sent
		mu.Unlock()
		samples = append(samples, s)
	}
	for time.Since(start) < d {
		time.Sleep(every)
		take()
	}
	close(stop)
	<-sending
	wg.Wait()

	mu.Lock()
	all := append([]message.ActivationID(nil), ids...)
	mu.Unlock()
	sys.WaitDone("guest", all, 10*time.Minute)
	t.Logf("%d requests, %d activations accepted, answers by action and status: %v", sent, len(all), codes)
	for i, b := range bad {
		if i == 10 {
			t.Errorf("... and %d more", len(bad)-10)
			break
		}
		t.Errorf("request failed: %s", b)
	}

	if dir := os.Getenv("OW_SOAK_OUT"); dir != "" {
		writeSamples(t, filepath.Join(dir, "steady.csv"), samples)
	}
	col := func(f func(soakSample) float64) []float64 {
		out := make([]float64, len(samples))
		for i, s := range samples {
			out[i] = f(s)
		}
		return out
	}
	const mib = 1 << 20
	for _, c := range []struct {
		name   string
		series []float64
		tol    soak.Tolerance
	}{
		// A backlog that grows is not a leak but a load the system does not keep up with;
		// the open files and memory of the controller follow it (a connection and a waiter
		// per client).
		{"requests waiting for an answer", col(func(s soakSample) float64 { return float64(s.pending) }), soak.Tolerance{Abs: 10, Rel: 0.5}},
		{"invoker RSS (MiB)", col(func(s soakSample) float64 { return float64(s.inv.RSS) / mib }), soak.Tolerance{Abs: 8, Rel: 0.15}},
		{"invoker goroutines", col(func(s soakSample) float64 { return s.goroutines }), soak.Tolerance{Abs: 20, Rel: 0.15}},
		{"invoker open files", col(func(s soakSample) float64 { return float64(s.inv.FDs) }), soak.Tolerance{Abs: 8, Rel: 0.15}},
		{"invoker threads", col(func(s soakSample) float64 { return float64(s.inv.Threads) }), soak.Tolerance{Abs: 4, Rel: 0.2}},
		{"controller RSS (MiB)", col(func(s soakSample) float64 { return float64(s.ctl.RSS) / mib }), soak.Tolerance{Abs: 8, Rel: 0.15}},
		{"controller open files", col(func(s soakSample) float64 { return float64(s.ctl.FDs) }), soak.Tolerance{Abs: 8, Rel: 0.15}},
		{"controller threads", col(func(s soakSample) float64 { return float64(s.ctl.Threads) }), soak.Tolerance{Abs: 4, Rel: 0.2}},
		{"containers", col(func(s soakSample) float64 { return float64(s.containers) }), soak.Tolerance{Abs: 2, Rel: 0.25}},
	} {
		first, last := c.series[0], c.series[len(c.series)-1]
		t.Logf("%-22s first %8.1f  last %8.1f  min %8.1f  max %8.1f", c.name, first, last, minOf(c.series), maxOf(c.series))
		if err := soak.CheckFlat(c.name, c.series, 0.2, c.tol); err != nil {
			t.Error(err)
		}
	}

	if err := inv.Stop(time.Minute); err != nil {
		t.Errorf("stop: %v", err)
	}
	if left := inv.Containers(); len(left) != 0 {
		t.Errorf("containers left after a clean stop: %v", left)
	}
}

func minOf(s []float64) float64 {
	m := s[0]
	for _, v := range s {
		m = min(m, v)
	}
	return m
}

func maxOf(s []float64) float64 {
	m := s[0]
	for _, v := range s {
		m = max(m, v)
	}
	return m
}

func writeSamples(t *testing.T, path string, samples []soakSample) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	w := csv.NewWriter(f)
	_ = w.Write([]string{"seconds", "requests_sent", "requests_pending", "invoker_rss_bytes", "invoker_threads", "invoker_fds",
		"invoker_goroutines", "controller_rss_bytes", "controller_threads", "controller_fds", "containers"})
	for _, s := range samples {
		_ = w.Write([]string{
			strconv.FormatFloat(s.at.Seconds(), 'f', 1, 64), strconv.Itoa(s.sent), strconv.Itoa(s.pending),
			strconv.FormatUint(s.inv.RSS, 10), strconv.Itoa(s.inv.Threads), strconv.Itoa(s.inv.FDs),
			strconv.FormatFloat(s.goroutines, 'f', 0, 64),
			strconv.FormatUint(s.ctl.RSS, 10), strconv.Itoa(s.ctl.Threads), strconv.Itoa(s.ctl.FDs), strconv.Itoa(s.containers),
		})
	}
	w.Flush()
	if err := w.Error(); err != nil {
		t.Fatal(err)
	}
}
