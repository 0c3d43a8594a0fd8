package controller

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/owinvoker/owinvoker/controller-plugin/balancer"
	"github.com/owinvoker/owinvoker/invoker/action"
	"github.com/owinvoker/owinvoker/invoker/broker"
	"github.com/owinvoker/owinvoker/invoker/message"
	"github.com/owinvoker/owinvoker/invoker/store"
	"go.uber.org/zap"
)

// invokeAction handles POST …/actions/{name}: throttles, checks the payload, builds the
// ActivationMessage, places it on an invoker and, for blocking requests, waits for the
// result (202 with the id when the wait ends first).
func (c *Controller) invokeAction(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	id := caller(ctx)
	ns := namespace(ctx)
	name := param(r, "name")
	if !c.entityName(w, r, name) {
		return
	}
	now := c.cfg.Now()
	if status, text := c.throttle(id, now); status != 0 {
		c.fail(w, r, status, text)
		return
	}
	payloadMax := c.cfg.Limits.PayloadMaxBytes
	if l := id.Limits.MaxPayloadSize; l != nil && int64(*l) < payloadMax {
		payloadMax = int64(*l)
	}
	if r.ContentLength > payloadMax {
		c.fail(w, r, http.StatusRequestEntityTooLarge, textEntityTooBig("Request", r.ContentLength, payloadMax))
		return
	}
	q := r.URL.Query()
	blocking, text := parseBool(q, "blocking", false)
	if text == "" {
		var result bool
		result, text = parseBool(q, "result", false)
		if text == "" {
			var wait time.Duration
			wait, text = c.parseTimeout(q.Get("timeout"), q.Has("timeout"))
			if text == "" {
				c.invoke(w, r, id, ns, name, payloadMax, blocking, result, wait)
				return
			}
		}
	}
	c.fail(w, r, http.StatusBadRequest, text)
}

// parseTimeout reads the timeout query parameter: 1..BlockingWait milliseconds.
func (c *Controller) parseTimeout(v string, present bool) (time.Duration, string) {
	if !present {
		return c.cfg.BlockingWait, ""
	}
	maxMS := c.cfg.BlockingWait.Milliseconds()
	n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 32)
	if err != nil || n <= 0 || n > maxMS {
		return 0, textMalformedQuery("timeout", textInvalidTimeout(maxMS))
	}
	return time.Duration(n) * time.Millisecond, ""
}

// throttle applies the namespace's invocation rate and concurrency limits and returns
// 429 and its text when one is exceeded, as OpenWhisk's entitlement check does.
func (c *Controller) throttle(id *identity, now time.Time) (int, string) {
	perMinute := c.cfg.Limits.InvocationsPerMinute
	if l := id.Limits.InvocationsPerMinute; l != nil {
		perMinute = *l
	}
	if perMinute >= 0 {
		if count := c.rates.add(id.UUID, now); count > perMinute {
			return http.StatusTooManyRequests, textTooManyRequests(count, perMinute)
		}
	}
	concurrent := c.cfg.Limits.ConcurrentInvocations
	if l := id.Limits.ConcurrentInvocations; l != nil {
		concurrent = *l
	}
	if concurrent >= 0 {
		if active := c.balancer.ActiveFor(id.UUID); active >= concurrent {
			return http.StatusTooManyRequests, textTooManyConcurrent(active, concurrent)
		}
	}
	return 0, ""
}

