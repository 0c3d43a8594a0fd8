package store

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"go.uber.org/zap"
)

// CouchConfig configures a Couch client.
type CouchConfig struct {
	// URL is the server's base URL, e.g. http://127.0.0.1:5984 (OpenWhisk: protocol, host, port).
	URL      string
	Username string
	Password string
	// Attempts is how often a request is tried when the server is unreachable or answers
	// with a server error (default 5), with exponential back-off from Backoff (default 100 ms,
	// capped at 5 s).
	Attempts int
	Backoff  time.Duration
	// Timeout bounds one HTTP request (default 30 s).
	Timeout time.Duration
}

// Couch is a DocStore over CouchDB's HTTP API.
type Couch struct {
	cfg  CouchConfig
	base *url.URL
	http *http.Client
	log  *zap.Logger
}

var _ DocStore = (*Couch)(nil)

// NewCouch validates cfg; it does not contact the server.
func NewCouch(cfg CouchConfig, log *zap.Logger) (*Couch, error) {
	u, err := url.Parse(strings.TrimRight(cfg.URL, "/"))
	if err != nil || u.Scheme == "" || u.Host == "" {
		return nil, fmt.Errorf("couchdb url %q: want scheme://host:port", cfg.URL)
	}
	if cfg.Attempts <= 0 {
		cfg.Attempts = 5
	}
	if cfg.Backoff <= 0 {
		cfg.Backoff = 100 * time.Millisecond
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 30 * time.Second
	}
	tr := &http.Transport{MaxIdleConnsPerHost: 64, IdleConnTimeout: 90 * time.Second}
	return &Couch{cfg: cfg, base: u, http: &http.Client{Transport: tr, Timeout: cfg.Timeout}, log: log.Named("couchdb")}, nil
}

// docPath escapes a document id as one path segment: "guest/hello" → "guest%2Fhello".
func docPath(db, id string) string {
	return "/" + url.PathEscape(db) + "/" + url.PathEscape(id)
}

type couchError struct {
	Error  string `json:"error"`
	Reason string `json:"reason"`
}

// do sends one request, retrying connection failures and server errors with back-off.
// It returns the status and body of the last answer.
func (c *Couch) do(ctx context.Context, method, path string, query url.Values, header http.Header, body []byte) (int, []byte, http.Header, error) {
	var lastErr error
	delay := c.cfg.Backoff
	for attempt := 0; attempt < c.cfg.Attempts; attempt++ {
		if attempt > 0 {
			select {
			case <-ctx.Done():
				return 0, nil, nil, fmt.Errorf("%s %s: %w (last: %v)", method, path, ctx.Err(), lastErr)
			case <-time.After(delay):
			}
			delay = min(2*delay, 5*time.Second)
		}
		u := *c.base
		u.RawPath = c.base.Path + path
		u.Path, _ = url.PathUnescape(u.RawPath)
		u.RawQuery = query.Encode()
		req, err := http.NewRequestWithContext(ctx, method, u.String(), bytes.NewReader(body))
		if err != nil {
			return 0, nil, nil, fmt.Errorf("%s %s: %w", method, path, err)
		}
		for k, vs := range header {
			req.Header[k] = vs
		}
		req.Header.Set("Accept", "application/json")
		if body != nil && req.Header.Get("Content-Type") == "" {
			req.Header.Set("Content-Type", "application/json")
		}
		if c.cfg.Username != "" {
			req.SetBasicAuth(c.cfg.Username, c.cfg.Password)
		}
		resp, err := c.http.Do(req)
		if err != nil {
			if ctx.Err() != nil {
				return 0, nil, nil, fmt.Errorf("%s %s: %w", method, path, ctx.Err())
			}
			lastErr = err
			continue
		}
		data, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			lastErr = err
			continue
		}
		if resp.StatusCode >= 500 || resp.StatusCode == http.StatusTooManyRequests {
			lastErr = fmt.Errorf("HTTP %d: %s", resp.StatusCode, bytes.TrimSpace(data))
			continue
		}
		return resp.StatusCode, data, resp.Header, nil
	}
	c.log.Warn("couchdb request failed", zap.String("method", method), zap.String("path", path), zap.Int("attempts", c.cfg.Attempts), zap.Error(lastErr))
	return 0, nil, nil, fmt.Errorf("%s %s: %w: %v", method, path, ErrUnavailable, lastErr)
}

