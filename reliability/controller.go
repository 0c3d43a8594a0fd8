package reliability

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// ControllerConfig is one owcontroller process.
type ControllerConfig struct {
	Env []string // added last (LIMITS_…, CONFIG_whisk_… overrides)
}

// Controller is a running owcontroller process, with a client for its REST API.
type Controller struct {
	*Process
	URL    string // http://127.0.0.1:<port>
	sys    *System
	client *http.Client
}

// StartController starts owcontroller (controller id 0: acks on completed0) for this system
// and waits until its API answers. It is stopped when the test ends.
func (s *System) StartController(cfg ControllerConfig) *Controller {
	tb := s.TB
	tb.Helper()
	host, port, err := splitURL(s.DBs.URL)
	if err != nil {
		tb.Fatal(err)
	}
	listen := "127.0.0.1:" + strconv.Itoa(FreePort(tb))
	env := []string{
		"KAFKA_HOSTS=" + s.Kafka,
		"CONFIG_whisk_kafka_topics_prefix=" + s.Prefix,
		"CONFIG_whisk_couchdb_protocol=http", "CONFIG_whisk_couchdb_host=" + host, "CONFIG_whisk_couchdb_port=" + port,
		"CONFIG_whisk_couchdb_databases_WhiskEntity=" + s.DBs.Whisks,
		"CONFIG_whisk_couchdb_databases_WhiskActivation=" + s.DBs.Activations,
		"CONFIG_whisk_couchdb_databases_WhiskAuth=" + s.DBs.Subjects,
		"RUNTIMES_MANIFEST=" + s.Manifest,
		"CONFIG_logback_log_level=DEBUG",
	}
	env = append(env, cfg.Env...)
	c := &Controller{URL: "http://" + listen, sys: s, client: &http.Client{Timeout: 3 * time.Minute}}
	c.Process = StartProcess(tb, "owcontroller-"+s.Prefix, s.Bins.Controller, []string{"--listen", listen, "--id", "0"}, env)
	c.WaitReady(time.Minute)
	return c
}

// WaitReady waits until the API answers (after a start or restart).
func (c *Controller) WaitReady(timeout time.Duration) {
	tb := c.sys.TB
	tb.Helper()
	deadline := time.Now().Add(timeout)
	probe := &http.Client{Timeout: 2 * time.Second}
	for {
		resp, err := probe.Get(c.URL + "/api/v1")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		if !c.Running() {
			tb.Fatalf("%s exited while starting:\n%s", c.Name, tail(c.Logs(), 40))
		}
		if time.Now().After(deadline) {
			tb.Fatalf("%s did not answer in %v: %v", c.Name, timeout, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// WaitInvokers waits until n invokers are healthy.
func (c *Controller) WaitInvokers(n int, timeout time.Duration) {
	tb := c.sys.TB
	tb.Helper()
	deadline := time.Now().Add(timeout)
	for {
		code, body, _ := c.Do(http.MethodGet, "/invokers/healthy/count", "", nil)
		if got, _ := strconv.Atoi(strings.TrimSpace(string(body))); code == http.StatusOK && got >= n {
			return
		}
		if time.Now().After(deadline) {
			_, all, _ := c.Do(http.MethodGet, "/invokers", "", nil)
			tb.Fatalf("%d healthy invokers after %v, want %d: %s", 0, timeout, n, all)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// Do sends a request with the auth key "uuid:key" (none if empty) and a body (a []byte is
// sent as is, anything else as JSON) and returns the status, the body and the headers.
// A transport error fails the test; use DoErr to see it.
func (c *Controller) Do(method, path, authKey string, body any) (int, []byte, http.Header) {
	tb := c.sys.TB
	tb.Helper()
	code, out, h, err := c.DoErr(method, path, authKey, body)
	if err != nil {
		tb.Fatalf("%s %s: %v", method, path, err)
	}
	return code, out, h
}

// DoErr is Do returning the transport error.
func (c *Controller) DoErr(method, path, authKey string, body any) (int, []byte, http.Header, error) {
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case []byte:
		rd = bytes.NewReader(b)
	default:
		data, err := json.Marshal(b)
		if err != nil {
			return 0, nil, nil, err
		}
		rd = bytes.NewReader(data)
	}
	req, err := http.NewRequest(method, c.URL+path, rd)
	if err != nil {
		return 0, nil, nil, err
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if authKey != "" {
		u, p, _ := strings.Cut(authKey, ":")
		req.SetBasicAuth(u, p)
	}
	resp, err := c.client.Do(req)
	if err != nil {
		return 0, nil, nil, err
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	if err != nil {
		return resp.StatusCode, out, resp.Header, fmt.Errorf("read body: %w", err)
	}
	return resp.StatusCode, out, resp.Header, nil
}

// PutAction creates or replaces an action through the API, failing the test unless it is
// accepted.
func (c *Controller) PutAction(authKey, name string, doc map[string]any) {
	tb := c.sys.TB
	tb.Helper()
	code, body, _ := c.Do(http.MethodPut, "/api/v1/namespaces/_/actions/"+name+"?overwrite=true", authKey, doc)
	if code != http.StatusOK {
		tb.Fatalf("PUT action %s: %d %s", name, code, body)
	}
}
