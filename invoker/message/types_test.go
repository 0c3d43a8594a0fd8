package message

import (
	"encoding/json"
	"errors"
	"regexp"
	"strings"
	"testing"
	"time"
)

func TestByteSize(t *testing.T) {
	tests := []struct {
		in   string
		want ByteSize
		ok   bool
	}{
		{"2147483648 B", 2147483648, true},
		{"2048 MB", 2 * Gigabyte, true},
		{"2048m", 2 * Gigabyte, true},
		{"1 gb", Gigabyte, true},
		{"4K", 4 * Kilobyte, true},
		{" 7 KB ", 7 * Kilobyte, true},
		{"0 B", 0, true},
		{"12B", 12, true},
		{"1 TB", 0, false},
		{"1.5 MB", 0, false},
		{"-1 B", 0, false},
		{"MB", 0, false},
		{"1  MB", 0, false}, // at most one space, as OpenWhisk's regex
		{"", 0, false},
		{"99999999999999999999 B", 0, false},
		{"9007199254740993 GB", 0, false},
	}
	for _, tt := range tests {
		got, err := ParseByteSize(tt.in)
		if (err == nil) != tt.ok || got != tt.want {
			t.Errorf("ParseByteSize(%q) = %d, %v; want %d, ok=%v", tt.in, got, err, tt.want, tt.ok)
		}
	}
	if s := (2 * Gigabyte).String(); s != "2147483648 B" {
		t.Errorf("String() = %q", s)
	}
	if mb := (256*Megabyte + 5).MB(); mb != 256 {
		t.Errorf("MB() = %d", mb)
	}
}

func TestActivationID(t *testing.T) {
	re := regexp.MustCompile(`^[0-9a-f]{12}4[0-9a-f]{3}[89ab][0-9a-f]{15}$`)
	seen := map[ActivationID]bool{}
	for range 100 {
		id := NewActivationID()
		if !re.MatchString(string(id)) {
			t.Fatalf("NewActivationID() = %q, not a dashless v4 UUID", id)
		}
		if _, err := ParseActivationID(string(id)); err != nil {
			t.Fatal(err)
		}
		if seen[id] {
			t.Fatalf("duplicate id %s", id)
		}
		seen[id] = true
	}
	tests := []struct {
		raw  string
		want ActivationID
		ok   bool
	}{
		{`"5d4c6e7f8a9b4c0d9e1f2a3b4c5d6e7f"`, "5d4c6e7f8a9b4c0d9e1f2a3b4c5d6e7f", true},
		{`12345678901234567890123456789012`, "12345678901234567890123456789012", true},
		{`1.2e31`, "", false},
		{`"5d4c6e7f8a9b4c0d9e1f2a3b4c5d6e7"`, "", false},
		{`"5d4c6e7f-8a9b-4c0d-9e1f-2a3b4c5d"`, "", false},
		{`"5D4C6E7F8A9B4C0D9E1F2A3B4C5D6E7F"`, "", false},
		{`null`, "", false},
		{`true`, "", false},
	}
	for _, tt := range tests {
		var id ActivationID
		err := id.UnmarshalJSON([]byte(tt.raw))
		if (err == nil) != tt.ok || id != tt.want {
			t.Errorf("UnmarshalJSON(%s) = %q, %v; want %q ok=%v", tt.raw, id, err, tt.want, tt.ok)
		}
	}
}

