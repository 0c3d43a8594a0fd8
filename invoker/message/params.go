package message

import (
	"encoding/json"
	"fmt"
	"strconv"
)

// Parameter is one {"key", "value"} entry of a parameters or annotations
// array (§2.9). Init is written only when true, Encryption only when set.
type Parameter struct {
	Key        string
	Value      json.RawMessage // any JSON; nil is written as null
	Init       bool            // delivered as environment at /init
	Encryption string          // "aes-128", "aes-256", "noop" or empty
}

// Parameters is a parameters or annotations array. Keys are unique: on read
// a repeated key keeps its first position and its last value, as the Scala
// map does.
type Parameters []Parameter

// StringParam returns a parameter whose value is the JSON string v.
func StringParam(key, v string) Parameter {
	b, _ := Marshal(v) // a string always encodes
	return Parameter{Key: key, Value: b}
}

// BoolParam returns a parameter whose value is a JSON boolean.
func BoolParam(key string, v bool) Parameter {
	return Parameter{Key: key, Value: json.RawMessage(strconv.FormatBool(v))}
}

// IntParam returns a parameter whose value is a JSON number.
func IntParam(key string, v int64) Parameter {
	return Parameter{Key: key, Value: json.RawMessage(strconv.FormatInt(v, 10))}
}

// RawParam returns a parameter with a JSON value encoded by the caller.
func RawParam(key string, v json.RawMessage) Parameter {
	return Parameter{Key: key, Value: v}
}

// Get returns the value of key.
func (p Parameters) Get(key string) (json.RawMessage, bool) {
	for _, e := range p {
		if e.Key == key {
			return e.Value, true
		}
	}
	return nil, false
}

// GetString returns the value of key if it is a JSON string.
func (p Parameters) GetString(key string) (string, bool) {
	v, ok := p.Get(key)
	var s string
	if !ok || parseString(v, &s) != nil {
		return "", false
	}
	return s, true
}

// GetInt returns the value of key if it is a whole JSON number.
func (p Parameters) GetInt(key string) (int64, bool) {
	v, ok := p.Get(key)
	var n int64
	if !ok || parseInt64(v, &n) != nil {
		return 0, false
	}
	return n, true
}

// GetBool returns the value of key if it is a JSON boolean.
func (p Parameters) GetBool(key string) (bool, bool) {
	v, ok := p.Get(key)
	var b bool
	if !ok || parseBool(v, &b) != nil {
		return false, false
	}
	return b, true
}

// IsTruthy reports whether key holds a truthy value: false, 0, "" and null
// are false, anything else true; missing returns ifMissing.
func (p Parameters) IsTruthy(key string, ifMissing bool) bool {
	v, ok := p.Get(key)
	if !ok {
		return ifMissing
	}
	return Truthy(v)
}

// Truthy applies OpenWhisk's truthiness to a JSON value: false, 0, "" and
// null are false; every other value, objects and arrays included, is true.
func Truthy(v json.RawMessage) bool {
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
	default:
		return true
	}
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
func (p Parameters) MarshalJSON() ([]byte, error) { return Marshal(p.wire()) }

// UnmarshalJSON reads the array. Each entry needs a string key and a value
// (null allowed); init must be a boolean and encryption a string or null.
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
	if err := o.req("key", strInto(&prm.Key)); err != nil {
		return err
	}
	if err := o.req("value", rawInto(&prm.Value)); err != nil {
		return err
	}
	if raw, ok := o["init"]; ok {
		if err := parseBool(raw, &prm.Init); err != nil {
			return fieldError("init", err)
		}
	}
	if _, err := o.opt("encryption", strInto(&prm.Encryption)); err != nil {
		return err
	}
	return nil
}
