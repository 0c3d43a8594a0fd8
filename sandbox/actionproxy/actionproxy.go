// Package actionproxy is the invoker's client for the action container protocol: POST /init
// once per container, POST /run per activation (spec §8.2–8.5), with the replies classified
// into OpenWhisk's activation response statuses exactly as the Scala invoker does.
//
// A Client talks to one container and owns its keep-alive connections; Close drops them
// (before the container is paused or removed).
//
//	c, _ := actionproxy.New("172.17.0.5:8080", actionproxy.Config{})
//	defer c.Close()
//	if err := c.WaitReady(ctx); err != nil { … }
//	init, err := c.Init(ctx, actionproxy.InitRequest{Name: "hello", Main: "main", Code: src, Timeout: limit})
//	if init.Status != actionproxy.Success { … init.Result holds {"error": …} }
//	res, err := c.Run(ctx, actionproxy.RunRequest{Value: params, ActivationID: id, Timeout: limit, …})
//
// Init and Run return a Response for every outcome the action caused, including timeouts
// (status 2, Timeout set). They return an error only when the activation did not happen in
// the container: ErrUnavailable (the runtime answered 503 or, for Run, refused the
// connection; reschedule or fail with status 3), or the caller's ctx being cancelled.
package actionproxy

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"sort"
	"strconv"
	"syscall"
	"time"
	"unicode/utf8"
)

// Status is an activation response status code (ActivationResponse.statusCode).
type Status int

// The four activation response statuses.
const (
	Success          Status = 0
	ApplicationError Status = 1
	DeveloperError   Status = 2
	WhiskError       Status = 3
)

func (s Status) String() string {
	switch s {
	case Success:
		return "success"
	case ApplicationError:
		return "application error"
	case DeveloperError:
		return "action developer error"
	case WhiskError:
		return "whisk internal error"
	}
	return "status(" + strconv.Itoa(int(s)) + ")"
}

// OpenWhisk's texts for results the invoker makes up (spec §6.2).
const (
	MsgTimeout         = "The action exceeded its time limits of %d milliseconds."
	MsgInitTimeout     = "The action exceeded its time limits of %d milliseconds during initialization."
	MsgInitExited      = "The action did not initialize and exited unexpectedly."
	MsgRunExited       = "The action did not produce a valid response and exited unexpectedly."
	MsgOOM             = "The action exhausted its memory and was aborted."
	MsgInitFailed      = "The action failed during initialization"                        // + ": <body>" or "."
	MsgInvalidResponse = "The action did not produce a valid JSON or JSON Array response" // + ": <body>" or "."
	MsgTruncated       = "The action produced a response that exceeded the allowed length: %d > %d bytes. The truncated response was: %s"
)

// ErrUnavailable means the runtime refused the activation: it answered 503 (shutting down)
// or, for Run, refused the connection. The container must be destroyed; the job may run
// elsewhere.
var ErrUnavailable = errors.New("action container unavailable")

// Config tunes a Client. The zero value is OpenWhisk's defaults.
type Config struct {
	// MaxResponseBytes is the largest /run and /init response accepted (OpenWhisk's
	// whisk.activation.payload.max, or a user's maxPayloadSize). Default 1 MiB.
	MaxResponseBytes int64
	// TruncationBytes is how much of a too-large response is quoted in the error
	// (whisk.activation.payload.truncation). Default 1 MiB.
	TruncationBytes int64
	// RetryInterval is the pause between connection attempts while the runtime starts.
	// Default 50 ms.
	RetryInterval time.Duration
	// MaxIdleConns is the number of keep-alive connections kept to the container.
	// Default 2.
	MaxIdleConns int
}

