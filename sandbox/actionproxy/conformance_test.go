package actionproxy_test

// Conformance of our runtime images (deploy/runtimes/build.sh) with the action container
// protocol, through the Client, in the real Docker engine. Every container is labelled
// owinvoker.test=runtimes and removed by its test. -short skips these tests.

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/client"
	"github.com/docker/docker/pkg/stdcopy"

	"github.com/owinvoker/owinvoker/sandbox/actionproxy"
)

const (
	testLabel  = "owinvoker.test"
	testValue  = "runtimes"
	sentinel   = "XXX_THE_END_OF_A_WHISK_ACTIVATION_XXX"
	nodeImage  = "openwhisk/action-nodejs-v20:nightly"
	pyImage    = "openwhisk/action-python-v3.11:nightly"
	skelImage  = "openwhisk/dockerskeleton:nightly"
	notDict    = `{"error":"The action did not return a dictionary or array."}`
	exitedBody = `{"error":"command exited"}`
)

// imagesOnce builds the images once per test binary (the script skips up-to-date ones).
var imagesOnce = sync.OnceValue(func() error {
	out, err := exec.Command("../../deploy/runtimes/build.sh").CombinedOutput()
	if err != nil {
		return fmt.Errorf("deploy/runtimes/build.sh: %v\n%s", err, out)
	}
	return nil
})

// engine is the Docker engine, with the images built.
func engine(tb testing.TB) *client.Client {
	tb.Helper()
	if testing.Short() {
		tb.Skip("needs the Docker engine (-short)")
	}
	if err := imagesOnce(); err != nil {
		tb.Fatal(err)
	}
	cli, err := client.NewClientWithOpts(client.FromEnv, client.WithAPIVersionNegotiation())
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { cli.Close() })
	return cli
}

// box is one running runtime container and a Client for its proxy.
type box struct {
	cli *client.Client
	id  string
	c   *actionproxy.Client
}

// start runs image as the invoker would (spec §8.1) and waits for its proxy.
func start(tb testing.TB, cli *client.Client, image string) *box {
	tb.Helper()
	ctx := context.Background()
	pids := int64(1024)
	created, err := cli.ContainerCreate(ctx,
		&container.Config{
			Image:  image,
			Env:    []string{"__OW_API_HOST=https://openwhisk.example.com", "__OW_ALLOW_CONCURRENT=false"},
			Labels: map[string]string{testLabel: testValue},
		},
		&container.HostConfig{
			NetworkMode: "bridge",
			LogConfig:   container.LogConfig{Type: "json-file"},
			CapDrop:     []string{"NET_RAW", "NET_ADMIN"},
			Resources: container.Resources{
				Memory:     256 << 20,
				MemorySwap: 256 << 20,
				CPUShares:  256,
				PidsLimit:  &pids,
				Ulimits:    []*container.Ulimit{{Name: "nofile", Soft: 1024, Hard: 1024}},
			},
		}, nil, nil, "")
	if err != nil {
		tb.Fatalf("create %s: %v", image, err)
	}
	b := &box{cli: cli, id: created.ID}
	tb.Cleanup(func() { b.remove(tb) })
	if err := cli.ContainerStart(ctx, b.id, container.StartOptions{}); err != nil {
		tb.Fatalf("start %s: %v", image, err)
	}
	info, err := cli.ContainerInspect(ctx, b.id)
	if err != nil {
		tb.Fatalf("inspect: %v", err)
	}
	ep := info.NetworkSettings.Networks["bridge"]
	if ep == nil || ep.IPAddress == "" {
		tb.Fatalf("container %s has no bridge address", b.id[:12])
	}
	b.c, err = actionproxy.New(ep.IPAddress+":8080", actionproxy.Config{RetryInterval: 5 * time.Millisecond})
	if err != nil {
		tb.Fatal(err)
	}
	wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := b.c.WaitReady(wctx); err != nil {
		tb.Fatal(err)
	}
	return b
}

