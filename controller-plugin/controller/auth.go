package controller

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/owinvoker/owinvoker/invoker/message"
	"github.com/owinvoker/owinvoker/invoker/store"
	"go.uber.org/zap"
)

// The identities seeded into an empty subjects database, as OpenWhisk's ansible
// deployment creates them (ansible/files/auth.guest and auth.whisk.system).
const (
	GuestKey       = "23bc46b1-71f6-4ed5-8c54-816aa4f8c502:123zO3xZCLrMN6v2BKK1dXYFpXlPkccOFqm12CdAsMgRU4VrNZ9lyGVCGuMDGIwP"
	WhiskSystemKey = "789c46b1-71f6-4ed5-8c54-816aa4f8c502:abczO3xZCLrMN6v2BKK1dXYFpXlPkccOFqm12CdAsMgRU4VrNZ9lyGVCGuMDGIwP"
)

// rights every authenticated identity holds (OpenWhisk's Privilege.ALL).
var allRights = []string{"READ", "PUT", "DELETE", "ACTIVATE"}

// identity is an authenticated caller: the namespace it owns, its key and its limits.
type identity struct {
	Subject   string
	Namespace string
	UUID      string
	Key       string
	Limits    message.UserLimits
}

// apiKey returns "uuid:key", the api_key of the action environment.
func (id *identity) apiKey() string { return id.UUID + ":" + id.Key }

// message returns the Identity an ActivationMessage carries.
func (id *identity) message() message.Identity {
	key, _ := json.Marshal(id.apiKey())
	return message.Identity{
		Subject:   id.Subject,
		Namespace: message.Namespace{Name: id.Namespace, UUID: id.UUID},
		AuthKey:   map[string]json.RawMessage{"api_key": key},
		Rights:    append([]string(nil), allRights...),
		Limits:    id.Limits,
	}
}

// subjectDoc is a document of the subjects database as OpenWhisk stores it
// (WhiskAuth): a subject owning namespaces, each with its uuid and secret key.
// A namespace's limits live in a separate document "<namespace>/limits".
type subjectDoc struct {
	ID         string             `json:"_id"`
	Subject    string             `json:"subject"`
	Blocked    bool               `json:"blocked,omitempty"`
	Namespaces []subjectNamespace `json:"namespaces"`
}

type subjectNamespace struct {
	Name string `json:"name"`
	UUID string `json:"uuid"`
	Key  string `json:"key"`
}

var uuidRE = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)

// parseAuthKey splits "uuid:key" and checks its form as OpenWhisk does: a UUID and a
// 64-character secret.
func parseAuthKey(user, password string) (uuid, key string, ok bool) {
	if !uuidRE.MatchString(user) || len(password) != 64 {
		return "", "", false
	}
	return user, password, true
}

// identities finds identities in the subjects database. It keeps an index of every
// namespace key, read in one pass over the database, and reads it again when it is
// older than ttl, or when a key is not in it (at most every minRebuild).
type identities struct {
	db         store.DocStore
	name       string
	ttl        time.Duration
	minRebuild time.Duration
	log        *zap.Logger

	build sync.Mutex // one rebuild at a time

	mu    sync.Mutex
	index map[string]*identity // by uuid
	built time.Time
}

func newIdentities(db store.DocStore, name string, ttl time.Duration, log *zap.Logger) *identities {
	return &identities{db: db, name: name, ttl: ttl, minRebuild: 200 * time.Millisecond, log: log}
}

func (s *identities) snapshot() (map[string]*identity, time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.index, s.built
}

// lookup returns the identity owning uuid with secret key, or nil when there is none.
func (s *identities) lookup(ctx context.Context, now time.Time, uuid, key string) (*identity, error) {
	idx, built := s.snapshot()
	if idx != nil && now.Sub(built) < s.ttl {
		if id := match(idx, uuid, key); id != nil {
			return id, nil
		}
		if now.Sub(built) < s.minRebuild {
			return nil, nil
		}
	}
	if err := s.rebuild(ctx, now, built); err != nil {
		return nil, err
	}
	idx, _ = s.snapshot()
	return match(idx, uuid, key), nil
}

func match(idx map[string]*identity, uuid, key string) *identity {
	id, ok := idx[strings.ToLower(uuid)]
	if !ok || subtle.ConstantTimeCompare([]byte(id.Key), []byte(key)) != 1 {
		return nil
	}
	return id
}

