package reliability_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/owinvoker/owinvoker/invoker/broker"
	"github.com/owinvoker/owinvoker/invoker/message"
	"github.com/owinvoker/owinvoker/reliability"
)

// TestInvokerBadInput feeds one owinvoker process what a broken or hostile producer could
// put on invoker0, and documents that leave the store broken. Each case gets a clear outcome:
// a message that cannot be parsed is skipped and counted (no ack: there is no id to ack), a
// parsed one gets its record and its ack with OpenWhisk's error text. After each case a
// valid activation still runs: nothing wedges the invoker.
func TestInvokerBadInput(t *testing.T) {
	t.Parallel()
	sys := reliability.NewSystem(t, bins, reliability.SystemConfig{})
	// A topic that accepts more than the 1 MiB OpenWhisk allows, as a misconfigured or
	// foreign topic would: the invoker must cope with what arrives.
	topic := message.InvokerTopic(sys.Prefix, 0)
	if err := broker.EnsureTopic(context.Background(), []string{sys.Kafka}, topic, broker.TopicConfig{
		Configs: map[string]string{"max.message.bytes": "8388608"}}); err != nil {
		t.Fatal(err)
	}
	inv := sys.StartInvoker(reliability.InvokerConfig{})
	echo := sys.PutAction(reliability.Action{Name: "echo", Kind: "python:3", Code: "def main(a):\n    return {\"keys\": sorted(a.keys()), \"size\": len(str(a))}\n"})

	// alive checks that a valid activation still runs.
	alive := func(t *testing.T) {
		t.Helper()
		m := sys.Activation("guest", "echo", echo, true, map[string]any{"ok": true})
		sys.Send(0, m)
		sys.Acks.WaitSlot(t, m.ActivationID, 2*time.Minute)
		if rec := sys.WaitRecord("guest", m.ActivationID, time.Minute); rec.Response.StatusCode != message.StatusSuccess {
			t.Errorf("valid activation after the bad input: %d %s", rec.Response.StatusCode, rec.Response.Result)
		}
	}
	// skipped sends raw bytes and expects them skipped and counted.
	skipped := func(t *testing.T, raw []byte) {
		t.Helper()
		before := inv.Metric("owinvoker_malformed_messages_total")
		sys.SendRaw(0, raw)
		alive(t)
		if after := inv.Metric("owinvoker_malformed_messages_total"); after != before+1 {
			t.Errorf("owinvoker_malformed_messages_total %v → %v, want one more", before, after)
		}
	}
	// answered sends a parsed activation and returns its record, after checking its ack.
	answered := func(t *testing.T, m *message.ActivationMessage, raw []byte) message.ActivationRecord {
		t.Helper()
		if raw == nil {
			var err error
			if raw, err = message.Marshal(m); err != nil {
				t.Fatal(err)
			}
		}
		sys.SendRaw(0, raw)
		sys.Acks.WaitSlot(t, m.ActivationID, 2*time.Minute)
		rec := sys.WaitRecord("guest", m.ActivationID, time.Minute)
		alive(t)
		return rec
	}
	wantError := func(t *testing.T, rec message.ActivationRecord, status message.StatusCode, contains string) {
		t.Helper()
		if rec.Response.StatusCode != status || !strings.Contains(errorText(rec.Response), contains) {
			t.Errorf("response %d %s, want %d with an error containing %q", rec.Response.StatusCode, rec.Response.Result, status, contains)
		}
	}

	t.Run("not JSON", func(t *testing.T) { skipped(t, []byte("\x00\x01 definitely not json")) })
	t.Run("truncated", func(t *testing.T) {
		full, _ := message.Marshal(sys.Activation("guest", "echo", echo, false, nil))
		skipped(t, full[:len(full)/2])
	})
	t.Run("wrong types", func(t *testing.T) {
		skipped(t, []byte(`{"transid":["x",1],"action":7,"revision":null,"user":"nobody","activationId":42,"rootControllerIndex":{},"blocking":"yes"}`))
	})
	t.Run("invalid UTF-8 in the content", func(t *testing.T) {
		// Read as the Scala invoker reads it (UTF-8 text): bad bytes become U+FFFD, and the
		// action gets text, not bytes its runtime cannot decode.
		mirror := sys.PutAction(reliability.Action{Name: "mirror", Kind: "python:3", Code: "def main(a):\n    return a\n"})
		m := sys.Activation("guest", "mirror", mirror, true, map[string]any{"name": "PLACEHOLDER"})
		raw, _ := message.Marshal(m)
		raw = bytes.Replace(raw, []byte("PLACEHOLDER"), []byte("bad\xff\xfe\xc3("), 1)
		rec := answered(t, m, raw)
		var res struct{ Name string }
		_ = json.Unmarshal(rec.Response.Result, &res)
		if rec.Response.StatusCode != message.StatusSuccess || res.Name != "bad\uFFFD(" {
			t.Errorf("invalid UTF-8: %d %s, want success with the name \"bad\uFFFD(\"", rec.Response.StatusCode, rec.Response.Result)
		}
	})
	t.Run("huge parameters within the limit", func(t *testing.T) {
		m := sys.Activation("guest", "echo", echo, true, map[string]any{"blob": strings.Repeat("p", 1000*1000)})
		rec := answered(t, m, nil)
		if rec.Response.StatusCode != message.StatusSuccess {
			t.Errorf("1 MB of parameters: %d %s, want success", rec.Response.StatusCode, rec.Response.Result)
		}
	})
	t.Run("oversized message", func(t *testing.T) {
		m := sys.Activation("guest", "echo", echo, true, map[string]any{"blob": strings.Repeat("o", 2<<20)})
		raw, _ := message.Marshal(m)
		rec := answered(t, m, raw)
		wantError(t, rec, message.StatusApplicationError, fmt.Sprintf("Request larger than allowed: %d > %d bytes.", len(raw), broker.MaxMessageBytes))
	})
	t.Run("message beyond the consumer's fetch size", func(t *testing.T) {
		m := sys.Activation("guest", "echo", echo, true, map[string]any{"blob": strings.Repeat("f", 6<<20)})
		raw, _ := message.Marshal(m)
		rec := answered(t, m, raw)
		wantError(t, rec, message.StatusApplicationError, fmt.Sprintf("Request larger than allowed: %d > %d bytes.", len(raw), broker.MaxMessageBytes))
	})
	for _, c := range []struct {
		name   string
		limits string
	}{
		{"negative limits", `{"timeout":-1,"memory":-128,"logs":-1,"concurrency":-1}`},
		{"absurd limits", `{"timeout":1e15,"memory":1099511627776,"logs":999999999,"concurrency":100000}`},
		{"limits of the wrong type", `{"timeout":"soon","memory":"lots"}`},
	} {
		t.Run(c.name, func(t *testing.T) {
			name := strings.ReplaceAll(c.name, " ", "-")
			rev := sys.PutAction(reliability.Action{Name: name, Kind: "python:3", Code: "def main(a):\n    return a\n", RawLimits: json.RawMessage(c.limits)})
			// OpenWhisk's answer to an action document it cannot read.
			rec := answered(t, sys.Activation("guest", name, rev, true, nil), nil)
			wantError(t, rec, message.StatusWhiskError, message.TextActionMismatch)
		})
	}
	t.Run("unknown kind", func(t *testing.T) {
		rev := sys.PutAction(reliability.Action{Name: "cobol", Kind: "cobol:85", Code: "DISPLAY 'HI'."})
		rec := answered(t, sys.Activation("guest", "cobol", rev, true, nil), nil)
		wantError(t, rec, message.StatusWhiskError, message.TextActionMismatch)
	})
}

