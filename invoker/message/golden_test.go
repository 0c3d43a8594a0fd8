package message

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite testdata/golden/*.golden")

// decoders picks the decoder of a testdata file by the prefix of its name.
var decoders = []struct {
	prefix string
	decode func([]byte) (any, error)
}{
	{"activation_message", func(b []byte) (any, error) { return DecodeActivationMessage(b) }},
	{"activation_record", func(b []byte) (any, error) { var r ActivationRecord; return &r, r.UnmarshalJSON(b) }},
	{"activation_response", func(b []byte) (any, error) { var r ActivationResponse; return &r, r.UnmarshalJSON(b) }},
	{"ack_", func(b []byte) (any, error) { return DecodeAck(b) }},
	{"ping", func(b []byte) (any, error) { return DecodePing(b) }},
	{"event", func(b []byte) (any, error) { return DecodeEvent(b) }},
	{"identity", func(b []byte) (any, error) { var id Identity; return &id, id.UnmarshalJSON(b) }},
	{"invoker_instance", func(b []byte) (any, error) { var i InvokerInstanceID; return &i, i.UnmarshalJSON(b) }},
}

func decoderFor(t *testing.T, name string) func([]byte) (any, error) {
	t.Helper()
	for _, d := range decoders {
		if strings.HasPrefix(name, d.prefix) {
			return d.decode
		}
	}
	t.Fatalf("no decoder for testdata file %s", name)
	return nil
}

// sameJSON reports whether a and b parse to equal values.
func sameJSON(t *testing.T, a, b []byte) bool {
	t.Helper()
	var va, vb any
	if err := json.Unmarshal(a, &va); err != nil {
		t.Fatalf("unmarshal %s: %v", a, err)
	}
	if err := json.Unmarshal(b, &vb); err != nil {
		t.Fatalf("unmarshal %s: %v", b, err)
	}
	return reflect.DeepEqual(va, vb)
}

func compact(t *testing.T, b []byte) string {
	t.Helper()
	var buf bytes.Buffer
	if err := json.Compact(&buf, b); err != nil {
		t.Fatal(err)
	}
	return buf.String()
}

// TestGolden decodes every example of testdata, encodes it again and
// checks that the result means the same JSON as the example, that the
// exact encoding matches testdata/golden, and that encoding is stable.
func TestGolden(t *testing.T) {
	files, err := filepath.Glob("testdata/*.json")
	if err != nil || len(files) == 0 {
		t.Fatalf("no testdata: %v", err)
	}
	for _, file := range files {
		name := strings.TrimSuffix(filepath.Base(file), ".json")
		if strings.HasPrefix(name, "fpc_") {
			continue // TestFPCMessages
		}
		t.Run(name, func(t *testing.T) {
			in, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			decode := decoderFor(t, name)
			v, err := decode(in)
			if err != nil {
				t.Fatalf("decode: %v", err)
			}
			out, err := Marshal(v)
			if err != nil {
				t.Fatalf("encode: %v", err)
			}
			if !sameJSON(t, in, out) {
				t.Errorf("round trip changed the JSON\n in: %s\nout: %s", compact(t, in), out)
			}
			std, err := json.Marshal(v)
			if err != nil || !sameJSON(t, out, std) {
				t.Errorf("json.Marshal differs from Marshal (%v)\n%s\n%s", err, std, out)
			}
			v2, err := decode(out)
			if err != nil {
				t.Fatalf("decode own output %s: %v", out, err)
			}
			if !reflect.DeepEqual(v, v2) {
				t.Errorf("decode(encode(v)) != v\n got %#v\nwant %#v", v2, v)
			}
			golden := filepath.Join("testdata", "golden", name+".golden")
			if *update {
				if err := os.WriteFile(golden, append(out, '\n'), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test -update)", err)
			}
			if got := string(out) + "\n"; got != string(want) {
				t.Errorf("encoding differs from %s\n got %s\nwant %s", golden, got, want)
			}
		})
	}
}

func TestFPCMessages(t *testing.T) {
	for _, name := range []string{"fpc_creation", "fpc_deletion"} {
		in, err := os.ReadFile(filepath.Join("testdata", name+".json"))
		if err != nil {
			t.Fatal(err)
		}
		m, err := DecodeActivationMessage(in)
		if !errors.Is(err, ErrFPCMessage) || m != nil {
			t.Errorf("%s: got (%v, %v), want ErrFPCMessage", name, m, err)
		}
	}
}

func keys(t *testing.T, b []byte) []string {
	t.Helper()
	var m map[string]json.RawMessage
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("%s: %v", b, err)
	}
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

func intp(n int) *int       { return &n }
func int64p(n int64) *int64 { return &n }

// TestMembersWritten checks §0.1 on values with nothing set and with every
// optional member set: non-optional members are always written (as [], {}
// or null when empty) and optional ones only when set.
func TestMembersWritten(t *testing.T) {
	act := WhiskActivation{Cause: "5d4c6e7f8a9b4c0d9e1f2a3b4c5d6e7f", Duration: int64p(0)}
	busy := 5 * Megabyte
	tests := []struct {
		name string
		v    any
		want string // sorted keys, space separated
		raw  map[string]string
	}{
		{"activation message empty", ActivationMessage{},
			"action activationId blocking initArgs lockedArgs revision rootControllerIndex transid user",
			map[string]string{"revision": "null", "initArgs": "[]", "lockedArgs": "{}"}},
		{"activation message full", ActivationMessage{Content: json.RawMessage(`{}`), Cause: "x", TraceContext: map[string]string{}},
			"action activationId blocking cause content initArgs lockedArgs revision rootControllerIndex traceContext transid user",
			map[string]string{"traceContext": "{}"}},
		{"identity", Identity{}, "authkey limits namespace rights subject",
			map[string]string{"authkey": "{}", "rights": "[]", "limits": "{}"}},
		{"user limits empty", UserLimits{}, "", nil},
		{"user limits no kinds", UserLimits{AllowedKinds: []string{}, StoreActivations: new(bool)}, "allowedKinds storeActivations",
			map[string]string{"allowedKinds": "[]", "storeActivations": "false"}},
		{"fqn", FQN{}, "name path", nil},
		{"fqn full", FQN{Version: "0.0.1", Binding: "a/b"}, "binding name path version", nil},
		{"controller", ControllerInstanceID("0"), "asString instanceType", map[string]string{"instanceType": `"controller"`}},
		{"invoker", InvokerInstanceID{}, "dedicatedNamespaces instance instanceType tags userMemory",
			map[string]string{"tags": "[]", "dedicatedNamespaces": "[]", "userMemory": `"0 B"`, "instanceType": `"invoker"`}},
		{"invoker full", InvokerInstanceID{UniqueName: "0", DisplayedName: "a", BusyMemory: &busy},
			"busyMemory dedicatedNamespaces displayedName instance instanceType tags uniqueName userMemory",
			map[string]string{"busyMemory": `"5242880 B"`}},
		{"response", ActivationResponse{}, "statusCode", nil},
		{"response full", ActivationResponse{Result: json.RawMessage(`null`), Size: intp(0)}, "result size statusCode", nil},
		{"activation", WhiskActivation{}, "activationId annotations end logs name namespace publish response start subject version",
			map[string]string{"logs": "[]", "annotations": "[]", "publish": "false"}},
		{"activation full", act, "activationId annotations cause duration end logs name namespace publish response start subject version",
			map[string]string{"duration": "0"}},
		{"record", ActivationRecord{}, "_id activationId annotations end entityType logs name namespace publish response start subject updated version",
			map[string]string{"entityType": `"activation"`}},
		{"completion", CompletionMessage{}, "activationId instance isSystemError transid", nil},
		{"result", ResultMessage{}, "response transid", nil},
		{"combined", CombinedMessage{}, "instance isSystemError response transid", nil},
		{"ping", PingMessage{}, "isEnabled name", map[string]string{"isEnabled": "false"}},
		{"ping lendable", PingMessage{LendableCPUMillis: 1, LendableMemoryMB: 2}, "isEnabled lendableCpuMillis lendableMemoryMB name", nil},
		{"event", EventMessage{Activation: &ActivationEvent{}}, "body eventType namespace source subject timestamp userId", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := Marshal(tt.v)
			if err != nil {
				t.Fatal(err)
			}
			if got := strings.Join(keys(t, b), " "); got != tt.want {
				t.Errorf("%s\n got keys %q\nwant keys %q", b, got, tt.want)
			}
			var m map[string]json.RawMessage
			_ = json.Unmarshal(b, &m)
			for k, want := range tt.raw {
				if got := string(m[k]); got != want {
					t.Errorf("%s: member %s = %s, want %s", b, k, got, want)
				}
			}
		})
	}
}

func TestParameterMembers(t *testing.T) {
	tests := []struct {
		p    Parameters
		want string
	}{
		{nil, `[]`},
		{Parameters{{Key: "a"}}, `[{"key":"a","value":null}]`},
		{Parameters{{Key: "a", Value: json.RawMessage(`1`), Init: true, Encryption: "aes-256"}},
			`[{"key":"a","value":1,"init":true,"encryption":"aes-256"}]`},
		{Parameters{StringParam("p", "<b>&"), BoolParam("t", false), IntParam("w", 168)},
			`[{"key":"p","value":"<b>&"},{"key":"t","value":false},{"key":"w","value":168}]`},
	}
	for _, tt := range tests {
		b, err := Marshal(tt.p)
		if err != nil || string(b) != tt.want {
			t.Errorf("Marshal(%#v) = %s, %v; want %s", tt.p, b, err, tt.want)
		}
	}
}
