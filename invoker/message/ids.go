package message

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// ActivationID is an activation id: 32 lower-case hexadecimal characters
// (a random UUID without its dashes), §2.2.
type ActivationID string

// NewActivationID returns a fresh random activation id in the layout of a
// version 4 UUID without dashes.
func NewActivationID() ActivationID {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (Go 1.24+)
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return ActivationID(hex.EncodeToString(b[:]))
}

// ParseActivationID checks that s is 32 lower-case hex characters.
func ParseActivationID(s string) (ActivationID, error) {
	if len(s) != 32 {
		return "", fmt.Errorf("activation id is %d characters long, want 32", len(s))
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return "", errors.New("activation id is not 32 lower-case hex characters")
		}
	}
	return ActivationID(s), nil
}

func (id ActivationID) String() string { return string(id) }

// MarshalJSON writes the id as a JSON string.
func (id ActivationID) MarshalJSON() ([]byte, error) { return json.Marshal(string(id)) }

// UnmarshalJSON reads a JSON string, or a JSON number whose text is the 32
// digits (as the Scala reader tolerates), and validates it.
func (id *ActivationID) UnmarshalJSON(raw []byte) error {
	var s string
	switch jsonKind(raw) {
	case "string":
		if err := json.Unmarshal(raw, &s); err != nil {
			return err
		}
	case "number":
		var n json.Number
		if err := json.Unmarshal(raw, &n); err != nil {
			return err
		}
		s = n.String()
	default:
		return fmt.Errorf("activation id: expected a string, got %s", jsonKind(raw))
	}
	v, err := ParseActivationID(s)
	if err != nil {
		return err
	}
	*id = v
	return nil
}

// Well-known transaction id strings (§2.1). System ids start with "sid_".
const (
	// TransactionUnknown is the id Scala substitutes for a transid it
	// cannot read; it is also what UnmarshalJSON yields for one.
	TransactionUnknown = "sid_unknown"
	// TransactionInvokerHealth is the id of the controller's health test
	// activations. The controller recognises their acks by comparing the
	// whole transid (id and start) with its own, so echo it unchanged.
	TransactionInvokerHealth = "sid_invokerHealth"
)

// TransactionID is OpenWhisk's transaction id. On the wire it is a JSON
// array: [id, startMillis], then true if ExtraLogging, then the parent's
// array if Parent is set (§2.1). Acks must carry the transid of their
// activation message unchanged; Equal compares as the controller does.
type TransactionID struct {
	ID           string
	Start        int64 // epoch milliseconds at which the controller began the transaction
	ExtraLogging bool  // forces the activation record to be stored (§6.6)
	Parent       *TransactionID
}

const tidAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"

// NewTransactionID returns a transaction id with a random 32-character
// alphanumeric id, started at now.
func NewTransactionID(now time.Time) TransactionID {
	id := make([]byte, 0, 32)
	var b [64]byte
	for len(id) < 32 {
		_, _ = rand.Read(b[:])
		for _, c := range b {
			// 248 = 4*62: reject the tail so every letter is equally likely.
			if c < 248 && len(id) < 32 {
				id = append(id, tidAlphabet[int(c)%len(tidAlphabet)])
			}
		}
	}
	return TransactionID{ID: string(id), Start: now.UnixMilli()}
}

// SystemTransactionID returns the system transaction "sid_<name>" started at
// now, e.g. SystemTransactionID("invokerHealth", boot).
func SystemTransactionID(name string, now time.Time) TransactionID {
	return TransactionID{ID: "sid_" + name, Start: now.UnixMilli()}
}

// StartTime returns Start as a time.
func (t TransactionID) StartTime() time.Time { return time.UnixMilli(t.Start) }

// Equal reports whether t and o are the same transaction: same id, start,
// flag and parent chain.
func (t TransactionID) Equal(o TransactionID) bool {
	if t.ID != o.ID || t.Start != o.Start || t.ExtraLogging != o.ExtraLogging {
		return false
	}
	if t.Parent == nil || o.Parent == nil {
		return t.Parent == nil && o.Parent == nil
	}
	return t.Parent.Equal(*o.Parent)
}

// IsZero reports whether t is the zero value (not a real transaction).
func (t TransactionID) IsZero() bool {
	return t.ID == "" && t.Start == 0 && !t.ExtraLogging && t.Parent == nil
}

func (t TransactionID) String() string { return "#tid_" + t.ID }

// MarshalJSON writes the array form.
func (t TransactionID) MarshalJSON() ([]byte, error) {
	return Marshal(t.wire())
}

func (t TransactionID) wire() []any {
	a := []any{t.ID, t.Start}
	if t.ExtraLogging {
		a = append(a, true)
	}
	if t.Parent != nil {
		a = append(a, t.Parent.wire())
	}
	return a
}

