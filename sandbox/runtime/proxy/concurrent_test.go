package proxy

import "testing"

func TestTag(t *testing.T) {
	for in, want := range map[string]string{
		`{}`:                      "{\"__ow_seq\":7}\n",
		`{"value":{}}`:            "{\"__ow_seq\":7,\"value\":{}}\n",
		"{\"value\":{\"a\":1}}\n": "{\"__ow_seq\":7,\"value\":{\"a\":1}}\n",
	} {
		if got := string(tag([]byte(in), 7)); got != want {
			t.Errorf("tag(%q) = %q, want %q", in, got, want)
		}
	}
}
