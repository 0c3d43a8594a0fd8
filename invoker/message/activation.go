package message

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"
)

// StatusCode is an activation's response.statusCode (§2.10).
type StatusCode int

// The four status codes.
const (
	StatusSuccess          StatusCode = 0 // the action ran and produced a result
	StatusApplicationError StatusCode = 1 // the action ran and returned an error
	StatusDeveloperError   StatusCode = 2 // the action failed: init, crash, timeout, bad output
	StatusWhiskError       StatusCode = 3 // the system failed; the only code that hurts invoker health
)

// String returns the name event and metric code use: "success",
// "application_error", "action_developer_error" or "whisk_internal_error".
func (c StatusCode) String() string {
	switch c {
	case StatusSuccess:
		return "success"
	case StatusApplicationError:
		return "application_error"
	case StatusDeveloperError:
		return "action_developer_error"
	case StatusWhiskError:
		return "whisk_internal_error"
	}
	return "status(" + strconv.Itoa(int(c)) + ")"
}

// Message returns the user-facing text the controller API shows:
// "success", "application error", "action developer error" or
// "whisk internal error". The invoker never sends or stores it.
func (c StatusCode) Message() string {
	switch c {
	case StatusSuccess:
		return "success"
	case StatusApplicationError:
		return "application error"
	case StatusDeveloperError:
		return "action developer error"
	case StatusWhiskError:
		return "whisk internal error"
	}
	return c.String()
}

// Valid reports whether c is one of the four codes.
func (c StatusCode) Valid() bool { return c >= StatusSuccess && c <= StatusWhiskError }

// ActivationResponse is an activation's outcome (§2.10).
type ActivationResponse struct {
	StatusCode StatusCode
	Result     json.RawMessage // any JSON; nil when absent (omitted)
	Size       *int            // length of the raw response body, when known (omitted if nil)
}

// SuccessResponse returns status 0 with result (nil for none).
func SuccessResponse(result json.RawMessage) ActivationResponse {
	return ActivationResponse{StatusCode: StatusSuccess, Result: result}
}

// ErrorResponse returns code (1, 2 or 3) with result {"error": value}.
func ErrorResponse(code StatusCode, value json.RawMessage) ActivationResponse {
	v := value
	if len(v) == 0 {
		v = json.RawMessage("null")
	}
	b, err := Marshal(map[string]json.RawMessage{"error": v})
	if err != nil {
		// value was not valid JSON; keep the error visible rather than lose the code.
		b, _ = Marshal(map[string]string{"error": string(value)})
	}
	return ActivationResponse{StatusCode: code, Result: b}
}

// ErrorTextResponse returns code with result {"error": text}, the form of
// the standard error texts of §6.2.
func ErrorTextResponse(code StatusCode, text string) ActivationResponse {
	b, _ := Marshal(text) // a string always encodes
	return ErrorResponse(code, b)
}

// IsWhiskError reports whether this is a whisk internal error (code 3),
// which is what an ack's isSystemError says.
func (r ActivationResponse) IsWhiskError() bool { return r.StatusCode == StatusWhiskError }

type activationResponseWire struct {
	StatusCode int             `json:"statusCode"`
	Result     json.RawMessage `json:"result,omitempty"`
	Size       *int            `json:"size,omitempty"`
}

// wire returns the encoding form. Parents embed wire forms rather than
// Marshalers, so a large result is validated and copied once, not once per
// level of nesting.
func (r ActivationResponse) wire() activationResponseWire {
	return activationResponseWire{int(r.StatusCode), r.Result, r.Size}
}

// MarshalJSON writes statusCode and the optional members that are set.
func (r ActivationResponse) MarshalJSON() ([]byte, error) { return Marshal(r.wire()) }

// UnmarshalJSON reads a response; statusCode must be 0..3.
func (r *ActivationResponse) UnmarshalJSON(raw []byte) error {
	o, err := parseObject(raw)
	if err != nil {
		return err
	}
	var v ActivationResponse
	var code int
	if err := o.req("statusCode", intInto(&code)); err != nil {
		return err
	}
	v.StatusCode = StatusCode(code)
	if !v.StatusCode.Valid() {
		return fieldError("statusCode", fmt.Errorf("got %d, want 0..3", code))
	}
	if _, err := o.opt("result", rawInto(&v.Result)); err != nil {
		return err
	}
	var size int
	if ok, err := o.opt("size", intInto(&size)); err != nil {
		return err
	} else if ok {
		v.Size = &size
	}
	*r = v
	return nil
}