// rebuild reads the subjects database unless another caller rebuilt the index after
// seen while this one waited.
func (s *identities) rebuild(ctx context.Context, now, seen time.Time) error {
	s.build.Lock()
	defer s.build.Unlock()
	if _, built := s.snapshot(); built.After(seen) {
		return nil
	}
	docs, err := s.db.List(ctx, s.name, store.ListOptions{})
	if err != nil {
		return fmt.Errorf("read identities: %w", err)
	}
	limits := map[string]message.UserLimits{}
	var subjects []subjectDoc
	for _, d := range docs {
		if ns, ok := strings.CutSuffix(d.ID, "/limits"); ok {
			var l message.UserLimits
			if err := json.Unmarshal(d.Body, &l); err != nil {
				s.log.Warn("unreadable limits document", zap.String("id", d.ID), zap.Error(err))
				continue
			}
			limits[ns] = l
			continue
		}
		var sd subjectDoc
		if err := json.Unmarshal(d.Body, &sd); err != nil || len(sd.Namespaces) == 0 || sd.Blocked {
			continue
		}
		sd.ID = d.ID
		subjects = append(subjects, sd)
	}
	idx := map[string]*identity{}
	for _, sd := range subjects {
		for _, ns := range sd.Namespaces {
			if !uuidRE.MatchString(ns.UUID) || len(ns.Key) != 64 || !message.ValidEntityName(ns.Name) {
				continue
			}
			idx[strings.ToLower(ns.UUID)] = &identity{
				Subject: sd.ID, Namespace: ns.Name, UUID: ns.UUID, Key: ns.Key, Limits: limits[ns.Name],
			}
		}
	}
	s.mu.Lock()
	s.index, s.built = idx, now
	s.mu.Unlock()
	return nil
}

// seed writes the guest and whisk.system subjects unless documents of those ids exist.
func seedSubjects(ctx context.Context, db store.DocStore, name string) error {
	for _, s := range []struct{ subject, key string }{{"guest", GuestKey}, {"whisk.system", WhiskSystemKey}} {
		uuid, key, _ := strings.Cut(s.key, ":")
		doc := subjectDoc{ID: s.subject, Subject: s.subject, Namespaces: []subjectNamespace{{Name: s.subject, UUID: uuid, Key: key}}}
		body, err := json.Marshal(doc)
		if err != nil {
			return err
		}
		if _, err := db.Get(ctx, name, s.subject); err == nil {
			continue
		} else if !errors.Is(err, store.ErrNotFound) {
			return fmt.Errorf("seed subject %s: %w", s.subject, err)
		}
		if _, err := db.Put(ctx, name, s.subject, "", body); err != nil && !errors.Is(err, store.ErrConflict) {
			return fmt.Errorf("seed subject %s: %w", s.subject, err)
		}
	}
	return nil
}

type identityKey struct{}

// caller returns the authenticated identity of the request.
func caller(ctx context.Context) *identity {
	id, _ := ctx.Value(identityKey{}).(*identity)
	return id
}

// authenticate requires HTTP basic credentials that name a namespace key of the
// subjects database, and answers 401 otherwise, as OpenWhisk does.
func (c *Controller) authenticate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		user, password, ok := r.BasicAuth()
		if !ok {
			c.challenge(w, r, textAuthMissing)
			return
		}
		uuid, key, ok := parseAuthKey(user, password)
		if !ok {
			c.challenge(w, r, textAuthInvalid)
			return
		}
		id, err := c.identities.lookup(r.Context(), c.cfg.Now(), uuid, key)
		if err != nil {
			c.failInternal(w, r, "authenticate", err)
			return
		}
		if id == nil {
			c.challenge(w, r, textAuthInvalid)
			return
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), identityKey{}, id)))
	})
}

func (c *Controller) challenge(w http.ResponseWriter, r *http.Request, text string) {
	w.Header().Set("WWW-Authenticate", `Basic realm="OpenWhisk secure realm"`)
	c.fail(w, r, http.StatusUnauthorized, text)
}

// adminOnly protects the /invokers routes with the configured admin credentials.
func (c *Controller) adminOnly(next http.Handler) http.Handler {
	if c.cfg.AdminUser == "" {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		user, password, ok := r.BasicAuth()
		if !ok {
			c.challenge(w, r, textAuthMissing)
			return
		}
		if subtle.ConstantTimeCompare([]byte(user), []byte(c.cfg.AdminUser)) != 1 ||
			subtle.ConstantTimeCompare([]byte(password), []byte(c.cfg.AdminPassword)) != 1 {
			c.challenge(w, r, textAuthInvalid)
			return
		}
		next.ServeHTTP(w, r)
	})
}