// TestControllerBadInput sends an owcontroller process requests that are too large or
// malformed: each is answered 400 or 413 with an error text, never accepted, never a 5xx.
func TestControllerBadInput(t *testing.T) {
	t.Parallel()
	sys := reliability.NewSystem(t, bins, reliability.SystemConfig{})
	ctl := sys.StartController(reliability.ControllerConfig{})
	ctl.PutAction(reliability.GuestAuthKey, "fine", map[string]any{"exec": map[string]any{"kind": "python:3", "code": "def main(a):\n    return a\n"}})
	put := func(limits map[string]any, params []map[string]any, kind string) map[string]any {
		doc := map[string]any{"exec": map[string]any{"kind": kind, "code": "def main(a):\n    return a\n"}}
		if limits != nil {
			doc["limits"] = limits
		}
		if params != nil {
			doc["parameters"] = params
		}
		return doc
	}
	invoke, action := "/api/v1/namespaces/_/actions/fine", "/api/v1/namespaces/_/actions/bad?overwrite=true"
	for _, c := range []struct {
		name         string
		method, path string
		body         any
		code         int
		text         string // a part of the error text
	}{
		{"invoke: payload over 1 MiB", "POST", invoke, []byte(`{"a":"` + strings.Repeat("x", 1<<20+10) + `"}`), 413, "larger than allowed"},
		{"invoke: not JSON", "POST", invoke, []byte(`{"a":`), 400, "The request content was malformed"},
		{"invoke: invalid UTF-8", "POST", invoke, []byte("{\"a\":\"\xff\xfe\"}"), 400, "The request content was malformed"},
		{"invoke: a string", "POST", invoke, []byte(`"just a string"`), 400, "The request content was malformed"},
		{"invoke: negative timeout", "POST", invoke + "?blocking=true&timeout=-5", []byte(`{}`), 400, "timeout"},
		{"invoke: absurd timeout", "POST", invoke + "?blocking=true&timeout=99999999999", []byte(`{}`), 400, "timeout"},
		{"put: unknown kind", "PUT", action, put(nil, nil, "cobol:85"), 400, "runtime 'cobol:85' is not supported"},
		{"put: negative memory", "PUT", action, put(map[string]any{"memory": -128}, nil, "python:3"), 400, "memory"},
		{"put: absurd memory", "PUT", action, put(map[string]any{"memory": 1 << 40}, nil, "python:3"), 400, "memory"},
		{"put: zero timeout", "PUT", action, put(map[string]any{"timeout": 0}, nil, "python:3"), 400, "below allowed threshold"},
		{"put: absurd timeout", "PUT", action, put(map[string]any{"timeout": 1e15}, nil, "python:3"), 400, "timeout"},
		{"put: negative logs", "PUT", action, put(map[string]any{"logs": -1}, nil, "python:3"), 400, "log"},
		{"put: zero concurrency", "PUT", action, put(map[string]any{"concurrency": 0}, nil, "python:3"), 400, "concurrency"},
		{"put: limits of the wrong type", "PUT", action, put(map[string]any{"memory": "lots"}, nil, "python:3"), 400, "The request content was malformed"},
		{"put: parameters over 1 MiB", "PUT", action, put(nil, []map[string]any{{"key": "p", "value": strings.Repeat("y", 1<<20+10)}}, "python:3"), 413, "larger than allowed"},
		{"put: not JSON", "PUT", action, []byte(`{"exec":`), 400, "The request content was malformed"},
		{"put: invalid UTF-8", "PUT", action, []byte("{\"exec\":{\"kind\":\"python:3\",\"code\":\"\xff\"}}"), 400, "The request content was malformed"},
		{"put: name too long", "PUT", "/api/v1/namespaces/_/actions/" + strings.Repeat("n", 300), put(nil, nil, "python:3"), 400, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			code, body, _ := ctl.Do(c.method, c.path, reliability.GuestAuthKey, c.body)
			var e struct {
				Error string `json:"error"`
				Code  string `json:"code"`
			}
			_ = json.Unmarshal(body, &e)
			if code != c.code || e.Error == "" || e.Code == "" || !strings.Contains(strings.ToLower(e.Error), strings.ToLower(c.text)) {
				t.Errorf("%s %.80s: %d %.300s, want %d with an error containing %q", c.method, c.path, code, body, c.code, c.text)
			}
		})
	}
}
