package controller

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/owinvoker/owinvoker/controller-plugin/balancer"
	"github.com/owinvoker/owinvoker/controller-plugin/supervisor"
	"github.com/owinvoker/owinvoker/invoker/action"
	"github.com/owinvoker/owinvoker/invoker/broker"
	"github.com/owinvoker/owinvoker/invoker/message"
	"github.com/owinvoker/owinvoker/invoker/store"
	"go.uber.org/zap"
)

// consumeAcks reads completed<C> until ctx is done.
func (c *Controller) consumeAcks(ctx context.Context, cons *broker.Consumer) error {
	for {
		rec, err := cons.Fetch(ctx)
		if err != nil && rec.Value == nil {
			if ctx.Err() != nil {
				return nil
			}
			c.log.Warn("fetch ack", zap.Error(err))
			if !sleep(ctx, time.Second) {
				return nil
			}
			continue
		}
		if err != nil {
			c.log.Warn("commit ack", zap.Error(err))
		}
		ack, err := message.DecodeAck(rec.Value)
		if err != nil {
			c.log.Warn("skip unreadable ack", zap.Int64("offset", rec.Offset), zap.Error(err))
			continue
		}
		c.handleAck(ctx, c.cfg.Now(), ack)
	}
}

// handleAck carries out an ack: a result goes to the blocking invoke waiting for it, a
// freed slot goes back to the balancer and its outcome to the invoker's supervisor.
// Completions of health test actions have no slot; they are told apart by their
// transaction id.
func (c *Controller) handleAck(ctx context.Context, now time.Time, ack message.Ack) {
	if res, ok := ack.Result(); ok {
		if res.Activation != nil {
			c.demand.observe(res.Activation)
		}
		c.waits.resolve(ack.ID(), res)
	}
	inst, ok := ack.SlotFree()
	if !ok {
		return
	}
	outcome := supervisor.Success
	if ack.SystemError() {
		outcome = supervisor.SystemError
	}
	if _, ok := c.balancer.Release(string(ack.ID())); ok || ack.Transaction().Equal(c.healthTID) {
		c.supervise(ctx, func() supervisor.Ready { return c.supervisor.Ack(now, inst.Instance, outcome) })
		return
	}
	c.log.Debug("completion of an activation not in flight", zap.String("activationId", string(ack.ID())),
		zap.Int("invoker", inst.Instance))
}

// consumePings reads the health topic until ctx is done.
func (c *Controller) consumePings(ctx context.Context, cons *broker.Consumer) error {
	for {
		rec, err := cons.Fetch(ctx)
		if err != nil && rec.Value == nil {
			if ctx.Err() != nil {
				return nil
			}
			c.log.Warn("fetch ping", zap.Error(err))
			if !sleep(ctx, time.Second) {
				return nil
			}
			continue
		}
		ping, err := message.DecodePing(rec.Value)
		if err != nil {
			c.log.Warn("skip unreadable ping", zap.Int64("offset", rec.Offset), zap.Error(err))
			continue
		}
		c.handlePing(ctx, c.cfg.Now(), ping)
	}
}

// handlePing feeds a ping to the supervisor and the invoker's reported capacity and
// lendable resources to the balancer.
func (c *Controller) handlePing(ctx context.Context, now time.Time, p *message.PingMessage) {
	id := p.Name.Instance
	report := invokerReport{
		userMemoryMB:      int(p.Name.UserMemory.MB()),
		lendableCPUMillis: p.LendableCPUMillis,
		lendableMemoryMB:  p.LendableMemoryMB,
	}
	c.supervise(ctx, func() supervisor.Ready {
		r, err := c.supervisor.Ping(now, id, p.Enabled)
		if err != nil {
			c.log.Warn("ping refused", zap.Int("invoker", id), zap.Error(err))
			return supervisor.Ready{}
		}
		if old, ok := c.health.invokers[id]; !ok || old != report {
			c.health.invokers[id] = report
			c.pushInvokersLocked()
		}
		return r
	})
}

// runTimers expires overdue activations and ticks the supervisor until ctx is done. It
// wakes at the earliest deadline, and at least every second.
func (c *Controller) runTimers(ctx context.Context) error {
	t := time.NewTimer(0)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
			now := c.cfg.Now()
			c.expire(ctx, now)
			c.supervise(ctx, func() supervisor.Ready { return c.supervisor.Tick(now) })
		case <-c.wake: // a new activation may have the earliest deadline
		}
		next := c.cfg.Now().Add(time.Second)
		if d, ok := c.balancer.NextDeadline(); ok && d.Before(next) {
			next = d
		}
		if d, ok := c.supervisor.NextDeadline(); ok && d.Before(next) {
			next = d
		}
		t.Reset(max(next.Sub(c.cfg.Now()), 10*time.Millisecond))
	}
}

// expire forces the completion of activations whose ack is overdue: their slots are
// released and their invokers get a Timeout outcome. Blocking invokes waiting for
// them keep polling the database until their own wait ends.
func (c *Controller) expire(ctx context.Context, now time.Time) {
	for _, rel := range c.balancer.Expire(now) {
		c.log.Warn("forced completion of activation", zap.String("activationId", rel.ActivationID),
			zap.Int("invoker", rel.Invoker))
		c.supervise(ctx, func() supervisor.Ready { return c.supervisor.Ack(now, rel.Invoker, supervisor.Timeout) })
	}
}