func (c *Config) validate() error {
	if c.MaxResponseBytes < 0 || c.TruncationBytes < 0 || c.RetryInterval < 0 || c.MaxIdleConns < 0 {
		return errors.New("actionproxy: negative config value")
	}
	if c.MaxResponseBytes == 0 {
		c.MaxResponseBytes = 1 << 20
	}
	if c.TruncationBytes == 0 {
		c.TruncationBytes = 1 << 20
	}
	if c.RetryInterval == 0 {
		c.RetryInterval = 50 * time.Millisecond
	}
	if c.MaxIdleConns == 0 {
		c.MaxIdleConns = 2
	}
	return nil
}

// Client talks to the action proxy of one container.
type Client struct {
	addr string
	base string
	cfg  Config
	tr   *http.Transport
	hc   *http.Client
}

// New returns a Client for the proxy at addr ("host:port", usually "<container ip>:8080").
func New(addr string, cfg Config) (*Client, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	if _, _, err := net.SplitHostPort(addr); err != nil {
		return nil, fmt.Errorf("actionproxy: address %q: %w", addr, err)
	}
	tr := &http.Transport{
		Proxy:               nil, // containers are reached directly, never through a proxy
		DialContext:         (&net.Dialer{KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:        cfg.MaxIdleConns,
		MaxIdleConnsPerHost: cfg.MaxIdleConns,
		IdleConnTimeout:     10 * time.Minute,
		DisableCompression:  true,
	}
	return &Client{
		addr: addr,
		base: "http://" + addr,
		cfg:  cfg,
		tr:   tr,
		hc:   &http.Client{Transport: tr},
	}, nil
}

// Close drops the idle connections. The Client stays usable (it dials again).
func (c *Client) Close() { c.tr.CloseIdleConnections() }

// Addr is the proxy's address.
func (c *Client) Addr() string { return c.addr }

// WaitReady dials the proxy every RetryInterval until it accepts a connection or ctx ends.
func (c *Client) WaitReady(ctx context.Context) error {
	var d net.Dialer
	for {
		conn, err := d.DialContext(ctx, "tcp", c.addr)
		if err == nil {
			conn.Close()
			return nil
		}
		t := time.NewTimer(c.cfg.RetryInterval)
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("wait for the action proxy at %s: %w (last: %v)", c.addr, ctx.Err(), err)
		case <-t.C:
		}
	}
}

// InitRequest is the action to install with /init.
type InitRequest struct {
	Name   string
	Main   string // "main" if empty
	Binary bool
	// Code is the source text, or base64 for binary code; empty means no code (a blackbox
	// image that brings its own).
	Code string
	// Env becomes the action's environment: init parameters and the __OW_* context.
	Env map[string]string
	// Timeout is the action's time limit; it bounds /init (connection retries included).
	Timeout time.Duration
}

// RunRequest is one activation for /run.
type RunRequest struct {
	// Value is the activation's parameters: a JSON object (or array). Nil means {}.
	Value json.RawMessage
	// Context keys, sent unprefixed; the runtime turns them into __OW_* variables.
	Namespace     string
	ActionName    string
	ActionVersion *string // nil sends null
	ActivationID  string
	TransactionID string
	Deadline      time.Time // sent as epoch milliseconds in a string; zero omits it
	// AuthKey holds the fields of the user's authkey (normally "api_key"), each sent as a
	// context key; nil when the action's provide-api-key annotation is falsy.
	AuthKey map[string]json.RawMessage
	// Timeout is the action's time limit; it bounds /run.
	Timeout time.Duration
}

// Response is the outcome of /init or /run as an activation response.
type Response struct {
	Status Status
	// Result is the action's result for Success and ApplicationError, {"error": …} for
	// the others; nil after a successful /init.
	Result json.RawMessage
	// Size is the length of the response body in characters (UTF-16 units, as OpenWhisk
	// counts them), or the announced length of a truncated one; 0 if there was none.
	Size int
	// HTTPStatus is the proxy's HTTP status, 0 if none arrived.
	HTTPStatus int
	// Timeout is set when the action ran out of time (annotation "timeout": true).
	Timeout bool
	// ConnectionLost is set when the connection failed without a timeout; the caller may
	// check whether the container was OOM-killed and use MsgOOM instead.
	ConnectionLost bool
	// Truncated is set when the response exceeded MaxResponseBytes.
	Truncated bool
	// Elapsed is the time from sending the request to the end of the response.
	Elapsed time.Duration
}

// errActionTimeout is the cause of the context that bounds a request by the action's limit.
var errActionTimeout = errors.New("action time limit reached")

type initBody struct {
	Value initValue `json:"value"`
}

type initValue struct {
	Name   string            `json:"name"`
	Main   string            `json:"main"`
	Binary bool              `json:"binary"`
	Code   string            `json:"code,omitempty"`
	Env    map[string]string `json:"env,omitempty"`
}

// Init sends /init, retrying while the connection is refused, until req.Timeout or ctx ends.
func (c *Client) Init(ctx context.Context, req InitRequest) (Response, error) {
	main := req.Main
	if main == "" {
		main = "main"
	}
	body, err := json.Marshal(initBody{Value: initValue{
		Name: req.Name, Main: main, Binary: req.Binary, Code: req.Code, Env: req.Env,
	}})
	if err != nil {
		return Response{}, fmt.Errorf("encode /init: %w", err)
	}

	rctx, cancel := limit(ctx, req.Timeout)
	defer cancel()
	start := time.Now()
	for {
		hr, err := c.post(rctx, "/init", body)
		if err == nil {
			defer hr.Body.Close()
			return c.initReply(ctx, rctx, req.Timeout, start, hr)
		}
		if retryable(err) && rctx.Err() == nil {
			t := time.NewTimer(c.cfg.RetryInterval)
			select {
			case <-rctx.Done():
				t.Stop()
			case <-t.C:
				continue
			}
		}
		return c.failed(ctx, rctx, req.Timeout, start, err, true)
	}
}

func (c *Client) initReply(ctx, rctx context.Context, timeout time.Duration, start time.Time, hr *http.Response) (Response, error) {
	if hr.StatusCode == http.StatusServiceUnavailable {
		return Response{HTTPStatus: hr.StatusCode}, fmt.Errorf("/init: %w: 503 from the runtime", ErrUnavailable)
	}
	body, size, truncated, err := c.read(hr)
	elapsed := time.Since(start)
	if err != nil {
		return c.failed(ctx, rctx, timeout, start, err, true)
	}
	if timeout > 0 && elapsed >= timeout {
		return timedOut(MsgInitTimeout, timeout, elapsed), nil
	}
	r := Response{HTTPStatus: hr.StatusCode, Size: size, Elapsed: elapsed}
	switch {
	case truncated:
		r.Status, r.Truncated = DeveloperError, true
		r.Result = c.truncatedError(body, size)
	case hr.StatusCode == http.StatusOK:
		r.Status = Success
	default:
		r.Status = DeveloperError
		if e, ok := errorField(body); ok {
			r.Result = errorResult(e)
		} else {
			r.Result = errorText(withBody(MsgInitFailed, body))
		}
	}
	return r, nil
}

// Run sends /run and classifies the reply (spec §8.4).
func (c *Client) Run(ctx context.Context, req RunRequest) (Response, error) {
	body, err := runBody(req)
	if err != nil {
		return Response{}, err
	}
	rctx, cancel := limit(ctx, req.Timeout)
	defer cancel()
	start := time.Now()
	hr, err := c.post(rctx, "/run", body)
	if err != nil {
		if retryable(err) && rctx.Err() == nil {
			return Response{}, fmt.Errorf("/run: %w: %v", ErrUnavailable, err)
		}
		return c.failed(ctx, rctx, req.Timeout, start, err, false)
	}
	defer hr.Body.Close()
	if hr.StatusCode == http.StatusServiceUnavailable {
		return Response{HTTPStatus: hr.StatusCode}, fmt.Errorf("/run: %w: 503 from the runtime", ErrUnavailable)
	}
	out, size, truncated, err := c.read(hr)
	elapsed := time.Since(start)
	if err != nil {
		return c.failed(ctx, rctx, req.Timeout, start, err, false)
	}
	if req.Timeout > 0 && elapsed >= req.Timeout {
		return timedOut(MsgTimeout, req.Timeout, elapsed), nil
	}
	r := Response{HTTPStatus: hr.StatusCode, Size: size, Elapsed: elapsed}
	if truncated {
		r.Status, r.Truncated = ApplicationError, true
		r.Result = c.truncatedError(out, size)
		return r, nil
	}
	r.Status, r.Result = classify(hr.StatusCode, out)
	return r, nil
}

// classify maps a complete /run reply to a status and result.
func classify(code int, body []byte) (Status, json.RawMessage) {
	trimmed := bytes.TrimSpace(body)
	var obj map[string]json.RawMessage
	isObj := len(trimmed) > 0 && trimmed[0] == '{' && json.Unmarshal(trimmed, &obj) == nil
	isArr := !isObj && len(trimmed) > 0 && trimmed[0] == '[' && json.Valid(trimmed)
	switch {
	case code == http.StatusOK && isObj:
		if e, ok := obj["error"]; ok {
			return ApplicationError, errorResult(e)
		}
		return Success, json.RawMessage(trimmed)
	case code == http.StatusOK && isArr:
		return Success, json.RawMessage(trimmed)
	case isObj:
		if e, ok := obj["error"]; ok {
			return DeveloperError, errorResult(e)
		}
	}
	return DeveloperError, errorText(withBody(MsgInvalidResponse, body))
}

// failed turns a transport error into a Response (timeouts, dropped connections) or, if the
// caller's ctx was cancelled, into that error.
func (c *Client) failed(ctx, rctx context.Context, timeout time.Duration, start time.Time, err error, init bool) (Response, error) {
	elapsed := time.Since(start)
	msg, exited := MsgTimeout, MsgRunExited
	if init {
		msg, exited = MsgInitTimeout, MsgInitExited
	}
	switch {
	case errors.Is(context.Cause(rctx), errActionTimeout) || errors.Is(ctx.Err(), context.DeadlineExceeded):
		if timeout <= 0 {
			timeout = elapsed.Round(time.Millisecond)
		}
		return timedOut(msg, timeout, elapsed), nil
	case ctx.Err() != nil:
		return Response{Elapsed: elapsed}, fmt.Errorf("action request: %w", ctx.Err())
	}
	return Response{Status: DeveloperError, Result: errorText(exited), ConnectionLost: true, Elapsed: elapsed}, nil
}

func timedOut(format string, timeout, elapsed time.Duration) Response {
	return Response{
		Status:  DeveloperError,
		Result:  errorText(fmt.Sprintf(format, timeout.Milliseconds())),
		Timeout: true,
		Elapsed: elapsed,
	}
}

// limit bounds ctx by the action's time limit, with errActionTimeout as the cause.
func limit(ctx context.Context, timeout time.Duration) (context.Context, context.CancelFunc) {
	if timeout <= 0 {
		return context.WithCancel(ctx)
	}
	return context.WithTimeoutCause(ctx, timeout, errActionTimeout)
}

func (c *Client) post(ctx context.Context, path string, body []byte) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.base+path, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	return c.hc.Do(req)
}

