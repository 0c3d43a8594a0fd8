package action

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
)

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

func exec(m map[string]any) map[string]any { return m["exec"].(map[string]any) }

func TestDecodeRequired(t *testing.T) {
	doc := readTestdata(t, "action.json")
	for _, name := range []string{"namespace", "name", "exec", "parameters", "limits", "version", "publish", "annotations", "updated"} {
		in := edit(t, doc, func(m map[string]any) { delete(m, name) })
		a, err := Decode(in)
		want := `action document is not compatible: field "` + name + `": missing`
		if err == nil || err.Error() != want || !errors.Is(err, ErrIncompatible) {
			t.Errorf("without %s: got (%v, %v), want %q", name, a, err, want)
		}
	}
	// Optional members.
	in := edit(t, doc, func(m map[string]any) {
		delete(m, "_id")
		delete(m, "_rev")
		delete(m, "entityType")
		delete(exec(m), "main")
		delete(exec(m), "binary")
		delete(m["limits"].(map[string]any), "logs")
		delete(m["limits"].(map[string]any), "concurrency")
	})
	a, err := Decode(in)
	if err != nil {
		t.Fatal(err)
	}
	if a.Limits.LogsMB != StdLogsMB || a.Limits.Concurrency != StdConcurrency || a.Exec.EntryPoint() != "main" || a.Exec.Binary || a.DocID() != "guest/hello" {
		t.Errorf("defaults not applied: %+v", a)
	}
}

func TestDecodeMalformed(t *testing.T) {
	doc := readTestdata(t, "action.json")
	tests := []struct {
		name string
		f    func(m map[string]any)
		want string
	}{
		{"entity type", func(m map[string]any) { m["entityType"] = "package" }, `field "entityType": document type "package" is not "action"`},
		{"bad name", func(m map[string]any) { m["name"] = "he/llo" }, `field "name": "he/llo" is not a legal entity name`},
		{"bad namespace", func(m map[string]any) { m["namespace"] = "" }, `field "namespace": path "" is empty`},
		{"bad version", func(m map[string]any) { m["version"] = "x" }, `field "version": bad semantic version "x"`},
		{"publish string", func(m map[string]any) { m["publish"] = "no" }, `field "publish": expected a boolean, got string`},
		{"updated string", func(m map[string]any) { m["updated"] = "today" }, `field "updated": timestamp "today" malformed`},
		{"no kind", func(m map[string]any) { delete(exec(m), "kind") }, `field "exec": field "kind": missing`},
		{"kind number", func(m map[string]any) { exec(m)["kind"] = 5 }, `field "exec": field "kind": expected a string, got number`},
		{"no code", func(m map[string]any) { delete(exec(m), "code") }, `field "exec": field "code": missing`},
		{"code number", func(m map[string]any) { exec(m)["code"] = 5 }, `field "exec": field "code": expected an object, got number`},
		{"main number", func(m map[string]any) { exec(m)["main"] = 5 }, `field "exec": field "main": expected a string, got number`},
		{"main null", func(m map[string]any) { exec(m)["main"] = nil }, `field "exec": field "main": expected a string, got null`},
		{"binary string", func(m map[string]any) { exec(m)["binary"] = "no" }, `field "exec": field "code": field "binary": expected a boolean, got string`},
		{"attachment no name", func(m map[string]any) { delete(exec(m)["code"].(map[string]any), "attachmentName") },
			`field "exec": field "code": field "attachmentName": missing`},
		{"attachment bad type", func(m map[string]any) { exec(m)["code"].(map[string]any)["attachmentType"] = "not a type" },
			`field "exec": field "code": field "attachmentType": content type "not a type"`},
		{"attachment length", func(m map[string]any) { exec(m)["code"].(map[string]any)["length"] = "67" },
			`field "exec": field "code": field "length": expected a number, got string`},
		{"no timeout", func(m map[string]any) { delete(m["limits"].(map[string]any), "timeout") }, `field "limits": field "timeout": missing`},
		{"memory fraction", func(m map[string]any) { m["limits"].(map[string]any)["memory"] = 256.5 }, `field "limits": field "memory": expected a whole number in range, got 256.5`},
		{"memory negative", func(m map[string]any) { m["limits"].(map[string]any)["memory"] = -1 }, `field "limits": field "memory": negative value -1`},
		{"logs null", func(m map[string]any) { m["limits"].(map[string]any)["logs"] = nil }, `field "limits": field "logs": expected a number, got null`},
		{"instances negative", func(m map[string]any) { m["limits"].(map[string]any)["instances"] = -2 }, `field "limits": field "instances": negative value -2`},
		{"parameters object", func(m map[string]any) { m["parameters"] = map[string]any{} }, `field "parameters": expected an array, got object`},
		{"parameter no value", func(m map[string]any) { m["annotations"] = []any{map[string]any{"key": "k"}} }, `field "annotations": element 0: field "value": missing`},
		{"blackbox no image", func(m map[string]any) { exec(m)["kind"] = "blackbox" }, `field "exec": field "image": missing`},
		{"blackbox bad image", func(m map[string]any) { exec(m)["kind"] = "blackbox"; exec(m)["image"] = "Bad Image" },
			`field "exec": field "image": "Bad Image" is not a docker image reference`},
		{"sequence no components", func(m map[string]any) { exec(m)["kind"] = "sequence" }, `field "exec": field "components": missing`},
		{"sequence bad component", func(m map[string]any) { exec(m)["kind"] = "sequence"; exec(m)["components"] = []any{"hello"} },
			`field "exec": field "components": element 0: component "hello" is not fully qualified`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, err := Decode(edit(t, doc, tt.f))
			if err == nil || !errors.Is(err, ErrIncompatible) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("got (%v, %v), want ErrIncompatible containing %q", a, err, tt.want)
			}
		})
	}
	for _, in := range []string{``, `null`, `[]`, `{`, `"x"`} {
		if _, err := Decode([]byte(in)); !errors.Is(err, ErrIncompatible) {
			t.Errorf("Decode(%q) = %v", in, err)
		}
	}
}