func (c *Controller) invoke(w http.ResponseWriter, r *http.Request, id *identity, ns, name string,
	payloadMax int64, blocking, result bool, wait time.Duration) {
	ctx := r.Context()
	body, ok := c.readBody(w, r, payloadMax)
	if !ok {
		return
	}
	payload, text := parsePayload(body)
	if text != "" {
		c.fail(w, r, http.StatusBadRequest, text)
		return
	}
	a, ok := c.fetchAction(w, r, ns+"/"+name)
	if !ok {
		return
	}
	if a.Exec.Kind == action.KindSequence {
		c.fail(w, r, http.StatusBadRequest, textSequence)
		return
	}
	if overridesFinal(a, payload) {
		c.fail(w, r, http.StatusBadRequest, textParamsNotAllowed)
		return
	}
	msg, err := c.activationMessage(transaction(ctx), id, a, payload, blocking)
	if err != nil {
		c.failInternal(w, r, "build activation message", err)
		return
	}
	// What the action is predicted to need beyond its allocation goes to the balancer and,
	// as a hint, to the invoker, which may not have seen the action before.
	extraCPU, extraMem := c.demand.predict(a.DocID())
	if extraCPU > 0 || extraMem > 0 {
		msg.Harvest = &message.HarvestHint{ExtraCPUMillis: extraCPU, ExtraMemoryMB: extraMem}
	}
	record, err := message.Marshal(msg)
	if err != nil {
		c.failInternal(w, r, "encode activation message", err)
		return
	}
	if len(record) > message.MaxRecordBytes {
		c.fail(w, r, http.StatusRequestEntityTooLarge, textTooLarge)
		return
	}
	aid := msg.ActivationID
	var waiter <-chan message.ActivationOrID
	if blocking {
		var cancel func()
		waiter, cancel = c.waits.add(aid)
		defer cancel()
	}
	now := c.cfg.Now()
	placed, err := c.balancer.Schedule(now, balancer.Request{
		ActivationID:   string(aid),
		Namespace:      id.Namespace,
		NamespaceUUID:  id.UUID,
		Action:         a.DocID(),
		Version:        a.Version,
		MemoryMB:       a.Limits.MemoryMB,
		MaxConcurrent:  a.Limits.Concurrency,
		Blackbox:       c.pulled(a),
		TimeLimit:      time.Duration(a.Limits.TimeoutMS) * time.Millisecond,
		ExtraCPUMillis: extraCPU,
		ExtraMemoryMB:  extraMem,
	})
	if errors.Is(err, balancer.ErrNoInvokers) {
		c.log.Warn("no invokers available", zap.String("transid", msg.TransID.ID), zap.String("action", a.DocID()))
		c.fail(w, r, http.StatusServiceUnavailable, textUnavailable)
		return
	}
	if err != nil {
		c.failInternal(w, r, "schedule activation", err)
		return
	}
	select {
	case c.wake <- struct{}{}:
	default:
	}
	topic := message.InvokerTopic(c.cfg.TopicPrefix, placed.Invoker)
	if err := c.producer.Send(ctx, topic, record); err != nil {
		c.balancer.Release(string(aid))
		if errors.Is(err, broker.ErrTooLarge) {
			c.fail(w, r, http.StatusRequestEntityTooLarge, textTooLarge)
			return
		}
		c.failInternal(w, r, "publish activation", err)
		return
	}
	c.log.Info("activation posted", zap.String("transid", msg.TransID.ID), zap.String("activationId", string(aid)),
		zap.String("action", a.DocID()), zap.Int("invoker", placed.Invoker), zap.Bool("forced", placed.Forced),
		zap.Bool("blocking", blocking), zap.Int("extraMemMB", extraMem), zap.Int("extraCpuMillis", extraCPU))

	w.Header().Set(headerActivationID, string(aid))
	if !blocking {
		c.writeJSON(w, http.StatusAccepted, map[string]string{"activationId": string(aid)})
		return
	}
	act, err := c.await(ctx, id.Namespace, aid, wait, waiter)
	if err != nil {
		c.failInternal(w, r, "await activation", err)
		return
	}
	if act == nil {
		c.writeJSON(w, http.StatusAccepted, map[string]string{"activationId": string(aid)})
		return
	}
	c.writeActivationResult(w, act, result)
}

