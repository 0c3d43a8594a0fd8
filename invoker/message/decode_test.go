package message

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func readTestdata(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// edit parses doc, applies f to the decoded value and re-encodes it.
func edit(t *testing.T, doc []byte, f func(m map[string]any)) []byte {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(doc, &m); err != nil {
		t.Fatal(err)
	}
	f(m)
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func sub(m map[string]any, path ...string) map[string]any {
	for _, p := range path {
		m = m[p].(map[string]any)
	}
	return m
}

// TestActivationMessageRequired removes each required member in turn; the
// error must name it, as spray-json requires every non-Option member.
func TestActivationMessageRequired(t *testing.T) {
	doc := readTestdata(t, "activation_message.json")
	required := []struct {
		path []string // object holding the member
		name string
		want string
	}{
		{nil, "transid", `activation message: field "transid": missing`},
		{nil, "action", `activation message: field "action": missing`},
		{nil, "revision", `activation message: field "revision": missing`},
		{nil, "user", `activation message: field "user": missing`},
		{nil, "activationId", `activation message: field "activationId": missing`},
		{nil, "rootControllerIndex", `activation message: field "rootControllerIndex": missing`},
		{nil, "blocking", `activation message: field "blocking": missing`},
		{nil, "initArgs", `activation message: field "initArgs": missing`},
		{nil, "lockedArgs", `activation message: field "lockedArgs": missing`},
		{[]string{"action"}, "path", `activation message: field "action": field "path": missing`},
		{[]string{"action"}, "name", `activation message: field "action": field "name": missing`},
		{[]string{"user"}, "subject", `activation message: field "user": field "subject": missing`},
		{[]string{"user"}, "namespace", `activation message: field "user": field "namespace": missing`},
		{[]string{"user"}, "authkey", `activation message: field "user": field "authkey": missing`},
		{[]string{"user"}, "rights", `activation message: field "user": field "rights": missing`},
		{[]string{"user"}, "limits", `activation message: field "user": field "limits": missing`},
		{[]string{"user", "namespace"}, "uuid", `activation message: field "user": field "namespace": field "uuid": missing`},
		{[]string{"user", "namespace"}, "name", `activation message: field "user": field "namespace": field "name": missing`},
		{[]string{"rootControllerIndex"}, "asString", `activation message: field "rootControllerIndex": field "asString": missing`},
	}
	for _, r := range required {
		t.Run(strings.Join(append(r.path, r.name), "."), func(t *testing.T) {
			in := edit(t, doc, func(m map[string]any) { delete(sub(m, r.path...), r.name) })
			m, err := DecodeActivationMessage(in)
			if err == nil || err.Error() != r.want {
				t.Errorf("got (%v, %v), want error %q", m, err, r.want)
			}
		})
	}
	// Optional members may be absent or null.
	for _, name := range []string{"content", "cause", "traceContext"} {
		for _, null := range []bool{false, true} {
			in := edit(t, doc, func(m map[string]any) {
				delete(m, name)
				if null {
					m[name] = nil
				}
			})
			if _, err := DecodeActivationMessage(in); err != nil {
				t.Errorf("without %s (null=%v): %v", name, null, err)
			}
		}
	}
	// instanceType of rootControllerIndex is optional.
	in := edit(t, doc, func(m map[string]any) { delete(sub(m, "rootControllerIndex"), "instanceType") })
	if m, err := DecodeActivationMessage(in); err != nil || m.RootControllerIndex != "0" {
		t.Errorf("without instanceType: %v, %v", m, err)
	}
}

func TestActivationMessageMalformed(t *testing.T) {
	doc := readTestdata(t, "activation_message.json")
	set := func(v any, path ...string) []byte {
		return edit(t, doc, func(m map[string]any) { sub(m, path[:len(path)-1]...)[path[len(path)-1]] = v })
	}
	tests := []struct {
		name string
		in   []byte
		want string // substring of the error
	}{
		{"empty", nil, "activation message: empty input"},
		{"not json", []byte(`{"transid":`), "activation message: unexpected end of JSON input"},
		{"array", []byte(`[1,2]`), "activation message: expected an object, got array"},
		{"null", []byte(`null`), "activation message: expected an object, got null"},
		{"string", []byte(`"x"`), "expected an object, got string"},
		{"trailing garbage", append(append([]byte{}, doc...), '}'), "activation message: invalid character"},
		{"short id", set("abc", "activationId"), `field "activationId": activation id is 3 characters long, want 32`},
		{"upper-case id", set("5D4C6E7F8A9B4C0D9E1F2A3B4C5D6E7F", "activationId"), `field "activationId": activation id is not 32 lower-case hex`},
		{"id object", set(map[string]any{}, "activationId"), `field "activationId": activation id: expected a string, got object`},
		{"revision number", set(5, "revision"), `field "revision": revision: expected a string, got number`},
		{"blocking string", set("yes", "blocking"), `field "blocking": expected a boolean, got string`},
		{"blocking null", set(nil, "blocking"), `field "blocking": expected a boolean, got null`},
		{"initArgs number", set([]any{1}, "initArgs"), `field "initArgs": element 0: expected a string, got number`},
		{"lockedArgs value", set(map[string]any{"k": 1}, "lockedArgs"), `field "lockedArgs": field "k": expected a string, got number`},
		{"bad cause", set("nope", "cause"), `field "cause": activation id is 4 characters long`},
		{"traceContext array", set([]any{}, "traceContext"), `field "traceContext": expected an object, got array`},
		{"harvest hint string", set("lots", "harvest"), `field "harvest": json: cannot unmarshal string`},
		{"negative harvest hint", set(map[string]any{"extraCpuMillis": 1, "extraMemoryMB": -5}, "harvest"), `field "harvest": negative extra demand`},
		{"bad action name", set("a/b", "action", "name"), `field "action": field "name": "a/b" is not a legal entity name`},
		{"bad path", set("gu est!", "action", "path"), `field "action": field "path": path "gu est!": segment`},
		{"bad version", set("0.0.0", "action", "version"), `field "action": field "version": bad semantic version "0.0.0"`},
		{"short subject", set("abc", "user", "subject"), `field "user": field "subject": subject "abc" is shorter than 5 characters`},
		{"authkey string", set("k", "user", "authkey"), `field "user": field "authkey": expected an object, got string`},
		{"unknown right", set([]any{"READ", "FLY"}, "user", "rights"), `field "user": field "rights": element 1: unknown privilege "FLY"`},
		{"limits float", set(map[string]any{"maxActionMemory": 1.5}, "user", "limits"), `field "user": field "limits": field "maxActionMemory": expected a whole number in range, got 1.5`},
		{"limits bytesize", set(map[string]any{"maxPayloadSize": "1 TB"}, "user", "limits"), `field "user": field "limits": field "maxPayloadSize": byte size "1 TB"`},
		{"controller type", set("invoker", "rootControllerIndex", "instanceType"), `field "rootControllerIndex": field "instanceType": got "invoker", want "controller"`},
		{"controller chars", set("a b", "rootControllerIndex", "asString"), `field "rootControllerIndex": field "asString": controller instance id "a b"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := DecodeActivationMessage(tt.in)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("got (%v, %v), want error containing %q", m, err, tt.want)
			}
			if errors.Is(err, ErrFPCMessage) {
				t.Errorf("%v must not be ErrFPCMessage", err)
			}
		})
	}
}

// TestActivationMessageHarvestHint: owcontroller's hint survives a round trip, and a
// message without it encodes exactly as before (no member at all).
func TestActivationMessageHarvestHint(t *testing.T) {
	doc := readTestdata(t, "activation_message.json")
	m, err := DecodeActivationMessage(doc)
	if err != nil {
		t.Fatal(err)
	}
	if m.Harvest != nil {
		t.Fatalf("hint %+v from a message without one", m.Harvest)
	}
	plain, _ := m.MarshalJSON()
	if strings.Contains(string(plain), "harvest") {
		t.Errorf("a message without a hint encodes one: %s", plain)
	}
	m.Harvest = &HarvestHint{ExtraCPUMillis: 750, ExtraMemoryMB: 128}
	b, err := m.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	back, err := DecodeActivationMessage(b)
	if err != nil || back.Harvest == nil || *back.Harvest != *m.Harvest {
		t.Errorf("round trip: %+v, %v", back, err)
	}
}

// TestActivationMessageNormalises checks the values OpenWhisk rewrites on
// read.
func TestActivationMessageNormalises(t *testing.T) {
	doc := readTestdata(t, "activation_message.json")
	in := edit(t, doc, func(m map[string]any) {
		sub(m, "action")["path"] = "/guest//"
		sub(m, "action")["version"] = "2"
		sub(m, "user")["subject"] = "  guest  "
		sub(m, "user")["rights"] = []any{" read", "READ", "activate"}
		m["revision"] = " 2-abc "
		m["initArgs"] = []any{"a", "b", "a"}
		m["content"] = map[string]any{"b": 1, "a": []any{1, 2}}
	})
	m, err := DecodeActivationMessage(in)
	if err != nil {
		t.Fatal(err)
	}
	if m.Action.Path != "guest" || m.Action.Version != "2.0.0" || m.User.Subject != "guest" ||
		strings.Join(m.User.Rights, ",") != "READ,ACTIVATE" || m.Revision != "2-abc" ||
		strings.Join(m.InitArgs, ",") != "a,b" || string(m.Content) != `{"a":[1,2],"b":1}` {
		t.Errorf("not normalised: %+v", m)
	}
}

func TestTransactionIDLenient(t *testing.T) {
	doc := readTestdata(t, "activation_message.json")
	for _, bad := range []any{"tid", 5, []any{}, []any{"a"}, []any{1, 2}, []any{"a", "b"}, map[string]any{}, []any{"a", 1, 2, 3, 4}} {
		in := edit(t, doc, func(m map[string]any) { m["transid"] = bad })
		m, err := DecodeActivationMessage(in)
		if err != nil || m.TransID.ID != TransactionUnknown || m.TransID.Start != 0 {
			t.Errorf("transid %v: got (%+v, %v), want sid_unknown", bad, m, err)
		}
	}
	in := edit(t, doc, func(m map[string]any) { m["transid"] = nil })
	if m, err := DecodeActivationMessage(in); err != nil || m.TransID.ID != TransactionUnknown {
		t.Errorf("transid null: got (%v, %v)", m, err)
	}
}

func TestDecodeAckMalformed(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want string
	}{
		{"empty object", `{}`, `ack: field "transid": missing`},
		{"transid only", `{"transid":["a",1]}`, `ack: result: field "response": missing`},
		{"no transid", `{"activationId":"5d4c6e7f8a9b4c0d9e1f2a3b4c5d6e7f"}`, `ack: field "transid": missing`},
		{"completion no id", `{"transid":["a",1],"instance":{}}`, `ack: completion: field "activationId": missing`},
		{"completion bad instance", `{"transid":["a",1],"activationId":"5d4c6e7f8a9b4c0d9e1f2a3b4c5d6e7f","instance":{"instance":0,"userMemory":"1 B","instanceType":"invoker","tags":[]}}`,
			`ack: completion: field "instance": field "dedicatedNamespaces": missing`},
		{"completion controller instance", `{"transid":["a",1],"activationId":"5d4c6e7f8a9b4c0d9e1f2a3b4c5d6e7f","instance":{"instance":0,"userMemory":"1 B","instanceType":"controller","tags":[],"dedicatedNamespaces":[]}}`,
			`ack: completion: field "instance": field "instanceType": got "controller", want "invoker"`},
		{"bad userMemory", `{"transid":["a",1],"activationId":"5d4c6e7f8a9b4c0d9e1f2a3b4c5d6e7f","instance":{"instance":0,"userMemory":"lots","instanceType":"invoker","tags":[],"dedicatedNamespaces":[]}}`,
			`ack: completion: field "instance": field "userMemory": byte size "lots"`},
		{"result number", `{"transid":["a",1],"response":5}`, `ack: result: field "response": expected an activation or an activation id, got number`},
		{"result bad activation", `{"transid":["a",1],"response":{"namespace":"guest"}}`, `ack: result: field "response": field "name": missing`},
		{"combined placeholder", `{"transid":["a",1],"response":{"...":"..."},"isSystemError":false,"instance":{}}`,
			`ack: combined: field "response": field "namespace": missing`},
		{"isSystemError string", `{"transid":["a",1],"isSystemError":"no"}`, `ack: field "isSystemError": expected a boolean, got string`},
		{"status code 7", `{"transid":["a",1],"response":{"namespace":"guest","name":"a","subject":"guest","activationId":"5d4c6e7f8a9b4c0d9e1f2a3b4c5d6e7f","start":1,"end":2,"response":{"statusCode":7},"logs":[],"version":"0.0.1","publish":false,"annotations":[]}}`,
			`ack: result: field "response": field "response": field "statusCode": got 7, want 0..3`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, err := DecodeAck([]byte(tt.in))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("got (%v, %v), want error containing %q", a, err, tt.want)
			}
		})
	}
}

func TestDecodePingMalformed(t *testing.T) {
	tests := []struct{ in, want string }{
		{`{}`, `ping message: field "name": missing`},
		{`{"instance":{}}`, `ping message: field "name": missing`},
		{`{"name":{"instance":0,"userMemory":"1 B","instanceType":"invoker","tags":[],"dedicatedNamespaces":[]},"isEnabled":1}`, `ping message: field "isEnabled": expected a boolean, got number`},
		{`{"name":{"instance":0,"userMemory":"1 B","instanceType":"invoker","tags":[],"dedicatedNamespaces":[]},"lendableMemoryMB":-1}`, `ping message: field "lendableMemoryMB": negative value -1`},
		{`{"name":{"instance":0,"userMemory":"1 B","instanceType":"invoker","tags":[],"dedicatedNamespaces":[]},"lendableCpuMillis":"x"}`, `ping message: field "lendableCpuMillis": expected a number, got string`},
		{`{"name":{"instance":2147483648,"userMemory":"1 B","instanceType":"invoker","tags":[],"dedicatedNamespaces":[]}}`, `ping message: field "name": field "instance": number 2147483648 out of range`},
	}
	for _, tt := range tests {
		p, err := DecodePing([]byte(tt.in))
		if err == nil || err.Error() != tt.want {
			t.Errorf("DecodePing(%s) = (%v, %v), want error %q", tt.in, p, err, tt.want)
		}
	}
	// isEnabled absent means enabled; lendable absent means zero.
	p, err := DecodePing([]byte(`{"name":{"instance":1,"userMemory":"2 GB","instanceType":"invoker","tags":[],"dedicatedNamespaces":[]}}`))
	if err != nil || !p.Enabled || p.LendableCPUMillis != 0 || p.Name.UserMemory != 2*Gigabyte {
		t.Errorf("got (%+v, %v)", p, err)
	}
}

func TestDecodeEventMalformed(t *testing.T) {
	doc := readTestdata(t, "event.json")
	for _, name := range []string{"source", "body", "subject", "namespace", "userId", "eventType", "timestamp"} {
		in := edit(t, doc, func(m map[string]any) { delete(m, name) })
		if _, err := DecodeEvent(in); err == nil || err.Error() != `event message: field "`+name+`": missing` {
			t.Errorf("without %s: %v", name, err)
		}
	}
	for _, name := range []string{"name", "activationId", "statusCode", "duration", "waitTime", "initTime", "kind", "conductor", "memory"} {
		in := edit(t, doc, func(m map[string]any) { delete(sub(m, "body"), name) })
		if _, err := DecodeEvent(in); err == nil || err.Error() != `event message: field "body": field "`+name+`": missing` {
			t.Errorf("without body.%s: %v", name, err)
		}
	}
	// Negative durations read as zero, as in OpenWhisk.
	in := edit(t, doc, func(m map[string]any) { sub(m, "body")["waitTime"] = -5 })
	if e, err := DecodeEvent(in); err != nil || e.Activation.WaitTime != 0 {
		t.Errorf("negative waitTime: %+v, %v", e, err)
	}
}

func TestActivationRecordChecks(t *testing.T) {
	doc := readTestdata(t, "activation_record.json")
	tests := []struct {
		name string
		f    func(m map[string]any)
		want string
	}{
		{"entity type", func(m map[string]any) { m["entityType"] = "action" }, `field "entityType": got "action", want "activation"`},
		{"id mismatch", func(m map[string]any) { m["_id"] = "other/5d4c6e7f8a9b4c0d9e1f2a3b4c5d6e7f" }, `field "_id": got "other/`},
		{"no logs", func(m map[string]any) { delete(m, "logs") }, `field "logs": missing`},
		{"no publish", func(m map[string]any) { delete(m, "publish") }, `field "publish": missing`},
		{"bad start", func(m map[string]any) { m["start"] = "yesterday" }, `field "start": timestamp malformed`},
	}
	for _, tt := range tests {
		var r ActivationRecord
		if err := r.UnmarshalJSON(edit(t, doc, tt.f)); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: got %v, want error containing %q", tt.name, err, tt.want)
		}
	}
	// ISO-8601 instants, a _rev and no entityType are accepted.
	in := edit(t, doc, func(m map[string]any) {
		m["start"] = "2024-05-29T16:26:40.312Z"
		m["_rev"] = "1-abc"
		delete(m, "entityType")
	})
	var r ActivationRecord
	if err := r.UnmarshalJSON(in); err != nil || r.Start != 1717000000312 || r.Rev != "1-abc" {
		t.Errorf("got (%+v, %v)", r, err)
	}
}
