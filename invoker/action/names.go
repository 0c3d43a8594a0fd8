package action

import (
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"time"
)

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
