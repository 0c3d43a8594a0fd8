package controller

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/owinvoker/owinvoker/invoker/action"
)

const helloCode = "function main(params) {\n  return {greeting: 'Hello ' + params.name};\n}\n"

func TestActionLifecycle(t *testing.T) {
	e := newEnv(t)
	path := "/api/v1/namespaces/_/actions/hello"

	// Create, as `wsk action create hello hello.js` does.
	rec := e.do("PUT", path+"?overwrite=false",
		map[string]any{"namespace": "_", "name": "hello", "exec": map[string]any{"kind": "nodejs:default", "code": helloCode}})
	created := decode(t, rec)
	jsonEqual(t, created, fmt.Sprintf(`{"namespace":"guest","name":"hello","version":"0.0.1","publish":false,
		"exec":{"kind":"nodejs:20","code":%q,"binary":false},
		"annotations":[{"key":"provide-api-key","value":false},{"key":"exec","value":"nodejs:20"}],
		"parameters":[],"limits":{"timeout":60000,"memory":256,"logs":10,"concurrency":1},
		"updated":%d}`, helloCode, testStart.UnixMilli()))

	// The document is OpenWhisk's: code in an inline attachment.
	doc, err := e.db.Get(t.Context(), "whisks", "guest/hello")
	if err != nil {
		t.Fatal(err)
	}
	a, err := action.Decode(doc.Body)
	if err != nil {
		t.Fatalf("stored document does not decode: %v\n%s", err, doc.Body)
	}
	att := a.Exec.Code.Attachment
	if att == nil || !att.IsInline() || att.ContentType != contentText {
		t.Fatalf("code stored as %+v, want an inline text attachment", a.Exec.Code)
	}
	if b, _ := att.InlineBytes(); string(b) != helloCode {
		t.Errorf("inline code %q", b)
	}

	// Creating again is a conflict.
	wantError(t, e.do("PUT", path+"?overwrite=false", map[string]any{"exec": map[string]any{"kind": "nodejs:default", "code": helloCode}}),
		http.StatusConflict, textExists)
	wantError(t, e.do("PUT", path, map[string]any{"exec": map[string]any{"kind": "nodejs:default", "code": helloCode}}),
		http.StatusConflict, textExists)

	// Update: parameters, one limit, annotations; the version is bumped, the code kept.
	e.advance(time.Second)
	rec = e.do("PUT", path+"?overwrite=true", map[string]any{
		"parameters":  []any{map[string]any{"key": "name", "value": "World"}},
		"limits":      map[string]any{"memory": 128},
		"annotations": []any{map[string]any{"key": "description", "value": "demo"}},
	})
	updated := decode(t, rec)
	jsonEqual(t, updated, fmt.Sprintf(`{"namespace":"guest","name":"hello","version":"0.0.2","publish":false,
		"exec":{"kind":"nodejs:20","code":%q,"binary":false},
		"annotations":[{"key":"provide-api-key","value":false},{"key":"exec","value":"nodejs:20"},{"key":"description","value":"demo"}],
		"parameters":[{"key":"name","value":"World"}],"limits":{"timeout":60000,"memory":128,"logs":10,"concurrency":1},
		"updated":%d}`, helloCode, testStart.Add(time.Second).UnixMilli()))

	// delAnnotations removes, a given version is kept, new code replaces the old.
	rec = e.do("PUT", path+"?overwrite=true", map[string]any{
		"exec":           map[string]any{"kind": "python:default", "code": "def main(a):\n  return a\n"},
		"delAnnotations": []string{"description"},
		"version":        "1.2",
	})
	got := decode(t, rec)
	jsonEqual(t, field(got, "annotations"), `[{"key":"provide-api-key","value":false},{"key":"exec","value":"python:3.10"}]`)
	jsonEqual(t, field(got, "version"), `"1.2.0"`)
	jsonEqual(t, field(got, "parameters"), `[{"key":"name","value":"World"}]`)
	jsonEqual(t, field(got, "limits", "memory"), `128`)

	// Get without code, as `wsk action get` does, and with code.
	jsonEqual(t, field(decode(t, e.do("GET", path+"?code=false", nil)), "exec"), `{"kind":"python:3.10","binary":false}`)
	jsonEqual(t, field(decode(t, e.do("GET", path, nil)), "exec"), `{"kind":"python:3.10","code":"def main(a):\n  return a\n","binary":false}`)

	// Delete answers the action; then it is gone.
	jsonEqual(t, field(decode(t, e.do("DELETE", path, nil)), "name"), `"hello"`)
	wantError(t, e.do("GET", path, nil), http.StatusNotFound, textNotFound)
	wantError(t, e.do("DELETE", path, nil), http.StatusNotFound, textNotFound)

	// Update of a missing action creates it.
	rec = e.do("PUT", path+"?overwrite=true", map[string]any{"exec": map[string]any{"kind": "nodejs:20", "code": helloCode}})
	jsonEqual(t, field(decode(t, rec), "version"), `"0.0.1"`)
}

