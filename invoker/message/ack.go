package message

import (
	"encoding/json"
	"fmt"
)

// AckKind tells the three acknowledgement shapes apart (§5.1).
type AckKind int

// The acknowledgement shapes.
const (
	// KindCompletion frees the activation's slot; carries no result.
	KindCompletion AckKind = iota + 1
	// KindResult carries the result of a blocking activation; the slot is
	// not yet free.
	KindResult
	// KindCombined frees the slot and carries the result.
	KindCombined
)

func (k AckKind) String() string {
	switch k {
	case KindCompletion:
		return "completion"
	case KindResult:
		return "result"
	case KindCombined:
		return "combined"
	}
	return fmt.Sprintf("AckKind(%d)", int(k))
}

// Ack is an acknowledgement on completed<C>: a CompletionMessage, a
// ResultMessage or a CombinedCompletionAndResultMessage. DecodeAck returns
// one of those three value types; switch on the type or use the methods.
//
// An invoker sends exactly one slot-freeing ack (Completion or Combined)
// per activation it parsed, with the message's transid unchanged (§5.2).
type Ack interface {
	// Kind returns the shape.
	Kind() AckKind
	// Transaction returns the transid, echoed from the activation message.
	Transaction() TransactionID
	// ID returns the activation id.
	ID() ActivationID
	// SystemError reports whether the activation ended in a whisk internal
	// error (status 3). For a shrunk ResultMessage it is false.
	SystemError() bool
	// SlotFree returns the invoker whose slot is freed, for Completion and
	// Combined.
	SlotFree() (InvokerInstanceID, bool)
	// Result returns the activation or, when shrunk, its id, for Result
	// and Combined.
	Result() (ActivationOrID, bool)
	// Shrink returns the ack with any activation replaced by its id: sent
	// for non-blocking activations and when the full ack is too large for
	// the broker (§5.3).
	Shrink() Ack
	json.Marshaler
	isAck()
}

var (
	_ Ack = CompletionMessage{}
	_ Ack = ResultMessage{}
	_ Ack = CombinedMessage{}
)

// ActivationOrID is the response of a Result or Combined ack: a full
// activation or, when shrunk, only its id (a JSON string).
type ActivationOrID struct {
	Activation   *WhiskActivation // nil when shrunk
	ActivationID ActivationID     // the id when shrunk; ignored when Activation is set
}

// ID returns the activation id.
func (r ActivationOrID) ID() ActivationID {
	if r.Activation != nil {
		return r.Activation.ActivationID
	}
	return r.ActivationID
}

// Shrunk reports whether only the id is carried.
func (r ActivationOrID) Shrunk() bool { return r.Activation == nil }

func (r ActivationOrID) shrink() ActivationOrID { return ActivationOrID{ActivationID: r.ID()} }

func (r ActivationOrID) wire() any {
	if r.Activation != nil {
		return r.Activation.wire()
	}
	return string(r.ActivationID)
}

// MarshalJSON writes the activation object or the id string.
func (r ActivationOrID) MarshalJSON() ([]byte, error) { return Marshal(r.wire()) }

// UnmarshalJSON reads an activation object or an activation id string.
func (r *ActivationOrID) UnmarshalJSON(raw []byte) error {
	switch jsonKind(raw) {
	case "string":
		var id ActivationID
		if err := id.UnmarshalJSON(raw); err != nil {
			return err
		}
		*r = ActivationOrID{ActivationID: id}
	case "object":
		var a WhiskActivation
		if err := a.UnmarshalJSON(raw); err != nil {
			return err
		}
		*r = ActivationOrID{Activation: &a}
	default:
		return fmt.Errorf("expected an activation or an activation id, got %s", jsonKind(raw))
	}
	return nil
}

// CompletionMessage says the activation's slot is free (§5.1).
// isSystemError is always written (the Scala invoker always sets it).
type CompletionMessage struct {
	TransID       TransactionID
	ActivationID  ActivationID
	IsSystemError bool
	Instance      InvokerInstanceID
}

// NewCompletion returns the completion for a.
func NewCompletion(tid TransactionID, a *WhiskActivation, inst InvokerInstanceID) CompletionMessage {
	return CompletionMessage{tid, a.ActivationID, a.Response.IsWhiskError(), inst}
}

func (CompletionMessage) isAck()                                {}
func (CompletionMessage) Kind() AckKind                         { return KindCompletion }
func (c CompletionMessage) Transaction() TransactionID          { return c.TransID }
func (c CompletionMessage) ID() ActivationID                    { return c.ActivationID }
func (c CompletionMessage) SystemError() bool                   { return c.IsSystemError }
func (c CompletionMessage) SlotFree() (InvokerInstanceID, bool) { return c.Instance, true }
func (c CompletionMessage) Result() (ActivationOrID, bool)      { return ActivationOrID{}, false }
func (c CompletionMessage) Shrink() Ack                         { return c }