func TestDecodeExecVariants(t *testing.T) {
	doc := readTestdata(t, "action.json")
	zip := base64.StdEncoding.EncodeToString([]byte("PK\x03\x04 pretend zip"))
	tests := []struct {
		name       string
		exec       map[string]any
		wantKind   string
		wantBinary bool
		wantCode   string // "text:..", "att:<name>" or "none"
	}{
		{"text code", map[string]any{"kind": " NodeJS:20 ", "code": "function main(){}", "binary": true}, "nodejs:20", false, "text:function main(){}"},
		{"base64 text code", map[string]any{"kind": "python:3.11", "code": zip, "binary": false}, "python:3.11", true, "text:" + zip},
		{"legacy jar", map[string]any{"kind": "java:8", "jar": map[string]any{"attachmentName": "jarfile", "attachmentType": "application/octet-stream"}, "binary": true, "main": "Hello"},
			"java:8", true, "att:jarfile"},
		{"attachment without binary", map[string]any{"kind": "nodejs:20", "code": map[string]any{"attachmentName": "couch:x", "attachmentType": "text/plain"}}, "nodejs:20", false, "att:couch:x"},
		{"blackbox empty code", map[string]any{"kind": "blackbox", "image": "me/img", "code": "  ", "binary": true}, "blackbox", false, "none"},
		{"blackbox no code", map[string]any{"kind": "blackbox", "image": "me/img"}, "blackbox", false, "none"},
		{"blackbox text code", map[string]any{"kind": "blackbox", "image": "me/img", "code": "#!/bin/sh\necho hi"}, "blackbox", false, "text:#!/bin/sh\necho hi"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, err := Decode(edit(t, doc, func(m map[string]any) { m["exec"] = tt.exec }))
			if err != nil {
				t.Fatal(err)
			}
			var code string
			switch c := a.Exec.Code; {
			case c == nil:
				code = "none"
			case c.IsAttachment():
				code = "att:" + c.Attachment.Name
			default:
				code = "text:" + c.Text
			}
			if a.Exec.Kind != tt.wantKind || a.Exec.Binary != tt.wantBinary || code != tt.wantCode {
				t.Errorf("got kind %q binary %v code %q", a.Exec.Kind, a.Exec.Binary, code)
			}
			// What we write reads back the same.
			b, err := json.Marshal(a)
			if err != nil {
				t.Fatal(err)
			}
			a2, err := Decode(b)
			if err != nil || a2.Exec.Binary != a.Exec.Binary || a2.Exec.Kind != a.Exec.Kind {
				t.Errorf("re-read %s: %+v, %v", b, a2, err)
			}
		})
	}
}