func TestActionCode(t *testing.T) {
	e := newEnv(t)
	big := strings.Repeat("// padding\n", 2000) + helloCode // > 16 KiB: a CouchDB attachment
	zip := base64.StdEncoding.EncodeToString([]byte("PK\x03\x04 pretend this is a zip archive!"))
	for _, tc := range []struct {
		name       string
		exec       map[string]any
		wantExec   string // the exec of GET ?code=false
		wantCode   *string
		wantStored func(*testing.T, *action.Action)
	}{
		{
			name:     "large text code",
			exec:     map[string]any{"kind": "nodejs:20", "code": big},
			wantExec: `{"kind":"nodejs:20","binary":false}`, wantCode: &big,
			wantStored: func(t *testing.T, a *action.Action) {
				att := a.Exec.Code.Attachment
				name, ok := att.CouchName()
				if !ok || !strings.HasPrefix(att.Name, "couch:") {
					t.Fatalf("attachment %q, want couch:<uuid>", att.Name)
				}
				got, err := e.db.GetAttachment(t.Context(), "whisks", a.DocID(), name)
				if err != nil || string(got.Data) != big || got.ContentType != contentText {
					t.Errorf("attachment %s: %v, %q, %d bytes", name, err, got.ContentType, len(got.Data))
				}
			},
		},
		{
			name:     "zip",
			exec:     map[string]any{"kind": "nodejs:20", "code": zip, "main": "entry"},
			wantExec: `{"kind":"nodejs:20","binary":true,"main":"entry"}`, wantCode: &zip,
			wantStored: func(t *testing.T, a *action.Action) {
				att := a.Exec.Code.Attachment
				b, err := att.InlineBytes()
				if err != nil || !strings.HasPrefix(string(b), "PK") || att.ContentType != contentBinary || !a.Exec.Binary {
					t.Errorf("stored %+v, %q, %v: want the raw zip bytes inline", att, b, err)
				}
			},
		},
		{
			name:     "kind without attachments",
			exec:     map[string]any{"kind": "plain:default", "code": "echo hi"},
			wantExec: `{"kind":"plain:1","binary":false}`, wantCode: ptr("echo hi"),
			wantStored: func(t *testing.T, a *action.Action) {
				if a.Exec.Code.IsAttachment() || a.Exec.Code.Text != "echo hi" {
					t.Errorf("stored %+v, want the code string", a.Exec.Code)
				}
			},
		},
		{
			name:     "blackbox",
			exec:     map[string]any{"kind": "blackbox", "image": "someone/sleeper:1.0"},
			wantExec: `{"kind":"blackbox","image":"someone/sleeper:1.0","binary":false}`,
			wantStored: func(t *testing.T, a *action.Action) {
				if a.Exec.Code != nil || a.Exec.Image != "someone/sleeper:1.0" {
					t.Errorf("stored %+v", a.Exec)
				}
			},
		},
		{
			name:     "blackbox with code",
			exec:     map[string]any{"kind": "BlackBox ", "image": "openwhisk/dockerskeleton:nightly", "code": "#!/bin/sh\necho hi"},
			wantExec: `{"kind":"blackbox","image":"openwhisk/dockerskeleton:nightly","binary":false}`, wantCode: ptr("#!/bin/sh\necho hi"),
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := "/api/v1/namespaces/_/actions/" + strings.ReplaceAll(tc.name, " ", "-")
			created := decode(t, e.do("PUT", path, map[string]any{"exec": tc.exec}))
			jsonEqual(t, field(created, "annotations", 1), fmt.Sprintf(`{"key":"exec","value":%q}`, field(created, "exec", "kind")))
			jsonEqual(t, field(decode(t, e.do("GET", path+"?code=false", nil)), "exec"), tc.wantExec)
			full := decode(t, e.do("GET", path, nil))
			if tc.wantCode != nil {
				jsonEqual(t, field(full, "exec", "code"), fmt.Sprintf("%q", *tc.wantCode))
			} else if c := field(full, "exec", "code"); c != nil {
				t.Errorf("code %v, want none", c)
			}
			if tc.wantStored != nil {
				doc, err := e.db.Get(t.Context(), "whisks", "guest/"+strings.ReplaceAll(tc.name, " ", "-"))
				if err != nil {
					t.Fatal(err)
				}
				a, err := action.Decode(doc.Body)
				if err != nil {
					t.Fatal(err)
				}
				tc.wantStored(t, a)
			}
		})
	}
}

func ptr[T any](v T) *T { return &v }

