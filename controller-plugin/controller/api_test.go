package controller

import (
	"net/http"
	"strings"
	"testing"
)

const (
	otherKey   = "b1c2d3e4-71f6-4ed5-8c54-816aa4f8c502:0123456789abcdef0123456789abcdef0123456789abcdef0123456789ABCDEF"
	blockedKey = "c1c2d3e4-71f6-4ed5-8c54-816aa4f8c502:zyxwvutsrqponmlkjihgfedcba0123456789abcdef0123456789abcdef0123"
)

func TestInfo(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.Build, c.BuildNo = "2026-01-01T00:00:00Z", "abc123" })
	for _, path := range []string{"/api/v1", "/api/v1/"} {
		got := decode(t, e.do("GET", path, nil, as("")))
		jsonEqual(t, got, `{"description":"OpenWhisk API","api_version":"1.0.0","api_version_path":"v1",
			"build":"2026-01-01T00:00:00Z","buildno":"abc123","swagger_paths":{"ui":"/docs","api-docs":"/api-docs"}}`)
	}
	root := decode(t, e.do("GET", "/", nil, as("")))
	jsonEqual(t, field(root, "runtimes", "nodejs"), `[
		{"kind":"nodejs:20","image":"openwhisk/action-nodejs-v20:nightly","deprecated":false,"default":true,"attached":true,"requireMain":false},
		{"kind":"nodejs:14","image":"openwhisk/action-nodejs-v14:nightly","deprecated":true,"default":false,"attached":true,"requireMain":false}]`)
	jsonEqual(t, field(root, "limits", "max_action_memory"), `536870912`)
	jsonEqual(t, field(root, "limits", "concurrent_actions"), `30`)
	jsonEqual(t, field(root, "api_paths"), `["/api/v1"]`)

	wantError(t, e.do("GET", "/api/v2/nothing", nil), http.StatusNotFound, textRouteNotFound)
}

func TestAuthentication(t *testing.T) {
	e := newEnv(t)
	e.addSubject("other", "otherns", otherKey, "")
	e.addSubject("blocked", "blockedns", blockedKey, "")
	// A blocked subject is not an identity.
	doc, _ := e.db.Get(t.Context(), "subjects", "blocked")
	body := strings.Replace(string(doc.Body), `"subject":`, `"blocked":true,"subject":`, 1)
	if _, err := e.db.Put(t.Context(), "subjects", "blocked", doc.Rev, []byte(body)); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name   string
		opt    reqOpt
		status int
		want   string
	}{
		{"no credentials", as(""), 401, textAuthMissing},
		{"bearer token", header("Authorization", "Bearer abc"), 401, textAuthMissing},
		{"user not a uuid", as("guest:" + strings.Repeat("a", 64)), 401, textAuthInvalid},
		{"short secret", as("23bc46b1-71f6-4ed5-8c54-816aa4f8c502:123zO3x"), 401, textAuthInvalid},
		{"wrong secret", as("23bc46b1-71f6-4ed5-8c54-816aa4f8c502:" + strings.Repeat("x", 64)), 401, textAuthInvalid},
		{"unknown uuid", as("00000000-71f6-4ed5-8c54-816aa4f8c502:" + strings.Repeat("x", 64)), 401, textAuthInvalid},
		{"blocked subject", as(blockedKey), 401, textAuthInvalid},
		{"guest", as(GuestKey), 200, `["guest"]`},
		{"whisk.system", as(WhiskSystemKey), 200, `["whisk.system"]`},
		{"added subject", as(otherKey), 200, `["otherns"]`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := e.do("GET", "/api/v1/namespaces", nil, tc.opt)
			if tc.status != 200 {
				wantError(t, rec, tc.status, tc.want)
				if got := rec.Header().Get("WWW-Authenticate"); got != `Basic realm="OpenWhisk secure realm"` {
					t.Errorf("WWW-Authenticate %q", got)
				}
				return
			}
			jsonEqual(t, decode(t, rec), tc.want)
		})
	}
}

