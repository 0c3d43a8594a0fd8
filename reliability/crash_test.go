package reliability_test

import (
	"testing"
	"time"

	"github.com/owinvoker/owinvoker/invoker/message"
	"github.com/owinvoker/owinvoker/reliability"
)

func ids(msgs ...*message.ActivationMessage) []message.ActivationID {
	out := make([]message.ActivationID, len(msgs))
	for i, m := range msgs {
		out[i] = m.ActivationID
	}
	return out
}

// TestKillInvokerMidActivation crashes owinvoker (SIGKILL) while two activations run and
// five later ones have finished behind the first, still running one, so that their offsets
// cannot have been committed in at-least-once mode. Then it restarts the invoker.
//
// at-least-once: all seven are redelivered. The five finished ones are acknowledged again
// from their records and never run again (this fails without the record check on
// redelivery); the two cut short run again and get their record and ack.
//
// at-most-once (OpenWhisk's): nothing is redelivered. The two in flight are lost (no record,
// no ack: the controller force-completes them); nothing runs twice.
func TestKillInvokerMidActivation(t *testing.T) {
	for _, mode := range []string{"at-least-once", "at-most-once"} {
		t.Run(mode, func(t *testing.T) {
			t.Parallel()
			sys := reliability.NewSystem(t, bins, reliability.SystemConfig{})
			inv := sys.StartInvoker(reliability.InvokerConfig{Delivery: mode})
			rev := sys.PutAction(reliability.Action{Name: "sleepy", Kind: "python:3", Code: reliability.SinkAction, TimeoutMS: 120000})
			act := func(sleep float64) *message.ActivationMessage {
				return sys.Activation("guest", "sleepy", rev, false, map[string]any{"sink": sys.Sink.URL, "sleep": sleep})
			}

			long := act(0.1)
			sys.Sink.Hold(string(long.ActivationID), 2*time.Minute)
			sys.Send(0, long)
			sys.Sink.WaitStarts(t, string(long.ActivationID), 1, 2*time.Minute)
			var short []*message.ActivationMessage
			for range 5 {
				m := act(0.1)
				short = append(short, m)
				sys.Send(0, m)
			}
			sys.WaitDone("guest", ids(short...), 2*time.Minute)
			mid := act(0.1)
			sys.Sink.Hold(string(mid.ActivationID), 2*time.Minute)
			sys.Send(0, mid)
			sys.Sink.WaitStarts(t, string(mid.ActivationID), 1, 2*time.Minute)

			inv.Kill()
			left := inv.Containers()
			if len(left) < 2 {
				t.Errorf("after the crash %d containers are left, want the 2 busy ones at least: %v", len(left), left)
			}
			inv.Restart()
			// The restarted invoker removed what the crashed one left.
			now := map[string]bool{}
			for _, c := range inv.Containers() {
				now[c.ID] = true
			}
			for _, c := range left {
				if now[c.ID] {
					t.Errorf("container %s of the crashed invoker is still there after the restart", c.Name)
				}
			}

			all := append([]*message.ActivationMessage{long, mid}, short...)
			switch mode {
			case "at-least-once":
				sys.WaitDone("guest", ids(all...), 3*time.Minute)
				time.Sleep(time.Second) // any further ack would be a duplicate: let it arrive
				tally := sys.Count("owinvoker SIGKILL, 2 running, 5 finished uncommitted", mode, "guest", ids(all...))
				tally.Log(t)
				if tally.Recorded != 7 || tally.Acked != 7 || tally.Lost != 0 || tally.RunTwice != 0 || tally.RerunAfterRecord != 0 {
					t.Errorf("tally %+v: want all 7 recorded and acked, none lost, none run twice", tally)
				}
				for _, m := range short {
					if n := sys.Sink.Starts(string(m.ActivationID)); n != 1 {
						t.Errorf("finished activation %s started %d times after redelivery, want 1 (re-acked from its record)", m.ActivationID, n)
					}
				}
				for _, m := range []*message.ActivationMessage{long, mid} {
					id := string(m.ActivationID)
					if s, e := sys.Sink.Starts(id), sys.Sink.Ends(id); s != 2 || e != 1 {
						t.Errorf("activation %s cut short by the crash: started %d, finished %d times; want 2 and 1", id, s, e)
					}
					if rec, _ := sys.Record("guest", m.ActivationID); rec.Response.StatusCode != message.StatusSuccess {
						t.Errorf("record of rerun %s: %+v, want success", id, rec.Response)
					}
				}
				if n := inv.Metric("owinvoker_redelivered_completed_total"); n != 5 {
					t.Errorf("owinvoker_redelivered_completed_total = %v after the restart, want 5", n)
				}
			case "at-most-once":
				// Activations are read in order: once a probe sent after the restart is done,
				// nothing older is coming back.
				probe := act(0)
				sys.Send(0, probe)
				sys.WaitDone("guest", ids(probe), 3*time.Minute)
				time.Sleep(time.Second)
				tally := sys.Count("owinvoker SIGKILL, 2 running, 5 finished", mode, "guest", ids(all...))
				tally.Log(t)
				if tally.Lost != 2 || tally.Recorded != 5 || tally.RunTwice != 0 || tally.Restarted != 0 || tally.DuplicateAcks != 0 {
					t.Errorf("tally %+v: want exactly the 2 running activations lost, nothing run or acked twice", tally)
				}
				for _, m := range []*message.ActivationMessage{long, mid} {
					if _, ok := sys.Record("guest", m.ActivationID); ok || sys.Acks.SlotFrees(m.ActivationID) != 0 {
						t.Errorf("activation %s running at the crash got a record or an ack in at-most-once mode", m.ActivationID)
					}
				}
			}
			if n := sys.RecordCount(); mode == "at-least-once" && n != 7 || mode == "at-most-once" && n != 6 {
				t.Errorf("%d records in the activations database", n)
			}

			if err := inv.Stop(time.Minute); err != nil {
				t.Errorf("stop: %v", err)
			}
			if left := inv.Containers(); len(left) != 0 {
				t.Errorf("containers left after a clean stop: %v", left)
			}
		})
	}
}