func TestResolve(t *testing.T) {
	manifest := map[string]Runtime{
		"nodejs:20": {Kind: "nodejs:20", Attached: true},
		"java:8":    {Kind: "java:8", Attached: true, RequireMain: true},
		"plain:1":   {Kind: "plain:1"},
	}
	manifest["nodejs:default"] = manifest["nodejs:20"]
	lookup := func(k string) (Runtime, error) {
		rt, ok := manifest[k]
		if !ok {
			return Runtime{}, fmt.Errorf("unknown kind %q", k)
		}
		return rt, nil
	}
	att := &Code{Attachment: &Attachment{Name: "couch:x"}}
	tests := []struct {
		exec     Exec
		wantKind string
		wantErr  string
	}{
		{Exec{Kind: "nodejs:default", Code: att}, "nodejs:20", ""},
		{Exec{Kind: "nodejs:20", Code: &Code{Text: "x"}}, "nodejs:20", ""},
		{Exec{Kind: "java:8", Code: att}, "", "'main' must be a string defined in 'exec' for 'java:8' actions"},
		{Exec{Kind: "java:8", Code: att, Main: "Hello"}, "java:8", ""},
		{Exec{Kind: "plain:1", Code: att}, "", `kind "plain:1" takes code as a string`},
		{Exec{Kind: "plain:1", Code: &Code{Text: "x"}}, "plain:1", ""},
		{Exec{Kind: "cobol:74", Code: att}, "", `kind "cobol:74": unknown kind "cobol:74"`},
		{Exec{Kind: KindBlackbox, Image: "me/img"}, KindBlackbox, ""},
		{Exec{Kind: KindSequence}, KindSequence, ""},
	}
	for _, tt := range tests {
		a := &Action{Namespace: "guest", Name: "a", Exec: tt.exec}
		err := a.Resolve(lookup)
		if tt.wantErr != "" {
			if !errors.Is(err, ErrIncompatible) || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("Resolve(%+v) = %v, want %q", tt.exec, err, tt.wantErr)
			}
			continue
		}
		if err != nil || a.Exec.Kind != tt.wantKind {
			t.Errorf("Resolve(%+v) = %v, kind %q", tt.exec, err, a.Exec.Kind)
		}
	}
	seq, err := Decode(readTestdata(t, "action_sequence.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := seq.Executable(); !errors.Is(err, ErrNotExecutable) {
		t.Errorf("sequence Executable() = %v", err)
	}
	if err := (&Action{Exec: Exec{Kind: "nodejs:20"}}).Executable(); err != nil {
		t.Errorf("Executable() = %v", err)
	}
}