// MarshalJSON writes the message.
func (c CompletionMessage) MarshalJSON() ([]byte, error) {
	return Marshal(struct {
		TransID       TransactionID     `json:"transid"`
		ActivationID  ActivationID      `json:"activationId"`
		IsSystemError bool              `json:"isSystemError"`
		Instance      InvokerInstanceID `json:"instance"`
	}{c.TransID, c.ActivationID, c.IsSystemError, c.Instance})
}

// ResultMessage carries a blocking activation's result before its slot is
// free (§5.1). Its activation has no logs.
type ResultMessage struct {
	TransID  TransactionID
	Response ActivationOrID
}

// NewResult returns the result ack for a.
func NewResult(tid TransactionID, a *WhiskActivation) ResultMessage {
	return ResultMessage{tid, ActivationOrID{Activation: a}}
}

func (ResultMessage) isAck()                                {}
func (ResultMessage) Kind() AckKind                         { return KindResult }
func (r ResultMessage) Transaction() TransactionID          { return r.TransID }
func (r ResultMessage) ID() ActivationID                    { return r.Response.ID() }
func (r ResultMessage) SlotFree() (InvokerInstanceID, bool) { return InvokerInstanceID{}, false }
func (r ResultMessage) Result() (ActivationOrID, bool)      { return r.Response, true }
func (r ResultMessage) Shrink() Ack {
	return ResultMessage{r.TransID, r.Response.shrink()}
}
func (r ResultMessage) SystemError() bool {
	return r.Response.Activation != nil && r.Response.Activation.Response.IsWhiskError()
}

// MarshalJSON writes the message.
func (r ResultMessage) MarshalJSON() ([]byte, error) {
	return Marshal(struct {
		TransID  TransactionID `json:"transid"`
		Response any           `json:"response"`
	}{r.TransID, r.Response.wire()})
}

// CombinedMessage is a CombinedCompletionAndResultMessage: the result and
// the freed slot at once (§5.1). isSystemError is always written.
type CombinedMessage struct {
	TransID       TransactionID
	Response      ActivationOrID
	IsSystemError bool
	Instance      InvokerInstanceID
}

// NewCombined returns the combined ack for a.
func NewCombined(tid TransactionID, a *WhiskActivation, inst InvokerInstanceID) CombinedMessage {
	return CombinedMessage{tid, ActivationOrID{Activation: a}, a.Response.IsWhiskError(), inst}
}

func (CombinedMessage) isAck()                                {}
func (CombinedMessage) Kind() AckKind                         { return KindCombined }
func (c CombinedMessage) Transaction() TransactionID          { return c.TransID }
func (c CombinedMessage) ID() ActivationID                    { return c.Response.ID() }
func (c CombinedMessage) SystemError() bool                   { return c.IsSystemError }
func (c CombinedMessage) SlotFree() (InvokerInstanceID, bool) { return c.Instance, true }
func (c CombinedMessage) Result() (ActivationOrID, bool)      { return c.Response, true }
func (c CombinedMessage) Shrink() Ack {
	c.Response = c.Response.shrink()
	return c
}

// MarshalJSON writes the message.
func (c CombinedMessage) MarshalJSON() ([]byte, error) {
	return Marshal(struct {
		TransID       TransactionID     `json:"transid"`
		Response      any               `json:"response"`
		IsSystemError bool              `json:"isSystemError"`
		Instance      InvokerInstanceID `json:"instance"`
	}{c.TransID, c.Response.wire(), c.IsSystemError, c.Instance})
}

// DecodeAck decodes a record value from completed<C>. Like the Scala
// controller it picks the shape by the members present: instance and
// response → Combined, instance only → Completion, otherwise → Result.
// isSystemError may be absent (false).
func DecodeAck(data []byte) (Ack, error) {
	ack, err := decodeAck(data)
	if err != nil {
		return nil, fmt.Errorf("ack: %w", err)
	}
	return ack, nil
}

func decodeAck(data []byte) (Ack, error) {
	o, err := parseObject(data)
	if err != nil {
		return nil, err
	}
	var tid TransactionID
	if err := o.req("transid", unmarshalInto(&tid)); err != nil {
		return nil, err
	}
	var sysErr bool
	if _, err := o.opt("isSystemError", boolInto(&sysErr)); err != nil {
		return nil, err
	}
	switch {
	case o.has("instance") && o.has("response"):
		c := CombinedMessage{TransID: tid, IsSystemError: sysErr}
		err := first(o.req("response", unmarshalInto(&c.Response)), o.req("instance", unmarshalInto(&c.Instance)))
		if err != nil {
			return nil, fmt.Errorf("%v: %w", KindCombined, err)
		}
		return c, nil
	case o.has("instance"):
		c := CompletionMessage{TransID: tid, IsSystemError: sysErr}
		err := first(o.req("activationId", unmarshalInto(&c.ActivationID)), o.req("instance", unmarshalInto(&c.Instance)))
		if err != nil {
			return nil, fmt.Errorf("%v: %w", KindCompletion, err)
		}
		return c, nil
	default:
		r := ResultMessage{TransID: tid}
		if err := o.req("response", unmarshalInto(&r.Response)); err != nil {
			return nil, fmt.Errorf("%v: %w", KindResult, err)
		}
		return r, nil
	}
}
