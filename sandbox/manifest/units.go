package manifest

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// ByteSize is a memory size in bytes, written in OpenWhisk's "<n> <unit>" form ("256 MB").
type ByteSize int64

// Units of ByteSize (binary multiples, as OpenWhisk uses them).
const (
	B  ByteSize = 1
	KB ByteSize = 1 << 10
	MB ByteSize = 1 << 20
	GB ByteSize = 1 << 30
)

// ParseByteSize reads "<integer> <unit>" with unit B, KB, MB, GB (or K, M, G), in any case,
// with optional spaces around the number.
func ParseByteSize(s string) (ByteSize, error) {
	t := strings.TrimSpace(s)
	i := 0
	for i < len(t) && t[i] >= '0' && t[i] <= '9' {
		i++
	}
	if i == 0 {
		return 0, fmt.Errorf("byte size %q: no number", s)
	}
	n, err := strconv.ParseInt(t[:i], 10, 64)
	if err != nil {
		return 0, fmt.Errorf("byte size %q: %w", s, err)
	}
	unit := strings.ToUpper(strings.TrimSpace(t[i:]))
	var mult ByteSize
	switch unit {
	case "B":
		mult = B
	case "K", "KB":
		mult = KB
	case "M", "MB":
		mult = MB
	case "G", "GB":
		mult = GB
	default:
		return 0, fmt.Errorf("byte size %q: unit must be B, KB, MB or GB", s)
	}
	if n > math.MaxInt64/int64(mult) {
		return 0, fmt.Errorf("byte size %q: too large", s)
	}
	return ByteSize(n) * mult, nil
}

// String writes the size in the largest unit that divides it: "256 MB", "1536 B".
func (b ByteSize) String() string {
	for _, u := range []struct {
		size ByteSize
		name string
	}{{GB, "GB"}, {MB, "MB"}, {KB, "KB"}} {
		if b != 0 && b%u.size == 0 {
			return strconv.FormatInt(int64(b/u.size), 10) + " " + u.name
		}
	}
	return strconv.FormatInt(int64(b), 10) + " B"
}

// MB is the size in whole mebibytes, rounded down.
func (b ByteSize) MB() int64 { return int64(b / MB) }

// MarshalText writes the String form.
func (b ByteSize) MarshalText() ([]byte, error) { return []byte(b.String()), nil }

// UnmarshalText reads the ParseByteSize form.
func (b *ByteSize) UnmarshalText(text []byte) error {
	v, err := ParseByteSize(string(text))
	if err != nil {
		return err
	}
	*b = v
	return nil
}

// durationUnits are the unit words of Scala's Duration strings ("2 minutes", "10 s").
var durationUnits = map[string]time.Duration{
	"d": 24 * time.Hour, "day": 24 * time.Hour,
	"h": time.Hour, "hr": time.Hour, "hour": time.Hour,
	"m": time.Minute, "min": time.Minute, "minute": time.Minute,
	"s": time.Second, "sec": time.Second, "second": time.Second,
	"ms": time.Millisecond, "milli": time.Millisecond, "millisecond": time.Millisecond,
	"µs": time.Microsecond, "us": time.Microsecond, "micro": time.Microsecond, "microsecond": time.Microsecond,
	"ns": time.Nanosecond, "nano": time.Nanosecond, "nanosecond": time.Nanosecond,
}

// ParseDuration reads a duration written as OpenWhisk's configuration does ("2 minutes",
// "10s", "1.5 hours"); Go's own form ("2m30s") is accepted too.
func ParseDuration(s string) (time.Duration, error) {
	t := strings.TrimSpace(s)
	i := 0
	for i < len(t) && (t[i] >= '0' && t[i] <= '9' || t[i] == '.') {
		i++
	}
	num, unit := t[:i], strings.ToLower(strings.TrimSpace(t[i:]))
	if num != "" && unit != "" {
		mult, ok := durationUnits[unit]
		if !ok && len(unit) > 2 {
			mult, ok = durationUnits[strings.TrimSuffix(unit, "s")]
		}
		if ok {
			f, err := strconv.ParseFloat(num, 64)
			if err != nil {
				return 0, fmt.Errorf("duration %q: %w", s, err)
			}
			d := f * float64(mult)
			if d >= math.MaxInt64 {
				return 0, fmt.Errorf("duration %q: too large", s)
			}
			return time.Duration(d), nil
		}
	}
	d, err := time.ParseDuration(strings.ReplaceAll(t, " ", ""))
	if err != nil {
		return 0, fmt.Errorf("duration %q: want <number> <unit>, e.g. \"2 minutes\"", s)
	}
	return d, nil
}

// FormatDuration writes d in the largest whole unit: "2 minutes", "1500 milliseconds".
func FormatDuration(d time.Duration) string {
	for _, u := range []struct {
		size time.Duration
		name string
	}{{24 * time.Hour, "day"}, {time.Hour, "hour"}, {time.Minute, "minute"}, {time.Second, "second"},
		{time.Millisecond, "millisecond"}, {time.Microsecond, "microsecond"}} {
		if d != 0 && d%u.size == 0 {
			n := int64(d / u.size)
			if n == 1 {
				return "1 " + u.name
			}
			return strconv.FormatInt(n, 10) + " " + u.name + "s"
		}
	}
	return strconv.FormatInt(int64(d), 10) + " nanoseconds"
}