// TestKillInvokerWhileCouchDBDown crashes an at-least-once owinvoker with three finished
// activations behind a running one, stops the CouchDB-API server, and restarts the invoker:
// the redelivered activations arrive while it cannot tell whether they already ran. It must
// wait for the database rather than run them again (this fails when a failed check counts
// as "not run yet").
func TestKillInvokerWhileCouchDBDown(t *testing.T) {
	t.Parallel()
	couch := reliability.PrivateCouchDB(t)
	sys := reliability.NewSystem(t, bins, reliability.SystemConfig{CouchURL: couch.Addr})
	inv := sys.StartInvoker(reliability.InvokerConfig{Delivery: "at-least-once"})
	rev := sys.PutAction(reliability.Action{Name: "sleepy", Kind: "python:3", Code: reliability.SinkAction, TimeoutMS: 120000})
	act := func() *message.ActivationMessage {
		return sys.Activation("guest", "sleepy", rev, false, map[string]any{"sink": sys.Sink.URL, "sleep": 0.1})
	}
	long := act()
	sys.Sink.Hold(string(long.ActivationID), 2*time.Minute)
	sys.Send(0, long)
	sys.Sink.WaitStarts(t, string(long.ActivationID), 1, 2*time.Minute)
	short := []*message.ActivationMessage{act(), act(), act()}
	for _, m := range short {
		sys.Send(0, m)
	}
	sys.WaitDone("guest", ids(short...), 2*time.Minute)

	inv.Kill()
	couch.Stop()
	inv.Restart()
	// The group hands the partition over once the dead member's session expires.
	inv.WaitLog(`"msg":"redelivery check failed, retrying"`, 2*time.Minute)
	couch.Restart()
	all := append([]*message.ActivationMessage{long}, short...)
	sys.WaitDone("guest", ids(all...), 3*time.Minute)
	time.Sleep(time.Second)
	tally := sys.Count("owinvoker SIGKILL, then CouchDB-API server down during the redelivery", "at-least-once", "guest", ids(all...))
	tally.Log(t)
	if tally.Recorded != 4 || tally.Acked != 4 || tally.Lost != 0 || tally.RunTwice != 0 || tally.RerunAfterRecord != 0 {
		t.Errorf("tally %+v: want all recorded and acked, none run again", tally)
	}
	for _, m := range short {
		if n := sys.Sink.Starts(string(m.ActivationID)); n != 1 {
			t.Errorf("finished activation %s started %d times", m.ActivationID, n)
		}
	}
}
