package action

import (
	"encoding/json"
	"errors"
	"fmt"
	"github.com/owinvoker/owinvoker/invoker/message"
)

// Errors of Decode, Resolve and Executable. Map them to activation
// responses (§7.7) with errors.Is:
//
//	ErrIncompatible  → status 3 "Action version is not compatible and cannot be invoked."
//	ErrNotExecutable → status 3 "Action could not be fetched."
//	*LimitError      → status 1 with its Message (from Limits.Check)
var (
	// ErrIncompatible: the document is not an action, or cannot be read
	// (missing or malformed members, unknown kind).
	ErrIncompatible = errors.New("action document is not compatible")
	// ErrNotExecutable: a sequence, which the invoker never runs.
	ErrNotExecutable = errors.New("action is not executable")
)

// Action is an action document of the whisks database (§7.2).
//
// Parameters may hold secrets: never log them.
type Action struct {
	ID         string // _id, "namespace/name"; DocID computes it
	Rev        string // _rev; omitted when empty
	Namespace  string // "ns" or "ns/pkg"
	Name       string
	Exec       Exec
	Parameters Parameters // the action's defaults; the controller already merged them into the message
	Limits     Limits
	Version    string // "x.y.z"
	Publish    bool
	// Annotations: the invoker only reads provide-api-key (ProvideAPIKey).
	Annotations Parameters
	Updated     int64 // epoch ms
	// Attachments is CouchDB's _attachments (stubs), kept so that an
	// update does not delete them; nil when there are none.
	Attachments map[string]AttachmentStub
}

// AttachmentStub is one entry of a CouchDB document's _attachments.
type AttachmentStub struct {
	ContentType string `json:"content_type,omitempty"`
	Digest      string `json:"digest,omitempty"`
	Length      int64  `json:"length,omitempty"`
	RevPos      int    `json:"revpos,omitempty"`
	Stub        bool   `json:"stub,omitempty"`
}

// Decode reads an action document. Every member OpenWhisk requires must be
// present (namespace, name, exec, parameters, limits, version, publish,
// annotations, updated) and entityType, when present, must be "action".
// Errors wrap ErrIncompatible and name the offending field. The kind is not
// checked against the runtimes manifest: call Resolve.
func Decode(data []byte) (*Action, error) {
	var a Action
	if err := a.UnmarshalJSON(data); err != nil {
		return nil, err
	}
	return &a, nil
}

// DocID returns "namespace/name", the document id.
func (a *Action) DocID() string { return a.Namespace + "/" + a.Name }

// ProvideAPIKey reports whether the action gets the invoking user's API key
// (__OW_API_KEY, api_key): true unless its provide-api-key annotation is
// falsy. A missing annotation means true.
func (a *Action) ProvideAPIKey() bool { return a.Annotations.IsTruthy("provide-api-key", true) }

// Executable returns ErrNotExecutable for a sequence.
func (a *Action) Executable() error {
	if a.Exec.Kind == KindSequence {
		return fmt.Errorf("%s: %w", a.DocID(), ErrNotExecutable)
	}
	return nil
}

// Runtime is what Resolve needs to know of a managed kind from the
// runtimes manifest (sandbox/manifest.Runtime carries it).
type Runtime struct {
	Kind        string // the actual kind, e.g. "nodejs:20" for "nodejs:default"
	Attached    bool   // the manifest entry has "attached": code may be an attachment
	RequireMain bool   // actions of this kind must name their entry point
}

// Resolve applies the runtimes manifest to a managed kind: lookup maps
// Exec.Kind (possibly "family:default") to its runtime, or fails for an
// unknown kind. Exec.Kind becomes the resolved kind. Blackbox and sequence
// actions are left alone. Errors wrap ErrIncompatible.
func (a *Action) Resolve(lookup func(kind string) (Runtime, error)) error {
	if a.Exec.Kind == KindBlackbox || a.Exec.Kind == KindSequence {
		return nil
	}
	rt, err := lookup(a.Exec.Kind)
	if err != nil {
		return fmt.Errorf("%w: kind %q: %v", ErrIncompatible, a.Exec.Kind, err)
	}
	if !rt.Attached && a.Exec.Code.IsAttachment() {
		return fmt.Errorf("%w: kind %q takes code as a string", ErrIncompatible, rt.Kind)
	}
	if rt.RequireMain && a.Exec.Main == "" {
		return fmt.Errorf("%w: 'main' must be a string defined in 'exec' for '%s' actions", ErrIncompatible, rt.Kind)
	}
	a.Exec.Kind = rt.Kind
	return nil
}

