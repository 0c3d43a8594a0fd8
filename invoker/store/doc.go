// Package store is the invoker's and controller's document store: OpenWhisk keeps actions in
// `whisks`, activation records in `activations` and identities in `subjects`, in CouchDB.
//
// Two real implementations sit behind the DocStore interface: Couch speaks CouchDB's HTTP API
// (CouchDB, Cloudant, pouchdb-server), and Bolt keeps the same documents in a bbolt file for
// the standalone mode. Both keep CouchDB's document semantics: every document has an `_id`
// and a `_rev`; a write must name the current revision or fail with ErrConflict; attachments
// hang off a document and show as `_attachments` stubs. One conformance suite
// (store_test.go) runs against both.
//
// Documents travel as raw JSON objects: the OpenWhisk types of packages message and action
// are decoded by their callers, which keeps this package a plain edge.
package store

import (
	"context"
	"encoding/json"
	"errors"
)

// Errors returned (wrapped) by every DocStore method.
var (
	// ErrNotFound: the database, document or attachment does not exist (or was deleted).
	ErrNotFound = errors.New("store: not found")
	// ErrConflict: the revision given is not the document's current one, or a document
	// created without a revision already exists.
	ErrConflict = errors.New("store: conflict")
	// ErrUnavailable: the store did not answer, or answered with a server error, after the
	// retries allowed. The write or read may be tried again later.
	ErrUnavailable = errors.New("store: unavailable")
)

// Doc is one document as stored: its id, its current revision and the whole JSON object,
// `_id`, `_rev` and `_attachments` included.
type Doc struct {
	ID   string
	Rev  string
	Body json.RawMessage
}

// Attachment is the content of one attachment.
type Attachment struct {
	ContentType string
	Data        []byte
}

// ListOptions select a range of documents by id, in id order.
type ListOptions struct {
	StartID string // first id, inclusive ("" = from the first)
	EndID   string // last id, inclusive ("" = to the last)
	Skip    int
	Limit   int // 0 = no limit
	// Descending walks from EndID down to StartID.
	Descending bool
}

// DocStore is a CouchDB-like document store. Database names are passed whole (with any
// prefix). Every method returns once ctx is done.
type DocStore interface {
	// Get returns the current revision of a document, or ErrNotFound.
	Get(ctx context.Context, db, id string) (Doc, error)
	// Put writes body (a JSON object) as the document id. rev must be the current revision
	// for an update and empty for a create; otherwise ErrConflict. It returns the new revision.
	Put(ctx context.Context, db, id, rev string, body json.RawMessage) (string, error)
	// Delete removes the document at revision rev (ErrConflict if not current, ErrNotFound).
	Delete(ctx context.Context, db, id, rev string) error
	// PutAttachment adds or replaces an attachment of the document at revision rev (which
	// must be current) and returns the document's new revision.
	PutAttachment(ctx context.Context, db, id, rev, name string, att Attachment) (string, error)
	// GetAttachment returns an attachment's content, or ErrNotFound.
	GetAttachment(ctx context.Context, db, id, name string) (Attachment, error)
	// List returns documents (with bodies) whose ids fall in the range, in id order.
	List(ctx context.Context, db string, opts ListOptions) ([]Doc, error)
	// EnsureDB creates the database unless it exists.
	EnsureDB(ctx context.Context, db string) error
}
