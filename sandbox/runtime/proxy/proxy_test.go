package proxy_test

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"

	"github.com/owinvoker/owinvoker/sandbox/runtime/proxy"
)

type env struct {
	t              *testing.T
	url            string
	client         *http.Client
	stdout, stderr *os.File
	srv            *proxy.Server
	dir            string
}

func newEnv(t *testing.T, mutate func(*proxy.Config)) *env {
	t.Helper()
	dir := t.TempDir()
	stdout, err := os.Create(filepath.Join(dir, "stdout"))
	if err != nil {
		t.Fatal(err)
	}
	stderr, err := os.Create(filepath.Join(dir, "stderr"))
	if err != nil {
		t.Fatal(err)
	}
	cfg := proxy.Config{
		Dir:    filepath.Join(dir, "action"),
		Env:    append(os.Environ(), roleVar+"=launcher", "BASE=base", "SECRET=from-base"),
		Stdout: stdout,
		Stderr: stderr,
		Log:    zaptest.NewLogger(t),
	}
	if mutate != nil {
		mutate(&cfg)
	}
	srv, err := proxy.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv)
	tr := &http.Transport{}
	t.Cleanup(func() {
		tr.CloseIdleConnections()
		hs.Close()
		srv.Close()
		stdout.Close()
		stderr.Close()
	})
	return &env{t: t, url: hs.URL, client: &http.Client{Transport: tr}, stdout: stdout, stderr: stderr, srv: srv, dir: dir}
}

// post sends body and returns the status and body of the reply.
func (e *env) post(ctx context.Context, path, body string) (int, string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, e.url+path, strings.NewReader(body))
	if err != nil {
		return 0, "", err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := e.client.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), err
}

func (e *env) mustPost(path, body string) (int, string) {
	e.t.Helper()
	status, reply, err := e.post(e.t.Context(), path, body)
	if err != nil {
		e.t.Fatalf("POST %s %s: %v", path, body, err)
	}
	return status, reply
}

func (e *env) expect(path, body string, wantStatus int, wantBody string) string {
	e.t.Helper()
	status, reply := e.mustPost(path, body)
	if status != wantStatus || (wantBody != "" && reply != wantBody) {
		e.t.Fatalf("POST %s %s\n got %d %s\nwant %d %s", path, body, status, reply, wantStatus, wantBody)
	}
	return reply
}

// script is inline code that makes the proxy run this test binary as the action.
func script(t *testing.T) string {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	return "#!" + exe + "\n"
}