// Annotation keys of activation records (§6.3).
const (
	AnnotationLimits    = "limits"
	AnnotationPath      = "path"
	AnnotationKind      = "kind"
	AnnotationTimeout   = "timeout"
	AnnotationCausedBy  = "causedBy"
	AnnotationInitTime  = "initTime"
	AnnotationWaitTime  = "waitTime"
	AnnotationBinding   = "binding"
	AnnotationConductor = "conductor" // written by controllers only
	AnnotationTopmost   = "topmost"   // written by controllers only
)

// Values of the kind and causedBy annotations on records the invoker makes
// without running the action.
const (
	KindUnknown      = "unknown"
	CausedBySequence = "sequence"
)

// WhiskActivation is an activation as acks carry it (§2.11). Its record in
// the activations database adds _id, entityType and updated: see Record.
type WhiskActivation struct {
	Namespace    string // the invoking user's namespace, not the action's
	Name         string // the action's name (last segment)
	Subject      string
	ActivationID ActivationID
	Start        int64        // epoch ms
	End          int64        // epoch ms
	Cause        ActivationID // parent activation (sequences); omitted when empty
	Response     ActivationResponse
	Logs         []string // formatted log lines; written as [] when nil
	Version      string   // action version x.y.z
	Publish      bool     // always false
	Annotations  Parameters
	Duration     *int64 // ms; the invoker always sets it
}

// Millis returns a Duration value for d.
func Millis(d time.Duration) *int64 {
	ms := d.Milliseconds()
	return &ms
}

type whiskActivationWire struct {
	Namespace    string                 `json:"namespace"`
	Name         string                 `json:"name"`
	Subject      string                 `json:"subject"`
	ActivationID ActivationID           `json:"activationId"`
	Start        int64                  `json:"start"`
	End          int64                  `json:"end"`
	Cause        ActivationID           `json:"cause,omitempty"`
	Response     activationResponseWire `json:"response"`
	Logs         []string               `json:"logs"`
	Version      string                 `json:"version"`
	Publish      bool                   `json:"publish"`
	Annotations  []parameterWire        `json:"annotations"`
	Duration     *int64                 `json:"duration,omitempty"`
}

func (a WhiskActivation) wire() whiskActivationWire {
	return whiskActivationWire{a.Namespace, a.Name, a.Subject, a.ActivationID, a.Start, a.End, a.Cause,
		a.Response.wire(), nonNilStrings(a.Logs), a.Version, a.Publish, a.Annotations.wire(), a.Duration}
}

// MarshalJSON writes the wire form.
func (a WhiskActivation) MarshalJSON() ([]byte, error) { return Marshal(a.wire()) }

// UnmarshalJSON reads the wire form; every member but cause and duration
// is required. start and end may also be ISO-8601 strings.
func (a *WhiskActivation) UnmarshalJSON(raw []byte) error {
	o, err := parseObject(raw)
	if err != nil {
		return err
	}
	return a.parse(o)
}

func (a *WhiskActivation) parse(o object) error {
	var v WhiskActivation
	err := first(
		o.req("namespace", pathInto(&v.Namespace)),
		o.req("name", nameInto(&v.Name)),
		o.req("subject", subjectInto(&v.Subject)),
		o.req("activationId", unmarshalInto(&v.ActivationID)),
		o.req("start", instantInto(&v.Start)),
		o.req("end", instantInto(&v.End)),
		o.req("response", unmarshalInto(&v.Response)),
		o.req("logs", stringsInto(&v.Logs)),
		o.req("version", semverInto(&v.Version)),
		o.req("publish", boolInto(&v.Publish)),
		o.req("annotations", unmarshalInto(&v.Annotations)),
	)
	if err != nil {
		return err
	}
	if _, err := o.opt("cause", unmarshalInto(&v.Cause)); err != nil {
		return err
	}
	var d int64
	if ok, err := o.opt("duration", int64Into(&d)); err != nil {
		return err
	} else if ok {
		v.Duration = &d
	}
	*a = v
	return nil
}