// MarshalJSON writes the document with entityType "action", and _rev and
// _attachments when set.
func (a Action) MarshalJSON() ([]byte, error) {
	exec, err := a.Exec.wire()
	if err != nil {
		return nil, err
	}
	return marshal(struct {
		ID          string                    `json:"_id"`
		Rev         string                    `json:"_rev,omitempty"`
		EntityType  string                    `json:"entityType"`
		Namespace   string                    `json:"namespace"`
		Name        string                    `json:"name"`
		Exec        execWire                  `json:"exec"`
		Parameters  Parameters                `json:"parameters"`
		Limits      limitsWire                `json:"limits"`
		Version     string                    `json:"version"`
		Publish     bool                      `json:"publish"`
		Annotations Parameters                `json:"annotations"`
		Updated     int64                     `json:"updated"`
		Attachments map[string]AttachmentStub `json:"_attachments,omitempty"`
	}{a.DocID(), a.Rev, "action", a.Namespace, a.Name, exec, a.Parameters, a.Limits.wire(),
		a.Version, a.Publish, a.Annotations, a.Updated, a.Attachments})
}

// UnmarshalJSON reads a document as Decode does.
func (a *Action) UnmarshalJSON(data []byte) error {
	if err := a.parse(data); err != nil {
		return fmt.Errorf("%w: %w", ErrIncompatible, err)
	}
	return nil
}

func (a *Action) parse(data []byte) error {
	o, err := parseObject(data)
	if err != nil {
		return err
	}
	var typ string
	if raw, ok := o["entityType"]; ok {
		if err := parseString(raw, &typ); err != nil {
			return fieldError("entityType", err)
		}
		if typ != "action" {
			return fieldError("entityType", fmt.Errorf("document type %q is not \"action\"", typ))
		}
	}
	var v Action
	err = first(
		o.req("namespace", func(raw json.RawMessage) error {
			var s string
			if err := parseString(raw, &s); err != nil {
				return err
			}
			ns, err := message.NormalizePath(s)
			v.Namespace = ns
			return err
		}),
		o.req("name", func(raw json.RawMessage) error {
			if err := parseString(raw, &v.Name); err != nil {
				return err
			}
			if !message.ValidEntityName(v.Name) {
				return fmt.Errorf("%q is not a legal entity name", v.Name)
			}
			return nil
		}),
		o.req("exec", v.Exec.parse),
		o.req("parameters", func(raw json.RawMessage) error { return v.Parameters.UnmarshalJSON(raw) }),
		o.req("limits", func(raw json.RawMessage) error { return v.Limits.UnmarshalJSON(raw) }),
		o.req("version", func(raw json.RawMessage) error {
			var s string
			if err := parseString(raw, &s); err != nil {
				return err
			}
			ver, err := message.NormalizeSemVer(s)
			v.Version = ver
			return err
		}),
		o.req("publish", boolInto(&v.Publish)),
		o.req("annotations", func(raw json.RawMessage) error { return v.Annotations.UnmarshalJSON(raw) }),
		o.req("updated", func(raw json.RawMessage) error {
			ms, err := parseInstant(raw)
			v.Updated = ms
			return err
		}),
	)
	if err != nil {
		return err
	}
	if _, err := o.opt("_id", strInto(&v.ID)); err != nil {
		return err
	}
	if _, err := o.opt("_rev", strInto(&v.Rev)); err != nil {
		return err
	}
	if _, err := o.opt("_attachments", func(raw json.RawMessage) error {
		if _, err := parseObject(raw); err != nil {
			return err
		}
		return json.Unmarshal(raw, &v.Attachments)
	}); err != nil {
		return err
	}
	*a = v
	return nil
}
