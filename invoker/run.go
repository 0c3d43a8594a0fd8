package invoker

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/owinvoker/owinvoker/invoker/action"
	"github.com/owinvoker/owinvoker/invoker/broker"
	"github.com/owinvoker/owinvoker/invoker/message"
	"github.com/owinvoker/owinvoker/sandbox"
	"github.com/owinvoker/owinvoker/sandbox/actionproxy"
	"github.com/owinvoker/owinvoker/sandbox/docker"
)

// outcome is what running one activation produced: the activation to record and ack, and
// how its acks go out.
type outcome struct {
	act message.WhiskActivation
	// resultSent: a blocking activation's ResultMessage went out already (logs collected
	// afterwards); the slot-free ack is then a CompletionMessage.
	resultSent bool
	// combined: the slot-free ack is a CombinedCompletionAndResultMessage (errors before the
	// run, and blocking activations without log collection).
	combined bool
	// store: write the record (false only for blacklisted namespaces).
	store bool
	// abandon: the invoker is stopping and the activation never got a container; in
	// at-least-once mode it is left unfinished in Kafka for the next run.
	abandon bool
}

// run executes one parsed activation: fetch, container, /init, /run, logs. It always returns
// an outcome: every failure becomes an activation response (spec §6.2, §7.7).
func (inv *Invoker) run(ctx context.Context, msg *message.ActivationMessage) outcome {
	log := inv.log.With(zap.String("activationId", string(msg.ActivationID)), zap.String("action", msg.Action.String()))
	now := inv.now
	fallback := func(resp message.ActivationResponse) outcome {
		return outcome{act: message.FallbackActivation(msg, resp, now().UnixMilli()), combined: true, store: true}
	}

	if inv.blacklist.contains(msg.User.Namespace.Name) {
		o := fallback(message.ErrorTextResponse(message.StatusApplicationError, message.TextNamespaceBlacklisted))
		o.store = false
		return o
	}

	fetched, err := inv.fetcher.Fetch(ctx, msg)
	if err != nil {
		var fe *fetchError
		if errors.As(err, &fe) {
			log.Info("action not runnable", zap.Error(err))
			return fallback(fe.resp)
		}
		log.Error("fetch action", zap.Error(err))
		return fallback(message.ErrorTextResponse(message.StatusWhiskError, message.TextActionFetchError))
	}
	a := fetched.Action
	if err := a.Limits.Check(action.Allowed(inv.cfg.Bounds, inv.cfg.Bounds, overrides(msg.User.Limits))); err != nil {
		var le *action.LimitError
		if errors.As(err, &le) {
			return fallback(message.ErrorTextResponse(message.StatusApplicationError, le.Message))
		}
		return fallback(message.ErrorTextResponse(message.StatusApplicationError, err.Error()))
	}
	if err := a.Executable(); err != nil {
		return fallback(message.ErrorTextResponse(message.StatusWhiskError, message.TextActionFetchError))
	}
	content, err := action.Unlock(msg.Content, msg.LockedArgs, inv.cfg.ParameterKeys)
	if err != nil {
		log.Warn("locked arguments", zap.Error(err))
		return fallback(message.ErrorTextResponse(message.StatusWhiskError, "Failed to decrypt the action's parameters."))
	}
	initArgs, runValue, err := action.SplitArgs(content, msg.InitArgs)
	if err != nil {
		return fallback(message.ErrorTextResponse(message.StatusApplicationError, err.Error()))
	}

	timeout := time.Duration(a.Limits.TimeoutMS) * time.Millisecond
	req := inv.sandboxRequest(msg, fetched)
	lease, err := inv.sandbox.Acquire(ctx, req)
	if err != nil {
		if ctx.Err() != nil {
			return fallback(message.ErrorTextResponse(message.StatusWhiskError, message.TextResourceProvisionError))
		}
		if errors.Is(err, sandbox.ErrDraining) && inv.cfg.Delivery == broker.AtLeastOnce {
			return outcome{abandon: true}
		}
		log.Warn("no container", zap.Error(err))
		switch {
		case errors.Is(err, docker.ErrImage) && a.Exec.Kind == action.KindBlackbox:
			return inv.ran(msg, fetched, message.ErrorTextResponse(message.StatusDeveloperError, message.TextImagePullError(a.Exec.Image)), now(), now(), 0, false)
		}
		return inv.ran(msg, fetched, message.ErrorTextResponse(message.StatusWhiskError, message.TextResourceProvisionError), now(), now(), 0, false)
	}
	inv.metrics.starts.WithLabelValues(string(lease.Start)).Inc()
	destroy := false
	var harvested *started
	if inv.harvester != nil {
		harvested = inv.harvester.begin(ctx, msg, fetched, lease)
	}
	defer func() { lease.Release(destroy) }()

	actx := action.Context{
		Namespace:     msg.User.Namespace.Name,
		ActionName:    msg.Action.QualifiedNameWithLeadingSlash(),
		ActionVersion: msg.Action.Version,
		ActivationID:  string(msg.ActivationID),
		TransactionID: msg.TransID.ID,
	}
	if a.ProvideAPIKey() {
		actx.APIKey = msg.User.AuthKey
	}

	var initTime time.Duration
	var start time.Time
	if !lease.Initialized {
		actx.Deadline = now().Add(timeout).UnixMilli()
		value, err := action.InitValue(a, fetched.Code, action.InitEnv(initArgs, actx))
		if err != nil {
			destroy = true
			return inv.ran(msg, fetched, message.ErrorTextResponse(message.StatusWhiskError, message.TextActionMismatch), now(), now(), 0, false)
		}
		initReq, err := initRequest(value, timeout)
		if err != nil {
			destroy = true
			return inv.ran(msg, fetched, message.ErrorTextResponse(message.StatusWhiskError, message.TextActionMismatch), now(), now(), 0, false)
		}
		start = now()
		resp, err := lease.Proxy.Init(ctx, initReq)
		initTime = resp.Elapsed
		if err != nil || resp.Status != actionproxy.Success {
			destroy = true
			end := now()
			r := inv.proxyResponse(ctx, lease, resp, err, a, true)
			o := inv.ran(msg, fetched, r, start, end, initTime, resp.Timeout)
			o.act.Annotations = append(o.act.Annotations, message.IntParam(message.AnnotationInitTime, initTime.Milliseconds()))
			if inv.harvester != nil {
				inv.harvester.end(ctx, harvested, &o.act)
			}
			inv.collectLogs(ctx, lease, fetched, &o.act, true, &destroy)
			return o
		}
		lease.MarkInitialized()
	}

	actx.Deadline = now().Add(timeout).UnixMilli()
	runStart := now()
	if start.IsZero() {
		start = runStart
	}
	harvested.running(runStart)
	version := msg.Action.Version
	resp, err := lease.Proxy.Run(ctx, actionproxy.RunRequest{
		Value:         runValue,
		Namespace:     actx.Namespace,
		ActionName:    actx.ActionName,
		ActionVersion: &version,
		ActivationID:  actx.ActivationID,
		TransactionID: actx.TransactionID,
		Deadline:      time.UnixMilli(actx.Deadline),
		AuthKey:       actx.APIKey,
		Timeout:       timeout,
	})
	end := now()
	r := inv.proxyResponse(ctx, lease, resp, err, a, false)
	o := inv.ran(msg, fetched, r, start, end, initTime, resp.Timeout)
	if initTime > 0 {
		o.act.Annotations = append(o.act.Annotations, message.IntParam(message.AnnotationInitTime, initTime.Milliseconds()))
	}
	inv.metrics.duration.WithLabelValues("run").Observe(end.Sub(runStart).Seconds())
	if inv.harvester != nil {
		inv.harvester.end(ctx, harvested, &o.act)
	}
	if r.StatusCode == message.StatusDeveloperError || r.StatusCode == message.StatusWhiskError {
		destroy = true
	}
	logsWanted := a.Limits.LogsMB > 0
	if msg.Blocking && logsWanted {
		if err := inv.acks.result(ctx, msg, o.act); err != nil {
			log.Warn("result ack", zap.Error(err))
		}
		o.resultSent = true
	}
	o.combined = msg.Blocking && !logsWanted
	inv.collectLogs(ctx, lease, fetched, &o.act, r.StatusCode == message.StatusDeveloperError, &destroy)
	return o
}