// supervise runs one supervisor call under the health lock and carries out its Ready:
// a new status list for the balancer when a state changed, and test actions.
func (c *Controller) supervise(ctx context.Context, call func() supervisor.Ready) {
	c.health.Lock()
	r := call()
	if len(r.Changes) > 0 {
		c.pushInvokersLocked()
	}
	c.health.Unlock()
	for _, ch := range r.Changes {
		c.log.Info("invoker state", zap.Int("invoker", ch.Invoker), zap.Stringer("from", ch.From), zap.Stringer("to", ch.To))
	}
	for _, id := range r.Tests {
		if err := c.sendHealthTest(ctx, id); err != nil {
			c.log.Warn("send health test action", zap.Int("invoker", id), zap.Error(err))
		}
	}
}

// pushInvokersLocked hands the balancer the whole invoker list. The caller holds the
// health lock.
func (c *Controller) pushInvokersLocked() {
	status := c.supervisor.Status()
	list := make([]balancer.Invoker, 0, len(status))
	for id, s := range status {
		rep := c.health.invokers[id]
		list = append(list, balancer.Invoker{
			ID: id, UserMemoryMB: rep.userMemoryMB, Healthy: s.Usable(),
			LendableCPUMillis: rep.lendableCPUMillis, LendableMemoryMB: rep.lendableMemoryMB,
		})
	}
	if err := c.balancer.UpdateInvokers(list); err != nil {
		c.log.Error("update balancer", zap.Error(err))
	}
}

// healthTestCode is the health test action: it returns its parameters.
const healthTestCode = "function main(params) { return params; }"

// writeHealthAction creates or updates whisk.system/invokerHealthTestAction<C> in the
// whisks database: the manifest's default nodejs kind, inline code, 128 MB (the
// minimum memory), standard timeout, logs and concurrency.
func (c *Controller) writeHealthAction(ctx context.Context) error {
	rt, _ := c.manifest.Default("nodejs")
	l := c.cfg.Limits
	a := action.Action{
		Namespace: "whisk.system", Name: c.healthName,
		Exec:       action.Exec{Kind: rt.Kind, Code: &action.Code{Text: healthTestCode}},
		Parameters: action.Parameters{},
		Limits: action.Limits{TimeoutMS: l.Std.TimeoutMS, MemoryMB: l.System.MemoryMB.Min,
			LogsMB: l.Std.LogsMB, Concurrency: l.Std.Concurrency},
		Version:     "0.0.1",
		Annotations: action.Parameters{},
	}
	id := a.DocID()
	for attempt := 0; ; attempt++ {
		rev := ""
		if doc, err := c.store.Get(ctx, c.cfg.DBWhisks, id); err == nil {
			rev = doc.Rev
		} else if !errors.Is(err, store.ErrNotFound) {
			return fmt.Errorf("health test action: %w", err)
		}
		a.Updated = c.cfg.Now().UnixMilli()
		body, err := a.MarshalJSON()
		if err != nil {
			return fmt.Errorf("health test action: %w", err)
		}
		_, err = c.store.Put(ctx, c.cfg.DBWhisks, id, rev, body)
		if err == nil {
			return nil
		}
		if !errors.Is(err, store.ErrConflict) || attempt >= 3 {
			return fmt.Errorf("health test action: %w", err)
		}
	}
}

// sendHealthTest sends the health test action to invoker id, as OpenWhisk's
// supervision does: the fixed sid_invokerHealth transaction, the synthetic whisk.system
// identity, no revision (the invoker reads the latest document) and no content. It is
// not placed through the balancer.
func (c *Controller) sendHealthTest(ctx context.Context, id int) error {
	msg := message.ActivationMessage{
		TransID:             c.healthTID,
		Action:              message.FQN{Path: "whisk.system", Name: c.healthName, Version: "0.0.1"},
		User:                c.healthUser,
		ActivationID:        message.NewActivationID(),
		RootControllerIndex: c.cfg.ControllerID,
		InitArgs:            []string{},
		LockedArgs:          map[string]string{},
	}
	body, err := message.Marshal(msg)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := c.producer.Send(ctx, message.InvokerTopic(c.cfg.TopicPrefix, id), body); err != nil {
		return err
	}
	c.log.Debug("health test action sent", zap.Int("invoker", id), zap.String("activationId", string(msg.ActivationID)))
	return nil
}

// sleep waits d or until ctx is done; it reports whether d passed.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// InvokerStatus is an invoker as this controller sees it: its health and the
// balancer's books on it.
type InvokerStatus struct {
	balancer.InvokerStatus
	State supervisor.State
}

// Invokers returns every invoker this controller knows, indexed by id.
func (c *Controller) Invokers() []InvokerStatus {
	c.health.Lock()
	states := c.supervisor.Status()
	books := c.balancer.Invokers()
	c.health.Unlock()
	out := make([]InvokerStatus, len(states))
	for id, s := range states {
		out[id].State = s
		if id < len(books) {
			out[id].InvokerStatus = books[id]
		}
	}
	return out
}
