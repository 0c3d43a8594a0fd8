package actionproxy

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func TestClassify(t *testing.T) {
	tests := []struct {
		code       int
		body       string
		wantStatus Status
		wantResult string
	}{
		{200, `{"payload":"hi"}`, Success, `{"payload":"hi"}`},
		{200, ` [1, 2] `, Success, `[1, 2]`},
		{200, `{"error":"boom","other":1}`, ApplicationError, `{"error":"boom"}`},
		{200, `{"error":{"code": 7}}`, ApplicationError, `{"error":{"code":7}}`},
		{200, `42`, DeveloperError, `{"error":"The action did not produce a valid JSON or JSON Array response: 42"}`},
		{200, `not json`, DeveloperError, `{"error":"The action did not produce a valid JSON or JSON Array response: not json"}`},
		{200, ``, DeveloperError, `{"error":"The action did not produce a valid JSON or JSON Array response."}`},
		{502, `{"error":"The action did not return a dictionary or array."}`, DeveloperError, `{"error":"The action did not return a dictionary or array."}`},
		{400, `{"error":"command exited"}`, DeveloperError, `{"error":"command exited"}`},
		{500, `{"nope":1}`, DeveloperError, `{"error":"The action did not produce a valid JSON or JSON Array response: {\"nope\":1}"}`},
		{500, `[1]`, DeveloperError, `{"error":"The action did not produce a valid JSON or JSON Array response: [1]"}`},
	}
	for _, tt := range tests {
		status, result := classify(tt.code, []byte(tt.body))
		if status != tt.wantStatus || string(result) != tt.wantResult {
			t.Errorf("classify(%d, %s) = %v %s, want %v %s", tt.code, tt.body, status, result, tt.wantStatus, tt.wantResult)
		}
	}
}

func TestRunBody(t *testing.T) {
	v := "0.0.2"
	got, err := runBody(RunRequest{
		Value:         json.RawMessage(`{"name":"World"}`),
		Namespace:     "guest",
		ActionName:    "/guest/hello",
		ActionVersion: &v,
		ActivationID:  "5d4c6e7f8a9b4c0d9e1f2a3b4c5d6e7f",
		TransactionID: "sNBSwqwXNYeHCbZl1WUdtgQBjAUHVHBg",
		Deadline:      time.UnixMilli(1717000060312),
		AuthKey:       map[string]json.RawMessage{"api_key": json.RawMessage(`"u:k"`)},
	})
	if err != nil {
		t.Fatal(err)
	}
	want := `{"value":{"name":"World"},"namespace":"guest","action_name":"/guest/hello","action_version":"0.0.2",` +
		`"activation_id":"5d4c6e7f8a9b4c0d9e1f2a3b4c5d6e7f","transaction_id":"sNBSwqwXNYeHCbZl1WUdtgQBjAUHVHBg",` +
		`"deadline":"1717000060312","api_key":"u:k"}`
	if string(got) != want {
		t.Errorf("runBody:\n got %s\nwant %s", got, want)
	}
	got, err = runBody(RunRequest{})
	if err != nil || string(got) != `{"value":{},"namespace":"","action_name":"","action_version":null,"activation_id":"","transaction_id":""}` {
		t.Errorf("runBody(zero) = %s, %v", got, err)
	}
	if _, err := runBody(RunRequest{Value: json.RawMessage(`{`)}); err == nil {
		t.Errorf("runBody with invalid value: no error")
	}
}

// server answers /run and /init with the handler for the path.
func server(t *testing.T, h http.HandlerFunc) *Client {
	t.Helper()
	hs := httptest.NewServer(h)
	t.Cleanup(hs.Close)
	c, err := New(strings.TrimPrefix(hs.URL, "http://"), Config{MaxResponseBytes: 1000, TruncationBytes: 10})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

func reply(code int, body string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(code)
		io.WriteString(w, body)
	}
}

// hang answers only when the client goes away. (The server notices that only once the
// body has been read.)
func hang(w http.ResponseWriter, r *http.Request) {
	_, _ = io.Copy(io.Discard, r.Body)
	<-r.Context().Done()
}