// read reads a response body up to MaxResponseBytes. A longer body is reported truncated,
// with its announced length (or the length counted, for a body without Content-Length)
// and its first bytes.
func (c *Client) read(hr *http.Response) (body []byte, size int, truncated bool, err error) {
	max := c.cfg.MaxResponseBytes
	if hr.ContentLength > max {
		head, err := io.ReadAll(io.LimitReader(hr.Body, c.cfg.TruncationBytes))
		if err != nil {
			return nil, 0, false, err
		}
		return head, int(hr.ContentLength), true, nil
	}
	body, err = io.ReadAll(io.LimitReader(hr.Body, max+1))
	if err != nil {
		return nil, 0, false, err
	}
	if int64(len(body)) <= max {
		return body, utf16Len(body), false, nil
	}
	// No Content-Length: count the rest, within reason, for the message.
	rest, err := io.Copy(io.Discard, io.LimitReader(hr.Body, 64*max))
	if err != nil {
		return nil, 0, false, err
	}
	n := int64(len(body)) + rest
	if int64(len(body)) > c.cfg.TruncationBytes {
		body = body[:c.cfg.TruncationBytes]
	}
	return body, int(n), true, nil
}

func (c *Client) truncatedError(head []byte, size int) json.RawMessage {
	if int64(len(head)) > c.cfg.TruncationBytes {
		head = head[:c.cfg.TruncationBytes]
	}
	// Do not cut a UTF-8 sequence in two.
	for len(head) > 0 && !utf8.Valid(head[max(0, len(head)-utf8.UTFMax):]) {
		head = head[:len(head)-1]
	}
	return errorText(fmt.Sprintf(MsgTruncated, size, c.cfg.MaxResponseBytes, head))
}