func (b *box) remove(tb testing.TB) {
	if b.c != nil {
		b.c.Close()
	}
	if b.id == "" {
		return
	}
	if err := b.cli.ContainerRemove(context.Background(), b.id, container.RemoveOptions{Force: true}); err != nil {
		tb.Errorf("remove %s: %v", b.id[:12], err)
	}
	b.id = ""
}

// logs returns the container's stdout and stderr once each holds at least n sentinels.
func (b *box) logs(t *testing.T, n int) (string, string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		rc, err := b.cli.ContainerLogs(t.Context(), b.id, container.LogsOptions{ShowStdout: true, ShowStderr: true})
		if err != nil {
			t.Fatalf("logs: %v", err)
		}
		var stdout, stderr bytes.Buffer
		_, err = stdcopy.StdCopy(&stdout, &stderr, rc)
		rc.Close()
		if err != nil {
			t.Fatalf("logs: %v", err)
		}
		o, e := stdout.String(), stderr.String()
		if strings.Count(o, sentinel) >= n && strings.Count(e, sentinel) >= n {
			return o, e
		}
		if time.Now().After(deadline) {
			t.Fatalf("logs lack %d sentinels on each stream:\nstdout: %q\nstderr: %q", n, o, e)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (b *box) init(t *testing.T, req actionproxy.InitRequest) actionproxy.Response {
	t.Helper()
	if req.Name == "" {
		req.Name = "test"
	}
	if req.Timeout == 0 {
		req.Timeout = 30 * time.Second
	}
	r, err := b.c.Init(t.Context(), req)
	if err != nil {
		t.Fatalf("Init: %v", err)
	}
	return r
}

func (b *box) mustInit(t *testing.T, req actionproxy.InitRequest) {
	t.Helper()
	if r := b.init(t, req); r.Status != actionproxy.Success {
		t.Fatalf("Init = %v %s, want success", r.Status, r.Result)
	}
}

func (b *box) run(t *testing.T, ctx context.Context, value string) actionproxy.Response {
	t.Helper()
	ver := "0.0.1"
	r, err := b.c.Run(ctx, actionproxy.RunRequest{
		Value:         json.RawMessage(value),
		Namespace:     "guest",
		ActionName:    "/guest/test",
		ActionVersion: &ver,
		ActivationID:  "5d4c6e7f8a9b4c0d9e1f2a3b4c5d6e7f",
		TransactionID: "sNBSwqwXNYeHCbZl1WUdtgQBjAUHVHBg",
		Deadline:      time.UnixMilli(1717000060312),
		AuthKey:       map[string]json.RawMessage{"api_key": json.RawMessage(`"uuid:secret"`)},
	})
	if err != nil {
		t.Fatalf("Run(%s): %v", value, err)
	}
	return r
}

// expect checks a response's status and, when want is not empty, its result.
func expect(t *testing.T, what string, r actionproxy.Response, status actionproxy.Status, want string) {
	t.Helper()
	if r.Status != status || (want != "" && string(r.Result) != want) {
		t.Fatalf("%s = %v %s\nwant %v %s", what, r.Status, r.Result, status, want)
	}
}

// lang is a runtime under test and its actions.
type lang struct {
	name, image string
	kitchen     string            // plain code whose main dispatches on params.op
	syntaxError string            // code that does not compile
	zip         map[string]string // a multi-file package
	hasAsync    bool
}

var langs = []lang{
	{
		name: "nodejs", image: nodeImage, hasAsync: true,
		kitchen: `
function main(p) {
  switch (p.op) {
  case 'env':
    const e = process.env;
    return {p, env: {ns: e.__OW_NAMESPACE, act: e.__OW_ACTIVATION_ID, name: e.__OW_ACTION_NAME,
      ver: e.__OW_ACTION_VERSION, dl: e.__OW_DEADLINE, key: e.__OW_API_KEY, tx: e.__OW_TRANSACTION_ID,
      host: e.__OW_API_HOST, secret: e.SECRET}};
  case 'async':
    return new Promise(resolve => setTimeout(() => resolve({async: true}), 20));
  case 'await':
    return (async () => { await new Promise(r => setTimeout(r, 10)); return {awaited: [1, 2]}; })();
  case 'throw':
    throw new Error('boom');
  case 'reject':
    return Promise.reject(new Error('async boom'));
  case 'scalar':
    return 42;
  case 'array':
    return [1, 2, 3];
  case 'print':
    console.log('out line');
    console.error('err line');
    return {printed: true};
  case 'big':
    return {big: 'x'.repeat(2 * 1024 * 1024)};
  case 'sleep':
    return new Promise(resolve => setTimeout(() => resolve({late: true}), 60000));
  case 'exit':
    process.exit(3);
  }
  return {payload: 'Hello, ' + p.name};
}`,
		syntaxError: "function main(p) { return {payload: 'x' ",
		zip: map[string]string{
			"package.json":  `{"name": "multi", "main": "lib/entry.js"}`,
			"lib/entry.js":  "const h = require('./helper');\nexports.main = p => ({payload: h.greet(p.name), files: 2});\n",
			"lib/helper.js": "exports.greet = n => 'Hello, ' + n + ' from a zip';\n",
		},
	},
	{
		name: "python", image: pyImage,
		kitchen: `
import os, sys, time

def main(p):
    op = p.get("op")
    if op == "env":
        e = os.environ
        return {"p": p, "env": {"ns": e.get("__OW_NAMESPACE"), "act": e.get("__OW_ACTIVATION_ID"),
            "name": e.get("__OW_ACTION_NAME"), "ver": e.get("__OW_ACTION_VERSION"), "dl": e.get("__OW_DEADLINE"),
            "key": e.get("__OW_API_KEY"), "tx": e.get("__OW_TRANSACTION_ID"), "host": e.get("__OW_API_HOST"),
            "secret": e.get("SECRET")}}
    if op == "throw":
        raise ValueError("boom")
    if op == "scalar":
        return 42
    if op == "array":
        return [1, 2, 3]
    if op == "print":
        print("out line")
        print("err line", file=sys.stderr)
        return {"printed": True}
    if op == "big":
        return {"big": "x" * (2 * 1024 * 1024)}
    if op == "sleep":
        time.sleep(60)
        return {"late": True}
    if op == "exit":
        os._exit(3)
    return {"payload": "Hello, " + p["name"]}
`,
		syntaxError: "def main(p:\n    return {}\n",
		zip: map[string]string{
			"__main__.py":   "from helper import greet\n\ndef main(p):\n    return {'payload': greet(p['name']), 'files': 2}\n",
			"helper.py":     "def greet(n):\n    return 'Hello, ' + n + ' from a zip'\n",
			"data/empty.py": "",
		},
	},
}

func TestRuntimes(t *testing.T) {
	cli := engine(t)
	for _, l := range langs {
		t.Run(l.name, func(t *testing.T) {
			t.Run("kitchen", func(t *testing.T) { testKitchen(t, cli, l) })
			t.Run("zip", func(t *testing.T) {
				b := start(t, cli, l.image)
				b.mustInit(t, actionproxy.InitRequest{Main: "main", Binary: true, Code: zipOf(t, l.zip, nil)})
				r := b.run(t, t.Context(), `{"name":"World"}`)
				expect(t, "run", r, actionproxy.Success, `{"payload":"Hello, World from a zip","files":2}`)
			})
			t.Run("syntax error", func(t *testing.T) {
				b := start(t, cli, l.image)
				r := b.init(t, actionproxy.InitRequest{Code: l.syntaxError})
				expect(t, "init", r, actionproxy.DeveloperError, "")
				if !strings.Contains(string(r.Result), "SyntaxError") {
					t.Errorf("init result %s does not name the SyntaxError", r.Result)
				}
			})
			t.Run("timeout", func(t *testing.T) {
				b := start(t, cli, l.image)
				b.mustInit(t, actionproxy.InitRequest{Code: l.kitchen})
				ctx, cancel := context.WithTimeout(t.Context(), 500*time.Millisecond)
				defer cancel()
				r := b.run(t, ctx, `{"op":"sleep"}`)
				expect(t, "run past the deadline", r, actionproxy.DeveloperError, "")
				if !r.Timeout || !strings.HasPrefix(string(r.Result), `{"error":"The action exceeded its time limits of 5`) {
					t.Errorf("run past the deadline: timeout %v result %s", r.Timeout, r.Result)
				}
				// The proxy killed the late action; the container is done.
				r = b.run(t, t.Context(), `{"name":"again"}`)
				expect(t, "run after a timeout", r, actionproxy.DeveloperError, exitedBody)
			})
			t.Run("exit", func(t *testing.T) {
				b := start(t, cli, l.image)
				b.mustInit(t, actionproxy.InitRequest{Code: l.kitchen})
				r := b.run(t, t.Context(), `{"op":"exit"}`)
				expect(t, "run that exits", r, actionproxy.DeveloperError, exitedBody)
				r = b.run(t, t.Context(), `{"name":"again"}`)
				expect(t, "run after the exit", r, actionproxy.DeveloperError, exitedBody)
			})
		})
	}
}

// testKitchen runs many activations through one warm container.
func testKitchen(t *testing.T, cli *client.Client, l lang) {
	b := start(t, cli, l.image)
	// Run before init.
	r := b.run(t, t.Context(), `{}`)
	expect(t, "run before init", r, actionproxy.DeveloperError, `{"error":"no action defined yet"}`)

	b.mustInit(t, actionproxy.InitRequest{Code: l.kitchen, Env: map[string]string{
		"SECRET": "s3cr3t", "__OW_NAMESPACE": "guest", "__OW_ACTIVATION_ID": "at-init",
	}})
	r = b.init(t, actionproxy.InitRequest{Code: l.kitchen})
	expect(t, "second init", r, actionproxy.DeveloperError, `{"error":"Cannot initialize the action more than once."}`)

	sentinels := 0 // a run before init is refused without sentinels
	steps := []struct {
		name, value string
		status      actionproxy.Status
		want        string
		async       bool
	}{
		{"hello", `{"name":"World"}`, actionproxy.Success, `{"payload":"Hello, World"}`, false},
		{"env", `{"op":"env","n":1}`, actionproxy.Success, "", false},
		{"async", `{"op":"async"}`, actionproxy.Success, `{"async":true}`, true},
		{"await", `{"op":"await"}`, actionproxy.Success, `{"awaited":[1,2]}`, true},
		{"throw", `{"op":"throw"}`, actionproxy.ApplicationError, `{"error":"boom"}`, false},
		{"reject", `{"op":"reject"}`, actionproxy.ApplicationError, `{"error":"async boom"}`, true},
		{"scalar", `{"op":"scalar"}`, actionproxy.DeveloperError, notDict, false},
		{"array", `{"op":"array"}`, actionproxy.Success, `[1,2,3]`, false},
		{"print", `{"op":"print"}`, actionproxy.Success, `{"printed":true}`, false},
	}
	for _, s := range steps {
		if s.async && !l.hasAsync {
			continue
		}
		t.Run(s.name, func(t *testing.T) {
			r := b.run(t, t.Context(), s.value)
			sentinels++
			expect(t, s.name, r, s.status, s.want)
			if s.name != "env" {
				return
			}
			var got struct {
				P   map[string]any    `json:"p"`
				Env map[string]string `json:"env"`
			}
			if err := json.Unmarshal(r.Result, &got); err != nil {
				t.Fatalf("env result %s: %v", r.Result, err)
			}
			want := map[string]string{
				"ns": "guest", "act": "5d4c6e7f8a9b4c0d9e1f2a3b4c5d6e7f", "name": "/guest/test", "ver": "0.0.1",
				"dl": "1717000060312", "key": "uuid:secret", "tx": "sNBSwqwXNYeHCbZl1WUdtgQBjAUHVHBg",
				"host": "https://openwhisk.example.com", "secret": "s3cr3t",
			}
			for k, v := range want {
				if got.Env[k] != v {
					t.Errorf("env %s = %q, want %q", k, got.Env[k], v)
				}
			}
			if got.P["n"] != 1.0 || got.P["op"] != "env" {
				t.Errorf("params %v, want the run's value", got.P)
			}
		})
	}

	t.Run("logs", func(t *testing.T) {
		stdout, stderr := b.logs(t, sentinels)
		// Each run ends with a sentinel on both streams; what the action printed comes
		// right before the sentinel of its run.
		if !strings.Contains(stdout, "out line\n"+sentinel+"\n") {
			t.Errorf("stdout lacks the action's line followed by the sentinel:\n%s", stdout)
		}
		if !strings.Contains(stderr, "err line\n"+sentinel+"\n") {
			t.Errorf("stderr lacks the action's line followed by the sentinel:\n%s", stderr)
		}
		if strings.Contains(stdout, "s3cr3t") || strings.Contains(stderr, "s3cr3t") {
			t.Errorf("the logs show an init parameter")
		}
	})

	t.Run("huge result", func(t *testing.T) {
		r := b.run(t, t.Context(), `{"op":"big"}`)
		expect(t, "big", r, actionproxy.ApplicationError, "")
		if !r.Truncated || r.Size <= 2*1024*1024 ||
			!strings.HasPrefix(string(r.Result), fmt.Sprintf(`{"error":"The action produced a response that exceeded the allowed length: %d \u003e 1048576 bytes.`, r.Size)) {
			t.Errorf("big: truncated %v size %d result %.200s", r.Truncated, r.Size, r.Result)
		}
		// The container stays usable after an application error.
		expect(t, "hello after big", b.run(t, t.Context(), `{"name":"again"}`), actionproxy.Success, `{"payload":"Hello, again"}`)
	})
}

// buildNative compiles testdata/native into a static binary.
func buildNative(tb testing.TB) []byte {
	tb.Helper()
	out := filepath.Join(tb.TempDir(), "exec")
	cmd := exec.Command("go", "build", "-trimpath", "-ldflags=-s -w", "-o", out, "./testdata/native")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if msg, err := cmd.CombinedOutput(); err != nil {
		tb.Fatalf("build testdata/native: %v\n%s", err, msg)
	}
	bin, err := os.ReadFile(out)
	if err != nil {
		tb.Fatal(err)
	}
	return bin
}

func TestNativeSkeleton(t *testing.T) {
	cli := engine(t)
	bin := buildNative(t)
	tests := []struct {
		name string
		code string
	}{
		{"zip", zipOf(t, map[string]string{"exec": string(bin)}, map[string]os.FileMode{"exec": 0o755})},
		{"raw binary", base64.StdEncoding.EncodeToString(bin)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := start(t, cli, skelImage)
			b.mustInit(t, actionproxy.InitRequest{Binary: true, Code: tt.code, Env: map[string]string{"__OW_NAMESPACE": "guest"}})
			r := b.run(t, t.Context(), `{"name":"native"}`)
			expect(t, "run", r, actionproxy.Success,
				`{"activation_id":"5d4c6e7f8a9b4c0d9e1f2a3b4c5d6e7f","env_namespace":"guest","greeting":"Hello, native","native":true}`)
			stdout, stderr := b.logs(t, 1)
			if stdout != "native stdout\n"+sentinel+"\n" || stderr != "native stderr\n"+sentinel+"\n" {
				t.Errorf("logs:\nstdout %q\nstderr %q", stdout, stderr)
			}
		})
	}
	t.Run("not an executable", func(t *testing.T) {
		b := start(t, cli, skelImage)
		r := b.init(t, actionproxy.InitRequest{Code: "echo hello"})
		expect(t, "init", r, actionproxy.DeveloperError, "")
	})
}

func zipOf(tb testing.TB, files map[string]string, modes map[string]os.FileMode) string {
	tb.Helper()
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
			tb.Fatal(err)
		}
		if _, err := io.WriteString(w, content); err != nil {
			tb.Fatal(err)
		}
	}
	if err := zw.Close(); err != nil {
		tb.Fatal(err)
	}
	return base64.StdEncoding.EncodeToString(buf.Bytes())
}