// ran builds the activation of an action that was (or should have been) run.
func (inv *Invoker) ran(msg *message.ActivationMessage, f *Fetched, r message.ActivationResponse, start, end time.Time, initTime time.Duration, timedOut bool) outcome {
	a := f.Action
	dur := end.Sub(start).Milliseconds()
	limits, _ := json.Marshal(a.Limits)
	anns := message.Parameters{
		message.RawParam(message.AnnotationLimits, limits),
		message.StringParam(message.AnnotationPath, a.Namespace+"/"+a.Name),
		message.StringParam(message.AnnotationKind, a.Exec.Kind),
		message.BoolParam(message.AnnotationTimeout, timedOut),
	}
	if msg.Cause != "" {
		anns = append(anns, message.StringParam(message.AnnotationCausedBy, "sequence"))
	}
	// waitTime: from the controller's receipt to the start of /init or /run.
	wait := start.Sub(msg.TransID.StartTime()).Milliseconds()
	anns = append(anns, message.IntParam(message.AnnotationWaitTime, max(wait, 0)))
	if msg.Action.Binding != "" {
		anns = append(anns, message.StringParam(message.AnnotationBinding, msg.Action.Binding))
	}
	act := message.WhiskActivation{
		Namespace:    msg.User.Namespace.Name,
		Name:         msg.Action.Name,
		Subject:      msg.User.Subject,
		ActivationID: msg.ActivationID,
		Start:        start.UnixMilli(),
		End:          end.UnixMilli(),
		Cause:        msg.Cause,
		Response:     r,
		Version:      a.Version,
		Annotations:  anns,
		Duration:     &dur,
	}
	_ = initTime
	return outcome{act: act, store: true}
}