// statusError maps a CouchDB answer that is not a success to our sentinels.
func statusError(what string, status int, body []byte) error {
	var ce couchError
	_ = json.Unmarshal(body, &ce)
	switch status {
	case http.StatusNotFound:
		return fmt.Errorf("%s: %w", what, ErrNotFound)
	case http.StatusConflict, http.StatusPreconditionFailed:
		return fmt.Errorf("%s: %w", what, ErrConflict)
	}
	return fmt.Errorf("%s: HTTP %d %s %s", what, status, ce.Error, ce.Reason)
}

// Get implements DocStore.
func (c *Couch) Get(ctx context.Context, db, id string) (Doc, error) {
	status, body, _, err := c.do(ctx, http.MethodGet, docPath(db, id), nil, nil, nil)
	if err != nil {
		return Doc{}, fmt.Errorf("get %s/%s: %w", db, id, err)
	}
	if status != http.StatusOK {
		return Doc{}, statusError("get "+db+"/"+id, status, body)
	}
	var meta struct {
		ID  string `json:"_id"`
		Rev string `json:"_rev"`
	}
	if err := json.Unmarshal(body, &meta); err != nil {
		return Doc{}, fmt.Errorf("get %s/%s: decode: %w", db, id, err)
	}
	return Doc{ID: meta.ID, Rev: meta.Rev, Body: body}, nil
}

// Put implements DocStore.
func (c *Couch) Put(ctx context.Context, db, id, rev string, body json.RawMessage) (string, error) {
	doc, err := withMeta(body, id, rev)
	if err != nil {
		return "", fmt.Errorf("put %s/%s: %w", db, id, err)
	}
	status, data, _, err := c.do(ctx, http.MethodPut, docPath(db, id), nil, nil, doc)
	if err != nil {
		return "", fmt.Errorf("put %s/%s: %w", db, id, err)
	}
	if status != http.StatusCreated && status != http.StatusAccepted {
		return "", statusError("put "+db+"/"+id, status, data)
	}
	return revOf(data)
}

// Delete implements DocStore.
func (c *Couch) Delete(ctx context.Context, db, id, rev string) error {
	status, data, _, err := c.do(ctx, http.MethodDelete, docPath(db, id), url.Values{"rev": {rev}}, nil, nil)
	if err != nil {
		return fmt.Errorf("delete %s/%s: %w", db, id, err)
	}
	if status != http.StatusOK && status != http.StatusAccepted {
		return statusError("delete "+db+"/"+id, status, data)
	}
	return nil
}

// PutAttachment implements DocStore.
func (c *Couch) PutAttachment(ctx context.Context, db, id, rev, name string, att Attachment) (string, error) {
	h := http.Header{"Content-Type": {att.ContentType}}
	if att.ContentType == "" {
		h.Set("Content-Type", "application/octet-stream")
	}
	q := url.Values{}
	if rev != "" {
		q.Set("rev", rev)
	}
	data := att.Data
	if data == nil {
		data = []byte{}
	}
	status, body, _, err := c.do(ctx, http.MethodPut, docPath(db, id)+"/"+url.PathEscape(name), q, h, data)
	if err != nil {
		return "", fmt.Errorf("put attachment %s/%s/%s: %w", db, id, name, err)
	}
	if status != http.StatusCreated && status != http.StatusAccepted {
		return "", statusError("put attachment "+db+"/"+id+"/"+name, status, body)
	}
	return revOf(body)
}