func TestRun(t *testing.T) {
	tests := []struct {
		name       string
		handler    http.HandlerFunc
		timeout    time.Duration
		wantStatus Status
		wantResult string
		wantSize   int
		check      func(t *testing.T, r Response)
	}{
		{name: "ok", handler: reply(200, `{"a":"é😀"}`), wantStatus: Success, wantResult: `{"a":"é😀"}`, wantSize: 11},
		{name: "application error", handler: reply(200, `{"error":"boom"}`), wantStatus: ApplicationError, wantResult: `{"error":"boom"}`},
		{name: "developer error", handler: reply(502, `{"error":"The action did not return a dictionary or array."}`),
			wantStatus: DeveloperError, wantResult: `{"error":"The action did not return a dictionary or array."}`},
		{name: "too large", handler: reply(200, `{"big":"`+strings.Repeat("x", 2000)+`"}`), wantStatus: ApplicationError,
			wantResult: `{"error":"The action produced a response that exceeded the allowed length: 2010 \u003e 1000 bytes. The truncated response was: {\"big\":\"xx"}`,
			wantSize:   2010,
			check: func(t *testing.T, r Response) {
				if !r.Truncated {
					t.Errorf("Truncated not set")
				}
			}},
		{name: "too large, chunked", handler: func(w http.ResponseWriter, r *http.Request) {
			for range 30 {
				io.WriteString(w, strings.Repeat("y", 100))
				w.(http.Flusher).Flush()
			}
		}, wantStatus: ApplicationError,
			wantResult: `{"error":"The action produced a response that exceeded the allowed length: 3000 \u003e 1000 bytes. The truncated response was: yyyyyyyyyy"}`,
			wantSize:   3000},
		{name: "timeout", handler: hang, timeout: 100 * time.Millisecond, wantStatus: DeveloperError,
			wantResult: `{"error":"The action exceeded its time limits of 100 milliseconds."}`,
			check: func(t *testing.T, r Response) {
				if !r.Timeout || r.ConnectionLost {
					t.Errorf("Timeout %v ConnectionLost %v, want true false", r.Timeout, r.ConnectionLost)
				}
			}},
		{name: "answer after the limit", handler: func(w http.ResponseWriter, r *http.Request) {
			time.Sleep(60 * time.Millisecond)
			io.WriteString(w, `{}`)
		}, timeout: 50 * time.Millisecond, wantStatus: DeveloperError,
			wantResult: `{"error":"The action exceeded its time limits of 50 milliseconds."}`},
		{name: "connection dropped", handler: func(w http.ResponseWriter, r *http.Request) {
			conn, _, _ := w.(http.Hijacker).Hijack()
			conn.Close()
		}, wantStatus: DeveloperError, wantResult: `{"error":"The action did not produce a valid response and exited unexpectedly."}`,
			check: func(t *testing.T, r Response) {
				if !r.ConnectionLost {
					t.Errorf("ConnectionLost not set")
				}
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := server(t, tt.handler)
			r, err := c.Run(t.Context(), RunRequest{Value: json.RawMessage(`{}`), Timeout: tt.timeout})
			if err != nil {
				t.Fatalf("Run: %v", err)
			}
			if r.Status != tt.wantStatus || string(r.Result) != tt.wantResult {
				t.Errorf("Run = %v %s\nwant %v %s", r.Status, r.Result, tt.wantStatus, tt.wantResult)
			}
			if tt.wantSize != 0 && r.Size != tt.wantSize {
				t.Errorf("Size = %d, want %d", r.Size, tt.wantSize)
			}
			if tt.check != nil {
				tt.check(t, r)
			}
		})
	}
}

