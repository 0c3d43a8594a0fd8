package config

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// ParseMemory reads HOCON/OpenWhisk memory sizes: "2048m", "2048 m", "2048 MB", "2g",
// "1073741824 B", "512k", a plain number of bytes. It returns megabytes (rounded down).
func ParseMemory(s string) (int, error) {
	t := strings.ToLower(strings.ReplaceAll(strings.TrimSpace(s), " ", ""))
	i := strings.IndexFunc(t, func(r rune) bool { return (r < '0' || r > '9') && r != '.' })
	num, unit := t, ""
	if i >= 0 {
		num, unit = t[:i], t[i:]
	}
	f, err := strconv.ParseFloat(num, 64)
	if err != nil || f < 0 {
		return 0, fmt.Errorf("memory size %q: not a size like 2048m", s)
	}
	var mult float64
	switch strings.TrimSuffix(unit, "ib") {
	case "", "b", "byte", "bytes":
		mult = 1.0 / (1 << 20)
	case "k", "kb":
		mult = 1.0 / 1024
	case "m", "mb":
		mult = 1
	case "g", "gb":
		mult = 1024
	case "t", "tb":
		mult = 1024 * 1024
	default:
		return 0, fmt.Errorf("memory size %q: unknown unit %q", s, unit)
	}
	return int(f * mult), nil
}

// ParseDuration reads HOCON durations: "10 seconds", "10s", "50 ms", "2 minutes", "1 h",
// Go's "1m30s", or a plain number of milliseconds.
func ParseDuration(s string) (time.Duration, error) {
	t := strings.TrimSpace(s)
	if d, err := time.ParseDuration(strings.ReplaceAll(t, " ", "")); err == nil {
		return d, nil
	}
	i := strings.IndexFunc(t, func(r rune) bool { return (r < '0' || r > '9') && r != '.' })
	num, unit := t, ""
	if i >= 0 {
		num, unit = t[:i], strings.TrimSpace(t[i:])
	}
	f, err := strconv.ParseFloat(num, 64)
	if err != nil || f < 0 {
		return 0, fmt.Errorf("duration %q: not a duration like 10 seconds", s)
	}
	var u time.Duration
	switch strings.ToLower(unit) {
	case "", "ms", "milli", "millis", "millisecond", "milliseconds":
		u = time.Millisecond
	case "us", "micro", "micros", "microsecond", "microseconds":
		u = time.Microsecond
	case "ns", "nano", "nanos", "nanosecond", "nanoseconds":
		u = time.Nanosecond
	case "s", "second", "seconds":
		u = time.Second
	case "m", "minute", "minutes":
		u = time.Minute
	case "h", "hour", "hours":
		u = time.Hour
	case "d", "day", "days":
		u = 24 * time.Hour
	default:
		return 0, fmt.Errorf("duration %q: unknown unit %q", s, unit)
	}
	return time.Duration(f * float64(u)), nil
}
