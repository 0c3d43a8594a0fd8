package reliability_test

import (
	"strings"
	"testing"
	"time"

	"github.com/owinvoker/owinvoker/invoker/message"
	"github.com/owinvoker/owinvoker/reliability"
)

// TestDockerdRestart restarts the Docker engine (a private one: others use the machine's)
// while an activation runs, with and without --live-restore. The activation in flight gets
// its record and its ack either way; afterwards the pool serves again, its memory is all
// free (actions that each need the invoker's whole memory run one after the other), and no
// container of ours is left that the invoker does not use.
func TestDockerdRestart(t *testing.T) {
	for _, tc := range []struct {
		name, flags string
		// liveRestore: containers survive the engine's restart, so the activation in
		// flight finishes normally.
		liveRestore bool
	}{
		{"plain", "", false},
		{"live-restore", "--live-restore", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			engine := reliability.StartPrivateEngine(t, tc.flags, "openwhisk/action-python-v3.11:nightly")
			sys := reliability.NewSystem(t, bins, reliability.SystemConfig{DockerHost: engine.Host})
			inv := sys.StartInvoker(reliability.InvokerConfig{Env: []string{
				"CONFIG_whisk_containerPool_userMemory=256m",
				"CONFIG_whisk_containerProxy_timeouts_pauseGrace=1 second",
			}})
			revA := sys.PutAction(reliability.Action{Name: "a", Kind: "python:3", Code: reliability.SinkAction, MemoryMB: 256})
			revB := sys.PutAction(reliability.Action{Name: "b", Kind: "python:3", Code: reliability.SinkAction, MemoryMB: 256})
			run := func(name, rev string, sleep float64) (*message.ActivationMessage, message.ActivationRecord) {
				t.Helper()
				msg := sys.Activation("guest", name, rev, false, map[string]any{"sink": sys.Sink.URL, "sleep": sleep})
				sys.Send(0, msg)
				sys.Acks.WaitSlot(t, msg.ActivationID, 2*time.Minute)
				return msg, sys.WaitRecord("guest", msg.ActivationID, 30*time.Second)
			}
			var ids []message.ActivationID
			// A warm container first, so that the engine's restart also meets an idle one.
			m, rec := run("a", revA, 0)
			ids = append(ids, m.ActivationID)
			if rec.Response.StatusCode != message.StatusSuccess {
				t.Fatalf("before the restart: %d %s", rec.Response.StatusCode, rec.Response.Result)
			}

			// An activation of b (which needs a's memory: a's idle container goes) runs 8 s;
			// the engine restarts 2 s into it.
			slow := sys.Activation("guest", "b", revB, false, map[string]any{"sink": sys.Sink.URL, "sleep": 8})
			sys.Send(0, slow)
			ids = append(ids, slow.ActivationID)
			deadline := time.Now().Add(time.Minute)
			for sys.Sink.Starts(string(slow.ActivationID)) == 0 {
				if time.Now().After(deadline) {
					t.Fatal("the slow activation never started")
				}
				time.Sleep(100 * time.Millisecond)
			}
			time.Sleep(2 * time.Second)
			engine.Restart()
			sys.Acks.WaitSlot(t, slow.ActivationID, 2*time.Minute)
			rec = sys.WaitRecord("guest", slow.ActivationID, 30*time.Second)
			t.Logf("in flight across the restart: %d %s", rec.Response.StatusCode, rec.Response.Result)
			if tc.liveRestore && rec.Response.StatusCode != message.StatusSuccess {
				t.Errorf("with live-restore the activation should finish: %d %s", rec.Response.StatusCode, rec.Response.Result)
			}
			if !tc.liveRestore && rec.Response.StatusCode == message.StatusSuccess {
				t.Errorf("the engine's stop kills the container, yet the activation succeeded: %s", rec.Response.Result)
			}

			// The pool serves again and its memory is free: each needs all 256 MB.
			for _, x := range []struct{ name, rev string }{{"a", revA}, {"b", revB}, {"a", revA}} {
				m, rec := run(x.name, x.rev, 0)
				ids = append(ids, m.ActivationID)
				if rec.Response.StatusCode != message.StatusSuccess {
					t.Errorf("action %s after the restart: %d %s", x.name, rec.Response.StatusCode, rec.Response.Result)
				}
			}
			// Nothing orphaned: once idle, only the warm container of the last action.
			time.Sleep(3 * time.Second)
			var ours []string
			for _, c := range inv.Containers() {
				ours = append(ours, c.Name+" "+c.State)
			}
			if len(ours) != 1 || !strings.Contains(ours[0], "_guest_a ") || strings.Contains(ours[0], "exited") {
				t.Errorf("containers of the invoker when idle: %v, want only a's warm one", ours)
			}
			if got := inv.Metric("owinvoker_memory_in_use_bytes"); got != 256<<20 {
				t.Errorf("memory in use %v bytes, want 256 MiB (one warm container)", got)
			}
			mode := "at-most-once"
			if tc.liveRestore {
				mode += ", dockerd --live-restore"
			}
			sys.Count("dockerd restarted (SIGTERM, start) 2 s into an 8 s activation", mode, "guest", ids).Log(t)
		})
	}
}