func initBody(t *testing.T, code string, binary bool, env map[string]any) string {
	t.Helper()
	v := map[string]any{"name": "hello", "main": "main", "binary": binary, "code": code}
	if env != nil {
		v["env"] = env
	}
	b, err := json.Marshal(map[string]any{"value": v})
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func zipOf(t *testing.T, files map[string]string, modes map[string]os.FileMode) string {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for name, content := range files {
		h := &zip.FileHeader{Name: name, Method: zip.Deflate}
		mode := os.FileMode(0o644)
		if m, ok := modes[name]; ok {
			mode = m
		}
		h.SetMode(mode)
		w, err := zw.CreateHeader(h)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := io.WriteString(w, content); err != nil {
			t.Fatal(err)
		}
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return base64.StdEncoding.EncodeToString(buf.Bytes())
}

const runCtx = `"namespace":"guest","action_name":"/guest/hello","action_version":null,"activation_id":"a1","transaction_id":"t1","deadline":"1717000060312","api_key":"k:s"`

func TestInitAndRun(t *testing.T) {
	e := newEnv(t, func(c *proxy.Config) { c.WaitForAck = true })
	e.expect("/init", initBody(t, script(t), false, map[string]any{
		"SECRET": "s3cr3t", "__OW_NAMESPACE": "guest", "NUM": 7, "NIL": nil,
	}), 200, `{"ok":true}`)

	reply := e.expect("/run", `{"value":{"name":"World",
	  "nested":{"a":[1,2]}},`+runCtx+`}`, 200, "")
	var got struct {
		Value   map[string]any    `json:"value"`
		Context map[string]any    `json:"context"`
		Env     map[string]string `json:"env"`
	}
	if err := json.Unmarshal([]byte(reply), &got); err != nil {
		t.Fatalf("reply %s: %v", reply, err)
	}
	if got.Value["name"] != "World" || got.Context["activation_id"] != "a1" || got.Context["deadline"] != "1717000060312" {
		t.Errorf("the action got value %v context %v, want the request's", got.Value, got.Context)
	}
	wantEnv := map[string]string{"SECRET": "s3cr3t", "__OW_NAMESPACE": "guest", "__OW_WAIT_FOR_ACK": "1", "BASE": "base"}
	for k, v := range wantEnv {
		if got.Env[k] != v {
			t.Errorf("env %s = %q, want %q (env %v)", k, got.Env[k], v, got.Env)
		}
	}
	if _, ok := got.Env["OW_COMPILER"]; ok {
		t.Errorf("OW_COMPILER leaked into the action's env")
	}

	e.expect("/init", initBody(t, script(t), false, nil), 403, `{"error":"Cannot initialize the action more than once."}`)
	// The action still runs after the refused init.
	e.expect("/run", `{"value":{"op":"array"}}`, 200, `[1,2,3]`)
}

func TestRunReplies(t *testing.T) {
	e := newEnv(t, nil)
	e.expect("/run", `{"value":{}}`, 500, `{"error":"no action defined yet"}`)
	e.expect("/init", initBody(t, script(t), false, nil), 200, `{"ok":true}`)
	tests := []struct {
		body       string
		wantStatus int
		wantBody   string
	}{
		{`{"value":{"op":"array"}}`, 200, `[1,2,3]`},
		{`{"value":{"op":"scalar"}}`, 502, `{"error":"The action did not return a dictionary or array."}`},
		{`{"value":{"op":"garbage"}}`, 502, `{"error":"The action did not return a dictionary or array."}`},
		{`[1]`, 400, ""},
		{`not json`, 400, ""},
		{`{"value":{"op":"print"}}`, 200, `{"printed":true}`},
	}
	for _, tt := range tests {
		e.expect("/run", tt.body, tt.wantStatus, tt.wantBody)
	}
}

func TestInitFailures(t *testing.T) {
	tests := []struct {
		name       string
		cfg        func(*proxy.Config)
		body       func(t *testing.T) string
		wantStatus int
		wantBody   string
	}{
		{"no code", nil, func(t *testing.T) string { return `{"value":{"name":"x","main":"main"}}` },
			403, `{"error":"Missing main/no code to execute."}`},
		{"empty code", nil, func(t *testing.T) string { return initBody(t, "", false, nil) },
			403, `{"error":"Missing main/no code to execute."}`},
		{"not json", nil, func(t *testing.T) string { return `{"value":` }, 400, ""},
		{"no value", nil, func(t *testing.T) string { return `{}` }, 400, ""},
		{"not executable, no compiler", nil, func(t *testing.T) string { return initBody(t, "function main(){}", false, nil) },
			502, ""},
		{"bad base64", nil, func(t *testing.T) string { return initBody(t, "%%%", true, nil) }, 502, ""},
		{"zip slip", nil, func(t *testing.T) string {
			return initBody(t, zipOf(t, map[string]string{"../evil": "x", "exec": script(t)}, map[string]os.FileMode{"exec": 0o755}), true, nil)
		}, 502, ""},
		{"zip without exec", nil, func(t *testing.T) string {
			return initBody(t, zipOf(t, map[string]string{"index.js": "x"}, nil), true, nil)
		}, 502, `{"error":"the action has no file named exec and this runtime has no compiler"}`},
		{"ack error", func(c *proxy.Config) { c.WaitForAck = true }, func(t *testing.T) string {
			return initBody(t, script(t), false, map[string]any{"ACK": "error"})
		}, 502, `{"error":"cannot load the action: boom"}`},
		{"exit before ack", func(c *proxy.Config) { c.WaitForAck = true }, func(t *testing.T) string {
			return initBody(t, script(t), false, map[string]any{"ACK": "exit"})
		}, 502, `{"error":"Cannot start action. Check logs for details."}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, tt.cfg)
			e.expect("/init", tt.body(t), tt.wantStatus, tt.wantBody)
			// A failed init leaves the proxy uninitialized, and a good one may follow.
			e.expect("/run", `{"value":{}}`, 500, `{"error":"no action defined yet"}`)
			e.expect("/init", initBody(t, script(t), false, nil), 200, `{"ok":true}`)
		})
	}
}

func TestRoutes(t *testing.T) {
	e := newEnv(t, nil)
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, e.url+"/run", nil)
	resp, err := e.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("GET /run = %d, want 405", resp.StatusCode)
	}
	e.expect("/nothing", `{}`, 404, "")
}

func TestZippedAndBinaryActions(t *testing.T) {
	tests := []struct {
		name string
		code func(t *testing.T) string
	}{
		{"zip with exec", func(t *testing.T) string {
			return zipOf(t, map[string]string{"exec": script(t), "lib/data.txt": "data"}, map[string]os.FileMode{"exec": 0o755})
		}},
		{"zip with exec lacking the x bit", func(t *testing.T) string {
			return zipOf(t, map[string]string{"exec": script(t)}, nil)
		}},
		{"raw binary", func(t *testing.T) string { return base64.StdEncoding.EncodeToString([]byte(script(t))) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, nil)
			e.expect("/init", initBody(t, tt.code(t), true, nil), 200, `{"ok":true}`)
			reply := e.expect("/run", `{"value":{"x":1}}`, 200, "")
			if !strings.Contains(reply, `"x":1`) {
				t.Errorf("run reply %s, want the echoed value", reply)
			}
		})
	}
}

func TestCompiler(t *testing.T) {
	// The compiler is a shell script: it fails on "SYNTAX", else it writes bin/exec as a
	// script that starts this test binary.
	dir := t.TempDir()
	compiler := filepath.Join(dir, "compile")
	src := `#!/bin/sh
set -e
main=$1 src=$2 bin=$3
if grep -q SYNTAX "$src/exec"; then echo "syntax error in $main" >&2; exit 1; fi
cp "$src/exec" "$bin/source"
printf '#!%s\n' "$TESTBIN" > "$bin/exec"
chmod +x "$bin/exec"
`
	if err := os.WriteFile(compiler, []byte(src), 0o755); err != nil {
		t.Fatal(err)
	}
	exe, _ := os.Executable()
	tests := []struct {
		code       string
		wantStatus int
		wantBody   string
	}{
		{"function main() {}", 200, `{"ok":true}`},
		{"SYNTAX error here", 502, `{"error":"syntax error in niam"}`},
	}
	for _, tt := range tests {
		e := newEnv(t, func(c *proxy.Config) {
			c.Compiler = compiler
			c.Env = append(c.Env, "TESTBIN="+exe)
		})
		body := `{"value":{"name":"x","main":"niam","code":` + jsonString(tt.code) + `}}`
		e.expect("/init", body, tt.wantStatus, tt.wantBody)
		if tt.wantStatus == 200 {
			e.expect("/run", `{"value":{"op":"array"}}`, 200, `[1,2,3]`)
			got, err := os.ReadFile(filepath.Join(e.dir, "action", "1", "bin", "source"))
			if err != nil || string(got) != tt.code {
				t.Errorf("compiled source %q (%v), want %q", got, err, tt.code)
			}
		}
	}
}

func jsonString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

func TestChildExits(t *testing.T) {
	e := newEnv(t, nil)
	e.expect("/init", initBody(t, script(t), false, nil), 200, `{"ok":true}`)
	e.expect("/run", `{"value":{"op":"exit"}}`, 400, `{"error":"command exited"}`)
	e.expect("/run", `{"value":{}}`, 500, `{"error":"command exited"}`)
	e.expect("/init", initBody(t, script(t), false, nil), 403, "")
}

func TestRunCancelledKillsTheAction(t *testing.T) {
	e := newEnv(t, nil)
	e.expect("/init", initBody(t, script(t), false, nil), 200, `{"ok":true}`)
	ctx, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
	defer cancel()
	_, _, err := e.post(ctx, "/run", `{"value":{"op":"sleep","ms":60000}}`)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("run past the deadline: err %v, want deadline exceeded", err)
	}
	// The proxy kills the action whose answer would otherwise come late and out of step.
	deadline := time.Now().Add(10 * time.Second)
	for {
		status, body := e.mustPost("/run", `{"value":{}}`)
		if status == 500 && body == `{"error":"command exited"}` {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("run after a cancelled run: %d %s, want 500 command exited", status, body)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestSentinelsFollowActionOutput(t *testing.T) {
	e := newEnv(t, nil)
	e.expect("/init", initBody(t, script(t), false, nil), 200, `{"ok":true}`)
	e.expect("/run", `{"value":{"op":"print"}}`, 200, `{"printed":true}`)
	e.expect("/run", `{"value":{"op":"scalar"}}`, 502, "")
	e.expect("/run", `{"value":{"op":"exit"}}`, 400, "")
	tests := []struct {
		file *os.File
		want string
	}{
		{e.stdout, "to stdout\n" + proxy.Sentinel + "\n" + proxy.Sentinel + "\nexiting now\n" + proxy.Sentinel + "\n"},
		{e.stderr, "to stderr\n" + proxy.Sentinel + "\n" + proxy.Sentinel + "\n" + proxy.Sentinel + "\n"},
	}
	for _, tt := range tests {
		got, err := os.ReadFile(tt.file.Name())
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != tt.want {
			t.Errorf("%s:\n got %q\nwant %q", filepath.Base(tt.file.Name()), got, tt.want)
		}
	}
}

func TestLargeResult(t *testing.T) {
	e := newEnv(t, func(c *proxy.Config) { c.MaxResultBytes = 4 << 20 })
	e.expect("/init", initBody(t, script(t), false, nil), 200, `{"ok":true}`)
	reply := e.expect("/run", `{"value":{"op":"big","n":3000000}}`, 200, "")
	if len(reply) != 3000000+len(`{"big":""}`) {
		t.Errorf("large result: %d bytes", len(reply))
	}
	e.expect("/run", `{"value":{"op":"big","n":5000000}}`, 502, "")
	e.expect("/run", `{"value":{}}`, 500, `{"error":"command exited"}`)
}

func TestImageExec(t *testing.T) {
	// A blackbox image may bring /action/exec; /init without code then runs it.
	e := newEnv(t, nil)
	dir := filepath.Join(e.dir, "action")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "exec"), []byte(script(t)), 0o755); err != nil {
		t.Fatal(err)
	}
	e.expect("/init", `{"value":{"name":"x","main":"main"}}`, 200, `{"ok":true}`)
	e.expect("/run", `{"value":{"op":"array"}}`, 200, `[1,2,3]`)
}
