package store_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"go.uber.org/zap/zaptest"

	"github.com/owinvoker/owinvoker/deploy/dev/testenv"
	"github.com/owinvoker/owinvoker/invoker/store"
)

// testDocStore is the conformance suite every DocStore passes.
func testDocStore(t *testing.T, s store.DocStore, db string) {
	ctx := t.Context()
	t.Run("create get update delete", func(t *testing.T) {
		id := "guest/hello"
		rev1, err := s.Put(ctx, db, id, "", json.RawMessage(`{"name":"hello","namespace":"guest"}`))
		if err != nil || !strings.HasPrefix(rev1, "1-") {
			t.Fatalf("create: rev %q, %v; want a 1- revision", rev1, err)
		}
		if _, err := s.Put(ctx, db, id, "", json.RawMessage(`{"name":"again"}`)); !errors.Is(err, store.ErrConflict) {
			t.Fatalf("create of an existing id = %v, want ErrConflict", err)
		}
		doc, err := s.Get(ctx, db, id)
		if err != nil || doc.Rev != rev1 || doc.ID != id {
			t.Fatalf("get = %+v, %v; want id %s rev %s", doc, err, id, rev1)
		}
		var body map[string]any
		if err := json.Unmarshal(doc.Body, &body); err != nil || body["_id"] != id || body["_rev"] != rev1 || body["name"] != "hello" {
			t.Fatalf("get body = %s, want _id, _rev and fields", doc.Body)
		}
		if _, err := s.Put(ctx, db, id, "1-stale", json.RawMessage(`{"name":"x"}`)); !errors.Is(err, store.ErrConflict) {
			t.Fatalf("update with a stale revision = %v, want ErrConflict", err)
		}
		rev2, err := s.Put(ctx, db, id, rev1, json.RawMessage(`{"name":"hello","version":"0.0.2"}`))
		if err != nil || !strings.HasPrefix(rev2, "2-") {
			t.Fatalf("update: rev %q, %v; want a 2- revision", rev2, err)
		}
		if err := s.Delete(ctx, db, id, rev1); !errors.Is(err, store.ErrConflict) {
			t.Fatalf("delete at a stale revision = %v, want ErrConflict", err)
		}
		if err := s.Delete(ctx, db, id, rev2); err != nil {
			t.Fatalf("delete: %v", err)
		}
		if _, err := s.Get(ctx, db, id); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("get after delete = %v, want ErrNotFound", err)
		}
		if _, err := s.Put(ctx, db, id, "", json.RawMessage(`{"name":"reborn"}`)); err != nil {
			t.Fatalf("create after delete: %v", err)
		}
	})
	t.Run("attachments", func(t *testing.T) {
		id := "guest/zipped"
		rev, err := s.Put(ctx, db, id, "", json.RawMessage(`{"name":"zipped"}`))
		if err != nil {
			t.Fatal(err)
		}
		data := []byte{0x50, 0x4b, 0x03, 0x04, 0, 0xff, 0x10}
		rev2, err := s.PutAttachment(ctx, db, id, rev, "couch:1234", store.Attachment{ContentType: "application/octet-stream", Data: data})
		if err != nil {
			t.Fatalf("put attachment: %v", err)
		}
		if _, err := s.PutAttachment(ctx, db, id, rev, "other", store.Attachment{Data: data}); !errors.Is(err, store.ErrConflict) {
			t.Fatalf("put attachment at a stale revision = %v, want ErrConflict", err)
		}
		att, err := s.GetAttachment(ctx, db, id, "couch:1234")
		if err != nil || string(att.Data) != string(data) || !strings.HasPrefix(att.ContentType, "application/octet-stream") {
			t.Fatalf("get attachment = %q %q, %v; want the bytes back", att.ContentType, att.Data, err)
		}
		doc, err := s.Get(ctx, db, id)
		if err != nil || doc.Rev != rev2 {
			t.Fatalf("get = %v rev %s, want rev %s", err, doc.Rev, rev2)
		}
		var body struct {
			Attachments map[string]struct {
				Stub   bool `json:"stub"`
				Length int  `json:"length"`
			} `json:"_attachments"`
		}
		if err := json.Unmarshal(doc.Body, &body); err != nil || !body.Attachments["couch:1234"].Stub || body.Attachments["couch:1234"].Length != len(data) {
			t.Fatalf("document body %s: want an _attachments stub of %d bytes", doc.Body, len(data))
		}
		// An update that does not mention attachments keeps them.
		rev3, err := s.Put(ctx, db, id, rev2, json.RawMessage(`{"name":"zipped","version":"0.0.2","_attachments":`+string(mustField(t, doc.Body, "_attachments"))+`}`))
		if err != nil {
			t.Fatalf("update keeping attachments: %v", err)
		}
		if _, err := s.GetAttachment(ctx, db, id, "couch:1234"); err != nil {
			t.Fatalf("attachment after update (rev %s): %v", rev3, err)
		}
		if _, err := s.GetAttachment(ctx, db, id, "missing"); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("missing attachment = %v, want ErrNotFound", err)
		}
	})
	t.Run("list by id range", func(t *testing.T) {
		for i := range 5 {
			if _, err := s.Put(ctx, db, fmt.Sprintf("ns1/a%02d", i), "", json.RawMessage(fmt.Sprintf(`{"n":%d}`, i))); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := s.Put(ctx, db, "ns2/a00", "", json.RawMessage(`{"n":99}`)); err != nil {
			t.Fatal(err)
		}
		ids := func(docs []store.Doc) string {
			var out []string
			for _, d := range docs {
				out = append(out, d.ID)
			}
			return strings.Join(out, ",")
		}
		for _, tc := range []struct {
			opts store.ListOptions
			want string
		}{
			{store.ListOptions{StartID: "ns1/", EndID: "ns1/\ufff0"}, "ns1/a00,ns1/a01,ns1/a02,ns1/a03,ns1/a04"},
			{store.ListOptions{StartID: "ns1/", EndID: "ns1/\ufff0", Skip: 1, Limit: 2}, "ns1/a01,ns1/a02"},
			{store.ListOptions{StartID: "ns1/", EndID: "ns1/\ufff0", Descending: true, Limit: 2}, "ns1/a04,ns1/a03"},
			{store.ListOptions{StartID: "ns2/", EndID: "ns2/\ufff0"}, "ns2/a00"},
		} {
			docs, err := s.List(ctx, db, tc.opts)
			if err != nil {
				t.Fatalf("List(%+v): %v", tc.opts, err)
			}
			if got := ids(docs); got != tc.want {
				t.Errorf("List(%+v) = %s, want %s", tc.opts, got, tc.want)
			}
		}
	})
	t.Run("missing database", func(t *testing.T) {
		if _, err := s.Get(ctx, "nosuchdb"+strings.ToLower(testenv.UniqueName("")), "x"); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("get from a missing database = %v, want ErrNotFound", err)
		}
	})
}