// UnmarshalJSON reads the array form the way the Scala reader does: it never
// fails on well-formed JSON. A value of another shape reads as
// {ID: TransactionUnknown} (Scala also uses its own boot time as start; we
// use 0), a parent of another shape is dropped, and a fractional start is
// truncated. It fails only when raw is not JSON at all.
func (t *TransactionID) UnmarshalJSON(raw []byte) error {
	if !json.Valid(raw) {
		return errors.New("transaction id: invalid JSON")
	}
	if v, ok := readTransactionID(raw); ok {
		*t = v
	} else {
		*t = TransactionID{ID: TransactionUnknown}
	}
	return nil
}

func readTransactionID(raw []byte) (TransactionID, bool) {
	elems, err := parseArray(raw)
	if err != nil || len(elems) < 2 || len(elems) > 4 {
		return TransactionID{}, false
	}
	var t TransactionID
	if parseString(elems[0], &t.ID) != nil {
		return TransactionID{}, false
	}
	start, ok := readStart(elems[1])
	if !ok {
		return TransactionID{}, false
	}
	t.Start = start
	rest := elems[2:]
	if len(rest) > 0 && jsonKind(rest[0]) == "boolean" {
		if parseBool(rest[0], &t.ExtraLogging) != nil {
			return TransactionID{}, false
		}
		rest = rest[1:]
	} else if len(rest) == 2 {
		// [id, start, x, parent] needs a boolean x.
		return TransactionID{}, false
	}
	if len(rest) == 1 {
		if p, ok := readTransactionID(rest[0]); ok {
			t.Parent = &p
		}
	}
	return t, true
}

// readStart reads any JSON number as epoch milliseconds, truncating
// fractions as Scala's BigDecimal.longValue does.
func readStart(raw []byte) (int64, bool) {
	if jsonKind(raw) != "number" {
		return 0, false
	}
	var n json.Number
	if json.Unmarshal(raw, &n) != nil {
		return 0, false
	}
	if v, err := strconv.ParseInt(n.String(), 10, 64); err == nil {
		return v, true
	}
	f, err := strconv.ParseFloat(n.String(), 64)
	if err != nil || math.IsInf(f, 0) || f >= math.MaxInt64 || f <= math.MinInt64 {
		return 0, false
	}
	return int64(f), true
}

// ByteSize is a size in bytes. On the wire it is a string "<n> <unit>"
// (§2.7); the invoker writes it in bytes ("2147483648 B"), as the Scala
// invoker does, and any unit is accepted on read.
type ByteSize int64

// Units of ByteSize (binary multiples).
const (
	Byte     ByteSize = 1
	Kilobyte          = 1024 * Byte
	Megabyte          = 1024 * Kilobyte
	Gigabyte          = 1024 * Megabyte
)

var byteSizeRE = regexp.MustCompile(`(?i)^\s?(\d+)\s?(GB|MB|KB|B|G|M|K)\s?$`)

// ParseByteSize parses "<n> <unit>" with unit B, K[B], M[B] or G[B] in any
// case, as OpenWhisk's reader does.
func ParseByteSize(s string) (ByteSize, error) {
	m := byteSizeRE.FindStringSubmatch(s)
	if m == nil {
		return 0, fmt.Errorf("byte size %q: want \"<n> B|KB|MB|GB\"", s)
	}
	n, err := strconv.ParseInt(m[1], 10, 64)
	if err != nil {
		return 0, fmt.Errorf("byte size %q: %w", s, err)
	}
	unit := Byte
	switch strings.ToUpper(m[2])[0] {
	case 'K':
		unit = Kilobyte
	case 'M':
		unit = Megabyte
	case 'G':
		unit = Gigabyte
	}
	if n > math.MaxInt64/int64(unit) {
		return 0, fmt.Errorf("byte size %q: too large", s)
	}
	return ByteSize(n) * unit, nil
}

// String formats b in bytes, "<n> B".
func (b ByteSize) String() string { return strconv.FormatInt(int64(b), 10) + " B" }

// MB returns b in whole megabytes (rounded down).
func (b ByteSize) MB() int64 { return int64(b / Megabyte) }

// MarshalJSON writes b as its String form.
func (b ByteSize) MarshalJSON() ([]byte, error) { return json.Marshal(b.String()) }

// UnmarshalJSON reads a ByteSize string.
func (b *ByteSize) UnmarshalJSON(raw []byte) error {
	var s string
	if err := parseString(raw, &s); err != nil {
		return err
	}
	v, err := ParseByteSize(s)
	if err != nil {
		return err
	}
	*b = v
	return nil
}

// DocRevision is a CouchDB document revision ("3-9f1c..."). The empty
// revision, meaning unknown, is written as JSON null (§2.4).
type DocRevision string

// MarshalJSON writes null for the empty revision.
func (r DocRevision) MarshalJSON() ([]byte, error) {
	if r == "" {
		return []byte("null"), nil
	}
	return json.Marshal(string(r))
}

// UnmarshalJSON reads a string (trimmed) or null.
func (r *DocRevision) UnmarshalJSON(raw []byte) error {
	if isNull(raw) {
		*r = ""
		return nil
	}
	var s string
	if err := parseString(raw, &s); err != nil {
		return fmt.Errorf("revision: %w", err)
	}
	*r = DocRevision(strings.TrimSpace(s))
	return nil
}

