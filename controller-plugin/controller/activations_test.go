package controller

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/owinvoker/owinvoker/invoker/message"
)

// record returns a finished activation of guest's action path ("ns/[pkg/]name").
func record(id string, path string, start int64, code message.StatusCode) message.WhiskActivation {
	name := path[strings.LastIndexByte(path, '/')+1:]
	d := int64(5)
	a := message.WhiskActivation{
		Namespace: "guest", Name: name, Subject: "guest", ActivationID: message.ActivationID(id),
		Start: start, End: start + d, Duration: &d,
		Response: message.ActivationResponse{StatusCode: code, Result: json.RawMessage(`{"greeting":"Hello"}`)},
		Logs:     []string{"2026-03-01T12:00:00.000000000Z stdout: hello"},
		Version:  "0.0.1",
		Annotations: message.Parameters{
			message.StringParam(message.AnnotationPath, path),
			message.StringParam(message.AnnotationKind, "nodejs:20"),
			message.IntParam(message.AnnotationWaitTime, 3),
		},
	}
	if code != message.StatusSuccess {
		a.Response = message.ErrorTextResponse(code, "boom")
	}
	return a
}

func aid(n int) string { return fmt.Sprintf("%032x", n) }

func TestActivations(t *testing.T) {
	e := newEnv(t)
	e.putRecord(record(aid(1), "guest/hello", 1000, message.StatusSuccess))
	e.putRecord(record(aid(2), "guest/hello", 2000, message.StatusApplicationError))
	e.putRecord(record(aid(3), "guest/other", 3000, message.StatusSuccess))
	e.putRecord(record(aid(4), "guest/pkg/hello", 4000, message.StatusSuccess))
	running := record(aid(5), "guest/hello", 5000, message.StatusSuccess)
	running.End, running.Duration = 0, nil
	e.putRecord(running)
	elsewhere := record(aid(6), "whisk.system/hello", 6000, message.StatusSuccess)
	elsewhere.Namespace = "whisk.system"
	e.putRecord(elsewhere)

	ids := func(v any) string {
		var out []string
		for _, a := range v.([]any) {
			s := a.(map[string]any)["activationId"].(string)
			out = append(out, strings.TrimLeft(s, "0"))
		}
		return strings.Join(out, ",")
	}
	for _, tc := range []struct{ query, want string }{
		{"", "5,4,3,2,1"},
		{"?limit=30&skip=0", "5,4,3,2,1"},
		{"?limit=1&skip=0", "5"},
		{"?limit=2&skip=1", "4,3"},
		{"?name=hello", "5,2,1"},
		{"?limit=5&name=hello&skip=0", "5,2,1"},
		{"?name=pkg/hello", "4"},
		{"?name=/pkg/hello/", "4"},
		{"?name=nothing", ""},
		{"?since=2000&upto=4000", "4,3,2"},
		{"?since=2001", "5,4,3"},
		{"?upto=1999", "1"},
		{"?docs=true&limit=2", "5,4"},
	} {
		if got := ids(decode(t, e.do("GET", "/api/v1/namespaces/_/activations"+tc.query, nil))); got != tc.want {
			t.Errorf("list%s: %q, want %q", tc.query, got, tc.want)
		}
	}
	jsonEqual(t, decode(t, e.do("GET", "/api/v1/namespaces/_/activations?count=true&name=hello", nil)), `{"activations":3}`)

	// Summaries, as the activations view gives them: no response, no logs; end,
	// duration and statusCode once ended.
	list := decode(t, e.do("GET", "/api/v1/namespaces/_/activations?limit=4", nil))
	jsonEqual(t, field(list, 0), fmt.Sprintf(`{"namespace":"guest","name":"hello","version":"0.0.1","publish":false,
		"annotations":[{"key":"path","value":"guest/hello"},{"key":"kind","value":"nodejs:20"},{"key":"waitTime","value":3}],
		"activationId":%q,"start":5000}`, aid(5)))
	jsonEqual(t, field(list, 2), fmt.Sprintf(`{"namespace":"guest","name":"other","version":"0.0.1","publish":false,
		"annotations":[{"key":"path","value":"guest/other"},{"key":"kind","value":"nodejs:20"},{"key":"waitTime","value":3}],
		"activationId":%q,"start":3000,"end":3005,"duration":5,"statusCode":0}`, aid(3)))
	jsonEqual(t, field(list, 3, "statusCode"), `1`)

	// Full records: the user-facing response.
	want1 := fmt.Sprintf(`{"namespace":"guest","name":"hello","version":"0.0.1","subject":"guest","activationId":%q,
		"start":1000,"end":1005,"duration":5,
		"response":{"status":"success","success":true,"result":{"greeting":"Hello"}},
		"logs":["2026-03-01T12:00:00.000000000Z stdout: hello"],
		"annotations":[{"key":"path","value":"guest/hello"},{"key":"kind","value":"nodejs:20"},{"key":"waitTime","value":3}],
		"publish":false}`, aid(1))
	jsonEqual(t, decode(t, e.do("GET", "/api/v1/namespaces/_/activations/"+aid(1), nil)), want1)
	jsonEqual(t, field(decode(t, e.do("GET", "/api/v1/namespaces/_/activations?docs=true&upto=1000", nil)), 0), want1)
	jsonEqual(t, field(decode(t, e.do("GET", "/api/v1/namespaces/_/activations/"+aid(2), nil)), "response"),
		`{"status":"application error","success":false,"result":{"error":"boom"}}`)
	got5 := decode(t, e.do("GET", "/api/v1/namespaces/_/activations/"+aid(5), nil))
	if field(got5, "end") != nil || field(got5, "duration") != nil {
		t.Errorf("running activation shows end %v, duration %v", field(got5, "end"), field(got5, "duration"))
	}
	jsonEqual(t, decode(t, e.do("GET", "/api/v1/namespaces/_/activations/"+aid(1)+"/logs", nil)),
		`{"logs":["2026-03-01T12:00:00.000000000Z stdout: hello"]}`)
	jsonEqual(t, decode(t, e.do("GET", "/api/v1/namespaces/_/activations/"+aid(2)+"/result", nil)),
		`{"status":"application error","success":false,"result":{"error":"boom"}}`)

	for _, tc := range []struct {
		path   string
		status int
		text   string
	}{
		{"/activations/" + aid(6), http.StatusNotFound, textNotFound}, // another namespace's record
		{"/activations/" + aid(7), http.StatusNotFound, textNotFound},
		{"/activations/" + aid(7) + "/logs", http.StatusNotFound, textNotFound},
		{"/activations/abc", http.StatusBadRequest, "Activation id length is 3 but must be 32."},
		{"/activations/" + strings.Repeat("z", 32), http.StatusBadRequest, textActivationID},
		{"/activations/" + aid(1) + "0", http.StatusBadRequest, "Activation id length is 33 but must be 32."},
		{"/activations?name=a/b/c", http.StatusBadRequest,
			textMalformedQuery("name", "Parameter may be a 'simple' name or 'package-name/simple' name: a/b/c")},
		{"/activations?name=b$d", http.StatusBadRequest,
			textMalformedQuery("name", "Parameter may be a 'simple' name or 'package-name/simple' name: b$d")},
		{"/activations?since=yesterday", http.StatusBadRequest,
			textMalformedQuery("since", "Parameter is not a valid value for epoch seconds: yesterday")},
		{"/activations?docs=true&count=true", http.StatusBadRequest, textDocsWithCount},
		{"/activations?limit=300", http.StatusBadRequest,
			textMalformedQuery("limit", "The value '300' is not in the range of 0 to 200 for activations.")},
	} {
		wantError(t, e.do("GET", "/api/v1/namespaces/_"+tc.path, nil), tc.status, tc.text)
	}
}

