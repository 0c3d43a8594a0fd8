package supervisor

import (
	"slices"
	"testing"
	"time"
)

func TestStrings(t *testing.T) {
	tests := []struct {
		s      State
		want   string
		usable bool
	}{
		{Offline, "down", false},
		{Healthy, "up", true},
		{Unhealthy, "unhealthy", false},
		{Unresponsive, "unresponsive", false},
		{State(9), "State(9)", false},
	}
	for _, tt := range tests {
		if got := tt.s.String(); got != tt.want {
			t.Errorf("State(%d).String() = %q, want %q", uint8(tt.s), got, tt.want)
		}
		if got := tt.s.Usable(); got != tt.usable {
			t.Errorf("%v.Usable() = %v, want %v", tt.s, got, tt.usable)
		}
	}
	for o, want := range map[Outcome]string{Success: "success", SystemError: "system-error", Timeout: "timeout", Outcome(7): "Outcome(7)"} {
		if got := o.String(); got != want {
			t.Errorf("Outcome(%d).String() = %q, want %q", uint8(o), got, want)
		}
	}
}

func TestNew(t *testing.T) {
	for _, cfg := range []Config{
		{PingTimeout: -time.Second},
		{TestInterval: -time.Second},
		{BufferSize: -1},
		{MaxInvokers: -1},
	} {
		if _, err := New(cfg); err == nil {
			t.Errorf("New(%+v) = nil error, want one", cfg)
		}
	}
}

// TestConfig runs the thresholds with a smaller buffer and tolerance, and other timers.
func TestConfig(t *testing.T) {
	s, err := New(Config{PingTimeout: 4 * time.Second, TestInterval: 5 * time.Second, BufferSize: 4, ErrorTolerance: 1, MaxInvokers: 2})
	if err != nil {
		t.Fatal(err)
	}
	at := func(sec int) time.Time { return epoch.Add(time.Duration(sec) * time.Second) }
	ack := func(sec int, o Outcome) func() Ready { return func() Ready { return s.Ack(at(sec), 1, o) } }
	steps := []struct {
		name string
		do   func() Ready
		want Ready
	}{
		{"register", func() Ready { r, _ := s.Ping(at(0), 1, true); return r },
			Ready{Changes: []Change{{1, Offline, Unhealthy}}, Tests: []int{1}}},
		{"an error while the buffer holds 1 outcome", ack(1, SystemError), Ready{}},
		{"success", ack(1, Success),
			Ready{Changes: []Change{{1, Unhealthy, Healthy}}, Tests: []int{1}}},
		{"two errors in the buffer are too many", ack(2, SystemError),
			Ready{Changes: []Change{{1, Healthy, Unhealthy}}, Tests: []int{1}}},
		{"still two errors", ack(2, Success), Ready{Tests: []int{1}}},
		{"the first error leaves the buffer of 4", ack(2, Success),
			Ready{Changes: []Change{{1, Unhealthy, Healthy}}, Tests: []int{1}}},
		{"one timeout is tolerated", ack(2, Timeout), Ready{}},
		{"two are not", ack(2, Timeout),
			Ready{Changes: []Change{{1, Healthy, Unresponsive}}, Tests: []int{1}}},
		{"ping at 5 s", func() Ready { r, _ := s.Ping(at(5), 1, true); return r }, Ready{}},
		{"test timer at 7 s moves the ping timeout from 9 s to 11 s", func() Ready { return s.Tick(at(10)) }, Ready{Tests: []int{1}}},
		{"offline at 11 s", func() Ready { return s.Tick(at(11)) },
			Ready{Changes: []Change{{1, Unresponsive, Offline}}}},
		{"ids beyond MaxInvokers are refused", func() Ready { r, _ := s.Ping(at(12), 2, true); return r }, Ready{}},
	}
	for i, st := range steps {
		got := st.do()
		if !slices.Equal(got.Changes, st.want.Changes) || !slices.Equal(got.Tests, st.want.Tests) {
			t.Fatalf("step %d (%s): got %+v, want %+v", i, st.name, got, st.want)
		}
	}
	if got := s.Status(); !slices.Equal(got, []State{Offline, Offline}) {
		t.Errorf("Status() = %v, want [down down]", got)
	}
	if _, err := s.Ping(at(12), 2, true); err == nil {
		t.Errorf("Ping from invoker 2 with MaxInvokers 2: nil error, want one")
	}
}

func TestNextDeadline(t *testing.T) {
	s, err := New(Config{})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := s.NextDeadline(); ok {
		t.Errorf("NextDeadline() of an empty supervisor reports a deadline")
	}
	if _, err := s.Ping(epoch, 0, true); err != nil {
		t.Fatal(err)
	}
	if got, ok := s.NextDeadline(); !ok || !got.Equal(epoch.Add(10*time.Second)) {
		t.Errorf("NextDeadline() = %v, %v; want %v", got, ok, epoch.Add(10*time.Second))
	}
	if r := s.Tick(epoch.Add(10 * time.Second)); len(r.Changes) != 1 {
		t.Fatalf("Tick at the deadline = %+v, want one change", r)
	}
	if _, ok := s.NextDeadline(); ok {
		t.Errorf("NextDeadline() with every invoker Offline reports a deadline")
	}
	if !(Ready{}).Empty() || (Ready{Tests: []int{0}}).Empty() {
		t.Errorf("Ready.Empty is wrong")
	}
}