// proxyResponse turns a /init or /run outcome into the activation response, checking for an
// OOM kill when the connection was lost.
func (inv *Invoker) proxyResponse(ctx context.Context, lease *sandbox.Lease, resp actionproxy.Response, err error, a *action.Action, init bool) message.ActivationResponse {
	if err != nil {
		// The container refused the activation (503, connection refused on /run) or our ctx
		// ended: a whisk error.
		inv.log.Warn("container unavailable", zap.String("container", lease.Name), zap.Error(err))
		if lease.OOMKilled(ctx) {
			return message.ErrorTextResponse(message.StatusDeveloperError, message.TextMemoryExhausted)
		}
		if init {
			return message.ErrorTextResponse(message.StatusDeveloperError, message.TextAbnormalInit)
		}
		return message.ErrorTextResponse(message.StatusWhiskError, message.TextAbnormalRun)
	}
	// A process of the action that died (the proxy answers "command exited", or the
	// connection dropped) may have been killed by the OOM killer: say so, as OpenWhisk does.
	if resp.Status == actionproxy.DeveloperError && !resp.Timeout && lease.OOMKilled(ctx) {
		return message.ErrorTextResponse(message.StatusDeveloperError, message.TextMemoryExhausted)
	}
	r := message.ActivationResponse{StatusCode: message.StatusCode(resp.Status), Result: resp.Result}
	if resp.Size > 0 || resp.Result != nil {
		size := resp.Size
		r.Size = &size
	}
	return r
}

// collectLogs reads the activation's log lines into act.Logs, marking the container for
// destruction when collection failed (spec §8.6).
func (inv *Invoker) collectLogs(ctx context.Context, lease *sandbox.Lease, f *Fetched, act *message.WhiskActivation, developerError bool, destroy *bool) {
	limit := int64(f.Action.Limits.LogsMB) << 20
	if limit <= 0 {
		return
	}
	sentinels := !developerError && lease.Sentinelled
	lines, ok := lease.Logs(ctx, limit, sentinels, developerError)
	act.Logs = lines
	if !ok {
		*destroy = true
	}
}

func initRequest(value json.RawMessage, timeout time.Duration) (actionproxy.InitRequest, error) {
	var v struct {
		Name   string            `json:"name"`
		Main   string            `json:"main"`
		Binary bool              `json:"binary"`
		Code   string            `json:"code"`
		Env    map[string]string `json:"env"`
	}
	if err := json.Unmarshal(value, &v); err != nil {
		return actionproxy.InitRequest{}, fmt.Errorf("init value: %w", err)
	}
	return actionproxy.InitRequest{Name: v.Name, Main: v.Main, Binary: v.Binary, Code: v.Code, Env: v.Env, Timeout: timeout}, nil
}

func overrides(l message.UserLimits) action.Overrides {
	return action.Overrides{
		MinTimeoutMS: l.MinActionTimeout, MaxTimeoutMS: l.MaxActionTimeout,
		MinMemoryMB: l.MinActionMemory, MaxMemoryMB: l.MaxActionMemory,
		MinLogsMB: l.MinActionLogs, MaxLogsMB: l.MaxActionLogs,
		MinConcurrency: l.MinActionConcurrency, MaxConcurrency: l.MaxActionConcurrency,
	}
}

// sandboxRequest describes the container an activation needs.
func (inv *Invoker) sandboxRequest(msg *message.ActivationMessage, f *Fetched) sandbox.Request {
	a := f.Action
	req := sandbox.Request{
		Namespace:   msg.User.Namespace.Name,
		Action:      a.DocID(),
		ActionName:  a.Name,
		Revision:    a.Rev,
		Kind:        a.Exec.Kind,
		MemoryMB:    a.Limits.MemoryMB,
		Concurrency: max(a.Limits.Concurrency, 1),
		Sentinelled: true,
	}
	if a.Exec.Kind == action.KindBlackbox {
		req.Image = a.Exec.Image
		// Images the manifest lists are trusted and pre-pulled; user images are pulled first,
		// and a failed pull is fatal only for "latest" or untagged references.
		req.Pull = !inv.manifest.IsBlackbox(a.Exec.Image)
		req.PullRequired = req.Pull && (!strings.Contains(lastSegment(a.Exec.Image), ":") || strings.HasSuffix(a.Exec.Image, ":latest"))
		req.Sentinelled = inv.manifest.IsBlackbox(a.Exec.Image)
	} else {
		req.Image = f.Runtime.Image.Ref(inv.cfg.RuntimesRegistry)
		req.Sentinelled = f.Runtime.SentinelledLogs
	}
	return req
}

func lastSegment(ref string) string {
	if i := strings.LastIndex(ref, "/"); i >= 0 {
		return ref[i+1:]
	}
	return ref
}