func TestPathFilter(t *testing.T) {
	for _, tc := range []struct {
		name string
		ann  message.Parameters
		want string
	}{
		{"hello", nil, "hello"},
		{"hello", message.Parameters{message.StringParam("path", "guest/hello")}, "hello"},
		{"hello", message.Parameters{message.StringParam("path", "whisk.system/utils/hello")}, "utils/hello"},
		{"hello", message.Parameters{message.StringParam("path", "whisk.system/utils/hello"),
			message.StringParam("binding", "guest/myutils")}, "myutils/hello"},
	} {
		a := &message.WhiskActivation{Name: tc.name, Annotations: tc.ann}
		if got := pathFilter(a); got != tc.want {
			t.Errorf("pathFilter(%v) = %q, want %q", tc.ann, got, tc.want)
		}
	}
}

func TestExtendedActivation(t *testing.T) {
	size := 27
	a := &message.WhiskActivation{
		Namespace: "guest", Name: "hello", Subject: "guest", ActivationID: message.ActivationID(aid(9)),
		Start: 10, End: 40, Cause: message.ActivationID(aid(8)),
		Response: message.ActivationResponse{StatusCode: message.StatusWhiskError, Result: json.RawMessage(`{"error":"x"}`), Size: &size},
		Version:  "0.0.1",
	}
	got, err := extendedActivation(a)
	if err != nil {
		t.Fatal(err)
	}
	jsonEqual(t, got, fmt.Sprintf(`{"namespace":"guest","name":"hello","subject":"guest","activationId":%q,
		"start":10,"end":40,"duration":30,"cause":%q,
		"response":{"status":"whisk internal error","success":false,"result":{"error":"x"},"size":27},
		"logs":[],"version":"0.0.1","publish":false,"annotations":[]}`, aid(9), aid(8)))
}
