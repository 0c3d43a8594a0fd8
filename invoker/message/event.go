package message

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/big"
)

// Event types of EventMessage.eventType.
const (
	EventActivation = "Activation"
	EventMetric     = "Metric"
)

// EventMessage is a user event on the events topic (§5.7). Exactly one of
// Activation and Metric is set; invokers only send Activation events.
type EventMessage struct {
	Source     string // "invoker<N>"
	Activation *ActivationEvent
	Metric     *MetricEvent
	Subject    string
	Namespace  string
	UserID     string // the invoking namespace's uuid
	EventType  string // EventActivation or EventMetric
	Timestamp  int64  // send time, epoch ms
}

// ActivationEvent is the body of an Activation event. Durations are in ms.
type ActivationEvent struct {
	Name                  string // the path annotation, "ns[/pkg]/action"
	ActivationID          string
	StatusCode            int
	Duration              int64
	WaitTime              int64
	InitTime              int64
	Kind                  string
	Conductor             bool
	Memory                int    // MB, from the limits annotation
	CausedBy              string // omitted when empty
	Size                  *int   // omitted when nil
	UserDefinedStatusCode *int   // omitted when nil
}

// MetricEvent is the body of a Metric event (controllers only).
type MetricEvent struct {
	MetricName  string `json:"metricName"`
	MetricValue int64  `json:"metricValue"`
}

// ErrNoEvent is returned by NewActivationEvent for an activation that lacks
// the path or kind annotation; OpenWhisk sends no event for it.
var ErrNoEvent = errors.New("activation has no path or kind annotation")

// NewActivationEvent builds the event for a finished activation as the
// invoker sends it with the slot-freeing ack: source is the invoker,
// userID the invoking namespace's uuid, now the send time (epoch ms).
func NewActivationEvent(a *WhiskActivation, source InvokerInstanceID, userID string, now int64) (EventMessage, error) {
	path, ok1 := a.Annotations.GetString(AnnotationPath)
	kind, ok2 := a.Annotations.GetString(AnnotationKind)
	if !ok1 || !ok2 {
		return EventMessage{}, ErrNoEvent
	}
	body := &ActivationEvent{
		Name:         path,
		ActivationID: string(a.ActivationID),
		StatusCode:   int(a.Response.StatusCode),
		Kind:         kind,
		Size:         a.Response.Size,
	}
	if a.Duration != nil {
		body.Duration = max(*a.Duration, 0)
	}
	if w, ok := a.Annotations.GetInt(AnnotationWaitTime); ok {
		body.WaitTime = max(w, 0)
	}
	if i, ok := a.Annotations.GetInt(AnnotationInitTime); ok {
		body.InitTime = max(i, 0)
	}
	body.Conductor, _ = a.Annotations.GetBool(AnnotationConductor)
	body.CausedBy, _ = a.Annotations.GetString(AnnotationCausedBy)
	if limits, ok := a.Annotations.Get(AnnotationLimits); ok {
		body.Memory = limitsMemory(limits)
	}
	body.UserDefinedStatusCode = userDefinedStatusCode(a.Response.Result)
	return EventMessage{
		Source:     source.Source(),
		Activation: body,
		Subject:    a.Subject,
		Namespace:  a.Namespace,
		UserID:     userID,
		EventType:  EventActivation,
		Timestamp:  now,
	}, nil
}

// limitsMemory reads memory (MB) from a limits annotation, which OpenWhisk
// only accepts with both timeout and memory present; otherwise 0.
func limitsMemory(raw json.RawMessage) int {
	o, err := parseObject(raw)
	if err != nil || !o.has("timeout") {
		return 0
	}
	var mb int
	if o.req("memory", intInto(&mb)) != nil {
		return 0
	}
	return mb
}

// userDefinedStatusCode takes result.error.statusCode or result.statusCode
// (nil if neither exists). As in OpenWhisk a number is truncated to an
// integer and a string must spell one, and the low 32 bits are kept; any
// other value becomes 400. Absurdly long values (over 2^1024, or strings
// over 1000 characters) also become 400 rather than cost quadratic time.
func userDefinedStatusCode(result json.RawMessage) *int {
	o, err := parseObject(result)
	if err != nil {
		return nil
	}
	var v json.RawMessage
	if e, has := o["error"]; has {
		if eo, err := parseObject(e); err == nil {
			v = eo["statusCode"]
		}
	}
	if v == nil {
		v = o["statusCode"]
	}
	if v == nil {
		return nil
	}
	var i *big.Int
	switch jsonKind(v) {
	case "number":
		var n json.Number
		if json.Unmarshal(v, &n) == nil {
			f, _, err := big.ParseFloat(n.String(), 10, 1100, big.ToZero)
			if err == nil && f.MantExp(nil) <= 1024 {
				i, _ = f.Int(nil)
			}
		}
	case "string":
		var s string
		if json.Unmarshal(v, &s) == nil && len(s) <= 1000 {
			i, _ = new(big.Int).SetString(s, 10)
		}
	}
	code := 400
	if i != nil {
		code = int(int32(uint32(new(big.Int).And(i, big.NewInt(math.MaxUint32)).Uint64())))
	}
	return &code
}