func TestActionPutErrors(t *testing.T) {
	e := newEnv(t, func(c *Config) {
		c.Limits.ExecMaxBytes = 1000
		c.Limits.ParameterMaxBytes = 100
	})
	e.addSubject("small", "smallns", otherKey, `{"maxActionMemory":256,"minActionTimeout":1000}`)
	code := func(kind string) map[string]any { return map[string]any{"kind": kind, "code": "x"} }
	for _, tc := range []struct {
		name   string
		path   string
		body   any
		key    string
		status int
		text   string
	}{
		{"unknown kind", "a", map[string]any{"exec": code("cobol:1")}, "", 400,
			textMalformedPrefix + "The specified runtime 'cobol:1' is not supported by this platform. Valid values are: " +
				"'java:8', 'nodejs:14', 'nodejs:20', 'plain:1', 'python:3.10', 'blackbox'."},
		{"sequence", "a", map[string]any{"exec": map[string]any{"kind": "sequence", "components": []string{"/guest/a"}}}, "", 400, textSequence},
		{"deprecated kind", "a", map[string]any{"exec": code("nodejs:14")}, "", 400, textDeprecated("nodejs:14")},
		{"no exec", "a", map[string]any{"parameters": []any{}}, "", 400, textExecUndefined},
		{"no kind", "a", map[string]any{"exec": map[string]any{"code": "x"}}, "", 400, textMalformedPrefix + "'kind' must be a string defined in 'exec'"},
		{"no code", "a", map[string]any{"exec": map[string]any{"kind": "nodejs:default"}}, "", 400,
			textMalformedPrefix + "'code' must be a string or attachment object defined in 'exec' for 'nodejs:default' actions"},
		{"java without main", "a", map[string]any{"exec": code("java:8")}, "", 400,
			textMalformedPrefix + "'main' must be a string defined in 'exec' for 'java:8' actions"},
		{"blackbox without image", "a", map[string]any{"exec": map[string]any{"kind": "blackbox"}}, "", 400,
			textMalformedPrefix + "'image' must be a string defined in 'exec' for 'blackbox' actions"},
		{"memory too big", "a", map[string]any{"exec": code("nodejs:20"), "limits": map[string]any{"memory": 1024}}, "", 400,
			"memory size 1024 MB exceeds allowed threshold of 512 MB"},
		{"timeout too short", "a", map[string]any{"exec": code("nodejs:20"), "limits": map[string]any{"timeout": 50}}, "", 400,
			"duration 50 milliseconds below allowed threshold of 100 milliseconds"},
		{"memory before timeout", "a", map[string]any{"exec": code("nodejs:20"), "limits": map[string]any{"timeout": 50, "memory": 64}}, "", 400,
			"memory size 64 MB below allowed threshold of 128 MB"},
		{"logs too big", "a", map[string]any{"exec": code("nodejs:20"), "limits": map[string]any{"logs": 11}}, "", 400,
			"log size 11 MB exceeds allowed threshold of 10 MB"},
		{"concurrency", "a", map[string]any{"exec": code("nodejs:20"), "limits": map[string]any{"concurrency": 2}}, "", 400,
			"concurrency 2 exceeds allowed threshold of 1"},
		{"fractional memory", "a", map[string]any{"exec": code("nodejs:20"), "limits": map[string]any{"memory": 128.5}}, "", 400,
			textMalformedPrefix + "memory limit must be whole number"},
		{"namespace memory limit", "a", map[string]any{"exec": code("nodejs:20"), "limits": map[string]any{"memory": 300}}, otherKey, 400,
			"memory size 300 MB exceeds allowed threshold of 256 MB"},
		{"namespace timeout limit", "a", map[string]any{"exec": code("nodejs:20"), "limits": map[string]any{"timeout": 500}}, otherKey, 400,
			"duration 500 milliseconds below allowed threshold of 1000 milliseconds"},
		{"exec too large", "a", map[string]any{"exec": map[string]any{"kind": "nodejs:20", "code": strings.Repeat("x", 1001)}}, "", 413,
			"exec larger than allowed: 1001 > 1000 bytes."},
		{"parameters too large", "a", map[string]any{"exec": code("nodejs:20"),
			"parameters": []any{map[string]any{"key": "k", "value": strings.Repeat("v", 100)}}}, "", 413,
			"parameters larger than allowed: 103 > 100 bytes."},
		{"not json", "a", `{"exec":`, "", 400, textMalformedPrefix + "unexpected end of JSON input"},
		{"not an object", "a", `[1]`, "", 400, textMalformedPrefix + "Object expected"},
		{"bad version", "a", map[string]any{"exec": code("nodejs:20"), "version": "x.y"}, "", 400, ""},
		{"illegal name", "bad$name", map[string]any{"exec": code("nodejs:20")}, "", 400, textEntityIllegal},
		{"long name", strings.Repeat("n", 257), map[string]any{"exec": code("nodejs:20")}, "", 400, textNameTooLong(257, 256)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var opts []reqOpt
			if tc.key != "" {
				opts = append(opts, as(tc.key))
			}
			rec := e.do("PUT", "/api/v1/namespaces/_/actions/"+tc.path, tc.body, opts...)
			if tc.text == "" {
				if rec.Code != tc.status {
					t.Fatalf("status %d, want %d: %s", rec.Code, tc.status, rec.Body)
				}
				return
			}
			wantError(t, rec, tc.status, tc.text)
		})
	}
	// Nothing was written.
	jsonEqual(t, decode(t, e.do("GET", "/api/v1/namespaces/_/actions", nil)), `[]`)
}