func TestRequestID(t *testing.T) {
	e := newEnv(t)
	rec := e.do("GET", "/api/v1/namespaces/_/actions/nothing", nil, header("X-Request-ID", "my-request-42"))
	wantError(t, rec, http.StatusNotFound, textNotFound)
	if got := rec.Header().Get("X-Request-ID"); got != "my-request-42" {
		t.Errorf("X-Request-ID %q, want the client's", got)
	}
	rec = e.do("GET", "/api/v1/namespaces/_/actions/nothing", nil)
	if got := rec.Header().Get("X-Request-ID"); len(got) != 32 {
		t.Errorf("X-Request-ID %q, want a fresh 32-character id", got)
	}
}

func TestNamespaceAccess(t *testing.T) {
	e := newEnv(t)
	for _, tc := range []struct {
		path   string
		status int
		text   string
	}{
		{"/api/v1/namespaces/_/actions", 200, ""},
		{"/api/v1/namespaces/guest/actions", 200, ""},
		{"/api/v1/namespaces/whisk.system/actions", 403, textNotAuthorized},
		{"/api/v1/namespaces/bad%24ns/actions", 400, textNamespaceIllegal},
	} {
		rec := e.do("GET", tc.path, nil)
		if tc.status == 200 {
			jsonEqual(t, decode(t, rec), `[]`)
			continue
		}
		wantError(t, rec, tc.status, tc.text)
	}
}

func TestEmptyCollections(t *testing.T) {
	e := newEnv(t)
	for _, coll := range []string{"packages", "triggers", "rules"} {
		jsonEqual(t, decode(t, e.do("GET", "/api/v1/namespaces/_/"+coll+"?limit=0&skip=0", nil)), `[]`)
		jsonEqual(t, decode(t, e.do("GET", "/api/v1/namespaces/_/"+coll+"?count=true", nil)), `{"`+coll+`":0}`)
		wantError(t, e.do("GET", "/api/v1/namespaces/_/"+coll+"?limit=201", nil), 400,
			textMalformedQuery("limit", "The value '201' is not in the range of 0 to 200 for "+coll+"."))
		wantError(t, e.do("GET", "/api/v1/namespaces/_/"+coll+"/thing", nil), 404, textNotFound)
		wantError(t, e.do("PUT", "/api/v1/namespaces/_/"+coll+"/thing", `{}`), 501, textNotImplemented)
	}
	wantError(t, e.do("GET", "/api/v1/namespaces/_/actions/pkg/hello", nil), 404, textNotFound)
	wantError(t, e.do("GET", "/api/v1/namespaces/_/actions/pkg/", nil), 404, textNotFound)
}

func TestMethodNotAllowed(t *testing.T) {
	e := newEnv(t)
	rec := e.do("PATCH", "/api/v1/namespaces/_/actions/hello", `{}`)
	wantError(t, rec, http.StatusMethodNotAllowed, textMethodNotAllowed("GET, PUT, POST, DELETE"))
}

func TestInvokersEndpoints(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.AdminUser, c.AdminPassword = "admin", "secret" })
	wantError(t, e.do("GET", "/invokers", nil, as("")), 401, textAuthMissing)
	wantError(t, e.do("GET", "/invokers", nil, as("admin:wrong")), 401, textAuthInvalid)
	jsonEqual(t, decode(t, e.do("GET", "/invokers", nil, as("admin:secret"))), `{}`)
	jsonEqual(t, decode(t, e.do("GET", "/invokers/healthy/count", nil, as("admin:secret"))), `0`)
	jsonEqual(t, decode(t, e.do("GET", "/invokers/ready", nil, as("admin:secret")), 500), `{"unhealthy":"0/0"}`)
}

func TestCORS(t *testing.T) {
	e := newEnv(t)
	rec := e.do("OPTIONS", "/api/v1/namespaces/_/actions/hello", nil, as(""))
	if rec.Code != http.StatusOK || rec.Header().Get("Access-Control-Allow-Origin") != "*" ||
		!strings.Contains(rec.Header().Get("Access-Control-Allow-Headers"), "Authorization") {
		t.Errorf("preflight: %d %v", rec.Code, rec.Header())
	}
}
