package reliability

import (
	"fmt"
	"strings"
	"testing"

	"github.com/owinvoker/owinvoker/invoker/message"
)

// Tally is one row of the fault matrix: what a set of activations got.
type Tally struct {
	Fault, Mode string
	Sent        int // activations published
	Recorded    int // with an activation record
	Acked       int // with at least one slot-freeing ack
	Lost        int // with neither a record nor a slot-freeing ack
	// RunTwice counts activations whose action ran to its end more than once. Started
	// twice (a run cut short by the crash, then run again) is not counted here but in
	// Restarted.
	RunTwice int
	// RerunAfterRecord counts activations that started again after their record had been
	// written: what at-least-once promises never happens.
	RerunAfterRecord int
	Restarted        int // activations whose action started more than once
	// DuplicateAcks is the number of slot-freeing acks beyond the first (a controller
	// ignores them: the activation is no longer in its books).
	DuplicateAcks int
}

// Count tallies activations of namespace ns. Call it once they have settled.
func (s *System) Count(fault, mode, ns string, ids []message.ActivationID) Tally {
	s.TB.Helper()
	t := Tally{Fault: fault, Mode: mode, Sent: len(ids)}
	for _, id := range ids {
		rec, recorded := s.Record(ns, id)
		acks := s.Acks.SlotFrees(id)
		if recorded {
			t.Recorded++
		}
		if acks > 0 {
			t.Acked++
			t.DuplicateAcks += acks - 1
		}
		if !recorded && acks == 0 {
			t.Lost++
		}
		if s.Sink.Ends(string(id)) > 1 {
			t.RunTwice++
		}
		if s.Sink.Starts(string(id)) > 1 {
			t.Restarted++
		}
		if recorded {
			for _, at := range s.Sink.StartTimes(string(id)) {
				if at.UnixMilli() > rec.Updated {
					t.RerunAfterRecord++
					break
				}
			}
		}
	}
	return t
}

// Row formats the tally as a line of RELIABILITY.md's matrix.
func (t Tally) Row() string {
	return fmt.Sprintf("| %s | %s | %d | %d | %d | %d | %d | %d | %d | %d |", t.Fault, t.Mode, t.Sent, t.Recorded, t.Acked, t.Lost,
		t.RunTwice, t.RerunAfterRecord, t.Restarted, t.DuplicateAcks)
}

// Log writes the row to the test log, where `go test -v` shows it.
func (t Tally) Log(tb testing.TB) {
	tb.Helper()
	tb.Logf("matrix: %s", t.Row())
}

// MatrixHeader is the header of the rows Row writes.
func MatrixHeader() string {
	return strings.Join([]string{
		"| fault | mode | sent | recorded | acked | lost | run twice | rerun after its record | restarted | duplicate acks |",
		"|---|---|---|---|---|---|---|---|---|---|",
	}, "\n")
}
