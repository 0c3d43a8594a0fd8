package admin_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"go.uber.org/zap/zaptest"

	"github.com/owinvoker/owinvoker/invoker/admin"
)

func TestEndpoints(t *testing.T) {
	enabled := true
	c := admin.Controls{
		Enable:   func() string { enabled = true; return "invoker0/0 is now enabled." },
		Disable:  func(*http.Request) string { enabled = false; return "invoker0/0 is now disabled." },
		Enabled:  func() bool { return enabled },
		State:    func() string { return "draining" },
		InFlight: func() int { return 2 },
		Metrics:  http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("owinvoker_up 1\n")) }),
	}
	srv := httptest.NewServer(admin.Handler(admin.Config{Username: "invoker.user", Password: "invoker.pass"}, c, zaptest.NewLogger(t)))
	defer srv.Close()
	do := func(method, path string, auth bool) (int, string) {
		req, _ := http.NewRequest(method, srv.URL+path, nil)
		req.Header.Set("X-Request-ID", "tid1")
		if auth {
			req.SetBasicAuth("invoker.user", "invoker.pass")
		}
		resp, err := srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		if resp.Header.Get("X-Request-ID") != "tid1" {
			t.Errorf("%s %s: X-Request-ID = %q, want it echoed", method, path, resp.Header.Get("X-Request-ID"))
		}
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, strings.TrimSpace(string(b))
	}
	for _, tc := range []struct {
		method, path string
		auth         bool
		code         int
		body         string
	}{
		{"GET", "/ping", false, 200, "pong"},
		{"GET", "/metrics", false, 200, "owinvoker_up 1"},
		{"POST", "/disable", false, 401, "The supplied authentication is invalid"},
		{"POST", "/disable", true, 200, "invoker0/0 is now disabled."},
		{"GET", "/isEnabled", true, 200, `{"enabled":false}`},
		{"GET", "/status", true, 200, `{"inFlight":2,"state":"draining"}`},
		{"POST", "/enable", true, 200, "invoker0/0 is now enabled."},
		{"GET", "/isEnabled", true, 200, `{"enabled":true}`},
		{"GET", "/isEnabled", false, 401, "The supplied authentication is invalid"},
	} {
		code, body := do(tc.method, tc.path, tc.auth)
		if code != tc.code || body != tc.body {
			t.Errorf("%s %s (auth %v) = %d %q, want %d %q", tc.method, tc.path, tc.auth, code, body, tc.code, tc.body)
		}
	}
}
