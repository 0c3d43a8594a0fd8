package action

import (
	"encoding/json"
	"fmt"
)

// Parameter is one {"key", "value"} entry of the parameters or annotations
// array. Init is written only when true, Encryption only when set.
type Parameter struct {
	Key        string
	Value      json.RawMessage // any JSON; nil is written as null
	Init       bool
	Encryption string
}

// Parameters is a parameters or annotations array with unique keys (a
// repeated key keeps its first position and its last value).
type Parameters []Parameter

// Get returns the value of key.
func (p Parameters) Get(key string) (json.RawMessage, bool) {
	for _, e := range p {
		if e.Key == key {
			return e.Value, true
		}
	}
	return nil, false
}

// IsTruthy reports whether key holds a truthy value (false, 0, "" and null
// are false, everything else true); a missing key yields ifMissing.
func (p Parameters) IsTruthy(key string, ifMissing bool) bool {
	v, ok := p.Get(key)
	if !ok {
		return ifMissing
	}
	switch jsonKind(v) {
	case "null", "nothing":
		return false
	case "boolean":
		var b bool
		return parseBool(v, &b) == nil && b
	case "number":
		var n json.Number
		if json.Unmarshal(v, &n) != nil {
			return false
		}
		f, err := n.Float64()
		return err != nil || f != 0
	case "string":
		var s string
		return json.Unmarshal(v, &s) == nil && s != ""
	}
	return true
}

type parameterWire struct {
	Key        string          `json:"key"`
	Value      json.RawMessage `json:"value"`
	Init       bool            `json:"init,omitempty"`
	Encryption string          `json:"encryption,omitempty"`
}

func (p Parameters) wire() []parameterWire {
	w := make([]parameterWire, len(p))
	for i, e := range p {
		v := e.Value
		if len(v) == 0 {
			v = json.RawMessage("null")
		}
		w[i] = parameterWire{e.Key, v, e.Init, e.Encryption}
	}
	return w
}

// MarshalJSON writes the array; nil is written as [].
func (p Parameters) MarshalJSON() ([]byte, error) { return marshal(p.wire()) }

// UnmarshalJSON reads the array: each entry needs a string key and a value
// (null allowed); init must be a boolean, encryption a string or null.
func (p *Parameters) UnmarshalJSON(raw []byte) error {
	elems, err := parseArray(raw)
	if err != nil {
		return err
	}
	out := make(Parameters, 0, len(elems))
	index := make(map[string]int, len(elems))
	for i, e := range elems {
		var prm Parameter
		if err := prm.parse(e); err != nil {
			return fmt.Errorf("element %d: %w", i, err)
		}
		if j, dup := index[prm.Key]; dup {
			out[j] = prm
			continue
		}
		index[prm.Key] = len(out)
		out = append(out, prm)
	}
	*p = out
	return nil
}

func (prm *Parameter) parse(raw json.RawMessage) error {
	o, err := parseObject(raw)
	if err != nil {
		return err
	}
	err = first(
		o.req("key", strInto(&prm.Key)),
		o.req("value", func(raw json.RawMessage) error {
			prm.Value = compactRaw(raw)
			return nil
		}),
	)
	if err != nil {
		return err
	}
	if raw, ok := o["init"]; ok {
		if err := parseBool(raw, &prm.Init); err != nil {
			return fieldError("init", err)
		}
	}
	_, err = o.opt("encryption", strInto(&prm.Encryption))
	return err
}