// pulled reports whether an action's image is pulled from a registry: blackbox actions
// whose image is not one of the manifest's trusted blackboxes. Only those go to the
// blackbox invokers, as in OpenWhisk.
func (c *Controller) pulled(a *action.Action) bool {
	return a.Exec.Kind == action.KindBlackbox && !c.manifest.IsBlackbox(a.Exec.Image)
}

// parsePayload reads an invoke body: an object, an array, or nothing ({}).
func parsePayload(body []byte) (json.RawMessage, string) {
	body = bytes.TrimSpace(body)
	if len(body) == 0 {
		return nil, ""
	}
	if !json.Valid(body) {
		var v any
		err := json.Unmarshal(body, &v)
		return nil, textMalformedPrefix + err.Error()
	}
	switch body[0] {
	case '{', '[':
		return json.RawMessage(body), ""
	case 'n':
		return nil, "" // null
	}
	return nil, textMalformedPrefix + "Object expected"
}

// overridesFinal reports whether the payload sets a parameter that the action's
// "final" annotation makes immutable (one with a defined value).
func overridesFinal(a *action.Action, payload json.RawMessage) bool {
	if len(payload) == 0 || payload[0] != '{' || !a.Annotations.IsTruthy("final", false) {
		return false
	}
	var fields map[string]json.RawMessage
	if json.Unmarshal(payload, &fields) != nil {
		return false
	}
	for _, p := range a.Parameters {
		if _, ok := fields[p.Key]; ok && len(p.Value) > 0 && string(p.Value) != "null" {
			return true
		}
	}
	return false
}

// activationMessage builds the message as OpenWhisk's controller does: the action's
// parameters overlaid with an object payload (an array payload replaces them), the
// names of init parameters, and the encryption of locked parameters the payload does
// not override.
func (c *Controller) activationMessage(tid message.TransactionID, id *identity, a *action.Action,
	payload json.RawMessage, blocking bool) (*message.ActivationMessage, error) {
	content, payloadKeys, err := mergeContent(a.Parameters, payload)
	if err != nil {
		return nil, err
	}
	initArgs := []string{}
	locked := map[string]string{}
	for _, p := range a.Parameters {
		if p.Init {
			initArgs = append(initArgs, p.Key)
		}
		if p.Encryption != "" && !payloadKeys[p.Key] {
			locked[p.Key] = p.Encryption
		}
	}
	slices.Sort(initArgs)
	return &message.ActivationMessage{
		TransID:             tid,
		Action:              message.FQN{Path: a.Namespace, Name: a.Name, Version: a.Version},
		Revision:            message.DocRevision(a.Rev),
		User:                id.message(),
		ActivationID:        message.NewActivationID(),
		RootControllerIndex: c.cfg.ControllerID,
		Blocking:            blocking,
		Content:             content,
		InitArgs:            initArgs,
		LockedArgs:          locked,
	}, nil
}

// mergeContent returns the message content: the parameters as an object with an
// object payload's members over them, or an array payload unchanged. It also returns
// the payload's keys.
func mergeContent(params action.Parameters, payload json.RawMessage) (json.RawMessage, map[string]bool, error) {
	if len(payload) > 0 && payload[0] == '[' {
		return payload, nil, nil
	}
	var fields map[string]json.RawMessage
	if len(payload) > 0 {
		if err := json.Unmarshal(payload, &fields); err != nil {
			return nil, nil, fmt.Errorf("payload: %w", err)
		}
	}
	keys := map[string]bool{}
	var b bytes.Buffer
	b.WriteByte('{')
	first := true
	member := func(k string, v json.RawMessage) error {
		key, err := json.Marshal(k)
		if err != nil {
			return err
		}
		if !first {
			b.WriteByte(',')
		}
		first = false
		b.Write(key)
		b.WriteByte(':')
		if len(v) == 0 {
			v = json.RawMessage("null")
		}
		return json.Compact(&b, v)
	}
	for _, p := range params {
		if _, over := fields[p.Key]; over {
			continue
		}
		if err := member(p.Key, p.Value); err != nil {
			return nil, nil, fmt.Errorf("parameter %q: %w", p.Key, err)
		}
	}
	names := make([]string, 0, len(fields))
	for k := range fields {
		names = append(names, k)
	}
	slices.Sort(names)
	for _, k := range names {
		keys[k] = true
		if err := member(k, fields[k]); err != nil {
			return nil, nil, fmt.Errorf("payload member %q: %w", k, err)
		}
	}
	b.WriteByte('}')
	return b.Bytes(), keys, nil
}