// runBody writes the /run body: value, then the context keys, then the authkey fields.
func runBody(req RunRequest) ([]byte, error) {
	var b bytes.Buffer
	value := bytes.TrimSpace(req.Value)
	if len(value) == 0 {
		value = []byte("{}")
	}
	if !json.Valid(value) {
		return nil, errors.New("encode /run: the value is not valid JSON")
	}
	b.WriteString(`{"value":`)
	b.Write(value)
	field := func(k string, v any) error {
		raw, err := json.Marshal(v)
		if err != nil {
			return fmt.Errorf("encode /run %s: %w", k, err)
		}
		b.WriteString(`,"` + k + `":`)
		b.Write(raw)
		return nil
	}
	_ = field("namespace", req.Namespace)
	_ = field("action_name", req.ActionName)
	_ = field("action_version", req.ActionVersion)
	_ = field("activation_id", req.ActivationID)
	_ = field("transaction_id", req.TransactionID)
	if !req.Deadline.IsZero() {
		_ = field("deadline", strconv.FormatInt(req.Deadline.UnixMilli(), 10))
	}
	keys := make([]string, 0, len(req.AuthKey))
	for k := range req.AuthKey {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		v := bytes.TrimSpace(req.AuthKey[k])
		if !json.Valid(v) {
			return nil, fmt.Errorf("encode /run: authkey field %q is not valid JSON", k)
		}
		if err := field(k, json.RawMessage(v)); err != nil {
			return nil, err
		}
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

// retryable reports a connection that was refused or had no route: the runtime is not
// listening (yet), and nothing was sent.
func retryable(err error) bool {
	return errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.EHOSTUNREACH) ||
		errors.Is(err, syscall.ENETUNREACH)
}

// errorField returns the "error" value of a JSON object body.
func errorField(body []byte) (json.RawMessage, bool) {
	var obj map[string]json.RawMessage
	if json.Unmarshal(body, &obj) != nil {
		return nil, false
	}
	e, ok := obj["error"]
	return e, ok
}

func errorResult(e json.RawMessage) json.RawMessage {
	var b bytes.Buffer
	b.WriteString(`{"error":`)
	if err := json.Compact(&b, e); err != nil {
		b.Write(e)
	}
	b.WriteByte('}')
	return b.Bytes()
}

func errorText(msg string) json.RawMessage {
	out, _ := json.Marshal(map[string]string{"error": msg})
	return out
}

func withBody(msg string, body []byte) string {
	if len(bytes.TrimSpace(body)) == 0 {
		return msg + "."
	}
	return msg + ": " + string(body)
}

// utf16Len is the length of b as a Java string (UTF-16 code units).
func utf16Len(b []byte) int {
	n := 0
	for len(b) > 0 {
		r, size := utf8.DecodeRune(b)
		b = b[size:]
		if r >= 0x10000 {
			n += 2
		} else {
			n++
		}
	}
	return n
}