func TestRunUnavailable(t *testing.T) {
	c := server(t, reply(503, `{"error":"shutting down"}`))
	if _, err := c.Run(t.Context(), RunRequest{}); !errors.Is(err, ErrUnavailable) {
		t.Errorf("Run against a 503: %v, want ErrUnavailable", err)
	}
	c, err := New(closedAddr(t), Config{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Run(t.Context(), RunRequest{Timeout: time.Second}); !errors.Is(err, ErrUnavailable) {
		t.Errorf("Run against a closed port: %v, want ErrUnavailable", err)
	}
}

func TestRunCancelled(t *testing.T) {
	c := server(t, hang)
	ctx, cancel := context.WithCancel(t.Context())
	time.AfterFunc(50*time.Millisecond, cancel)
	if _, err := c.Run(ctx, RunRequest{Timeout: time.Minute}); !errors.Is(err, context.Canceled) {
		t.Errorf("Run with a cancelled ctx: %v, want context.Canceled", err)
	}
	// A deadline on ctx (without Timeout) is the action's time limit.
	ctx, cancel = context.WithTimeout(t.Context(), 80*time.Millisecond)
	defer cancel()
	r, err := c.Run(ctx, RunRequest{})
	if err != nil || !r.Timeout || r.Status != DeveloperError {
		t.Errorf("Run past the ctx deadline = %+v, %v; want a timeout", r, err)
	}
}

func TestInit(t *testing.T) {
	tests := []struct {
		name       string
		handler    http.HandlerFunc
		wantStatus Status
		wantResult string
	}{
		{"ok", reply(200, `{"ok":true}`), Success, ``},
		{"error field", reply(502, `{"error":"SyntaxError: nope"}`), DeveloperError, `{"error":"SyntaxError: nope"}`},
		{"other body", reply(500, `oops`), DeveloperError, `{"error":"The action failed during initialization: oops"}`},
		{"no body", reply(500, ``), DeveloperError, `{"error":"The action failed during initialization."}`},
		{"too large", reply(200, strings.Repeat("z", 1500)), DeveloperError,
			`{"error":"The action produced a response that exceeded the allowed length: 1500 \u003e 1000 bytes. The truncated response was: zzzzzzzzzz"}`},
		{"dropped", func(w http.ResponseWriter, r *http.Request) {
			conn, _, _ := w.(http.Hijacker).Hijack()
			conn.Close()
		}, DeveloperError, `{"error":"The action did not initialize and exited unexpectedly."}`},
		{"slow", hang, DeveloperError,
			`{"error":"The action exceeded its time limits of 300 milliseconds during initialization."}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sent := make(chan initBody, 1)
			c := server(t, func(w http.ResponseWriter, r *http.Request) {
				if r.URL.Path != "/init" || r.Header.Get("Content-Type") != "application/json" {
					t.Errorf("request %s %s %v", r.Method, r.URL, r.Header)
				}
				var got initBody
				_ = json.NewDecoder(r.Body).Decode(&got)
				sent <- got
				tt.handler(w, r)
			})
			r, err := c.Init(t.Context(), InitRequest{Name: "hello", Code: "code", Env: map[string]string{"__OW_NAMESPACE": "guest"}, Timeout: 300 * time.Millisecond})
			if err != nil {
				t.Fatalf("Init: %v", err)
			}
			if r.Status != tt.wantStatus || string(r.Result) != tt.wantResult {
				t.Errorf("Init = %v %s\nwant %v %s", r.Status, r.Result, tt.wantStatus, tt.wantResult)
			}
			want := initValue{Name: "hello", Main: "main", Code: "code", Env: map[string]string{"__OW_NAMESPACE": "guest"}}
			if got := <-sent; fmt.Sprint(got.Value) != fmt.Sprint(want) {
				t.Errorf("the proxy got %+v, want %+v", got.Value, want)
			}
		})
	}
}

// closedAddr is a loopback address nothing listens on.
func closedAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

func TestInitWaitsForTheRuntime(t *testing.T) {
	addr := closedAddr(t)
	c, err := New(addr, Config{RetryInterval: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	// Nothing listens: the init times out as the action's fault.
	r, err := c.Init(t.Context(), InitRequest{Code: "x", Timeout: 100 * time.Millisecond})
	if err != nil || !r.Timeout || string(r.Result) != `{"error":"The action exceeded its time limits of 100 milliseconds during initialization."}` {
		t.Fatalf("Init with nothing listening = %+v, %v", r, err)
	}

	// The runtime comes up late: Init retries until it answers.
	hs := &http.Server{Handler: reply(200, `{"ok":true}`)}
	defer hs.Close()
	time.AfterFunc(150*time.Millisecond, func() {
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			t.Errorf("listen %s: %v", addr, err)
			return
		}
		go hs.Serve(ln)
	})
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	if err := c.WaitReady(ctx); err != nil {
		t.Fatalf("WaitReady: %v", err)
	}
	r, err = c.Init(t.Context(), InitRequest{Code: "x", Timeout: 5 * time.Second})
	if err != nil || r.Status != Success {
		t.Fatalf("Init once the runtime listens = %+v, %v", r, err)
	}
}

func TestWaitReadyGivesUp(t *testing.T) {
	c, err := New(closedAddr(t), Config{RetryInterval: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
	defer cancel()
	if err := c.WaitReady(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("WaitReady with nothing listening: %v, want deadline exceeded", err)
	}
}

func TestConfig(t *testing.T) {
	if _, err := New("nohost", Config{}); err == nil {
		t.Errorf("New with an address without port: no error")
	}
	if _, err := New("1.2.3.4:8080", Config{MaxResponseBytes: -1}); err == nil {
		t.Errorf("New with a negative limit: no error")
	}
}
