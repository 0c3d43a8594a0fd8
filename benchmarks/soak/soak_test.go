package soak_test

import (
	"context"
	"math/rand/v2"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/owinvoker/owinvoker/invoker/message"
	"github.com/owinvoker/owinvoker/reliability"
)

func soakDuration(t *testing.T) time.Duration {
	t.Helper()
	v := os.Getenv("OW_SOAK")
	if v == "" {
		t.Skip("soak runs only with OW_SOAK=<duration>")
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		t.Fatalf("OW_SOAK=%q: %v", v, err)
	}
	return d
}

func binaries(t *testing.T) reliability.Binaries {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	bins, err := reliability.Build(ctx, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if err := reliability.RuntimeImages(ctx); err != nil {
		t.Fatal(err)
	}
	return bins
}

// TestSoakKillInvoker sends 4–5 activations a second (each sleeping 0–2 s) to one invoker
// per delivery mode and kills it every 15–45 s, restarting it 0–3 s later.
//
// at-least-once must end with every activation recorded and acked, none lost and none
// started again after its record was written; a run cut short by a kill, or finished just
// before one but not yet recorded, runs again (counted in "restarted" and "run twice").
// at-most-once loses what was in flight at each kill and runs nothing twice.
func TestSoakKillInvoker(t *testing.T) {
	d := soakDuration(t)
	bins := binaries(t)
	for _, mode := range []string{"at-least-once", "at-most-once"} {
		t.Run(mode, func(t *testing.T) {
			t.Parallel()
			sys := reliability.NewSystem(t, bins, reliability.SystemConfig{})
			inv := sys.StartInvoker(reliability.InvokerConfig{Delivery: mode})
			rev := sys.PutAction(reliability.Action{Name: "sleepy", Kind: "python:3", Code: reliability.SinkAction, TimeoutMS: 120000})
			seed := uint64(time.Now().UnixNano())
			t.Logf("seed %d", seed)
			rng := rand.New(rand.NewPCG(seed, 1))     // the killer's
			sendRng := rand.New(rand.NewPCG(seed, 2)) // the sender's

			var mu sync.Mutex
			var sent []message.ActivationID
			stop := make(chan struct{})
			done := make(chan struct{})
			go func() {
				defer close(done)
				for {
					select {
					case <-stop:
						return
					case <-time.After(time.Duration(150+sendRng.IntN(100)) * time.Millisecond):
					}
					sleep := float64(sendRng.IntN(2000)) / 1000
					m := sys.Activation("guest", "sleepy", rev, sendRng.IntN(4) == 0, map[string]any{"sink": sys.Sink.URL, "sleep": sleep})
					sys.Send(0, m)
					mu.Lock()
					sent = append(sent, m.ActivationID)
					mu.Unlock()
				}
			}()
			kills := 0
			for end := time.Now().Add(d); time.Now().Before(end); {
				time.Sleep(time.Duration(15+rng.IntN(30)) * time.Second)
				inv.Kill()
				kills++
				time.Sleep(time.Duration(rng.IntN(3000)) * time.Millisecond)
				inv.Restart()
			}
			close(stop)
			<-done

			mu.Lock()
			all := append([]message.ActivationID(nil), sent...)
			mu.Unlock()
			switch mode {
			case "at-least-once":
				sys.WaitDone("guest", all, 10*time.Minute)
			case "at-most-once":
				probe := sys.Activation("guest", "sleepy", rev, false, map[string]any{})
				sys.Send(0, probe)
				sys.WaitDone("guest", []message.ActivationID{probe.ActivationID}, 10*time.Minute)
			}
			time.Sleep(5 * time.Second)
			tally := sys.Count("owinvoker SIGKILL every 15–45 s for "+d.String()+" under ~4.5/s", mode, "guest", all)
			t.Logf("%d kills", kills)
			tally.Log(t)
			switch mode {
			case "at-least-once":
				if tally.Recorded != tally.Sent || tally.Acked != tally.Sent || tally.Lost != 0 || tally.RerunAfterRecord != 0 {
					t.Errorf("%+v: want everything recorded and acked, nothing lost or rerun after its record", tally)
				}
			case "at-most-once":
				if tally.RunTwice != 0 || tally.Restarted != 0 {
					t.Errorf("%+v: nothing may run twice in at-most-once mode", tally)
				}
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
