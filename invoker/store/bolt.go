package store

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Bolt is a DocStore in one bbolt file, for the standalone mode. It keeps CouchDB's document
// semantics (revisions, conflicts, attachment stubs) so the invoker and controller cannot
// tell it from CouchDB. Only one process may open the file.
type Bolt struct {
	db *bolt.DB
}

var _ DocStore = (*Bolt)(nil)

var (
	docsBucket = []byte("docs")
	attsBucket = []byte("attachments")
)

// OpenBolt opens (or creates) the store file at path.
func OpenBolt(path string) (*Bolt, error) {
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: 5 * time.Second})
	if err != nil {
		return nil, fmt.Errorf("open store %s: %w", path, err)
	}
	return &Bolt{db: db}, nil
}

// Close closes the file.
func (b *Bolt) Close() error { return b.db.Close() }

func (b *Bolt) database(tx *bolt.Tx, db string) (docs, atts *bolt.Bucket, err error) {
	top := tx.Bucket([]byte(db))
	if top == nil {
		return nil, nil, fmt.Errorf("database %s: %w", db, ErrNotFound)
	}
	return top.Bucket(docsBucket), top.Bucket(attsBucket), nil
}

// EnsureDB implements DocStore.
func (b *Bolt) EnsureDB(ctx context.Context, db string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return b.db.Update(func(tx *bolt.Tx) error {
		top, err := tx.CreateBucketIfNotExists([]byte(db))
		if err != nil {
			return fmt.Errorf("create database %s: %w", db, err)
		}
		if _, err := top.CreateBucketIfNotExists(docsBucket); err != nil {
			return err
		}
		_, err = top.CreateBucketIfNotExists(attsBucket)
		return err
	})
}

// Get implements DocStore.
func (b *Bolt) Get(ctx context.Context, db, id string) (Doc, error) {
	if err := ctx.Err(); err != nil {
		return Doc{}, err
	}
	var doc Doc
	err := b.db.View(func(tx *bolt.Tx) error {
		docs, _, err := b.database(tx, db)
		if err != nil {
			return err
		}
		v := docs.Get([]byte(id))
		if v == nil {
			return fmt.Errorf("get %s/%s: %w", db, id, ErrNotFound)
		}
		doc = Doc{ID: id, Rev: revIn(v), Body: bytes.Clone(v)}
		return nil
	})
	return doc, err
}

