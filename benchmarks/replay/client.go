package replay

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// client speaks the parts of OpenWhisk's REST API a replay needs.
type client struct {
	base      string // API host, no trailing slash
	user      string
	pass      string
	namespace string
	http      *http.Client
}

func newClient(apiHost, auth, namespace string) (*client, error) {
	u, err := url.Parse(apiHost)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("api host %q: want http(s)://host:port", apiHost)
	}
	user, pass, ok := strings.Cut(auth, ":")
	if !ok || user == "" || pass == "" {
		return nil, errors.New("auth: want uuid:key")
	}
	if namespace == "" {
		namespace = "_"
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConns, tr.MaxIdleConnsPerHost = 1024, 1024
	return &client{base: strings.TrimRight(apiHost, "/"), user: user, pass: pass, namespace: namespace,
		http: &http.Client{Transport: tr}}, nil
}

func (c *client) do(ctx context.Context, method, path string, body any) (int, []byte, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return 0, nil, err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, rd)
	if err != nil {
		return 0, nil, err
	}
	req.SetBasicAuth(c.user, c.pass)
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.http.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 8<<20))
	return resp.StatusCode, b, err
}

func (c *client) actionPath(name string) string {
	return "/api/v1/namespaces/" + url.PathEscape(c.namespace) + "/actions/" + url.PathEscape(name)
}

// putAction creates or replaces an action.
func (c *client) putAction(ctx context.Context, name, kind, code string, memoryMB, timeoutMS int) error {
	body := map[string]any{
		"exec":   map[string]any{"kind": kind, "code": code},
		"limits": map[string]any{"memory": memoryMB, "timeout": timeoutMS, "logs": 10, "concurrency": 1},
	}
	st, b, err := c.do(ctx, http.MethodPut, c.actionPath(name)+"?overwrite=true", body)
	if err != nil {
		return fmt.Errorf("put action %s: %w", name, err)
	}
	if st != http.StatusOK {
		return fmt.Errorf("put action %s: %d %s", name, st, clip(b))
	}
	return nil
}

// deleteAction removes an action; a missing one is not an error.
func (c *client) deleteAction(ctx context.Context, name string) error {
	st, b, err := c.do(ctx, http.MethodDelete, c.actionPath(name), nil)
	if err != nil {
		return fmt.Errorf("delete action %s: %w", name, err)
	}
	if st != http.StatusOK && st != http.StatusNotFound {
		return fmt.Errorf("delete action %s: %d %s", name, st, clip(b))
	}
	return nil
}

// invoke posts a blocking invocation and returns the HTTP status and body.
func (c *client) invoke(ctx context.Context, name string, params any) (int, []byte, error) {
	return c.do(ctx, http.MethodPost, c.actionPath(name)+"?blocking=true", params)
}

// activation fetches an activation record by id: found false while it is not there.
func (c *client) activation(ctx context.Context, id string) (act *activation, found bool, err error) {
	st, b, err := c.do(ctx, http.MethodGet, "/api/v1/namespaces/"+url.PathEscape(c.namespace)+"/activations/"+url.PathEscape(id), nil)
	if err != nil {
		return nil, false, err
	}
	if st == http.StatusNotFound {
		return nil, false, nil
	}
	if st != http.StatusOK {
		return nil, false, fmt.Errorf("get activation %s: %d %s", id, st, clip(b))
	}
	var a activation
	if err := json.Unmarshal(b, &a); err != nil {
		return nil, false, fmt.Errorf("get activation %s: %w", id, err)
	}
	return &a, true, nil
}

// activation is the part of an activation record a replay reads.
type activation struct {
	ActivationID string `json:"activationId"`
	Start        int64  `json:"start"`
	End          int64  `json:"end"`
	Duration     *int64 `json:"duration"`
	Response     struct {
		Status string          `json:"status"`
		Result json.RawMessage `json:"result"`
	} `json:"response"`
	Annotations []struct {
		Key   string          `json:"key"`
		Value json.RawMessage `json:"value"`
	} `json:"annotations"`
}

func (a *activation) annotation(key string) (json.RawMessage, bool) {
	for _, kv := range a.Annotations {
		if kv.Key == key {
			return kv.Value, true
		}
	}
	return nil, false
}

func (a *activation) intAnnotation(key string) (int64, bool) {
	raw, ok := a.annotation(key)
	if !ok {
		return 0, false
	}
	var f float64
	if json.Unmarshal(raw, &f) != nil {
		return 0, false
	}
	return int64(f), true
}

func (a *activation) stringAnnotation(key string) string {
	raw, ok := a.annotation(key)
	if !ok {
		return ""
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	var n json.Number
	if json.Unmarshal(raw, &n) == nil {
		return n.String()
	}
	return ""
}

func clip(b []byte) string {
	s := strings.TrimSpace(string(b))
	if len(s) > 200 {
		s = s[:200] + "…"
	}
	return s
}

// pollInterval is how often a 202'd activation is looked for.
const pollInterval = 500 * time.Millisecond

// healthyInvokers asks the controller how many invokers are healthy
// (GET /invokers/healthy/count, as OpenWhisk's controller answers it).
func (c *client) healthyInvokers(ctx context.Context) (int, error) {
	st, b, err := c.do(ctx, http.MethodGet, "/invokers/healthy/count", nil)
	if err != nil {
		return 0, err
	}
	if st != http.StatusOK {
		return 0, fmt.Errorf("healthy invokers: %d %s", st, clip(b))
	}
	var n int
	if err := json.Unmarshal(b, &n); err != nil {
		return 0, fmt.Errorf("healthy invokers: %q: %w", clip(b), err)
	}
	return n, nil
}
