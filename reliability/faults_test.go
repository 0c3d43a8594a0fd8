package reliability_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/docker/docker/api/types/container"

	"github.com/owinvoker/owinvoker/invoker/message"
	"github.com/owinvoker/owinvoker/reliability"
)

// errorText returns the "error" member of an activation's result.
func errorText(r message.ActivationResponse) string {
	var v struct {
		Error string `json:"error"`
	}
	_ = json.Unmarshal(r.Result, &v)
	return v.Error
}

// waitGone waits until the container named name (a substring) is no longer one of the
// invoker's.
func waitGone(t *testing.T, inv *reliability.Invoker, name string, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		found := ""
		for _, c := range inv.Containers() {
			if strings.Contains(c.Name, name) {
				found = c.Name + " (" + c.State + ")"
			}
		}
		if found == "" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("container %s still there %v after its activation failed", found, timeout)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// TestActionFaults runs misbehaving actions through one owinvoker process: each activation
// fails with OpenWhisk's message for it, its container is removed, and the invoker goes on
// serving.
func TestActionFaults(t *testing.T) {
	t.Parallel()
	sys := reliability.NewSystem(t, bins, reliability.SystemConfig{})
	inv := sys.StartInvoker(reliability.InvokerConfig{})

	run := func(t *testing.T, a reliability.Action, content map[string]any, timeout time.Duration) message.ActivationRecord {
		t.Helper()
		if a.Kind == "" {
			a.Kind = "python:3"
		}
		rev := sys.PutAction(a)
		msg := sys.Activation("guest", a.Name, rev, true, content)
		sys.Send(0, msg)
		sys.Acks.WaitSlot(t, msg.ActivationID, timeout)
		return sys.WaitRecord("guest", msg.ActivationID, 30*time.Second)
	}
	wantError := func(t *testing.T, rec message.ActivationRecord, status message.StatusCode, text string) {
		t.Helper()
		if rec.Response.StatusCode != status || errorText(rec.Response) != text {
			t.Errorf("response %d %s, want %d with error %q", rec.Response.StatusCode, rec.Response.Result, status, text)
		}
	}

	t.Run("out of memory", func(t *testing.T) {
		rec := run(t, reliability.Action{Name: "oom", Code: reliability.OOMAction, MemoryMB: 128}, map[string]any{"mb": 1024}, 2*time.Minute)
		wantError(t, rec, message.StatusDeveloperError, message.TextMemoryExhausted)
		waitGone(t, inv, "_guest_oom", 30*time.Second)
	})

	t.Run("fork count stops at the pids limit", func(t *testing.T) {
		// Bounded (3000 sleeping children), so a host without the limit survives this
		// check; the fork bomb below runs only if it passed.
		rec := run(t, reliability.Action{Name: "forks", Code: reliability.ForkCountAction, MemoryMB: 512}, map[string]any{"n": 3000}, 2*time.Minute)
		var res struct{ Forked, Failed int }
		if err := json.Unmarshal(rec.Response.Result, &res); err != nil || rec.Response.StatusCode != message.StatusSuccess {
			t.Fatalf("fork count: %d %s", rec.Response.StatusCode, rec.Response.Result)
		}
		t.Logf("forks: %d succeeded, %d refused", res.Forked, res.Failed)
		if res.Forked >= 1024 || res.Failed == 0 {
			t.Fatalf("%d of 3000 forks succeeded: no pids limit of 1024; not running the fork bomb", res.Forked)
		}
	})

	t.Run("fork bomb", func(t *testing.T) {
		if t.Failed() {
			t.Skip()
		}
		start := time.Now()
		rec := run(t, reliability.Action{Name: "bomb", Code: reliability.ForkBombAction, MemoryMB: 256, TimeoutMS: 3000}, nil, 2*time.Minute)
		t.Logf("fork bomb ended after %v: %d %s", time.Since(start).Round(time.Millisecond), rec.Response.StatusCode, rec.Response.Result)
		// The bomb ends by its time limit, its memory limit, or its runtime's death: a
		// developer error in every case.
		if rec.Response.StatusCode != message.StatusDeveloperError {
			t.Errorf("fork bomb: %d %s, want a developer error", rec.Response.StatusCode, rec.Response.Result)
		}
		waitGone(t, inv, "_guest_bomb", time.Minute)
	})

	t.Run("log flood", func(t *testing.T) {
		rec := run(t, reliability.Action{Name: "flood", Code: reliability.LogFloodAction, LogsMB: 1}, map[string]any{"lines": 20000}, 2*time.Minute)
		if rec.Response.StatusCode != message.StatusSuccess {
			t.Errorf("log flood: %d %s, want success", rec.Response.StatusCode, rec.Response.Result)
		}
		size := 0
		for _, l := range rec.Logs {
			size += len(l)
		}
		if len(rec.Logs) == 0 || len(rec.Logs) >= 20000 || size > 1<<20+64<<10 {
			t.Errorf("log flood: %d lines, %d bytes recorded; want them cut at 1 MiB", len(rec.Logs), size)
		}
		if n := len(rec.Logs); n > 0 && !strings.Contains(rec.Logs[n-1], message.TextLogsTruncated(1<<20)) {
			t.Errorf("last log line %q, want the truncation notice %q", rec.Logs[n-1], message.TextLogsTruncated(1<<20))
		}
	})

	t.Run("never answers", func(t *testing.T) {
		start := time.Now()
		rec := run(t, reliability.Action{Name: "silent", Code: reliability.SilentAction, TimeoutMS: 2000}, nil, time.Minute)
		took := time.Since(start)
		wantError(t, rec, message.StatusDeveloperError, message.TextTimedOut(2000, false))
		if took > 30*time.Second {
			t.Errorf("a 2 s time limit took %v to enforce", took)
		}
		waitGone(t, inv, "_guest_silent", 30*time.Second)
	})

	t.Run("exits mid-run", func(t *testing.T) {
		rec := run(t, reliability.Action{Name: "quitter", Code: reliability.ExitAction}, nil, time.Minute)
		// The runtime's own answer ("command exited", as OpenWhisk's action loop says), or
		// OpenWhisk's text when the connection drops.
		if rec.Response.StatusCode != message.StatusDeveloperError ||
			(errorText(rec.Response) != "command exited" && errorText(rec.Response) != message.TextAbnormalRun) {
			t.Errorf("exit mid-run: %d %s, want a developer error", rec.Response.StatusCode, rec.Response.Result)
		}
		waitGone(t, inv, "_guest_quitter", 30*time.Second)
	})

	t.Run("still serving", func(t *testing.T) {
		rec := run(t, reliability.Action{Name: "fine", Code: reliability.SinkAction}, map[string]any{}, time.Minute)
		if rec.Response.StatusCode != message.StatusSuccess {
			t.Errorf("after the faults: %d %s", rec.Response.StatusCode, rec.Response.Result)
		}
	})

	if err := inv.Stop(time.Minute); err != nil {
		t.Errorf("stop: %v", err)
	}
	if left := inv.Containers(); len(left) != 0 {
		t.Errorf("containers left after a clean stop: %v", left)
	}
}

// TestContainersRemovedBehindTheInvokersBack removes action containers with `docker rm -f`
// while they are warm, paused and busy, and once gives a removed container's address to
// another container. The invoker has room for one container only, so a container it still
// counted would block every later activation: each case ends with activations of two
// actions that need the whole memory. The containers run on a network of the test's own, so
// that no other test's container takes over an address by chance.
func TestContainersRemovedBehindTheInvokersBack(t *testing.T) {
	t.Parallel()
	sys := reliability.NewSystem(t, bins, reliability.SystemConfig{})
	netName := reliability.Network(t, sys.Docker)
	inv := sys.StartInvoker(reliability.InvokerConfig{Env: []string{
		"CONFIG_whisk_containerPool_userMemory=256m",
		"CONFIG_whisk_containerProxy_timeouts_pauseGrace=1 second",
		"CONFIG_whisk_containerFactory_containerArgs_network=" + netName,
	}})
	revA := sys.PutAction(reliability.Action{Name: "a", Kind: "python:3", Code: reliability.SinkAction, MemoryMB: 256})
	revB := sys.PutAction(reliability.Action{Name: "b", Kind: "python:3", Code: reliability.SinkAction, MemoryMB: 256})

	invoke := func(t *testing.T, name, rev string, content map[string]any) (*message.ActivationMessage, message.ActivationRecord, time.Duration) {
		t.Helper()
		if content == nil {
			content = map[string]any{"sink": sys.Sink.URL}
		}
		msg := sys.Activation("guest", name, rev, false, content)
		start := time.Now()
		sys.Send(0, msg)
		sys.Acks.WaitSlot(t, msg.ActivationID, 2*time.Minute)
		return msg, sys.WaitRecord("guest", msg.ActivationID, 30*time.Second), time.Since(start)
	}
	containerOf := func(t *testing.T, action string) reliability.Listed {
		t.Helper()
		for _, c := range inv.Containers() {
			if strings.HasSuffix(c.Name, "_guest_"+action) {
				return c
			}
		}
		t.Fatalf("no container of action %s: %v", action, inv.Containers())
		return reliability.Listed{}
	}
	remove := func(t *testing.T, c reliability.Listed) string {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		info, err := sys.Docker.ContainerInspect(ctx, c.ID)
		if err != nil {
			t.Fatal(err)
		}
		ip := ""
		if n := info.NetworkSettings.Networks[netName]; n != nil {
			ip = n.IPAddress
		}
		if err := sys.Docker.ContainerRemove(ctx, c.ID, container.RemoveOptions{Force: true}); err != nil {
			t.Fatalf("docker rm -f %s: %v", c.Name, err)
		}
		return ip
	}
	// afterwards checks that the pool lost nothing: both actions run, one after the other,
	// each needing all the invoker's memory.
	afterwards := func(t *testing.T) {
		t.Helper()
		for _, x := range []struct{ name, rev string }{{"b", revB}, {"a", revA}, {"b", revB}} {
			_, rec, took := invoke(t, x.name, x.rev, nil)
			if rec.Response.StatusCode != message.StatusSuccess {
				t.Errorf("action %s after the removal: %d %s (%v)", x.name, rec.Response.StatusCode, rec.Response.Result, took)
			}
		}
	}
	// handled checks the activation that met the removed container: it ran on a new
	// container, or it failed promptly with one of the texts allowed.
	handled := func(t *testing.T, rec message.ActivationRecord, took time.Duration, failures ...string) {
		t.Helper()
		t.Logf("activation on the removed container: %d %s after %v", rec.Response.StatusCode, rec.Response.Result, took.Round(time.Millisecond))
		ok := rec.Response.StatusCode == message.StatusSuccess && strings.Contains(string(rec.Response.Result), `"activation"`)
		for _, f := range failures {
			ok = ok || rec.Response.StatusCode != message.StatusSuccess && errorText(rec.Response) == f
		}
		if !ok {
			t.Errorf("activation on a container removed by someone else: %d %s, want success or one of %q",
				rec.Response.StatusCode, rec.Response.Result, failures)
		}
		if took > 20*time.Second {
			t.Errorf("activation on a removed container took %v", took)
		}
	}

	t.Run("warm", func(t *testing.T) {
		invoke(t, "a", revA, nil)
		remove(t, containerOf(t, "a"))
		_, rec, took := invoke(t, "a", revA, nil)
		handled(t, rec, took)
		afterwards(t)
	})

	t.Run("warm, its address taken over", func(t *testing.T) {
		invoke(t, "a", revA, nil)
		ip := remove(t, containerOf(t, "a"))
		// Another tenant's container, initialized with its own action, now has the address.
		reliability.Decoy(t, sys.Docker, netName, ip, reliability.PythonImage)
		_, rec, took := invoke(t, "a", revA, map[string]any{"sink": sys.Sink.URL, "secret": "for a only"})
		if strings.Contains(string(rec.Response.Result), "decoy") {
			t.Fatalf("activation of guest/a ran in another container that took over its container's address: %s", rec.Response.Result)
		}
		handled(t, rec, took)
		afterwards(t)
	})

	t.Run("paused", func(t *testing.T) {
		invoke(t, "a", revA, nil)
		c := containerOf(t, "a")
		deadline := time.Now().Add(30 * time.Second)
		for {
			info, err := sys.Docker.ContainerInspect(context.Background(), c.ID)
			if err == nil && info.State != nil && info.State.Paused {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("container %s not paused 30 s after its activation (pause grace 1 s)", c.Name)
			}
			time.Sleep(200 * time.Millisecond)
		}
		remove(t, c)
		_, rec, took := invoke(t, "a", revA, nil)
		handled(t, rec, took)
		afterwards(t)
	})

	t.Run("busy", func(t *testing.T) {
		msg := sys.Activation("guest", "a", revA, false, map[string]any{"sink": sys.Sink.URL})
		sys.Sink.Hold(string(msg.ActivationID), time.Minute)
		start := time.Now()
		sys.Send(0, msg)
		sys.Sink.WaitStarts(t, string(msg.ActivationID), 1, time.Minute)
		remove(t, containerOf(t, "a"))
		sys.Acks.WaitSlot(t, msg.ActivationID, time.Minute)
		rec := sys.WaitRecord("guest", msg.ActivationID, 30*time.Second)
		// OpenWhisk's answer to a connection lost during /run.
		handled(t, rec, time.Since(start), message.TextAbnormalRun)
		afterwards(t)
	})

	if err := inv.Stop(time.Minute); err != nil {
		t.Errorf("stop: %v", err)
	}
	if left := inv.Containers(); len(left) != 0 {
		t.Errorf("containers left after a clean stop: %v", left)
	}
}

// TestStemCellRemovedBehindTheInvokersBack removes the prewarmed python container: the next
// python activation must not be handed the dead one, a new stem cell takes its place, and
// that one is clean when another tenant's activation gets it.
func TestStemCellRemovedBehindTheInvokersBack(t *testing.T) {
	t.Parallel()
	sys := reliability.NewSystem(t, bins, reliability.SystemConfig{StemCells: true})
	inv := sys.StartInvoker(reliability.InvokerConfig{})
	stem := func() []reliability.Listed {
		var out []reliability.Listed
		for _, c := range inv.Containers() {
			if strings.HasSuffix(c.Name, "_prewarm_python3") && c.State == "running" {
				out = append(out, c)
			}
		}
		return out
	}
	deadline := time.Now().Add(time.Minute)
	for len(stem()) == 0 {
		if time.Now().After(deadline) {
			t.Fatalf("no python stem cell: %v", inv.Containers())
		}
		time.Sleep(200 * time.Millisecond)
	}
	old := stem()[0]
	if err := sys.Docker.ContainerRemove(context.Background(), old.ID, container.RemoveOptions{Force: true}); err != nil {
		t.Fatal(err)
	}
	rev := sys.PutAction(reliability.Action{Name: "py", Kind: "python:3", Code: reliability.SinkAction, MemoryMB: 256})
	msg := sys.Activation("guest", "py", rev, true, map[string]any{})
	sys.Send(0, msg)
	sys.Acks.WaitSlot(t, msg.ActivationID, 2*time.Minute)
	if rec := sys.WaitRecord("guest", msg.ActivationID, time.Minute); rec.Response.StatusCode != message.StatusSuccess {
		t.Errorf("python activation after its stem cell was removed: %d %s", rec.Response.StatusCode, rec.Response.Result)
	}
	deadline = time.Now().Add(time.Minute)
	for {
		if s := stem(); len(s) > 0 && s[0].ID != old.ID {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no new python stem cell a minute after the old one was removed: %v", inv.Containers())
		}
		time.Sleep(200 * time.Millisecond)
	}
	// Another tenant's action gets the new stem cell, which must be clean: had the first
	// activation been sent to the dead one's address, it would have initialized whatever
	// container got that address next, possibly this one.
	rev2 := sys.PutAction(reliability.Action{Namespace: "tenantb", Name: "py2", Kind: "python:3", Code: reliability.SinkAction, MemoryMB: 256})
	msg2 := sys.Activation("tenantb", "py2", rev2, true, map[string]any{})
	sys.Send(0, msg2)
	sys.Acks.WaitSlot(t, msg2.ActivationID, 2*time.Minute)
	if rec := sys.WaitRecord("tenantb", msg2.ActivationID, time.Minute); rec.Response.StatusCode != message.StatusSuccess {
		t.Errorf("another tenant's activation on the next stem cell: %d %s", rec.Response.StatusCode, rec.Response.Result)
	}
}