func TestListActions(t *testing.T) {
	e := newEnv(t)
	for _, name := range []string{"b", "a", "c"} {
		decode(t, e.do("PUT", "/api/v1/namespaces/_/actions/"+name, map[string]any{"exec": map[string]any{"kind": "nodejs:20", "code": "x"}}))
		e.advance(time.Millisecond)
	}
	// Another namespace's action is not listed.
	e.addSubject("other", "otherns", otherKey, "")
	decode(t, e.do("PUT", "/api/v1/namespaces/_/actions/z", map[string]any{"exec": map[string]any{"kind": "nodejs:20", "code": "x"}}, as(otherKey)))

	names := func(v any) string {
		var out []string
		for _, a := range v.([]any) {
			out = append(out, a.(map[string]any)["name"].(string))
		}
		return strings.Join(out, ",")
	}
	for _, tc := range []struct{ query, want string }{
		{"", "c,a,b"},
		{"?limit=30&skip=0", "c,a,b"},
		{"?limit=0", "c,a,b"},
		{"?limit=2", "c,a"},
		{"?limit=2&skip=1", "a,b"},
		{"?skip=5", ""},
	} {
		if got := names(decode(t, e.do("GET", "/api/v1/namespaces/_/actions"+tc.query, nil))); got != tc.want {
			t.Errorf("list%s: %q, want %q", tc.query, got, tc.want)
		}
	}
	list := decode(t, e.do("GET", "/api/v1/namespaces/_/actions", nil))
	jsonEqual(t, field(list, 0), fmt.Sprintf(`{"namespace":"guest","name":"c","version":"0.0.1","publish":false,
		"annotations":[{"key":"provide-api-key","value":false},{"key":"exec","value":"nodejs:20"}],
		"limits":{"timeout":60000,"memory":256,"logs":10,"concurrency":1},"exec":{"binary":false},"updated":%d}`,
		testStart.Add(2*time.Millisecond).UnixMilli()))
	jsonEqual(t, decode(t, e.do("GET", "/api/v1/namespaces/_/actions?count=true", nil)), `{"actions":3}`)

	for _, tc := range []struct{ query, text string }{
		{"?limit=201", textMalformedQuery("limit", "The value '201' is not in the range of 0 to 200 for actions.")},
		{"?limit=x", textMalformedQuery("limit", "The value 'x' is not an integer for actions.")},
		{"?skip=-1", textMalformedQuery("skip", "The value '-1' is not greater than or equal to 0 for actions.")},
		{"?count=maybe", textMalformedQuery("count", "'maybe' is not a valid Boolean value")},
	} {
		wantError(t, e.do("GET", "/api/v1/namespaces/_/actions"+tc.query, nil), 400, tc.text)
	}
}

func TestParseActionPutSizes(t *testing.T) {
	ps := action.Parameters{{Key: "ab", Value: json.RawMessage(`{ "x" : 1 }`)}, {Key: "c", Value: json.RawMessage(`"d"`)}}
	if got := paramsSize(ps); got != 2+7+1+3 {
		t.Errorf("paramsSize = %d, want %d", got, 2+7+1+3)
	}
}

func TestUpPatch(t *testing.T) {
	for in, want := range map[string]string{"0.0.1": "0.0.2", "1.2.9": "1.2.10", "junk": "0.0.1"} {
		if got := upPatch(in); got != want {
			t.Errorf("upPatch(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestActionNames(t *testing.T) {
	e := newEnv(t)
	for _, name := range []string{"hello world", "a@b&c.d-e", "x"} {
		path := "/api/v1/namespaces/_/actions/" + url.PathEscape(name)
		jsonEqual(t, field(decode(t, e.do("PUT", path, map[string]any{"exec": map[string]any{"kind": "nodejs:20", "code": "x = 1"}})), "name"),
			fmt.Sprintf("%q", name))
		jsonEqual(t, field(decode(t, e.do("GET", path, nil)), "name"), fmt.Sprintf("%q", name))
	}
	wantError(t, e.do("PUT", "/api/v1/namespaces/_/actions/"+url.PathEscape("trailing "), map[string]any{}), 400, textEntityIllegal)
}
