package action

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
)

// This file repeats the small JSON helpers of invoker/message: both
// packages are leaves that may import only the standard library.

var errMissing = errors.New("missing")

// object is a JSON object with raw member values, matched case-sensitively.
type object map[string]json.RawMessage

func jsonKind(raw []byte) string {
	raw = bytes.TrimLeft(raw, " \t\r\n")
	if len(raw) == 0 {
		return "nothing"
	}
	switch raw[0] {
	case '{':
		return "object"
	case '[':
		return "array"
	case '"':
		return "string"
	case 't', 'f':
		return "boolean"
	case 'n':
		return "null"
	default:
		return "number"
	}
}

func parseObject(data []byte) (object, error) {
	if k := jsonKind(data); k != "object" {
		if k == "nothing" {
			return nil, errors.New("empty input")
		}
		return nil, fmt.Errorf("expected an object, got %s", k)
	}
	var o object
	if err := json.Unmarshal(data, &o); err != nil {
		return nil, err
	}
	return o, nil
}

func fieldError(name string, err error) error { return fmt.Errorf("field %q: %w", name, err) }

// req parses a required member; null is handed to parse.
func (o object) req(name string, parse func(json.RawMessage) error) error {
	raw, ok := o[name]
	if !ok {
		return fieldError(name, errMissing)
	}
	if err := parse(raw); err != nil {
		return fieldError(name, err)
	}
	return nil
}

// opt parses an optional member; absent and null both return false.
func (o object) opt(name string, parse func(json.RawMessage) error) (bool, error) {
	raw, ok := o[name]
	if !ok || jsonKind(raw) == "null" {
		return false, nil
	}
	if err := parse(raw); err != nil {
		return false, fieldError(name, err)
	}
	return true, nil
}

func first(errs ...error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

func parseString(raw []byte, dst *string) error {
	if k := jsonKind(raw); k != "string" {
		return fmt.Errorf("expected a string, got %s", k)
	}
	return json.Unmarshal(raw, dst)
}

func parseBool(raw []byte, dst *bool) error {
	if k := jsonKind(raw); k != "boolean" {
		return fmt.Errorf("expected a boolean, got %s", k)
	}
	return json.Unmarshal(raw, dst)
}

// parseNumber reads a whole JSON number in [lo, hi]; 5.0 and 5e2 count.
func parseNumber(raw []byte, lo, hi int64) (int64, error) {
	if k := jsonKind(raw); k != "number" {
		return 0, fmt.Errorf("expected a number, got %s", k)
	}
	var n json.Number
	if err := json.Unmarshal(raw, &n); err != nil {
		return 0, err
	}
	if v, err := strconv.ParseInt(n.String(), 10, 64); err == nil {
		if v < lo || v > hi {
			return 0, fmt.Errorf("number %s out of range", n)
		}
		return v, nil
	}
	f, err := strconv.ParseFloat(n.String(), 64)
	if err != nil || f != math.Trunc(f) || f < float64(lo) || f > float64(hi) {
		return 0, fmt.Errorf("expected a whole number in range, got %s", n)
	}
	return int64(f), nil
}

func strInto(dst *string) func(json.RawMessage) error {
	return func(raw json.RawMessage) error { return parseString(raw, dst) }
}

func boolInto(dst *bool) func(json.RawMessage) error {
	return func(raw json.RawMessage) error { return parseBool(raw, dst) }
}

// intInto reads a Scala Int (32 bits).
func intInto(dst *int) func(json.RawMessage) error {
	return func(raw json.RawMessage) error {
		v, err := parseNumber(raw, math.MinInt32, math.MaxInt32)
		*dst = int(v)
		return err
	}
}

func int64Into(dst *int64) func(json.RawMessage) error {
	return func(raw json.RawMessage) error {
		v, err := parseNumber(raw, math.MinInt64, math.MaxInt64)
		*dst = v
		return err
	}
}

func parseArray(raw []byte) ([]json.RawMessage, error) {
	if k := jsonKind(raw); k != "array" {
		return nil, fmt.Errorf("expected an array, got %s", k)
	}
	var elems []json.RawMessage
	if err := json.Unmarshal(raw, &elems); err != nil {
		return nil, err
	}
	return elems, nil
}

// compactRaw returns a compact copy of a JSON value.
func compactRaw(raw []byte) json.RawMessage {
	if !bytes.ContainsAny(raw, " \t\r\n") {
		return append(json.RawMessage(nil), raw...)
	}
	var buf bytes.Buffer
	if err := json.Compact(&buf, raw); err != nil {
		return append(json.RawMessage(nil), raw...)
	}
	return buf.Bytes()
}

// marshal encodes compact JSON without HTML escaping.
func marshal(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte{'\n'}), nil
}