// Put implements DocStore.
func (b *Bolt) Put(ctx context.Context, db, id, rev string, body json.RawMessage) (string, error) {
	if err := ctx.Err(); err != nil {
		return "", err
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(body, &m); err != nil || m == nil {
		return "", fmt.Errorf("put %s/%s: document body is not a JSON object", db, id)
	}
	var newRev string
	err := b.db.Update(func(tx *bolt.Tx) error {
		docs, _, err := b.database(tx, db)
		if err != nil {
			return err
		}
		old := docs.Get([]byte(id))
		if err := checkRev(old, rev); err != nil {
			return fmt.Errorf("put %s/%s: %w", db, id, err)
		}
		if old != nil {
			// Attachments survive an update that does not mention them, as in CouchDB.
			if _, mentioned := m["_attachments"]; !mentioned {
				var prev map[string]json.RawMessage
				if json.Unmarshal(old, &prev) == nil && prev["_attachments"] != nil {
					m["_attachments"] = prev["_attachments"]
				}
			}
		}
		delete(m, "_rev")
		newRev = nextRev(old, m)
		return store(docs, id, newRev, m)
	})
	return newRev, err
}

// Delete implements DocStore.
func (b *Bolt) Delete(ctx context.Context, db, id, rev string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return b.db.Update(func(tx *bolt.Tx) error {
		docs, atts, err := b.database(tx, db)
		if err != nil {
			return err
		}
		old := docs.Get([]byte(id))
		if old == nil {
			return fmt.Errorf("delete %s/%s: %w", db, id, ErrNotFound)
		}
		if err := checkRev(old, rev); err != nil {
			return fmt.Errorf("delete %s/%s: %w", db, id, err)
		}
		c := atts.Cursor()
		prefix := []byte(id + "\x00")
		for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Seek(prefix) {
			if err := atts.Delete(k); err != nil {
				return err
			}
		}
		return docs.Delete([]byte(id))
	})
}

type boltAttachment struct {
	ContentType string `json:"content_type"`
	Data        []byte `json:"data"`
}

// PutAttachment implements DocStore.
func (b *Bolt) PutAttachment(ctx context.Context, db, id, rev, name string, att Attachment) (string, error) {
	if err := ctx.Err(); err != nil {
		return "", err
	}
	if att.ContentType == "" {
		att.ContentType = "application/octet-stream"
	}
	var newRev string
	err := b.db.Update(func(tx *bolt.Tx) error {
		docs, atts, err := b.database(tx, db)
		if err != nil {
			return err
		}
		old := docs.Get([]byte(id))
		if err := checkRev(old, rev); err != nil {
			return fmt.Errorf("put attachment %s/%s/%s: %w", db, id, name, err)
		}
		m := map[string]json.RawMessage{}
		if old != nil {
			if err := json.Unmarshal(old, &m); err != nil {
				return fmt.Errorf("put attachment %s/%s/%s: stored document: %w", db, id, name, err)
			}
		}
		stubs := map[string]map[string]any{}
		if raw := m["_attachments"]; raw != nil {
			_ = json.Unmarshal(raw, &stubs)
		}
		sum := md5.Sum(att.Data)
		stubs[name] = map[string]any{
			"content_type": att.ContentType,
			"digest":       "md5-" + base64.StdEncoding.EncodeToString(sum[:]),
			"length":       len(att.Data),
			"stub":         true,
			"revpos":       revGen(revIn(old)) + 1,
		}
		m["_attachments"], _ = json.Marshal(stubs)
		delete(m, "_rev")
		newRev = nextRev(old, m)
		val, _ := json.Marshal(boltAttachment(att))
		if err := atts.Put([]byte(id+"\x00"+name), val); err != nil {
			return err
		}
		return store(docs, id, newRev, m)
	})
	return newRev, err
}

// GetAttachment implements DocStore.
func (b *Bolt) GetAttachment(ctx context.Context, db, id, name string) (Attachment, error) {
	if err := ctx.Err(); err != nil {
		return Attachment{}, err
	}
	var att Attachment
	err := b.db.View(func(tx *bolt.Tx) error {
		_, atts, err := b.database(tx, db)
		if err != nil {
			return err
		}
		v := atts.Get([]byte(id + "\x00" + name))
		if v == nil {
			return fmt.Errorf("get attachment %s/%s/%s: %w", db, id, name, ErrNotFound)
		}
		var ba boltAttachment
		if err := json.Unmarshal(v, &ba); err != nil {
			return fmt.Errorf("get attachment %s/%s/%s: %w", db, id, name, err)
		}
		att = Attachment(ba)
		return nil
	})
	return att, err
}

// List implements DocStore.
func (b *Bolt) List(ctx context.Context, db string, opts ListOptions) ([]Doc, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	var out []Doc
	err := b.db.View(func(tx *bolt.Tx) error {
		docs, _, err := b.database(tx, db)
		if err != nil {
			return err
		}
		c := docs.Cursor()
		inRange := func(k []byte) bool {
			s := string(k)
			return (opts.StartID == "" || s >= opts.StartID) && (opts.EndID == "" || s <= opts.EndID)
		}
		var k, v []byte
		var step func() ([]byte, []byte)
		if opts.Descending {
			step = c.Prev
			if opts.EndID == "" {
				k, v = c.Last()
			} else if k, v = c.Seek([]byte(opts.EndID)); k == nil {
				k, v = c.Last()
			} else if string(k) > opts.EndID {
				k, v = c.Prev()
			}
		} else {
			step = c.Next
			if opts.StartID == "" {
				k, v = c.First()
			} else {
				k, v = c.Seek([]byte(opts.StartID))
			}
		}
		skipped := 0
		for ; k != nil && inRange(k); k, v = step() {
			if skipped < opts.Skip {
				skipped++
				continue
			}
			out = append(out, Doc{ID: string(k), Rev: revIn(v), Body: bytes.Clone(v)})
			if opts.Limit > 0 && len(out) >= opts.Limit {
				break
			}
		}
		return nil
	})
	return out, err
}

func store(docs *bolt.Bucket, id, rev string, m map[string]json.RawMessage) error {
	m["_id"], _ = json.Marshal(id)
	m["_rev"], _ = json.Marshal(rev)
	val, err := json.Marshal(m)
	if err != nil {
		return err
	}
	return docs.Put([]byte(id), val)
}

func checkRev(old []byte, rev string) error {
	switch {
	case old == nil && rev == "":
		return nil
	case old == nil:
		return ErrNotFound
	case rev != revIn(old):
		return ErrConflict
	}
	return nil
}

func revIn(doc []byte) string {
	if doc == nil {
		return ""
	}
	var meta struct {
		Rev string `json:"_rev"`
	}
	_ = json.Unmarshal(doc, &meta)
	return meta.Rev
}

func revGen(rev string) int {
	n, _ := strconv.Atoi(strings.SplitN(rev, "-", 2)[0])
	return n
}

// nextRev makes CouchDB-shaped revisions: generation, a dash, a digest of the content.
func nextRev(old []byte, m map[string]json.RawMessage) string {
	body, _ := json.Marshal(m)
	sum := md5.Sum(append([]byte(revIn(old)), body...))
	return strconv.Itoa(revGen(revIn(old))+1) + "-" + hex.EncodeToString(sum[:])
}
