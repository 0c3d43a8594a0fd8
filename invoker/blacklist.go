package invoker

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sync"
	"time"

	"go.uber.org/zap"
)

// blacklist is the set of namespaces whose activations are rejected (spec §7.8): every poll
// interval the invoker reads the subjects database's
// namespaceThrottlings/blockedNamespaces view. Only CouchDB serves views; with the embedded
// store the set stays empty.
type blacklist struct {
	mu  sync.RWMutex
	set map[string]struct{}
}

func (b *blacklist) contains(ns string) bool {
	if b == nil {
		return false
	}
	b.mu.RLock()
	defer b.mu.RUnlock()
	_, ok := b.set[ns]
	return ok
}

func (b *blacklist) replace(names []string) {
	set := make(map[string]struct{}, len(names))
	for _, n := range names {
		set[n] = struct{}{}
	}
	b.mu.Lock()
	b.set = set
	b.mu.Unlock()
}

// blacklistPoller reads the view over CouchDB's HTTP API.
type blacklistPoller struct {
	url      string // base URL of the server
	user     string
	password string
	db       string
	client   *http.Client
	log      *zap.Logger
}

// errNoView: the design document is not installed (ansible installs it; a bare CouchDB-API
// server has none), which means no namespace is blocked.
var errNoView = errors.New("blockedNamespaces view not installed")

func (p *blacklistPoller) poll(ctx context.Context) ([]string, error) {
	u := p.url + "/" + url.PathEscape(p.db) + "/_design/namespaceThrottlings/_view/blockedNamespaces?stale=update_after&descending=true&reduce=false"
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	if p.user != "" {
		req.SetBasicAuth(p.user, p.password)
	}
	resp, err := p.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("blocked namespaces: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return nil, fmt.Errorf("blocked namespaces: %w", err)
	}
	if resp.StatusCode == http.StatusNotFound {
		return nil, errNoView
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("blocked namespaces: HTTP %d", resp.StatusCode)
	}
	var v struct {
		Rows []struct {
			Key string `json:"key"`
		} `json:"rows"`
	}
	if err := json.Unmarshal(body, &v); err != nil {
		return nil, fmt.Errorf("blocked namespaces: %w", err)
	}
	names := make([]string, 0, len(v.Rows))
	for _, r := range v.Rows {
		names = append(names, r.Key)
	}
	return names, nil
}

// run refreshes b every interval until ctx ends. A failed poll keeps the last set.
func (p *blacklistPoller) run(ctx context.Context, b *blacklist, interval time.Duration) {
	for {
		names, err := p.poll(ctx)
		switch {
		case err == nil:
			b.replace(names)
		case errors.Is(err, errNoView):
			b.replace(nil)
		case ctx.Err() == nil:
			p.log.Warn("namespace blacklist not refreshed", zap.Error(err))
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(interval):
		}
	}
}