// ControllerInstanceID names a controller, usually "0", "1", ... On the wire
// it is {"asString": "0", "instanceType": "controller"} (§2.5).
type ControllerInstanceID string

var legalInstanceRE = regexp.MustCompile(`^[a-zA-Z0-9._-]+$`)

// Validate checks the characters and length a Kafka topic name allows.
func (c ControllerInstanceID) Validate() error {
	if len(c) > 128 || !legalInstanceRE.MatchString(string(c)) {
		return fmt.Errorf("controller instance id %q: want 1 to 128 of [a-zA-Z0-9._-]", string(c))
	}
	return nil
}

// MarshalJSON writes the object form.
func (c ControllerInstanceID) MarshalJSON() ([]byte, error) {
	return Marshal(struct {
		AsString     string `json:"asString"`
		InstanceType string `json:"instanceType"`
	}{string(c), "controller"})
}

// UnmarshalJSON reads the object form; instanceType may be absent but, if
// present, must be "controller".
func (c *ControllerInstanceID) UnmarshalJSON(raw []byte) error {
	o, err := parseObject(raw)
	if err != nil {
		return err
	}
	var s, typ string
	if err := o.req("asString", strInto(&s)); err != nil {
		return err
	}
	if ok, err := o.opt("instanceType", strInto(&typ)); err != nil {
		return err
	} else if ok && typ != "controller" {
		return fieldError("instanceType", fmt.Errorf("got %q, want \"controller\"", typ))
	}
	v := ControllerInstanceID(s)
	if err := v.Validate(); err != nil {
		return fieldError("asString", err)
	}
	*c = v
	return nil
}

// InvokerInstanceID identifies an invoker (§2.6). Tags and
// DedicatedNamespaces are only used by FPC but must always be written.
type InvokerInstanceID struct {
	Instance            int      // the invoker id N, dense from 0
	UniqueName          string   // optional; omitted when empty
	DisplayedName       string   // optional; omitted when empty
	UserMemory          ByteSize // memory available to action containers
	BusyMemory          *ByteSize
	Tags                []string
	DedicatedNamespaces []string
}

// Source returns "invoker<N>", the invoker's name in events and logs.
func (i InvokerInstanceID) Source() string { return "invoker" + strconv.Itoa(i.Instance) }

// String returns "invoker<N>[/uniqueName][/displayedName]" as OpenWhisk
// prints it.
func (i InvokerInstanceID) String() string {
	s := i.Source()
	if i.UniqueName != "" {
		s += "/" + i.UniqueName
	}
	if i.DisplayedName != "" {
		s += "/" + i.DisplayedName
	}
	return s
}

// MarshalJSON writes every required field and the optional ones that are set.
func (i InvokerInstanceID) MarshalJSON() ([]byte, error) {
	return Marshal(struct {
		Instance            int       `json:"instance"`
		UserMemory          ByteSize  `json:"userMemory"`
		BusyMemory          *ByteSize `json:"busyMemory,omitempty"`
		InstanceType        string    `json:"instanceType"`
		Tags                []string  `json:"tags"`
		DedicatedNamespaces []string  `json:"dedicatedNamespaces"`
		UniqueName          string    `json:"uniqueName,omitempty"`
		DisplayedName       string    `json:"displayedName,omitempty"`
	}{i.Instance, i.UserMemory, i.BusyMemory, "invoker", nonNilStrings(i.Tags),
		nonNilStrings(i.DedicatedNamespaces), i.UniqueName, i.DisplayedName})
}

// UnmarshalJSON reads the object form; instance, userMemory, instanceType
// ("invoker"), tags and dedicatedNamespaces are required.
func (i *InvokerInstanceID) UnmarshalJSON(raw []byte) error {
	o, err := parseObject(raw)
	if err != nil {
		return err
	}
	var v InvokerInstanceID
	var typ string
	var busy ByteSize
	err = first(
		o.req("instance", intInto(&v.Instance)),
		o.req("userMemory", unmarshalInto(&v.UserMemory)),
		o.req("instanceType", strInto(&typ)),
		o.req("tags", stringsInto(&v.Tags)),
		o.req("dedicatedNamespaces", stringsInto(&v.DedicatedNamespaces)),
	)
	if err != nil {
		return err
	}
	if typ != "invoker" {
		return fieldError("instanceType", fmt.Errorf("got %q, want \"invoker\"", typ))
	}
	if _, err := o.opt("uniqueName", strInto(&v.UniqueName)); err != nil {
		return err
	}
	if _, err := o.opt("displayedName", strInto(&v.DisplayedName)); err != nil {
		return err
	}
	if ok, err := o.opt("busyMemory", unmarshalInto(&busy)); err != nil {
		return err
	} else if ok {
		v.BusyMemory = &busy
	}
	*i = v
	return nil
}

// first returns the first non-nil error, so that a message names one field.
// All arguments are evaluated; that costs little for the small objects here.
func first(errs ...error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}