// instantInto reads an instant: epoch ms (fractions truncated) or an
// ISO-8601 string.
func instantInto(dst *int64) func(json.RawMessage) error {
	return func(raw json.RawMessage) error {
		if jsonKind(raw) == "string" {
			var s string
			if err := json.Unmarshal(raw, &s); err != nil {
				return err
			}
			t, err := time.Parse(time.RFC3339Nano, s)
			if err != nil {
				return errors.New("timestamp malformed")
			}
			*dst = t.UnixMilli()
			return nil
		}
		ms, ok := readStart(raw)
		if !ok {
			return errors.New("timestamp malformed")
		}
		*dst = ms
		return nil
	}
}

// DocID returns "<namespace>/<activationId>", the id of the activation's
// record.
func (a WhiskActivation) DocID() string { return a.Namespace + "/" + string(a.ActivationID) }

// Record returns the document to store for a, created at updated (epoch ms).
func (a WhiskActivation) Record(updated int64) ActivationRecord {
	return ActivationRecord{WhiskActivation: a, Updated: updated}
}

// ActivationRecord is an activation's document in the activations database
// (§6.1): the wire form plus _id, entityType "activation" and updated. Rev
// is set only on documents read back; a new record is written without _rev.
type ActivationRecord struct {
	WhiskActivation
	Updated int64 // epoch ms at record creation
	Rev     string
}

// MarshalJSON writes the document.
func (r ActivationRecord) MarshalJSON() ([]byte, error) {
	return Marshal(struct {
		ID         string `json:"_id"`
		Rev        string `json:"_rev,omitempty"`
		EntityType string `json:"entityType"`
		Updated    int64  `json:"updated"`
		whiskActivationWire
	}{r.DocID(), r.Rev, "activation", r.Updated, r.wire()})
}

// UnmarshalJSON reads a stored record. entityType, when present, must be
// "activation"; _id, when present, must match namespace/activationId.
func (r *ActivationRecord) UnmarshalJSON(raw []byte) error {
	o, err := parseObject(raw)
	if err != nil {
		return err
	}
	var v ActivationRecord
	if err := v.parse(o); err != nil {
		return err
	}
	var typ, id string
	if ok, err := o.opt("entityType", strInto(&typ)); err != nil {
		return err
	} else if ok && typ != "activation" {
		return fieldError("entityType", fmt.Errorf("got %q, want \"activation\"", typ))
	}
	if ok, err := o.opt("_id", strInto(&id)); err != nil {
		return err
	} else if ok && id != v.DocID() {
		return fieldError("_id", fmt.Errorf("got %q, want %q", id, v.DocID()))
	}
	if _, err := o.opt("_rev", strInto(&v.Rev)); err != nil {
		return err
	}
	if _, err := o.opt("updated", instantInto(&v.Updated)); err != nil {
		return err
	}
	*r = v
	return nil
}

// FallbackActivation builds the record of an activation that did not run
// (§6.5): fetch or validation errors and blacklisted namespaces. now is
// epoch ms.
func FallbackActivation(m *ActivationMessage, resp ActivationResponse, now int64) WhiskActivation {
	version := m.Action.Version
	if version == "" {
		version = "0.0.1"
	}
	ann := Parameters{
		StringParam(AnnotationPath, m.Action.DocID()),
		StringParam(AnnotationKind, KindUnknown),
	}
	if m.Cause != "" {
		ann = append(ann, StringParam(AnnotationCausedBy, CausedBySequence))
	}
	zero := int64(0)
	return WhiskActivation{
		Namespace:    m.User.Namespace.Name,
		Name:         m.Action.Name,
		Subject:      m.User.Subject,
		ActivationID: m.ActivationID,
		Start:        now,
		End:          now,
		Cause:        m.Cause,
		Response:     resp,
		Logs:         []string{},
		Version:      version,
		Annotations:  ann,
		Duration:     &zero,
	}
}
