package message

import (
	"encoding/json"
	"fmt"
	"strings"
)

// Identity is the invoking identity, the "user" of an ActivationMessage
// (§2.8). All five members are required on the wire.
//
// AuthKey holds secrets (the api_key): never log an Identity.
type Identity struct {
	Subject   string
	Namespace Namespace
	// AuthKey is the arbitrary JSON object of the user's key. Each member
	// becomes an action environment entry (api_key → __OW_API_KEY).
	AuthKey map[string]json.RawMessage
	Rights  []string // READ, PUT, DELETE, ACTIVATE, REJECT; may be empty
	Limits  UserLimits
}

// Namespace is the invoking namespace: its name (an entity name) and uuid.
type Namespace struct {
	Name string `json:"name"`
	UUID string `json:"uuid"`
}

// UserLimits are a namespace's limit overrides; every member is optional
// and nil means "not set" (§2.8). Memory and logs are in MB, timeouts in ms.
type UserLimits struct {
	InvocationsPerMinute          *int
	ConcurrentInvocations         *int
	FiresPerMinute                *int
	AllowedKinds                  []string // nil: not set (all kinds); empty: none allowed
	StoreActivations              *bool
	MinActionMemory               *int
	MaxActionMemory               *int
	MinActionLogs                 *int
	MaxActionLogs                 *int
	MinActionTimeout              *int
	MaxActionTimeout              *int
	MinActionConcurrency          *int
	MaxActionConcurrency          *int
	MaxParameterSize              *ByteSize
	MaxPayloadSize                *ByteSize
	TruncationSize                *ByteSize
	WarmedContainerKeepingCount   *int
	WarmedContainerKeepingTimeout *string
	MaxActionInstances            *int
}

// StoresActivations reports whether records of this namespace's activations
// are stored (storeActivations absent means true, §6.6).
func (l UserLimits) StoresActivations() bool {
	return l.StoreActivations == nil || *l.StoreActivations
}

var privileges = map[string]bool{"READ": true, "PUT": true, "DELETE": true, "ACTIVATE": true, "REJECT": true}

// MarshalJSON writes all five members; a nil AuthKey is written as {}.
func (id Identity) MarshalJSON() ([]byte, error) {
	key := id.AuthKey
	if key == nil {
		key = map[string]json.RawMessage{}
	}
	return Marshal(struct {
		Subject   string                     `json:"subject"`
		Namespace Namespace                  `json:"namespace"`
		AuthKey   map[string]json.RawMessage `json:"authkey"`
		Rights    []string                   `json:"rights"`
		Limits    UserLimits                 `json:"limits"`
	}{id.Subject, id.Namespace, key, nonNilStrings(id.Rights), id.Limits})
}

// UnmarshalJSON reads an Identity; every member is required.
func (id *Identity) UnmarshalJSON(raw []byte) error {
	o, err := parseObject(raw)
	if err != nil {
		return err
	}
	var v Identity
	err = first(
		o.req("subject", subjectInto(&v.Subject)),
		o.req("namespace", v.Namespace.parse),
		o.req("authkey", func(raw json.RawMessage) error {
			o, err := parseObject(raw)
			if err != nil {
				return err
			}
			v.AuthKey = make(map[string]json.RawMessage, len(o))
			for k, val := range o {
				v.AuthKey[k] = compactRaw(val)
			}
			return nil
		}),
		o.req("rights", func(raw json.RawMessage) error {
			if err := parseStrings(raw, &v.Rights); err != nil {
				return err
			}
			for i, r := range v.Rights {
				r = strings.ToUpper(strings.TrimSpace(r))
				if !privileges[r] {
					return fmt.Errorf("element %d: unknown privilege %q", i, v.Rights[i])
				}
				v.Rights[i] = r
			}
			v.Rights = dedupe(v.Rights)
			return nil
		}),
		o.req("limits", unmarshalInto(&v.Limits)),
	)
	if err != nil {
		return err
	}
	*id = v
	return nil
}

func (n *Namespace) parse(raw json.RawMessage) error {
	o, err := parseObject(raw)
	if err != nil {
		return err
	}
	return first(o.req("name", nameInto(&n.Name)), o.req("uuid", strInto(&n.UUID)))
}