func mustField(t *testing.T, body json.RawMessage, key string) json.RawMessage {
	t.Helper()
	var m map[string]json.RawMessage
	if err := json.Unmarshal(body, &m); err != nil {
		t.Fatal(err)
	}
	return m[key]
}

func TestCouch(t *testing.T) {
	dbs := testenv.NewDatabases(t)
	c, err := store.NewCouch(store.CouchConfig{URL: dbs.URL}, zaptest.NewLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	testDocStore(t, c, dbs.Whisks)
}

func TestBolt(t *testing.T) {
	b, err := store.OpenBolt(filepath.Join(t.TempDir(), "store.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if err := b.EnsureDB(t.Context(), "whisks"); err != nil {
		t.Fatal(err)
	}
	testDocStore(t, b, "whisks")
}

// TestCouchUnavailable: a server that does not answer gives ErrUnavailable after the
// retries, not a hang and not a different error.
func TestCouchUnavailable(t *testing.T) {
	c, err := store.NewCouch(store.CouchConfig{URL: "http://127.0.0.1:1", Attempts: 2}, zaptest.NewLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.Get(context.Background(), "whisks", "guest/x")
	if !errors.Is(err, store.ErrUnavailable) {
		t.Fatalf("get from a closed port = %v, want ErrUnavailable", err)
	}
}
