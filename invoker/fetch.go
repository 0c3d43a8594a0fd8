package invoker

import (
	"container/list"
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/owinvoker/owinvoker/invoker/action"
	"github.com/owinvoker/owinvoker/invoker/message"
	"github.com/owinvoker/owinvoker/invoker/store"
	"github.com/owinvoker/owinvoker/sandbox/manifest"
)

// Fetched is an action ready to run: its document and its code resolved to bytes (nil for
// text code kept in the document and for actions without code).
type Fetched struct {
	Action  *action.Action
	Code    []byte
	Runtime manifest.Runtime // zero for blackbox actions
}

// fetchError is a fetch or validation failure with the activation response it becomes
// (spec §7.7).
type fetchError struct {
	resp message.ActivationResponse
	err  error
}

func (e *fetchError) Error() string { return e.err.Error() }
func (e *fetchError) Unwrap() error { return e.err }

// Fetcher reads actions from the whisks database, with a cache keyed by document id and
// revision (entries expire 5 minutes after their last use, as OpenWhisk's do).
type Fetcher struct {
	store    store.DocStore
	db       string
	manifest *manifest.Manifest
	log      *zap.Logger
	now      func() time.Time

	mu    sync.Mutex
	lru   *list.List // of *cacheEntry, most recent first
	byKey map[cacheKey]*list.Element
	max   int
	ttl   time.Duration
}

type cacheKey struct{ id, rev string }

type cacheEntry struct {
	key      cacheKey
	fetched  *Fetched
	lastUsed time.Time
}

// NewFetcher returns a fetcher over db (the whisks database).
func NewFetcher(s store.DocStore, db string, m *manifest.Manifest, log *zap.Logger, now func() time.Time) *Fetcher {
	return &Fetcher{store: s, db: db, manifest: m, log: log.Named("fetch"), now: now,
		lru: list.New(), byKey: map[cacheKey]*list.Element{}, max: 1024, ttl: 5 * time.Minute}
}

// Fetch returns the action a message names. With a revision it uses the cache; a document
// whose revision differs from the message's is dropped and the latest one fetched uncached
// and run (spec §7.5). Errors are *fetchError carrying the response to record.
func (f *Fetcher) Fetch(ctx context.Context, msg *message.ActivationMessage) (*Fetched, error) {
	id := msg.Action.DocID()
	rev := string(msg.Revision)
	if rev != "" {
		if fe := f.cached(cacheKey{id, rev}); fe != nil {
			return fe, nil
		}
	}
	fe, err := f.load(ctx, id)
	if err != nil {
		return nil, err
	}
	if rev != "" && fe.Action.Rev == rev {
		f.remember(cacheKey{id, rev}, fe)
	}
	return fe, nil
}

func (f *Fetcher) load(ctx context.Context, id string) (*Fetched, error) {
	doc, err := f.store.Get(ctx, f.db, id)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return nil, &fetchError{message.ErrorTextResponse(message.StatusApplicationError, message.TextActionRemoved), err}
	case err != nil:
		return nil, &fetchError{message.ErrorTextResponse(message.StatusWhiskError, message.TextActionFetchError), err}
	}
	a, err := action.Decode(doc.Body)
	if err != nil {
		return nil, &fetchError{message.ErrorTextResponse(message.StatusWhiskError, message.TextActionMismatch), err}
	}
	a.Rev = doc.Rev
	var rt manifest.Runtime
	if a.Exec.Kind != action.KindBlackbox && a.Exec.Kind != action.KindSequence {
		err = a.Resolve(func(kind string) (action.Runtime, error) {
			r, err := f.manifest.Resolve(kind)
			if err != nil {
				return action.Runtime{}, err
			}
			rt = r
			return action.Runtime{Kind: r.Kind, Attached: r.Attached != nil, RequireMain: r.RequireMain}, nil
		})
		if err != nil {
			return nil, &fetchError{message.ErrorTextResponse(message.StatusWhiskError, message.TextActionMismatch), err}
		}
	}
	fe := &Fetched{Action: a, Runtime: rt}
	if c := a.Exec.Code; c != nil && c.Attachment != nil {
		switch {
		case c.Attachment.IsInline():
			fe.Code, err = c.Attachment.InlineBytes()
			if err != nil {
				return nil, &fetchError{message.ErrorTextResponse(message.StatusWhiskError, message.TextActionMismatch), err}
			}
		default:
			name, ok := c.Attachment.CouchName()
			if !ok {
				return nil, &fetchError{message.ErrorTextResponse(message.StatusWhiskError, message.TextActionFetchError),
					fmt.Errorf("attachment %q: store not supported", c.Attachment.Scheme())}
			}
			att, err := f.store.GetAttachment(ctx, f.db, id, name)
			if err != nil {
				return nil, &fetchError{message.ErrorTextResponse(message.StatusWhiskError, message.TextActionFetchError), err}
			}
			fe.Code = att.Data
		}
	}
	return fe, nil
}

func (f *Fetcher) cached(k cacheKey) *Fetched {
	f.mu.Lock()
	defer f.mu.Unlock()
	el, ok := f.byKey[k]
	if !ok {
		return nil
	}
	e := el.Value.(*cacheEntry)
	now := f.now()
	if now.Sub(e.lastUsed) > f.ttl {
		f.lru.Remove(el)
		delete(f.byKey, k)
		return nil
	}
	e.lastUsed = now
	f.lru.MoveToFront(el)
	return e.fetched
}

func (f *Fetcher) remember(k cacheKey, fe *Fetched) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if el, ok := f.byKey[k]; ok {
		f.lru.Remove(el)
	}
	f.byKey[k] = f.lru.PushFront(&cacheEntry{key: k, fetched: fe, lastUsed: f.now()})
	for f.lru.Len() > f.max {
		last := f.lru.Back()
		f.lru.Remove(last)
		delete(f.byKey, last.Value.(*cacheEntry).key)
	}
}