// GetAttachment implements DocStore.
func (c *Couch) GetAttachment(ctx context.Context, db, id, name string) (Attachment, error) {
	status, body, h, err := c.do(ctx, http.MethodGet, docPath(db, id)+"/"+url.PathEscape(name), nil, http.Header{"Accept": {"*/*"}}, nil)
	if err != nil {
		return Attachment{}, fmt.Errorf("get attachment %s/%s/%s: %w", db, id, name, err)
	}
	if status != http.StatusOK {
		return Attachment{}, statusError("get attachment "+db+"/"+id+"/"+name, status, body)
	}
	return Attachment{ContentType: h.Get("Content-Type"), Data: body}, nil
}

// List implements DocStore through _all_docs.
func (c *Couch) List(ctx context.Context, db string, opts ListOptions) ([]Doc, error) {
	q := url.Values{"include_docs": {"true"}}
	start, end := opts.StartID, opts.EndID
	if opts.Descending {
		q.Set("descending", "true")
		start, end = end, start
	}
	if start != "" {
		q.Set("startkey", strconv.Quote(start))
	}
	if end != "" {
		q.Set("endkey", strconv.Quote(end))
	}
	if opts.Skip > 0 {
		q.Set("skip", strconv.Itoa(opts.Skip))
	}
	if opts.Limit > 0 {
		q.Set("limit", strconv.Itoa(opts.Limit))
	}
	status, body, _, err := c.do(ctx, http.MethodGet, "/"+url.PathEscape(db)+"/_all_docs", q, nil, nil)
	if err != nil {
		return nil, fmt.Errorf("list %s: %w", db, err)
	}
	if status != http.StatusOK {
		return nil, statusError("list "+db, status, body)
	}
	var res struct {
		Rows []struct {
			ID  string          `json:"id"`
			Doc json.RawMessage `json:"doc"`
		} `json:"rows"`
	}
	if err := json.Unmarshal(body, &res); err != nil {
		return nil, fmt.Errorf("list %s: decode: %w", db, err)
	}
	docs := make([]Doc, 0, len(res.Rows))
	for _, r := range res.Rows {
		if strings.HasPrefix(r.ID, "_design/") || len(r.Doc) == 0 || string(r.Doc) == "null" {
			continue
		}
		var meta struct {
			Rev string `json:"_rev"`
		}
		_ = json.Unmarshal(r.Doc, &meta)
		docs = append(docs, Doc{ID: r.ID, Rev: meta.Rev, Body: r.Doc})
	}
	return docs, nil
}

// EnsureDB implements DocStore.
func (c *Couch) EnsureDB(ctx context.Context, db string) error {
	status, body, _, err := c.do(ctx, http.MethodPut, "/"+url.PathEscape(db), nil, nil, nil)
	if err != nil {
		return fmt.Errorf("create database %s: %w", db, err)
	}
	switch status {
	case http.StatusCreated, http.StatusAccepted, http.StatusPreconditionFailed:
		return nil
	}
	return statusError("create database "+db, status, body)
}

func revOf(body []byte) (string, error) {
	var r struct {
		Rev string `json:"rev"`
	}
	if err := json.Unmarshal(body, &r); err != nil || r.Rev == "" {
		return "", errors.New("answer carries no revision")
	}
	return r.Rev, nil
}

// withMeta returns body with `_id` set, and `_rev` set when rev is not empty.
func withMeta(body json.RawMessage, id, rev string) ([]byte, error) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(body, &m); err != nil || m == nil {
		return nil, errors.New("document body is not a JSON object")
	}
	idJSON, _ := json.Marshal(id)
	m["_id"] = idJSON
	delete(m, "_rev")
	if rev != "" {
		revJSON, _ := json.Marshal(rev)
		m["_rev"] = revJSON
	}
	return json.Marshal(m)
}
