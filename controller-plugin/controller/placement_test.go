package controller_test

import (
	"testing"
	"time"

	"github.com/apache/openwhisk-client-go/whisk"
	"github.com/owinvoker/owinvoker/controller-plugin/balancer"
	"github.com/owinvoker/owinvoker/controller-plugin/controller"
	"github.com/owinvoker/owinvoker/invoker/message"
)

// waitFor polls cond until it holds.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func active(cl *cluster, id int) int {
	inv := cl.c.Invokers()
	if id >= len(inv) {
		return 0
	}
	return inv[id].Active
}

// TestIntegrationShardingPlacement shows OpenWhisk's placement with two invokers: an
// action's activations go to its home invoker while it has memory, then to the next
// invoker by the action's step, and home again once memory is freed.
func TestIntegrationShardingPlacement(t *testing.T) {
	cl := startCluster(t)
	invs := []*fakeInvoker{cl.startInvoker(0, 512), cl.startInvoker(1, 512)}
	cl.waitState(0, "up")
	cl.waitState(1, "up")
	client := cl.client(controller.GuestKey)
	if _, _, err := client.Actions.Insert(&whisk.Action{Name: "hello", Exec: &whisk.Exec{Kind: "nodejs:20", Code: ptr(helloJS)},
		Limits: &whisk.Limits{Memory: ptr(256)}}, false); err != nil {
		t.Fatal(err)
	}
	h := balancer.Hash("guest", "guest/hello")
	home, other := invs[h%2], invs[(h+1)%2]
	t.Logf("hash %d: home invoker%d", h, home.id)

	invoke := func() {
		t.Helper()
		if _, _, err := client.Actions.Invoke("hello", map[string]any{}, false, false); err != nil {
			t.Fatal(err)
		}
	}
	// Two activations of 256 MB fill the home invoker's 512 MB.
	invoke()
	m1 := home.next()
	invoke()
	home.next()
	other.none(200 * time.Millisecond)
	// The third goes to the next invoker of the walk.
	invoke()
	other.next()
	home.none(200 * time.Millisecond)
	if a, b := active(cl, home.id), active(cl, other.id); a != 2 || b != 1 {
		t.Errorf("in flight: home %d, other %d; want 2, 1", a, b)
	}
	// A completion frees home memory: the next activation goes home again.
	home.ack(message.NewCompletion(m1.TransID, home.activation(m1, message.StatusSuccess, `{}`), home.instance))
	waitFor(t, "the release on the home invoker", func() bool { return active(cl, home.id) == 1 })
	invoke()
	home.next()
	other.none(200 * time.Millisecond)
}

// TestIntegrationHarvestPlacement shows the harvest policy preferring an invoker that
// reports lendable memory for an action predicted to need more than its limit, where
// the sharding policy keeps it on its home invoker.
func TestIntegrationHarvestPlacement(t *testing.T) {
	for _, tc := range []struct {
		policy   string
		toLender bool
	}{
		{"sharding", false},
		{"harvest", true},
	} {
		t.Run(tc.policy, func(t *testing.T) {
			cl := startCluster(t, func(c *controller.Config) { c.Policy = tc.policy })
			h := balancer.Hash("guest", "guest/hello")
			invs := make([]*fakeInvoker, 2)
			// The invoker that is not the action's home lends 512 MB.
			for id := range 2 {
				invs[id] = cl.startInvoker(id, 1024)
			}
			home, lender := invs[h%2], invs[(h+1)%2]
			lender.lendMB.Store(512)
			cl.waitState(0, "up")
			cl.waitState(1, "up")
			waitFor(t, "the lender's ping", func() bool {
				inv := cl.c.Invokers()
				return len(inv) == 2 && inv[lender.id].LendableMemoryMB == 512
			})
			client := cl.client(controller.GuestKey)
			if _, _, err := client.Actions.Insert(&whisk.Action{Name: "hello", Exec: &whisk.Exec{Kind: "nodejs:20", Code: ptr(helloJS)},
				Limits: &whisk.Limits{Memory: ptr(256)}}, false); err != nil {
				t.Fatal(err)
			}

			// Nothing is known about the action yet: it goes home. Its activation
			// reports a 400 MB peak, 144 MB over its limit.
			call := invokeAsync(client, "hello", map[string]any{}, true, true)
			m := home.next()
			a := home.activation(m, message.StatusSuccess, `{}`, message.IntParam(controller.AnnotationPeakMemMB, 400))
			home.ack(message.NewCombined(m.TransID, a, home.instance))
			if r := await(t, call); r.err != nil {
				t.Fatal(r.err)
			}

			for i := range 2 {
				if _, _, err := client.Actions.Invoke("hello", map[string]any{}, false, false); err != nil {
					t.Fatal(err)
				}
				want, not := home, lender
				if tc.toLender {
					want, not = lender, home
				}
				got := want.next()
				// The invoker is told what the action needs beyond its allocation.
				if got.Harvest == nil || got.Harvest.ExtraMemoryMB != 144 {
					t.Errorf("activation %d carries harvest hint %+v, want 144 MB extra", i, got.Harvest)
				}
				not.none(200 * time.Millisecond)
				t.Logf("activation %d on invoker%d", i, want.id)
			}
		})
	}
}

// TestIntegrationForcedCompletion shows the balancer's completion deadline: slots whose
// ack never comes are released, the invoker is marked unresponsive, a blocking invoke
// still answers 202, and a late ack changes nothing.
func TestIntegrationForcedCompletion(t *testing.T) {
	cl := startCluster(t, func(c *controller.Config) {
		// Deadline = max(action timeout, 100 ms) × 1: 300 ms for the action below.
		c.Balancer.TimeoutFactor, c.Balancer.TimeoutAddon, c.Balancer.StdTimeLimit = 1, -1, 100*time.Millisecond
		c.BlockingWait = time.Second
	})
	inv := cl.startInvoker(0, 2048)
	cl.waitState(0, "up")
	client := cl.client(controller.GuestKey)
	if _, _, err := client.Actions.Insert(&whisk.Action{Name: "lost", Exec: &whisk.Exec{Kind: "nodejs:20", Code: ptr(helloJS)},
		Limits: &whisk.Limits{Timeout: ptr(300)}}, false); err != nil {
		t.Fatal(err)
	}
	call := invokeAsync(client, "lost", map[string]any{}, true, false)
	var msgs []*message.ActivationMessage
	msgs = append(msgs, inv.next())
	for range 3 {
		if _, _, err := client.Actions.Invoke("lost", map[string]any{}, false, false); err != nil {
			t.Fatal(err)
		}
		msgs = append(msgs, inv.next())
	}
	// Four timeouts: more than the three the supervisor tolerates.
	cl.waitState(0, "unresponsive")
	waitFor(t, "the forced releases", func() bool { return active(cl, 0) == 0 })
	if r := await(t, call); r.resp == nil || r.resp.StatusCode != 202 {
		t.Errorf("blocking invoke of a lost activation: %v, %v; want 202", r.resp, r.err)
	}
	// Late acks are not in flight any more: nothing is released twice.
	for _, m := range msgs {
		inv.ack(message.NewCompletion(m.TransID, inv.activation(m, message.StatusSuccess, `{}`), inv.instance))
	}
	time.Sleep(200 * time.Millisecond)
	if st := cl.c.Invokers()[0]; st.Active != 0 || st.FreeMB != st.CapacityMB {
		t.Errorf("invoker0 books after late acks: %+v", st.InvokerStatus)
	}
}
