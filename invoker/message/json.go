package message

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
)

// errMissing is wrapped into the error for a required member that is absent.
var errMissing = errors.New("missing")

// object is a JSON object whose member values are kept raw, so that every
// member can be checked for presence before it is parsed. Member names are
// matched case-sensitively, as spray-json does.
type object map[string]json.RawMessage

// jsonKind names the kind of JSON value raw holds, for error messages.
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

func isNull(raw []byte) bool { return jsonKind(raw) == "null" }

// compactRaw returns raw without insignificant whitespace, so that values
// kept as json.RawMessage are canonical and as small as they can be.
func compactRaw(raw []byte) json.RawMessage {
	if !bytes.ContainsAny(raw, " \t\r\n") {
		// Already compact, as everything the Scala side writes is.
		return append(json.RawMessage(nil), raw...)
	}
	var buf bytes.Buffer
	buf.Grow(len(raw))
	if err := json.Compact(&buf, raw); err != nil {
		// Unreachable for values cut out of a parsed document.
		return append(json.RawMessage(nil), raw...)
	}
	return buf.Bytes()
}

// rawInto stores a compacted copy of any JSON value.
func rawInto(dst *json.RawMessage) func(json.RawMessage) error {
	return func(raw json.RawMessage) error {
		*dst = compactRaw(raw)
		return nil
	}
}

// parseObject decodes data, which must hold a JSON object.
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

func fieldError(name string, err error) error {
	return fmt.Errorf("field %q: %w", name, err)
}

// req parses the required member name with parse. A missing member is an
// error; null is handed to parse, which decides whether it is acceptable.
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

// opt parses the optional member name with parse. A missing member and null
// both mean "absent" (spray-json reads null as None) and return false.
func (o object) opt(name string, parse func(json.RawMessage) error) (bool, error) {
	raw, ok := o[name]
	if !ok || isNull(raw) {
		return false, nil
	}
	if err := parse(raw); err != nil {
		return false, fieldError(name, err)
	}
	return true, nil
}

func (o object) has(name string) bool {
	_, ok := o[name]
	return ok
}

func strInto(dst *string) func(json.RawMessage) error {
	return func(raw json.RawMessage) error { return parseString(raw, dst) }
}

func boolInto(dst *bool) func(json.RawMessage) error {
	return func(raw json.RawMessage) error { return parseBool(raw, dst) }
}

func intInto(dst *int) func(json.RawMessage) error {
	return func(raw json.RawMessage) error { return parseInt32(raw, dst) }
}

func int64Into(dst *int64) func(json.RawMessage) error {
	return func(raw json.RawMessage) error { return parseInt64(raw, dst) }
}

func stringsInto(dst *[]string) func(json.RawMessage) error {
	return func(raw json.RawMessage) error { return parseStrings(raw, dst) }
}

func unmarshalInto(dst json.Unmarshaler) func(json.RawMessage) error {
	return func(raw json.RawMessage) error { return dst.UnmarshalJSON(raw) }
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

// parseNumber reads a JSON number that must be a whole number in
// [lo, hi]. Forms such as 5.0 or 5e2 are accepted when they are whole.
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

// parseInt32 reads a Scala Int: a whole number in the 32-bit range.
func parseInt32(raw []byte, dst *int) error {
	v, err := parseNumber(raw, math.MinInt32, math.MaxInt32)
	if err != nil {
		return err
	}
	*dst = int(v)
	return nil
}

// parseInt64 reads a Scala Long.
func parseInt64(raw []byte, dst *int64) error {
	v, err := parseNumber(raw, math.MinInt64, math.MaxInt64)
	if err != nil {
		return err
	}
	*dst = v
	return nil
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

func parseStrings(raw []byte, dst *[]string) error {
	elems, err := parseArray(raw)
	if err != nil {
		return err
	}
	out := make([]string, len(elems))
	for i, e := range elems {
		if err := parseString(e, &out[i]); err != nil {
			return fmt.Errorf("element %d: %w", i, err)
		}
	}
	*dst = out
	return nil
}

func parseStringMap(raw []byte, dst *map[string]string) error {
	o, err := parseObject(raw)
	if err != nil {
		return err
	}
	out := make(map[string]string, len(o))
	for k, v := range o {
		var s string
		if err := parseString(v, &s); err != nil {
			return fieldError(k, err)
		}
		out[k] = s
	}
	*dst = out
	return nil
}

// dedupe returns ss without repeated entries, keeping first positions; it
// models the Scala Sets some fields are read into.
func dedupe(ss []string) []string {
	seen := make(map[string]bool, len(ss))
	out := ss[:0:0]
	for _, s := range ss {
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}

// Marshal encodes v as compact JSON without HTML escaping, the form the
// Scala components write. Use it instead of json.Marshal for Kafka record
// values and CouchDB documents: json.Marshal would turn every '<', '>' and
// '&' in user results into six-byte escapes, which parse the same but
// count against the broker's size limit.
func Marshal(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte{'\n'}), nil
}

func nonNilStrings(ss []string) []string {
	if ss == nil {
		return []string{}
	}
	return ss
}

func nonNilStringMap(m map[string]string) map[string]string {
	if m == nil {
		return map[string]string{}
	}
	return m
}