func TestLimits(t *testing.T) {
	sys := DefaultBounds()
	ip := func(n int) *int { return &n }
	tests := []struct {
		name   string
		limits Limits
		bounds Bounds
		want   string
	}{
		{"standard", Limits{60000, 256, 10, 1, nil}, sys, ""},
		{"edges", Limits{100, 128, 0, 1, nil}, sys, ""},
		{"edges high", Limits{300000, 512, 10, 1, nil}, sys, ""},
		{"memory high", Limits{60000, 1024, 10, 1, nil}, sys, "memory size 1024 MB exceeds allowed threshold of 512 MB"},
		{"memory low", Limits{60000, 64, 10, 1, nil}, sys, "memory size 64 MB below allowed threshold of 128 MB"},
		{"timeout high", Limits{600000, 256, 10, 1, nil}, sys, "duration 600000 milliseconds exceeds allowed threshold of 300000 milliseconds"},
		{"timeout low", Limits{50, 256, 10, 1, nil}, sys, "duration 50 milliseconds below allowed threshold of 100 milliseconds"},
		{"concurrency high", Limits{60000, 256, 10, 5, nil}, sys, "concurrency 5 exceeds allowed threshold of 1"},
		{"concurrency low", Limits{60000, 256, 10, 0, nil}, sys, "concurrency 0 below allowed threshold of 1"},
		{"logs high", Limits{60000, 256, 20, 1, nil}, sys, "log size 20 MB exceeds allowed threshold of 10 MB"},
		{"timeout checked first", Limits{50, 1024, 20, 5, nil}, sys, "duration 50 milliseconds below allowed threshold of 100 milliseconds"},
		{"concurrency before logs", Limits{60000, 256, 20, 5, nil}, sys, "concurrency 5 exceeds allowed threshold of 1"},
		{"namespace override", Limits{60000, 512, 10, 1, nil},
			Allowed(sys, sys, Overrides{MaxMemoryMB: ip(256)}), "memory size 512 MB exceeds allowed threshold of 256 MB"},
		{"override capped by system", Limits{60000, 1024, 10, 1, nil},
			Allowed(sys, sys, Overrides{MaxMemoryMB: ip(2048)}), "memory size 1024 MB exceeds allowed threshold of 512 MB"},
		{"override min", Limits{60000, 128, 10, 1, nil},
			Allowed(sys, sys, Overrides{MinMemoryMB: ip(256)}), "memory size 128 MB below allowed threshold of 256 MB"},
	}
	for _, tt := range tests {
		err := tt.limits.Check(tt.bounds)
		var le *LimitError
		switch {
		case tt.want == "" && err != nil:
			t.Errorf("%s: unexpected %v", tt.name, err)
		case tt.want != "" && (!errors.As(err, &le) || le.Message != tt.want):
			t.Errorf("%s: got %v, want %q", tt.name, err, tt.want)
		}
	}
	// A wider namespace default and overrides combine with the system bounds.
	wide := Bounds{TimeoutMS: Range{10, 900000}, MemoryMB: Range{64, 4096}, LogsMB: Range{0, 50}, Concurrency: Range{1, 500}}
	got := Allowed(wide, Bounds{TimeoutMS: Range{100, 300000}, MemoryMB: Range{128, 1024}, LogsMB: Range{0, 10}, Concurrency: Range{1, 100}},
		Overrides{MaxConcurrency: ip(1000), MinTimeoutMS: ip(1)})
	want := Bounds{TimeoutMS: Range{10, 300000}, MemoryMB: Range{128, 1024}, LogsMB: Range{0, 10}, Concurrency: Range{1, 500}}
	if got != want {
		t.Errorf("Allowed = %+v, want %+v", got, want)
	}
	b, _ := json.Marshal(Limits{60000, 256, 10, 1, nil})
	if string(b) != `{"timeout":60000,"memory":256,"logs":10,"concurrency":1}` {
		t.Errorf("limits annotation %s", b)
	}
}

func TestAttachments(t *testing.T) {
	tests := []struct {
		name      string
		scheme    string
		inline    string // decoded bytes, for mem:
		couch     string
		couchOK   bool
		inlineErr bool
	}{
		{"mem:aGVsbG8=", "mem", "hello", "", false, false},
		{"mem:aGVsbG8", "mem", "hello", "", false, false},
		{"MEM:_-8=", "mem", "\xff\xef", "", false, false},
		{"mem:***", "mem", "", "", false, true},
		{"couch:8a3f1c52", "couch", "", "8a3f1c52", true, false},
		{"jarfile", "", "", "jarfile", true, false},
		{"s3:bucket/key", "s3", "", "", false, false},
	}
	for _, tt := range tests {
		a := Attachment{Name: tt.name}
		b, err := a.InlineBytes()
		name, ok := a.CouchName()
		if a.Scheme() != tt.scheme || a.IsInline() != (tt.scheme == "mem") || string(b) != tt.inline ||
			(tt.scheme == "mem" && (err != nil) != tt.inlineErr) || name != tt.couch || ok != tt.couchOK {
			t.Errorf("%s: scheme %q inline %q (%v) couch %q %v", tt.name, a.Scheme(), b, err, name, ok)
		}
	}
}