func TestTransactionIDJSON(t *testing.T) {
	parent := &TransactionID{ID: "p", Start: 1}
	tests := []struct {
		in      string
		want    TransactionID
		rewrite string // the canonical encoding; empty means same as in
	}{
		{`["abc",1717000000123]`, TransactionID{ID: "abc", Start: 1717000000123}, ""},
		{`["abc",5,true]`, TransactionID{ID: "abc", Start: 5, ExtraLogging: true}, ""},
		{`["abc",5,false]`, TransactionID{ID: "abc", Start: 5}, `["abc",5]`},
		{`["abc",5,["p",1]]`, TransactionID{ID: "abc", Start: 5, Parent: parent}, ""},
		{`["abc",5,true,["p",1]]`, TransactionID{ID: "abc", Start: 5, ExtraLogging: true, Parent: parent}, ""},
		{`["abc",5,false,["p",1]]`, TransactionID{ID: "abc", Start: 5, Parent: parent}, `["abc",5,["p",1]]`},
		{`["abc",5,"junk"]`, TransactionID{ID: "abc", Start: 5}, `["abc",5]`},
		{`["abc",5,true,"junk"]`, TransactionID{ID: "abc", Start: 5, ExtraLogging: true}, `["abc",5,true]`},
		{`["abc",5.9]`, TransactionID{ID: "abc", Start: 5}, `["abc",5]`},
		{`["abc",1.7e12]`, TransactionID{ID: "abc", Start: 1700000000000}, `["abc",1700000000000]`},
		{`["abc",-3]`, TransactionID{ID: "abc", Start: -3}, ""},
		{`["abc",5,1,["p",1]]`, TransactionID{ID: TransactionUnknown}, `["sid_unknown",0]`},
		{`["abc","5"]`, TransactionID{ID: TransactionUnknown}, `["sid_unknown",0]`},
		{`["abc",1e400]`, TransactionID{ID: TransactionUnknown}, `["sid_unknown",0]`},
		{`{"id":"abc"}`, TransactionID{ID: TransactionUnknown}, `["sid_unknown",0]`},
	}
	for _, tt := range tests {
		var tid TransactionID
		if err := tid.UnmarshalJSON([]byte(tt.in)); err != nil {
			t.Errorf("UnmarshalJSON(%s): %v", tt.in, err)
			continue
		}
		if !tid.Equal(tt.want) {
			t.Errorf("UnmarshalJSON(%s) = %+v, want %+v", tt.in, tid, tt.want)
		}
		want := tt.rewrite
		if want == "" {
			want = tt.in
		}
		if b, err := Marshal(tid); err != nil || string(b) != want {
			t.Errorf("Marshal(%s) = %s, %v; want %s", tt.in, b, err, want)
		}
	}
	var tid TransactionID
	if err := tid.UnmarshalJSON([]byte(`["abc",`)); err == nil {
		t.Error("invalid JSON accepted")
	}
}

func TestTransactionIDEqual(t *testing.T) {
	a := TransactionID{ID: "sid_invokerHealth", Start: 7}
	tests := []struct {
		b    TransactionID
		want bool
	}{
		{TransactionID{ID: "sid_invokerHealth", Start: 7}, true},
		{TransactionID{ID: "sid_invokerHealth", Start: 8}, false},
		{TransactionID{ID: "sid_invokerHealth", Start: 7, ExtraLogging: true}, false},
		{TransactionID{ID: "sid_invokerHealth", Start: 7, Parent: &TransactionID{}}, false},
		{TransactionID{ID: "sid_unknown", Start: 7}, false},
	}
	for _, tt := range tests {
		if got := a.Equal(tt.b); got != tt.want {
			t.Errorf("%+v.Equal(%+v) = %v", a, tt.b, got)
		}
	}
	p1 := TransactionID{ID: "x", Start: 1, Parent: &TransactionID{ID: "p", Start: 2}}
	p2 := TransactionID{ID: "x", Start: 1, Parent: &TransactionID{ID: "p", Start: 2}}
	if !p1.Equal(p2) {
		t.Error("equal parents compare unequal")
	}
}

func TestNewTransactionID(t *testing.T) {
	now := time.UnixMilli(1717000000123)
	re := regexp.MustCompile(`^[A-Za-z0-9]{32}$`)
	a, b := NewTransactionID(now), NewTransactionID(now)
	if !re.MatchString(a.ID) || a.Start != 1717000000123 || a.ID == b.ID {
		t.Errorf("NewTransactionID = %+v, %+v", a, b)
	}
	if h := SystemTransactionID("invokerHealth", now); h.ID != TransactionInvokerHealth || !h.StartTime().Equal(now) {
		t.Errorf("SystemTransactionID = %+v", h)
	}
}

