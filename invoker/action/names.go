package action

import (
	"encoding/json"
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// These rules repeat invoker/message's (leaf packages import only the
// standard library).

var entityNameRE = regexp.MustCompile(`^(?:\w|\w[\w@ .&-]{0,254}[\w@.&-])$`)

func validEntityName(s string) bool { return entityNameRE.MatchString(s) }

// normalizePath validates "ns[/pkg]" and drops empty segments.
func normalizePath(p string) (string, error) {
	var parts []string
	for _, s := range strings.Split(p, "/") {
		if s == "" {
			continue
		}
		if !validEntityName(s) {
			return "", fmt.Errorf("path %q: segment %q is not a legal name", p, s)
		}
		parts = append(parts, s)
	}
	if len(parts) == 0 {
		return "", fmt.Errorf("path %q is empty", p)
	}
	return strings.Join(parts, "/"), nil
}

// normalizeSemVer reads "1", "1.2" or "1.2.3" and returns "x.y.z".
func normalizeSemVer(v string) (string, error) {
	parts := strings.Split(v, ".")
	for len(parts) > 0 && parts[len(parts)-1] == "" {
		parts = parts[:len(parts)-1]
	}
	var n [3]int
	for i := 0; i < len(parts) && i < 3; i++ {
		x, err := strconv.ParseInt(parts[i], 10, 32)
		if err != nil || x < 0 {
			return "", fmt.Errorf("bad semantic version %q", v)
		}
		n[i] = int(x)
	}
	if n == [3]int{} {
		return "", fmt.Errorf("bad semantic version %q", v)
	}
	return fmt.Sprintf("%d.%d.%d", n[0], n[1], n[2]), nil
}

// parseInstant reads epoch ms (fractions truncated) or an ISO-8601 string.
func parseInstant(raw []byte) (int64, error) {
	if jsonKind(raw) == "string" {
		var s string
		if err := parseString(raw, &s); err != nil {
			return 0, err
		}
		t, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			return 0, fmt.Errorf("timestamp %q malformed", s)
		}
		return t.UnixMilli(), nil
	}
	if jsonKind(raw) != "number" {
		return 0, fmt.Errorf("timestamp malformed: got %s", jsonKind(raw))
	}
	var n json.Number
	if err := json.Unmarshal(raw, &n); err != nil {
		return 0, err
	}
	if v, err := strconv.ParseInt(n.String(), 10, 64); err == nil {
		return v, nil
	}
	f, err := strconv.ParseFloat(n.String(), 64)
	if err != nil || f >= math.MaxInt64 || f <= math.MinInt64 {
		return 0, fmt.Errorf("timestamp %s malformed", n)
	}
	return int64(f), nil // fractions truncate, as BigDecimal.longValue does
}