func TestIsBinaryCode(t *testing.T) {
	for _, tt := range []struct {
		code string
		want bool
	}{
		{"UEsDBA==", true}, {" UEsDBA== \n", true}, {"abcd", true}, {"abc=", true}, {"ab==", true},
		{"", false}, {"abc", false}, {"a===", false}, {"function main() {}", false}, {"ab c", false}, {"abcd-_ab", false},
	} {
		if got := IsBinaryCode(tt.code); got != tt.want {
			t.Errorf("IsBinaryCode(%q) = %v", tt.code, got)
		}
	}
}

func TestValidImage(t *testing.T) {
	for _, tt := range []struct {
		ref  string
		want bool
	}{
		{"openwhisk/dockerskeleton", true}, {"openwhisk/dockerskeleton:nightly", true}, {"ubuntu", true},
		{"registry.example.com:5000/team/img:1.0", true}, {"localhost/a_b__c-d.e", true},
		{"img@sha256:0123456789abcdef0123456789abcdef", true},
		{"upper/Case", false}, {"Upper/case", true}, {"img:", false}, {"", false}, {"a b", false}, {"img@sha256:short", false}, {"-img", false},
	} {
		if got := ValidImage(tt.ref); got != tt.want {
			t.Errorf("ValidImage(%q) = %v", tt.ref, got)
		}
	}
}

func TestSplitArgs(t *testing.T) {
	tests := []struct {
		content  string
		initArgs []string
		env      string
		run      string
		err      bool
	}{
		{"", nil, "null", "{}", false},
		{"null", []string{"a"}, "null", "{}", false},
		{`[1,2]`, []string{"a"}, "null", `[1,2]`, false},
		{`{"a":1,"b":2}`, nil, "null", `{"a":1,"b":2}`, false},
		{`{"a":1,"b":{"c":2}}`, []string{"a", "x"}, `{"a":1}`, `{"b":{"c":2}}`, false},
		{`{"a":1}`, []string{"a"}, `{"a":1}`, `{}`, false},
		{`"text"`, nil, "", "", true},
		{`5`, nil, "", "", true},
	}
	for _, tt := range tests {
		env, run, err := SplitArgs(json.RawMessage(tt.content), tt.initArgs)
		if tt.err {
			if err == nil {
				t.Errorf("SplitArgs(%s) accepted", tt.content)
			}
			continue
		}
		envJSON, _ := json.Marshal(env)
		if err != nil || string(envJSON) != tt.env || string(run) != tt.run {
			t.Errorf("SplitArgs(%s, %v) = %s, %s, %v; want %s, %s", tt.content, tt.initArgs, envJSON, run, err, tt.env, tt.run)
		}
	}
}