func TestNames(t *testing.T) {
	for _, tt := range []struct {
		s  string
		ok bool
	}{
		{"hello", true}, {"a", true}, {"_", true}, {"my action", true}, {"a@b.c&d-e", true},
		{"ends ", false}, {" starts", false}, {"", false}, {"a/b", false}, {"é", false},
		{strings.Repeat("a", 256), true}, {strings.Repeat("a", 257), false}, {"a-", true}, {"-a", false},
	} {
		if got := ValidEntityName(tt.s); got != tt.ok {
			t.Errorf("ValidEntityName(%q) = %v", tt.s, got)
		}
	}
	for _, tt := range []struct{ in, want string }{
		{"guest", "guest"}, {"/guest/", "guest"}, {"whisk.system//utils", "whisk.system/utils"}, {"/", ""}, {"a/b c!/d", ""},
	} {
		got, err := NormalizePath(tt.in)
		if got != tt.want || (err == nil) != (tt.want != "") {
			t.Errorf("NormalizePath(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
	for _, tt := range []struct{ in, want string }{
		{"0.0.1", "0.0.1"}, {"1", "1.0.0"}, {"1.2", "1.2.0"}, {"1.2.3.4", "1.2.3"}, {"01.2.3", "1.2.3"},
		{"1.2.", "1.2.0"}, {"0.0.0", ""}, {"", ""}, {"a.b.c", ""}, {"1.-1.0", ""}, {"1..2", ""},
	} {
		got, err := NormalizeSemVer(tt.in)
		if got != tt.want || (err == nil) != (tt.want != "") {
			t.Errorf("NormalizeSemVer(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
}

func TestFQN(t *testing.T) {
	var f FQN
	if err := json.Unmarshal([]byte(`"/whisk.system/utils/echo"`), &f); err != nil ||
		f != (FQN{Path: "whisk.system/utils", Name: "echo"}) {
		t.Errorf("string form: %+v, %v", f, err)
	}
	if err := json.Unmarshal([]byte(`"echo"`), &f); err == nil {
		t.Error("a single segment was accepted as a fully qualified name")
	}
	f = FQN{Path: "whisk.system/utils", Name: "echo", Version: "0.0.1", Binding: "guest/myutils"}
	if f.DocID() != "whisk.system/utils/echo" || f.QualifiedNameWithLeadingSlash() != "/whisk.system/utils/echo" ||
		f.Namespace() != "whisk.system" || f.String() != "whisk.system/utils/echo@0.0.1" {
		t.Errorf("FQN helpers: %s %s %s %s", f.DocID(), f.QualifiedNameWithLeadingSlash(), f.Namespace(), f)
	}
}

func TestParameters(t *testing.T) {
	var p Parameters
	in := `[{"key":"a","value":1},{"key":"b","value":"x","init":true},{"key":"a","value":{"n": 2}},
		{"key":"c","value":null,"encryption":null},{"key":"d","value":"s","init":false,"encryption":"aes-128"}]`
	if err := json.Unmarshal([]byte(in), &p); err != nil {
		t.Fatal(err)
	}
	b, _ := Marshal(p)
	want := `[{"key":"a","value":{"n":2}},{"key":"b","value":"x","init":true},{"key":"c","value":null},{"key":"d","value":"s","encryption":"aes-128"}]`
	if string(b) != want {
		t.Errorf("got %s\nwant %s", b, want)
	}
	for _, bad := range []struct{ in, want string }{
		{`{}`, "expected an array, got object"},
		{`[{"value":1}]`, `element 0: field "key": missing`},
		{`[{"key":"a"}]`, `element 0: field "value": missing`},
		{`[{"key":1,"value":1}]`, `element 0: field "key": expected a string, got number`},
		{`[{"key":"a","value":1,"init":"yes"}]`, `element 0: field "init": expected a boolean, got string`},
		{`[{"key":"a","value":1,"init":null}]`, `element 0: field "init": expected a boolean, got null`},
		{`[5]`, `element 0: expected an object, got number`},
	} {
		if err := json.Unmarshal([]byte(bad.in), &p); err == nil || !strings.Contains(err.Error(), bad.want) {
			t.Errorf("Unmarshal(%s) = %v, want error containing %q", bad.in, err, bad.want)
		}
	}
}

func TestTruthy(t *testing.T) {
	for _, tt := range []struct {
		v    string
		want bool
	}{
		{`false`, false}, {`0`, false}, {`0.0`, false}, {`""`, false}, {`null`, false},
		{`true`, true}, {`1`, true}, {`-2.5`, true}, {`"false"`, true}, {`{}`, true}, {`[]`, true},
	} {
		if got := Truthy(json.RawMessage(tt.v)); got != tt.want {
			t.Errorf("Truthy(%s) = %v", tt.v, got)
		}
	}
	p := Parameters{BoolParam("provide-api-key", false)}
	if p.IsTruthy("provide-api-key", true) || !p.IsTruthy("absent", true) || p.IsTruthy("absent", false) {
		t.Error("IsTruthy")
	}
}

func TestStatusCodes(t *testing.T) {
	want := []struct{ s, m string }{
		{"success", "success"},
		{"application_error", "application error"},
		{"action_developer_error", "action developer error"},
		{"whisk_internal_error", "whisk internal error"},
	}
	for c, w := range want {
		code := StatusCode(c)
		if code.String() != w.s || code.Message() != w.m || !code.Valid() {
			t.Errorf("StatusCode(%d) = %q, %q", c, code.String(), code.Message())
		}
	}
	if StatusCode(4).Valid() || StatusCode(-1).Valid() {
		t.Error("out-of-range code is valid")
	}
	r := ErrorTextResponse(StatusWhiskError, TextActionFetchError)
	if b, _ := Marshal(r); string(b) != `{"statusCode":3,"result":{"error":"Action could not be fetched."}}` || !r.IsWhiskError() {
		t.Errorf("ErrorTextResponse = %s", b)
	}
	r = ErrorResponse(StatusDeveloperError, json.RawMessage(`{"code": 5}`))
	if b, _ := Marshal(r); string(b) != `{"statusCode":2,"result":{"error":{"code":5}}}` {
		t.Errorf("ErrorResponse = %s", b)
	}
}

func TestTexts(t *testing.T) {
	tests := []struct{ got, want string }{
		{TextTimedOut(60000, false), "The action exceeded its time limits of 60000 milliseconds."},
		{TextTimedOut(100, true), "The action exceeded its time limits of 100 milliseconds during initialization."},
		{TextInvalidInit(""), "The action failed during initialization."},
		{TextInvalidInit("boom"), "The action failed during initialization: boom"},
		{TextInvalidRun(""), "The action did not produce a valid JSON or JSON Array response."},
		{TextInvalidRun("42"), "The action did not produce a valid JSON or JSON Array response: 42"},
		{TextTruncated(2097152, Megabyte, `{"a":`), `The action produced a response that exceeded the allowed length: 2097152 > 1048576 bytes. The truncated response was: {"a":`},
		{TextImagePullError("me/img:1"), "Failed to pull container image 'me/img:1'."},
		{TextCommandNotFound("me/img"), "executable file not found in image me/img"},
		{TextLogsTruncated(10 * Megabyte), "Logs were truncated because the total bytes size exceeds the limit of 10485760 bytes."},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("got %q\nwant %q", tt.got, tt.want)
		}
	}
}

func TestTopics(t *testing.T) {
	tests := []struct{ got, want string }{
		{InvokerTopic("", 0), "invoker0"},
		{InvokerTopic("ow_", 12), "ow_invoker12"},
		{CompletedTopic("", "0"), "completed0"},
		{CompletedTopic("ow_", "ctl-1"), "ow_completedctl-1"},
		{HealthTopic(""), "health"},
		{HealthGroup("p", "1"), "phealth1"},
		{EventsTopic("ue_"), "ue_events"},
		{(&ActivationMessage{RootControllerIndex: "3"}).CompletedTopic("x"), "xcompleted3"},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("got %q, want %q", tt.got, tt.want)
		}
	}
	inv := InvokerInstanceID{Instance: 2, UniqueName: "2", DisplayedName: "host"}
	if inv.Source() != "invoker2" || inv.String() != "invoker2/2/host" {
		t.Errorf("%s %s", inv.Source(), inv)
	}
}

func TestAcks(t *testing.T) {
	res, err := DecodeAck(readTestdata(t, "ack_result.json"))
	if err != nil {
		t.Fatal(err)
	}
	r := res.(ResultMessage)
	a := r.Response.Activation
	inv := InvokerInstanceID{Instance: 0, UserMemory: 2 * Gigabyte, UniqueName: "0"}
	tid := r.TransID

	completion := NewCompletion(tid, a, inv)
	combined := NewCombined(tid, a, inv)
	tests := []struct {
		ack      Ack
		kind     AckKind
		slotFree bool
		result   bool
		shrunk   bool
		file     string
	}{
		{completion, KindCompletion, true, false, false, "ack_completion.json"},
		{NewResult(tid, a), KindResult, false, true, false, "ack_result.json"},
		{combined, KindCombined, true, true, false, "ack_combined.json"},
		{combined.Shrink(), KindCombined, true, true, true, "ack_combined_shrunk.json"},
		{completion.Shrink(), KindCompletion, true, false, false, "ack_completion.json"},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			b, err := Marshal(tt.ack)
			if err != nil {
				t.Fatal(err)
			}
			if !sameJSON(t, b, readTestdata(t, tt.file)) {
				t.Errorf("got %s\nwant %s", b, compact(t, readTestdata(t, tt.file)))
			}
			back, err := DecodeAck(b)
			if err != nil {
				t.Fatal(err)
			}
			_, free := back.SlotFree()
			res, hasResult := back.Result()
			if back.Kind() != tt.kind || free != tt.slotFree || hasResult != tt.result ||
				(hasResult && res.Shrunk() != tt.shrunk) || back.ID() != a.ActivationID ||
				!back.Transaction().Equal(tid) || back.SystemError() {
				t.Errorf("decoded %v: kind %v free %v result %v", back, back.Kind(), free, hasResult)
			}
		})
	}
	// A whisk error sets isSystemError; shrinking a result drops the activation.
	a3 := *a
	a3.Response = ErrorTextResponse(StatusWhiskError, TextResourceProvisionError)
	if !NewCompletion(tid, &a3, inv).SystemError() || !NewCombined(tid, &a3, inv).IsSystemError || !NewResult(tid, &a3).SystemError() {
		t.Error("status 3 not reported as system error")
	}
	shr := NewResult(tid, &a3).Shrink()
	if r, _ := shr.Result(); !r.Shrunk() || r.ID() != a.ActivationID || shr.SystemError() {
		t.Errorf("shrunk result: %+v", shr)
	}
	if b, _ := Marshal(NewCombined(tid, a, inv)); len(b) > MaxRecordBytes {
		t.Errorf("example ack is %d bytes", len(b))
	}
}

func TestDecodeAckLenient(t *testing.T) {
	// isSystemError may be missing (false); a response id may be a number.
	in := `{"transid":["a",1],"activationId":"5d4c6e7f8a9b4c0d9e1f2a3b4c5d6e7f","instance":{"instance":0,"userMemory":"1 MB","instanceType":"invoker","tags":[],"dedicatedNamespaces":[]}}`
	a, err := DecodeAck([]byte(in))
	if err != nil || a.Kind() != KindCompletion || a.SystemError() {
		t.Errorf("got (%v, %v)", a, err)
	}
	in = `{"transid":["a",1],"response":12345678901234567890123456789012}`
	if _, err := DecodeAck([]byte(in)); err == nil {
		t.Error("a numeric response was accepted; OpenWhisk reads only strings and objects there")
	}
}

func TestFallbackActivation(t *testing.T) {
	m, err := DecodeActivationMessage(readTestdata(t, "activation_message_sequence.json"))
	if err != nil {
		t.Fatal(err)
	}
	m.Action.Version = ""
	m.ActivationID = "0e4a3f5c9b1d4e0f8a7b6c5d4e3f2a1b"
	a := FallbackActivation(m, ErrorTextResponse(StatusApplicationError, TextActionRemoved), 1717000000199)
	got, err := Marshal(a.Record(1717000000200))
	if err != nil {
		t.Fatal(err)
	}
	if want := readTestdata(t, "activation_record_fallback.json"); !sameJSON(t, got, want) {
		t.Errorf("got %s\nwant %s", got, compact(t, want))
	}
}

func TestNewActivationEvent(t *testing.T) {
	var r ActivationRecord
	if err := r.UnmarshalJSON(readTestdata(t, "activation_record.json")); err != nil {
		t.Fatal(err)
	}
	inv := InvokerInstanceID{Instance: 0}
	e, err := NewActivationEvent(&r.WhiskActivation, inv, "23bc46b1-71f6-4ed5-8c54-816aa4f8c502", 1717000000360)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := Marshal(e)
	if want := readTestdata(t, "event.json"); !sameJSON(t, got, want) {
		t.Errorf("got %s\nwant %s", got, compact(t, want))
	}
	a := r.WhiskActivation
	a.Annotations = Parameters{StringParam(AnnotationPath, "guest/hello")}
	if _, err := NewActivationEvent(&a, inv, "u", 0); !errors.Is(err, ErrNoEvent) {
		t.Errorf("without kind: %v", err)
	}
	var bad EventMessage
	if _, err := Marshal(bad); err == nil {
		t.Error("an event without a body encoded")
	}
}

func TestUserDefinedStatusCode(t *testing.T) {
	tests := []struct {
		result string
		want   int // -1: none
	}{
		{`{"payload":1}`, -1},
		{`[1]`, -1},
		{`{"statusCode":404}`, 404},
		{`{"error":{"statusCode":503},"statusCode":200}`, 503},
		{`{"error":"boom","statusCode":201}`, 201},
		{`{"error":{"other":1},"statusCode":202}`, 202},
		{`{"statusCode":"418"}`, 418},
		{`{"statusCode":"teapot"}`, 400},
		{`{"statusCode":"4.5"}`, 400},
		{`{"statusCode":true}`, 400},
		{`{"statusCode":301.9}`, 301},
		{`{"statusCode":-7.5}`, -7},
		{`{"statusCode":4294967297}`, 1},
		{`{"statusCode":1e999999}`, 400},
	}
	for _, tt := range tests {
		got := userDefinedStatusCode(json.RawMessage(tt.result))
		if (got == nil) != (tt.want == -1) || (got != nil && *got != tt.want) {
			g := -1
			if got != nil {
				g = *got
			}
			t.Errorf("userDefinedStatusCode(%s) = %d, want %d", tt.result, g, tt.want)
		}
	}
}
