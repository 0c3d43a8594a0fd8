package controller

import (
	"bytes"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"go.uber.org/zap"

	"github.com/owinvoker/owinvoker/invoker/action"
	"github.com/owinvoker/owinvoker/invoker/store"
)

// fuzzController is a controller on an empty bbolt store, for the decoders of API bodies.
func fuzzController(f *testing.F) *Controller {
	f.Helper()
	db, err := store.OpenBolt(filepath.Join(f.TempDir(), "store.db"))
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { db.Close() })
	manifest, err := os.ReadFile("testdata/runtimes.json")
	if err != nil {
		f.Fatal(err)
	}
	c, err := New(Config{KafkaBrokers: []string{"127.0.0.1:1"}, Store: db, Manifest: manifest}, zap.NewNop())
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { c.Close() })
	return c
}

// FuzzParseActionPut: every PUT body of an action is either read into an update or refused
// with 400 or 413 and a text; none panics.
func FuzzParseActionPut(f *testing.F) {
	c := fuzzController(f)
	for _, seed := range []string{
		`{"exec":{"kind":"nodejs:20","code":"function main(){return {}}"}}`,
		`{"exec":{"kind":"blackbox","image":"openwhisk/dockerskeleton"},"limits":{"memory":256,"timeout":1000,"logs":1,"concurrency":1}}`,
		`{"exec":{"kind":"python:3","code":"UEsDBA==","binary":true,"main":"m"},"parameters":[{"key":"a","value":1,"init":true}],"annotations":[{"key":"web-export","value":true}],"version":"1.2.3","publish":false}`,
		`{"limits":{"memory":-1}}`, `{"exec":{"kind":"cobol:85"}}`, `[]`, `null`, `{"parameters":{"a":1}}`, "{\"exec\":{\"code\":\"\xff\"}}",
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		p, perr := c.parseActionPut(body, action.DefaultBounds())
		switch {
		case perr != nil:
			if perr.status != http.StatusBadRequest && perr.status != http.StatusRequestEntityTooLarge || perr.text == "" {
				t.Errorf("parseActionPut(%q) refused with %d %q, want 400 or 413 and a text", body, perr.status, perr.text)
			}
		case p == nil:
			t.Errorf("parseActionPut(%q) returned neither an update nor an error", body)
		case p.Exec != nil && p.Exec.Kind == "":
			t.Errorf("parseActionPut(%q) accepted an exec without a kind", body)
		}
	})
}

// FuzzParseLimitsPut: limits either read or an error; a limit read is one that was sent.
func FuzzParseLimitsPut(f *testing.F) {
	for _, seed := range []string{`{"memory":256,"timeout":1000}`, `{"logs":-1}`, `{"concurrency":1e99}`, `{"memory":"x"}`, `[]`, `7`} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		lp, err := parseLimitsPut(raw)
		if err == nil && lp == nil {
			t.Errorf("parseLimitsPut(%q) returned nothing", raw)
		}
		if err != nil && err.Error() == "" {
			t.Errorf("parseLimitsPut(%q): empty error", raw)
		}
		if lp != nil && lp.Memory != nil && !bytes.Contains(raw, []byte(`"memory"`)) && !bytes.Contains(raw, []byte(`\u`)) {
			t.Errorf("parseLimitsPut(%q) read a memory limit that was not sent", raw)
		}
	})
}

// FuzzParsePayload: an invoke body is an object, an array, empty or null, or it is refused
// with OpenWhisk's malformed-content text.
func FuzzParsePayload(f *testing.F) {
	for _, seed := range []string{`{"a":1}`, `[1,2]`, ``, `null`, `"s"`, `{"a":`, " \n{}\t", `{"a":"\ud800"}`} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		payload, text := parsePayload(body)
		if text != "" {
			if !strings.HasPrefix(text, textMalformedPrefix) || payload != nil {
				t.Errorf("parsePayload(%q) = %q, %q: a refusal must be malformed-content text and no payload", body, payload, text)
			}
			return
		}
		if payload != nil && (!json.Valid(payload) || payload[0] != '{' && payload[0] != '[') {
			t.Errorf("parsePayload(%q) accepted %q", body, payload)
		}
	})
}

// FuzzMergeContent: merging an action's parameters with any accepted payload gives a JSON
// object (or the payload array), or an error; never invalid JSON.
func FuzzMergeContent(f *testing.F) {
	f.Add([]byte(`[{"key":"a","value":1},{"key":"b","value":{"x":[1]}}]`), []byte(`{"a":2,"c":null}`))
	f.Add([]byte(`[]`), []byte(`[1,2,3]`))
	f.Add([]byte(`[{"key":"","value":""}]`), []byte(``))
	f.Fuzz(func(t *testing.T, rawParams, body []byte) {
		var params action.Parameters
		if json.Unmarshal(rawParams, &params) != nil {
			return
		}
		payload, text := parsePayload(body)
		if text != "" {
			return
		}
		content, _, err := mergeContent(params, payload)
		if err == nil && !json.Valid(content) {
			t.Errorf("mergeContent(%s, %s) = %q: not JSON", rawParams, payload, content)
		}
	})
}
