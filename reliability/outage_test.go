package reliability_test

import (
	"testing"
	"time"

	"github.com/owinvoker/owinvoker/invoker/message"
	"github.com/owinvoker/owinvoker/reliability"
)

// deployment is one invoker and the system around it, for tests that run both delivery
// modes side by side against the same faulty service.
type deployment struct {
	mode string
	sys  *reliability.System
	inv  *reliability.Invoker
	rev  string
	sent []*message.ActivationMessage
}

func newDeployments(t *testing.T, cfg reliability.SystemConfig) []*deployment {
	t.Helper()
	var out []*deployment
	for _, mode := range []string{"at-least-once", "at-most-once"} {
		d := &deployment{mode: mode, sys: reliability.NewSystem(t, bins, cfg)}
		d.inv = d.sys.StartInvoker(reliability.InvokerConfig{Delivery: mode})
		d.rev = d.sys.PutAction(reliability.Action{Name: "sleepy", Kind: "python:3", Code: reliability.SinkAction})
		out = append(out, d)
	}
	return out
}

// send publishes n activations that sleep for sleep seconds.
func (d *deployment) send(n int, sleep float64) []*message.ActivationMessage {
	var msgs []*message.ActivationMessage
	for range n {
		m := d.sys.Activation("guest", "sleepy", d.rev, false, map[string]any{"sink": d.sys.Sink.URL, "sleep": sleep})
		d.sys.Send(0, m)
		msgs = append(msgs, m)
	}
	d.sent = append(d.sent, msgs...)
	return msgs
}

// TestCouchDBUnavailable stops the CouchDB-API server while activations finish and new ones
// run (their action is cached), then starts it again. Every record written meanwhile is
// retried until the server is back: nothing is lost, in either mode. Without the retries
// the records of the activations that ended during the outage would be missing.
func TestCouchDBUnavailable(t *testing.T) {
	t.Parallel()
	couch := reliability.PrivateCouchDB(t)
	deps := newDeployments(t, reliability.SystemConfig{CouchURL: couch.Addr})
	for _, d := range deps {
		warm := d.send(1, 0)
		d.sys.WaitDone("guest", ids(warm...), 2*time.Minute)
	}
	for _, d := range deps {
		d.send(6, 2)
	}
	for _, d := range deps {
		for _, m := range d.sent[1:] {
			d.sys.Sink.WaitStarts(t, string(m.ActivationID), 1, time.Minute)
		}
	}
	couch.Stop()
	down := time.Now()
	for _, d := range deps {
		d.send(3, 0.5) // run during the outage
	}
	time.Sleep(6 * time.Second)
	couch.Restart()
	t.Logf("CouchDB-API server down for %v", time.Since(down).Round(time.Millisecond))
	for _, d := range deps {
		d.sys.WaitDone("guest", ids(d.sent...), 3*time.Minute)
		time.Sleep(500 * time.Millisecond)
		tally := d.sys.Count("CouchDB-API server down 6 s while 6 activations finish and 3 run", d.mode, "guest", ids(d.sent[1:]...))
		tally.Log(t)
		if tally.Recorded != tally.Sent || tally.Acked != tally.Sent || tally.Lost != 0 || tally.RunTwice != 0 || tally.Restarted != 0 {
			t.Errorf("%s: %+v, want every activation recorded and acked once", d.mode, tally)
		}
		if n := d.inv.Metric("owinvoker_activation_record_retries_total"); n == 0 {
			t.Errorf("%s: no record write was retried: the outage did not hit them", d.mode)
		}
	}
}

// TestKafkaRestartUnderLoad stops the Kafka broker while an invoker is full (two 512 MB
// activations run, one of them for 40 s, two wait for memory, more are fetched ahead), keeps
// it down while some finish and the next ones start, starts it again and keeps sending. Acks that could not be
// sent are retried until the broker is back, and the consumer rejoins its group, which
// delivers again everything after the last committed offset: records this process already
// handed out must not run a second time, in either mode.
func TestKafkaRestartUnderLoad(t *testing.T) {
	t.Parallel()
	kafka := reliability.PrivateKafka(t)
	var deps []*deployment
	for _, mode := range []string{"at-least-once", "at-most-once"} {
		d := &deployment{mode: mode, sys: reliability.NewSystem(t, bins, reliability.SystemConfig{Kafka: kafka.Addr})}
		d.inv = d.sys.StartInvoker(reliability.InvokerConfig{Delivery: mode})
		d.rev = d.sys.PutAction(reliability.Action{Name: "sleepy", Kind: "python:3", Code: reliability.SinkAction, MemoryMB: 512})
		deps = append(deps, d)
	}
	for _, d := range deps {
		warm := d.send(1, 0)
		d.sys.WaitDone("guest", ids(warm...), 2*time.Minute)
	}
	for _, d := range deps {
		// The first runs through the outage and past the rejoin; the second ends during the
		// outage, freeing memory for the ones waiting and fetched ahead.
		for i, m := range d.send(2, 0.2) {
			d.sys.Sink.Hold(string(m.ActivationID), []time.Duration{40 * time.Second, 8 * time.Second}[i])
		}
		d.send(6, 0.5)
	}
	for _, d := range deps {
		for _, m := range d.sent[1:3] {
			d.sys.Sink.WaitStarts(t, string(m.ActivationID), 1, time.Minute)
		}
	}
	kafka.Stop()
	down := time.Now()
	time.Sleep(10 * time.Second)
	kafka.Restart()
	t.Logf("Kafka down for %v", time.Since(down).Round(time.Millisecond))
	for _, d := range deps {
		d.send(6, 0.2)
	}
	for _, d := range deps {
		d.sys.WaitDone("guest", ids(d.sent...), 3*time.Minute)
		time.Sleep(2 * time.Second) // a redelivery would show now
		tally := d.sys.Count("Kafka broker stopped 10 s with the invoker full, restarted", d.mode, "guest", ids(d.sent[1:]...))
		tally.Log(t)
		if tally.Recorded != tally.Sent || tally.Acked != tally.Sent || tally.Lost != 0 || tally.RunTwice != 0 || tally.Restarted != 0 {
			t.Errorf("%s: %+v, want every activation recorded and acked, none run twice", d.mode, tally)
		}
		t.Logf("%s: ack retries %v, redelivered and re-acked from the record %v", d.mode,
			d.inv.Metric("owinvoker_ack_retries_total"), d.inv.Metric("owinvoker_redelivered_completed_total"))
	}
}
