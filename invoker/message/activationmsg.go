package message

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"unicode/utf8"
)

// ErrFPCMessage is returned (wrapped) by DecodeActivationMessage when the
// record is a ContainerCreationMessage or ContainerDeletionMessage of
// OpenWhisk's FPC scheduler (§0.2): the invoker topic is shared with an FPC
// deployment. The caller should log and drop the record; it is not an
// activation and gets no ack.
var ErrFPCMessage = errors.New("FPC container message, not an activation")

// ActivationMessage is what a controller sends on invoker<N> (§3).
//
// User.AuthKey and Content hold secrets and user data: never log them.
type ActivationMessage struct {
	TransID             TransactionID
	Action              FQN
	Revision            DocRevision // "" (null) when unknown: fetch the latest document uncached
	User                Identity
	ActivationID        ActivationID
	RootControllerIndex ControllerInstanceID // acks go to completed<RootControllerIndex>
	Blocking            bool
	// Content is the merged parameters (object) or the payload array; nil
	// when absent, meaning run with {}.
	Content      json.RawMessage
	InitArgs     []string          // keys of Content delivered at /init; written as [] when nil
	LockedArgs   map[string]string // key → encryption scheme; written as {} when nil
	Cause        ActivationID      // parent activation; omitted when empty
	TraceContext map[string]string // omitted when nil
	// Harvest is owcontroller's hint of what the action needs beyond its allocation,
	// learnt from its records on every invoker; omitted when nil. OpenWhisk's invoker
	// ignores members it does not know, so the message stays readable by it.
	Harvest *HarvestHint
}

// HarvestHint is an activation's predicted demand beyond its allocation.
type HarvestHint struct {
	ExtraCPUMillis int `json:"extraCpuMillis"`
	ExtraMemoryMB  int `json:"extraMemoryMB"`
}

// DecodeActivationMessage decodes a record value from invoker<N>. Errors
// name the offending field, e.g.
//
//	activation message: field "activationId": missing
//
// and wrap ErrFPCMessage for FPC container messages.
//
// Like the Scala invoker, which reads records as UTF-8 text, it turns every malformed UTF-8
// sequence into U+FFFD rather than hand an action bytes that are not text.
func DecodeActivationMessage(data []byte) (*ActivationMessage, error) {
	if !utf8.Valid(data) {
		data = bytes.ToValidUTF8(data, []byte("\uFFFD"))
	}
	var m ActivationMessage
	if err := m.UnmarshalJSON(data); err != nil {
		return nil, err
	}
	return &m, nil
}

// CompletedTopic returns the topic for this activation's acks.
func (m *ActivationMessage) CompletedTopic(prefix string) string {
	return CompletedTopic(prefix, m.RootControllerIndex)
}

// MarshalJSON writes every required member and the optional ones that are
// set.
func (m ActivationMessage) MarshalJSON() ([]byte, error) {
	var tc *map[string]string
	if m.TraceContext != nil {
		tc = &m.TraceContext
	}
	return Marshal(struct {
		TransID             TransactionID        `json:"transid"`
		Action              FQN                  `json:"action"`
		Revision            DocRevision          `json:"revision"`
		User                Identity             `json:"user"`
		ActivationID        ActivationID         `json:"activationId"`
		RootControllerIndex ControllerInstanceID `json:"rootControllerIndex"`
		Blocking            bool                 `json:"blocking"`
		Content             json.RawMessage      `json:"content,omitempty"`
		InitArgs            []string             `json:"initArgs"`
		LockedArgs          map[string]string    `json:"lockedArgs"`
		Cause               ActivationID         `json:"cause,omitempty"`
		TraceContext        *map[string]string   `json:"traceContext,omitempty"`
		Harvest             *HarvestHint         `json:"harvest,omitempty"`
	}{m.TransID, m.Action, m.Revision, m.User, m.ActivationID, m.RootControllerIndex, m.Blocking,
		m.Content, nonNilStrings(m.InitArgs), nonNilStringMap(m.LockedArgs), m.Cause, tc, m.Harvest})
}

// UnmarshalJSON reads an activation message. All members but content,
// cause and traceContext are required, as spray-json requires them.
func (m *ActivationMessage) UnmarshalJSON(data []byte) error {
	if err := m.parse(data); err != nil {
		if errors.Is(err, ErrFPCMessage) {
			return err
		}
		return fmt.Errorf("activation message: %w", err)
	}
	return nil
}

func (m *ActivationMessage) parse(data []byte) error {
	o, err := parseObject(data)
	if err != nil {
		return err
	}
	if kind := fpcKind(o); kind != "" {
		return fmt.Errorf("%s: %w", kind, ErrFPCMessage)
	}
	var v ActivationMessage
	err = first(
		o.req("transid", unmarshalInto(&v.TransID)),
		o.req("action", unmarshalInto(&v.Action)),
		o.req("revision", unmarshalInto(&v.Revision)),
		o.req("user", unmarshalInto(&v.User)),
		o.req("activationId", unmarshalInto(&v.ActivationID)),
		o.req("rootControllerIndex", unmarshalInto(&v.RootControllerIndex)),
		o.req("blocking", boolInto(&v.Blocking)),
		o.req("initArgs", func(raw json.RawMessage) error {
			if err := parseStrings(raw, &v.InitArgs); err != nil {
				return err
			}
			v.InitArgs = dedupe(v.InitArgs)
			return nil
		}),
		o.req("lockedArgs", func(raw json.RawMessage) error { return parseStringMap(raw, &v.LockedArgs) }),
	)
	if err != nil {
		return err
	}
	if _, err := o.opt("content", rawInto(&v.Content)); err != nil {
		return err
	}
	if _, err := o.opt("cause", unmarshalInto(&v.Cause)); err != nil {
		return err
	}
	if _, err := o.opt("traceContext", func(raw json.RawMessage) error {
		return parseStringMap(raw, &v.TraceContext)
	}); err != nil {
		return err
	}
	if _, err := o.opt("harvest", func(raw json.RawMessage) error {
		var h HarvestHint
		if err := json.Unmarshal(raw, &h); err != nil {
			return err
		}
		if h.ExtraCPUMillis < 0 || h.ExtraMemoryMB < 0 {
			return fmt.Errorf("negative extra demand %+v", h)
		}
		v.Harvest = &h
		return nil
	}); err != nil {
		return err
	}
	*m = v
	return nil
}

// fpcKind recognises the FPC container messages, which carry
// invocationNamespace and whiskActionMetaData (creations also a creationId)
// and never an activationId.
func fpcKind(o object) string {
	if o.has("activationId") {
		return ""
	}
	switch {
	case o.has("creationId"):
		return "container creation message"
	case o.has("whiskActionMetaData") || o.has("invocationNamespace"):
		return "container deletion message"
	}
	return ""
}