type activationEventWire struct {
	Name                  string `json:"name"`
	ActivationID          string `json:"activationId"`
	StatusCode            int    `json:"statusCode"`
	Duration              int64  `json:"duration"`
	WaitTime              int64  `json:"waitTime"`
	InitTime              int64  `json:"initTime"`
	Kind                  string `json:"kind"`
	Conductor             bool   `json:"conductor"`
	Memory                int    `json:"memory"`
	CausedBy              string `json:"causedBy,omitempty"`
	Size                  *int   `json:"size,omitempty"`
	UserDefinedStatusCode *int   `json:"userDefinedStatusCode,omitempty"`
}

// MarshalJSON writes the event.
func (e EventMessage) MarshalJSON() ([]byte, error) {
	var body any
	switch {
	case e.Activation != nil && e.Metric == nil:
		a := e.Activation
		body = activationEventWire{a.Name, a.ActivationID, a.StatusCode, a.Duration, a.WaitTime, a.InitTime,
			a.Kind, a.Conductor, a.Memory, a.CausedBy, a.Size, a.UserDefinedStatusCode}
	case e.Metric != nil && e.Activation == nil:
		body = e.Metric
	default:
		return nil, errors.New("event message: exactly one of Activation and Metric must be set")
	}
	return Marshal(struct {
		Source    string `json:"source"`
		Body      any    `json:"body"`
		Subject   string `json:"subject"`
		Namespace string `json:"namespace"`
		UserID    string `json:"userId"`
		EventType string `json:"eventType"`
		Timestamp int64  `json:"timestamp"`
	}{e.Source, body, e.Subject, e.Namespace, e.UserID, e.EventType, e.Timestamp})
}

// DecodeEvent decodes a record value from the events topic.
func DecodeEvent(data []byte) (*EventMessage, error) {
	var e EventMessage
	if err := e.UnmarshalJSON(data); err != nil {
		return nil, err
	}
	return &e, nil
}

// UnmarshalJSON reads an event; a body with metricName is a Metric.
func (e *EventMessage) UnmarshalJSON(data []byte) error {
	if err := e.parse(data); err != nil {
		return fmt.Errorf("event message: %w", err)
	}
	return nil
}

func (e *EventMessage) parse(data []byte) error {
	o, err := parseObject(data)
	if err != nil {
		return err
	}
	var v EventMessage
	err = first(
		o.req("source", strInto(&v.Source)),
		o.req("body", v.parseBody),
		o.req("subject", subjectInto(&v.Subject)),
		o.req("namespace", strInto(&v.Namespace)),
		o.req("userId", strInto(&v.UserID)),
		o.req("eventType", strInto(&v.EventType)),
		o.req("timestamp", int64Into(&v.Timestamp)),
	)
	if err != nil {
		return err
	}
	*e = v
	return nil
}

func (e *EventMessage) parseBody(raw json.RawMessage) error {
	o, err := parseObject(raw)
	if err != nil {
		return err
	}
	if o.has("metricName") {
		var m MetricEvent
		if err := first(o.req("metricName", strInto(&m.MetricName)), o.req("metricValue", int64Into(&m.MetricValue))); err != nil {
			return err
		}
		e.Metric = &m
		return nil
	}
	var a ActivationEvent
	err = first(
		o.req("name", strInto(&a.Name)),
		o.req("activationId", strInto(&a.ActivationID)),
		o.req("statusCode", intInto(&a.StatusCode)),
		o.req("duration", durationInto(&a.Duration)),
		o.req("waitTime", durationInto(&a.WaitTime)),
		o.req("initTime", durationInto(&a.InitTime)),
		o.req("kind", strInto(&a.Kind)),
		o.req("conductor", boolInto(&a.Conductor)),
		o.req("memory", intInto(&a.Memory)),
	)
	if err != nil {
		return err
	}
	if _, err := o.opt("causedBy", strInto(&a.CausedBy)); err != nil {
		return err
	}
	for _, f := range []struct {
		name string
		dst  **int
	}{{"size", &a.Size}, {"userDefinedStatusCode", &a.UserDefinedStatusCode}} {
		var n int
		if ok, err := o.opt(f.name, intInto(&n)); err != nil {
			return err
		} else if ok {
			*f.dst = &n
		}
	}
	e.Activation = &a
	return nil
}

// durationInto reads an event duration in ms; values <= 0 read as 0.
func durationInto(dst *int64) func(json.RawMessage) error {
	return func(raw json.RawMessage) error {
		ms, ok := readStart(raw)
		if !ok {
			return fmt.Errorf("expected a number, got %s", jsonKind(raw))
		}
		*dst = max(ms, 0)
		return nil
	}
}