type userLimitsWire struct {
	InvocationsPerMinute          *int      `json:"invocationsPerMinute,omitempty"`
	ConcurrentInvocations         *int      `json:"concurrentInvocations,omitempty"`
	FiresPerMinute                *int      `json:"firesPerMinute,omitempty"`
	AllowedKinds                  *[]string `json:"allowedKinds,omitempty"`
	StoreActivations              *bool     `json:"storeActivations,omitempty"`
	MinActionMemory               *int      `json:"minActionMemory,omitempty"`
	MaxActionMemory               *int      `json:"maxActionMemory,omitempty"`
	MinActionLogs                 *int      `json:"minActionLogs,omitempty"`
	MaxActionLogs                 *int      `json:"maxActionLogs,omitempty"`
	MinActionTimeout              *int      `json:"minActionTimeout,omitempty"`
	MaxActionTimeout              *int      `json:"maxActionTimeout,omitempty"`
	MinActionConcurrency          *int      `json:"minActionConcurrency,omitempty"`
	MaxActionConcurrency          *int      `json:"maxActionConcurrency,omitempty"`
	MaxParameterSize              *ByteSize `json:"maxParameterSize,omitempty"`
	MaxPayloadSize                *ByteSize `json:"maxPayloadSize,omitempty"`
	TruncationSize                *ByteSize `json:"truncationSize,omitempty"`
	WarmedContainerKeepingCount   *int      `json:"warmedContainerKeepingCount,omitempty"`
	WarmedContainerKeepingTimeout *string   `json:"warmedContainerKeepingTimeout,omitempty"`
	MaxActionInstances            *int      `json:"maxActionInstances,omitempty"`
}

// MarshalJSON writes the members that are set.
func (l UserLimits) MarshalJSON() ([]byte, error) {
	w := userLimitsWire{
		InvocationsPerMinute: l.InvocationsPerMinute, ConcurrentInvocations: l.ConcurrentInvocations,
		FiresPerMinute: l.FiresPerMinute, StoreActivations: l.StoreActivations,
		MinActionMemory: l.MinActionMemory, MaxActionMemory: l.MaxActionMemory,
		MinActionLogs: l.MinActionLogs, MaxActionLogs: l.MaxActionLogs,
		MinActionTimeout: l.MinActionTimeout, MaxActionTimeout: l.MaxActionTimeout,
		MinActionConcurrency: l.MinActionConcurrency, MaxActionConcurrency: l.MaxActionConcurrency,
		MaxParameterSize: l.MaxParameterSize, MaxPayloadSize: l.MaxPayloadSize, TruncationSize: l.TruncationSize,
		WarmedContainerKeepingCount:   l.WarmedContainerKeepingCount,
		WarmedContainerKeepingTimeout: l.WarmedContainerKeepingTimeout,
		MaxActionInstances:            l.MaxActionInstances,
	}
	if l.AllowedKinds != nil {
		w.AllowedKinds = &l.AllowedKinds
	}
	return Marshal(w)
}

// UnmarshalJSON reads the members that are present; null counts as absent.
func (l *UserLimits) UnmarshalJSON(raw []byte) error {
	o, err := parseObject(raw)
	if err != nil {
		return err
	}
	var v UserLimits
	ints := []struct {
		name   string
		dst    **int
		nonNeg bool
	}{
		{name: "invocationsPerMinute", dst: &v.InvocationsPerMinute},
		{name: "concurrentInvocations", dst: &v.ConcurrentInvocations},
		{name: "firesPerMinute", dst: &v.FiresPerMinute},
		{name: "minActionMemory", dst: &v.MinActionMemory, nonNeg: true},
		{name: "maxActionMemory", dst: &v.MaxActionMemory, nonNeg: true},
		{name: "minActionLogs", dst: &v.MinActionLogs, nonNeg: true},
		{name: "maxActionLogs", dst: &v.MaxActionLogs, nonNeg: true},
		{name: "minActionTimeout", dst: &v.MinActionTimeout},
		{name: "maxActionTimeout", dst: &v.MaxActionTimeout},
		{name: "minActionConcurrency", dst: &v.MinActionConcurrency},
		{name: "maxActionConcurrency", dst: &v.MaxActionConcurrency},
		{name: "warmedContainerKeepingCount", dst: &v.WarmedContainerKeepingCount},
		{name: "maxActionInstances", dst: &v.MaxActionInstances, nonNeg: true},
	}
	for _, f := range ints {
		var n int
		ok, err := o.opt(f.name, intInto(&n))
		if err != nil {
			return err
		}
		if ok {
			if f.nonNeg && n < 0 {
				return fieldError(f.name, fmt.Errorf("negative value %d", n))
			}
			*f.dst = &n
		}
	}
	sizes := []struct {
		name string
		dst  **ByteSize
	}{
		{"maxParameterSize", &v.MaxParameterSize},
		{"maxPayloadSize", &v.MaxPayloadSize},
		{"truncationSize", &v.TruncationSize},
	}
	for _, f := range sizes {
		var b ByteSize
		ok, err := o.opt(f.name, unmarshalInto(&b))
		if err != nil {
			return err
		}
		if ok {
			*f.dst = &b
		}
	}
	var store bool
	if ok, err := o.opt("storeActivations", boolInto(&store)); err != nil {
		return err
	} else if ok {
		v.StoreActivations = &store
	}
	var timeout string
	if ok, err := o.opt("warmedContainerKeepingTimeout", strInto(&timeout)); err != nil {
		return err
	} else if ok {
		v.WarmedContainerKeepingTimeout = &timeout
	}
	if ok, err := o.opt("allowedKinds", stringsInto(&v.AllowedKinds)); err != nil {
		return err
	} else if ok {
		v.AllowedKinds = dedupe(v.AllowedKinds)
	}
	*l = v
	return nil
}