// await waits for a blocking activation's result: the result ack, or the record in
// the activations database (read every DBPollInterval, and after the ResultPollDelays
// when the ack carried only the id). It returns nil when wait ends first, or when the
// controller stops.
func (c *Controller) await(ctx context.Context, ns string, aid message.ActivationID, wait time.Duration,
	acks <-chan message.ActivationOrID) (*message.WhiskActivation, error) {
	deadline := time.NewTimer(wait)
	defer deadline.Stop()
	slow := time.NewTicker(c.cfg.DBPollInterval)
	defer slow.Stop()
	var quick <-chan time.Time // nil until a shrunk ack arrives
	var quickTimer *time.Timer
	defer func() {
		if quickTimer != nil {
			quickTimer.Stop()
		}
	}()
	delays := c.cfg.ResultPollDelays
	poll := func() (*message.WhiskActivation, error) {
		act, err := c.readActivation(ctx, ns, aid)
		if errors.Is(err, store.ErrNotFound) {
			return nil, nil
		}
		if err != nil {
			return nil, err
		}
		c.demand.observe(act)
		act.Logs = []string{} // OpenWhisk drops the logs of records read for a blocking wait
		return act, nil
	}
	for {
		select {
		case <-ctx.Done():
			return nil, nil
		case <-c.stopping:
			return nil, nil
		case <-deadline.C:
			return nil, nil
		case res := <-acks:
			if res.Activation != nil {
				return res.Activation, nil
			}
			acks = nil
			if len(delays) > 0 {
				quickTimer = time.NewTimer(delays[0])
				quick = quickTimer.C
				delays = delays[1:]
			}
		case <-quick:
			act, err := poll()
			if act != nil || err != nil {
				return act, err
			}
			quick = nil
			if len(delays) > 0 {
				quickTimer.Reset(delays[0])
				quick = quickTimer.C
				delays = delays[1:]
			}
		case <-slow.C:
			act, err := poll()
			if act != nil || err != nil {
				return act, err
			}
		}
	}
}

// writeActivationResult answers a blocking invoke whose activation finished: 200 for
// success, 502 for application and developer errors, 500 for whisk errors; the body is
// the whole activation, or only its result with result=true (an array result is always
// the body).
func (c *Controller) writeActivationResult(w http.ResponseWriter, a *message.WhiskActivation, resultOnly bool) {
	status := http.StatusOK
	switch a.Response.StatusCode {
	case message.StatusApplicationError, message.StatusDeveloperError:
		status = http.StatusBadGateway
	case message.StatusWhiskError:
		status = http.StatusInternalServerError
	}
	res := a.Response.Result
	switch {
	case len(res) > 0 && bytes.TrimSpace(res)[0] == '[':
		c.writeRaw(w, status, compact(res))
	case resultOnly:
		if len(res) == 0 {
			res = json.RawMessage("{}")
		}
		c.writeRaw(w, status, compact(res))
	default:
		body, err := extendedActivation(a)
		if err != nil {
			c.log.Error("encode activation", zap.Error(err))
			c.writeRaw(w, http.StatusInternalServerError, []byte(`{"error":"`+textInternal+`"}`))
			return
		}
		c.writeRaw(w, status, body)
	}
}

func compact(raw json.RawMessage) []byte {
	var b bytes.Buffer
	if json.Compact(&b, raw) != nil {
		return raw
	}
	return b.Bytes()
}
