package reliability

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"sync"
	"testing"
	"time"
)

// Sink counts the runs of test actions: the action calls GET <URL>/start?id=<activation id>
// when it begins and GET <URL>/end?id=<activation id> when it is about to return. It listens
// on the Docker bridge's gateway address, the host as containers on the bridge reach it.
//
// The answer to /start is the number of seconds the action sleeps: the sleep parameter
// the action passed, or, for an activation held with Hold, the hold duration on its first
// start only (so that a crash can be placed while it runs, and its rerun is quick).
type Sink struct {
	URL string

	mu     sync.Mutex
	starts map[string]int
	times  map[string][]time.Time // of the starts
	ends   map[string]int
	hold   map[string]time.Duration
	change chan struct{} // closed and replaced on every call
}

// NewSink starts a sink for the duration of the test.
func NewSink(tb testing.TB) *Sink {
	tb.Helper()
	ip, err := BridgeGateway()
	if err != nil {
		tb.Fatal(err)
	}
	ln, err := net.Listen("tcp", net.JoinHostPort(ip, "0"))
	if err != nil {
		tb.Fatalf("sink: %v", err)
	}
	s := &Sink{URL: "http://" + ln.Addr().String(), starts: map[string]int{}, times: map[string][]time.Time{}, ends: map[string]int{},
		hold: map[string]time.Duration{}, change: make(chan struct{})}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /start", s.handleStart)
	mux.HandleFunc("GET /end", s.handleEnd)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
	})
	return s
}

// BridgeGateway returns the host's address on Docker's default bridge (docker0).
func BridgeGateway() (string, error) {
	ifc, err := net.InterfaceByName("docker0")
	if err != nil {
		return "", fmt.Errorf("docker bridge: %w", err)
	}
	addrs, err := ifc.Addrs()
	if err != nil {
		return "", fmt.Errorf("docker bridge addresses: %w", err)
	}
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok && n.IP.To4() != nil {
			return n.IP.String(), nil
		}
	}
	return "", errors.New("docker bridge: docker0 has no IPv4 address")
}

func (s *Sink) handleStart(w http.ResponseWriter, r *http.Request) {
	id := r.URL.Query().Get("id")
	sleep, _ := strconv.ParseFloat(r.URL.Query().Get("sleep"), 64)
	s.mu.Lock()
	s.starts[id]++
	s.times[id] = append(s.times[id], time.Now())
	if d, ok := s.hold[id]; ok && s.starts[id] == 1 {
		sleep = d.Seconds()
	}
	s.notifyLocked()
	s.mu.Unlock()
	fmt.Fprintf(w, "%g", sleep)
}

func (s *Sink) handleEnd(w http.ResponseWriter, r *http.Request) {
	id := r.URL.Query().Get("id")
	s.mu.Lock()
	s.ends[id]++
	s.notifyLocked()
	s.mu.Unlock()
	fmt.Fprint(w, "ok")
}

func (s *Sink) notifyLocked() {
	close(s.change)
	s.change = make(chan struct{})
}

// Hold makes the first run of activation id sleep for d, whatever it asked for.
func (s *Sink) Hold(id string, d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.hold[id] = d
}

// Starts and Ends return how often activation id began and finished running.
func (s *Sink) Starts(id string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.starts[id]
}

// StartTimes returns when activation id began, each time.
func (s *Sink) StartTimes(id string) []time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]time.Time(nil), s.times[id]...)
}

// Ends returns how often activation id ran to its end.
func (s *Sink) Ends(id string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.ends[id]
}

// WaitStarts waits until activation id has begun n times.
func (s *Sink) WaitStarts(tb testing.TB, id string, n int, timeout time.Duration) {
	tb.Helper()
	deadline := time.After(timeout)
	for {
		s.mu.Lock()
		got, ch := s.starts[id], s.change
		s.mu.Unlock()
		if got >= n {
			return
		}
		select {
		case <-ch:
		case <-deadline:
			tb.Fatalf("activation %s started %d times in %v, want %d", id, got, timeout, n)
		}
	}
}

// Started returns the activations that began at least once, in no particular order.
func (s *Sink) Started() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]string, 0, len(s.starts))
	for id := range s.starts {
		out = append(out, id)
	}
	return out
}

// WaitStarted waits until n distinct activations have begun and returns them.
func (s *Sink) WaitStarted(tb testing.TB, n int, timeout time.Duration) []string {
	tb.Helper()
	deadline := time.After(timeout)
	for {
		s.mu.Lock()
		got, ch := len(s.starts), s.change
		s.mu.Unlock()
		if got >= n {
			return s.Started()
		}
		select {
		case <-ch:
		case <-deadline:
			tb.Fatalf("%d activations started in %v, want %d", got, timeout, n)
		}
	}
}