func TestInitValue(t *testing.T) {
	bin := []byte{0x50, 0x4b, 0x03, 0x04, 0xff, 0x00}
	att := &Code{Attachment: &Attachment{Name: "couch:x", ContentType: "application/octet-stream"}}
	tests := []struct {
		name string
		exec Exec
		code []byte
		env  map[string]json.RawMessage
		want string
		err  bool
	}{
		{"binary attachment", Exec{Kind: "java:8", Code: att, Binary: true, Main: "Hello"}, bin, nil,
			`{"name":"a","main":"Hello","binary":true,"code":"UEsDBP8A"}`, false},
		{"text attachment", Exec{Kind: "nodejs:20", Code: att}, []byte("let x = '<é>'"), nil,
			`{"name":"a","main":"main","binary":false,"code":"let x = '<é>'"}`, false},
		{"text code", Exec{Kind: "nodejs:20", Code: &Code{Text: "x"}}, nil, nil,
			`{"name":"a","main":"main","binary":false,"code":"x"}`, false},
		{"base64 text code stays", Exec{Kind: "python:3.11", Code: &Code{Text: "UEsDBA=="}, Binary: true}, nil, nil,
			`{"name":"a","main":"main","binary":true,"code":"UEsDBA=="}`, false},
		{"blackbox without code", Exec{Kind: KindBlackbox, Image: "me/img"}, nil,
			map[string]json.RawMessage{"S": json.RawMessage(`"s"`), "N": json.RawMessage(`null`), "B": json.RawMessage(`true`),
				"I": json.RawMessage(`42`), "F": json.RawMessage(`1.5e3`), "O": json.RawMessage(`{"a": [1, "x"]}`)},
			`{"name":"a","main":"main","binary":false,"env":{"B":"true","F":"1.5e3","I":"42","N":"","O":"{\"a\":[1,\"x\"]}","S":"s"}}`, false},
		{"unresolved attachment", Exec{Kind: "nodejs:20", Code: att}, nil, nil, "", true},
		{"code for text action", Exec{Kind: "nodejs:20", Code: &Code{Text: "x"}}, []byte("y"), nil, "", true},
		{"code for no-code action", Exec{Kind: KindBlackbox}, []byte("y"), nil, "", true},
	}
	for _, tt := range tests {
		v, err := InitValue(&Action{Name: "a", Exec: tt.exec}, tt.code, tt.env)
		if tt.err {
			if err == nil {
				t.Errorf("%s: accepted: %s", tt.name, v)
			}
			continue
		}
		if err != nil || string(v) != tt.want {
			t.Errorf("%s: got %s, %v\nwant %s", tt.name, v, err, tt.want)
		}
	}
}

func TestContext(t *testing.T) {
	c := Context{Namespace: "guest", ActionName: "/guest/a", ActivationID: "id", TransactionID: "tid", Deadline: 7,
		APIKey: map[string]json.RawMessage{"api_key": json.RawMessage(`"k"`), "namespace": json.RawMessage(`"evil"`)}}
	env := InitEnv(map[string]json.RawMessage{"__OW_NAMESPACE": json.RawMessage(`"x"`), "P": json.RawMessage(`1`)}, c)
	b, _ := marshal(env)
	want := `{"P":1,"__OW_ACTION_NAME":"/guest/a","__OW_ACTION_VERSION":null,"__OW_ACTIVATION_ID":"id","__OW_API_KEY":"k","__OW_DEADLINE":"7","__OW_NAMESPACE":"guest","__OW_TRANSACTION_ID":"tid"}`
	if string(b) != want {
		t.Errorf("InitEnv = %s\nwant %s", b, want)
	}
	v, _ := InitValue(&Action{Name: "a", Exec: Exec{Kind: KindBlackbox}}, nil, env)
	if !strings.Contains(string(v), `"__OW_ACTION_VERSION":""`) {
		t.Errorf("null version not sent as empty string: %s", v)
	}
	c.APIKey = nil
	c.ActionVersion = "0.0.1"
	body, _ := RunBody(nil, c)
	want = `{"action_name":"/guest/a","action_version":"0.0.1","activation_id":"id","deadline":"7","namespace":"guest","transaction_id":"tid","value":{}}`
	if string(body) != want {
		t.Errorf("RunBody = %s\nwant %s", body, want)
	}
}

// TestDecodeAPIResponse reads the stored action as the controller API
// returns it (controller-api spec §A.3): no _id, _rev or entityType.
func TestDecodeAPIResponse(t *testing.T) {
	in := `{"namespace":"guest","name":"hello","version":"0.0.1","publish":false,
 "exec":{"kind":"nodejs:20","code":"function main(params) {…}","binary":false},
 "annotations":[{"key":"provide-api-key","value":false},{"key":"exec","value":"nodejs:20"}],
 "parameters":[{"key":"name","value":"World"}],
 "limits":{"timeout":60000,"memory":256,"logs":10,"concurrency":1},
 "updated":1795433112046}`
	a, err := Decode([]byte(in))
	if err != nil {
		t.Fatal(err)
	}
	if a.ID != "" || a.DocID() != "guest/hello" || a.Exec.Code.Text != "function main(params) {…}" || a.ProvideAPIKey() {
		t.Errorf("got %+v", a)
	}
}
