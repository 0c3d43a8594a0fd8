package controller

import (
	"bytes"
	"cmp"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/owinvoker/owinvoker/invoker/action"
	"github.com/owinvoker/owinvoker/invoker/message"
	"github.com/owinvoker/owinvoker/invoker/store"
	"go.uber.org/zap"
)

// maxInlineCode is whisk.db.max-inline-size: code shorter than this is stored inside
// the attachment name (mem:), longer code as a CouchDB attachment (couch:).
const maxInlineCode = 16 << 10

// Content types of stored code.
const (
	contentText   = "text/plain; charset=UTF-8"
	contentBinary = "application/octet-stream"
)

// actionPut is the body of PUT …/actions/{name} (OpenWhisk's WhiskActionPut). Every
// member is optional; nil means absent.
type actionPut struct {
	Exec           *execPut
	Parameters     action.Parameters
	HasParameters  bool
	Annotations    action.Parameters
	HasAnnotations bool
	Limits         *limitsPut
	Version        string
	Publish        *bool
	DelAnnotations []string
}

// execPut is a requested exec, its kind resolved against the runtimes manifest.
type execPut struct {
	Kind       string // resolved kind, or "blackbox"
	Code       *string
	Image      string
	Main       string
	Binary     bool
	Attached   bool // the kind stores its code as an attachment
	Deprecated bool
}

type limitsPut struct {
	Timeout, Memory, Logs, Concurrency, Instances *int
}

// putError is a rejected PUT body: the HTTP status and OpenWhisk's text.
type putError struct {
	status int
	text   string
}

func malformed(format string, args ...any) *putError {
	return &putError{http.StatusBadRequest, textMalformedPrefix + fmt.Sprintf(format, args...)}
}

// parseActionPut reads a PUT body and checks it as OpenWhisk does: the exec (kind,
// code, image, main), the sizes of exec, parameters and annotations (413), the other
// members (400), then the limits against the namespace's bounds (400).
func (c *Controller) parseActionPut(body []byte, bounds action.Bounds) (*actionPut, *putError) {
	var o map[string]json.RawMessage
	if err := json.Unmarshal(body, &o); err != nil || o == nil {
		var syntax *json.SyntaxError
		if errors.As(err, &syntax) || errors.Is(err, io.ErrUnexpectedEOF) || len(bytes.TrimSpace(body)) == 0 {
			return nil, malformed("%v", cmp.Or(err, error(io.ErrUnexpectedEOF)))
		}
		return nil, malformed("Object expected")
	}
	present := func(k string) (json.RawMessage, bool) {
		raw, ok := o[k]
		if !ok || string(raw) == "null" {
			return nil, false
		}
		return raw, true
	}
	p := &actionPut{}
	if raw, ok := present("exec"); ok {
		e, perr := c.parseExec(raw)
		if perr != nil {
			return nil, perr
		}
		p.Exec = e
	}
	if raw, ok := present("parameters"); ok {
		if err := json.Unmarshal(raw, &p.Parameters); err != nil {
			return nil, malformed("%v", err)
		}
		p.HasParameters = true
	}
	if raw, ok := present("annotations"); ok {
		if err := json.Unmarshal(raw, &p.Annotations); err != nil {
			return nil, malformed("%v", err)
		}
		p.HasAnnotations = true
	}
	l := c.cfg.Limits
	if p.Exec != nil {
		size := int64(len(p.Exec.Image) + len(p.Exec.Main))
		if p.Exec.Code != nil {
			size += int64(len(*p.Exec.Code))
		}
		if size > l.ExecMaxBytes {
			return nil, &putError{http.StatusRequestEntityTooLarge, textEntityTooBig("exec", size, l.ExecMaxBytes)}
		}
	}
	if n := paramsSize(p.Parameters); n > l.ParameterMaxBytes {
		return nil, &putError{http.StatusRequestEntityTooLarge, textEntityTooBig("parameters", n, l.ParameterMaxBytes)}
	}
	if n := paramsSize(p.Annotations); n > l.ParameterMaxBytes {
		return nil, &putError{http.StatusRequestEntityTooLarge, textEntityTooBig("annotations", n, l.ParameterMaxBytes)}
	}
	if raw, ok := present("limits"); ok {
		lp, err := parseLimitsPut(raw)
		if err != nil {
			return nil, malformed("%v", err)
		}
		p.Limits = lp
	}
	if raw, ok := present("version"); ok {
		var v string
		if err := json.Unmarshal(raw, &v); err != nil {
			return nil, malformed("version: %v", err)
		}
		nv, err := message.NormalizeSemVer(v)
		if err != nil {
			return nil, malformed("%v", err)
		}
		p.Version = nv
	}
	if raw, ok := present("publish"); ok {
		var b bool
		if err := json.Unmarshal(raw, &b); err != nil {
			return nil, malformed("publish: %v", err)
		}
		p.Publish = &b
	}
	if raw, ok := present("delAnnotations"); ok {
		if err := json.Unmarshal(raw, &p.DelAnnotations); err != nil {
			return nil, malformed("delAnnotations: %v", err)
		}
	}
	if p.Limits != nil {
		if text := p.Limits.check(bounds); text != "" {
			return nil, &putError{http.StatusBadRequest, text}
		}
	}
	return p, nil
}

// paramsSize is OpenWhisk's size of a parameters array: keys plus compact values.
func paramsSize(ps action.Parameters) int64 {
	var n int64
	var buf bytes.Buffer
	for _, p := range ps {
		n += int64(len(p.Key))
		buf.Reset()
		if json.Compact(&buf, p.Value) == nil {
			n += int64(buf.Len())
		} else {
			n += int64(len(p.Value))
		}
	}
	return n
}

// parseExec reads the exec member as OpenWhisk's exec reader does.
func (c *Controller) parseExec(raw json.RawMessage) (*execPut, *putError) {
	var o map[string]json.RawMessage
	if err := json.Unmarshal(raw, &o); err != nil || o == nil {
		return nil, malformed("exec: Object expected")
	}
	str := func(k string) (string, bool, error) {
		v, ok := o[k]
		if !ok {
			return "", false, nil
		}
		var s string
		if err := json.Unmarshal(v, &s); err != nil {
			return "", true, err
		}
		return s, true, nil
	}
	kind, ok, err := str("kind")
	if !ok || err != nil {
		return nil, malformed("'kind' must be a string defined in 'exec'")
	}
	kind = strings.ToLower(strings.TrimSpace(kind))
	main, hasMain, err := str("main")
	if err != nil {
		return nil, malformed("if defined, 'main' be a string in 'exec' for '%s' actions", kind)
	}
	e := &execPut{Main: main}
	switch kind {
	case action.KindSequence:
		return nil, &putError{http.StatusBadRequest, textSequence}
	case action.KindBlackbox:
		image, _, err := str("image")
		if err != nil || image == "" {
			return nil, malformed("'image' must be a string defined in 'exec' for 'blackbox' actions")
		}
		if !action.ValidImage(image) {
			return nil, malformed("image name '%s' is not valid", image)
		}
		e.Kind, e.Image = action.KindBlackbox, image
		code, has, err := str("code")
		if err != nil {
			return nil, malformed("'code' must be a string defined in 'exec' for 'blackbox' actions")
		}
		if has && strings.TrimSpace(code) != "" {
			e.Code = &code
			e.Binary = action.IsBinaryCode(code)
		}
		return e, nil
	}
	rt, err := c.manifest.Resolve(kind)
	if err != nil {
		return nil, malformed("%s", textInvalidRuntime(kind, c.validKinds()))
	}
	e.Kind, e.Attached, e.Deprecated = rt.Kind, rt.Attached != nil, rt.Deprecated
	code, has, err := str("code")
	if !has {
		code, has, err = str("jar")
	}
	if !has || err != nil {
		return nil, malformed("'code' must be a string or attachment object defined in 'exec' for '%s' actions", kind)
	}
	if !hasMain && rt.RequireMain {
		return nil, malformed("'main' must be a string defined in 'exec' for '%s' actions", kind)
	}
	e.Code = &code
	e.Binary = action.IsBinaryCode(code)
	return e, nil
}

// validKinds lists the kinds an action may have, for the unknown-runtime error.
func (c *Controller) validKinds() []string {
	var kinds []string
	for _, rt := range c.manifest.Runtimes() {
		kinds = append(kinds, rt.Kind)
	}
	slices.Sort(kinds)
	return append(kinds, action.KindBlackbox)
}

func parseLimitsPut(raw json.RawMessage) (*limitsPut, error) {
	var o map[string]json.RawMessage
	if err := json.Unmarshal(raw, &o); err != nil || o == nil {
		return nil, errors.New("limits: Object expected")
	}
	lp := &limitsPut{}
	for _, f := range []struct {
		key string
		dst **int
	}{
		{"timeout", &lp.Timeout}, {"memory", &lp.Memory}, {"logs", &lp.Logs},
		{"concurrency", &lp.Concurrency}, {"instances", &lp.Instances},
	} {
		v, ok := o[f.key]
		if !ok || string(v) == "null" {
			continue
		}
		var n json.Number
		if err := json.Unmarshal(v, &n); err != nil {
			return nil, fmt.Errorf("%s limit malformed", f.key)
		}
		i, err := n.Int64()
		if err != nil || i < 0 || i > 1<<31-1 {
			return nil, fmt.Errorf("%s limit must be whole number", f.key)
		}
		x := int(i)
		*f.dst = &x
	}
	return lp, nil
}

// check checks the limits given against bounds in OpenWhisk's order (memory, timeout,
// logs, concurrency; maximum before minimum) and returns the text of the first
// violation.
func (lp *limitsPut) check(b action.Bounds) string {
	// Check one limit at a time, with the others at values that always pass.
	base := action.Limits{TimeoutMS: b.TimeoutMS.Min, MemoryMB: b.MemoryMB.Min, LogsMB: b.LogsMB.Min, Concurrency: b.Concurrency.Min}
	for _, f := range []struct {
		v   *int
		set func(*action.Limits, int)
	}{
		{lp.Memory, func(l *action.Limits, v int) { l.MemoryMB = v }},
		{lp.Timeout, func(l *action.Limits, v int) { l.TimeoutMS = v }},
		{lp.Logs, func(l *action.Limits, v int) { l.LogsMB = v }},
		{lp.Concurrency, func(l *action.Limits, v int) { l.Concurrency = v }},
	} {
		if f.v == nil {
			continue
		}
		l := base
		f.set(&l, *f.v)
		if err := l.Check(b); err != nil {
			var le *action.LimitError
			if errors.As(err, &le) {
				return le.Message
			}
			return err.Error()
		}
	}
	return ""
}

// namespaceBounds returns the limit bounds that apply to the caller's namespace.
func (c *Controller) namespaceBounds(id *identity) action.Bounds {
	l := id.Limits
	return action.Allowed(c.cfg.Limits.System, c.cfg.Limits.NamespaceDefault, action.Overrides{
		MinTimeoutMS: l.MinActionTimeout, MaxTimeoutMS: l.MaxActionTimeout,
		MinMemoryMB: l.MinActionMemory, MaxMemoryMB: l.MaxActionMemory,
		MinLogsMB: l.MinActionLogs, MaxLogsMB: l.MaxActionLogs,
		MinConcurrency: l.MinActionConcurrency, MaxConcurrency: l.MaxActionConcurrency,
	})
}

// storedCode is code prepared for the whisks database: the exec's code member and,
// for a large attachment, the CouchDB attachment to add after the document is written.
type storedCode struct {
	code     *action.Code
	attName  string // CouchDB attachment name, "" when none
	attType  string
	attBytes []byte
}

// storeCode lays out code as OpenWhisk stores it: kinds whose manifest entry is
// "attached" keep their code as an attachment (inlined in its name below 16 KiB,
// binary code as its raw bytes); other kinds keep the code string in the document.
func storeCode(e *execPut) (storedCode, error) {
	if e.Code == nil {
		return storedCode{}, nil
	}
	if !e.Attached {
		return storedCode{code: &action.Code{Text: *e.Code}}, nil
	}
	data, ctype := []byte(*e.Code), contentText
	if e.Binary {
		b, err := base64.StdEncoding.DecodeString(strings.TrimSpace(*e.Code))
		if err != nil {
			return storedCode{}, fmt.Errorf("decode binary code: %w", err)
		}
		data, ctype = b, contentBinary
	}
	sum := sha256.Sum256(data)
	n := int64(len(data))
	att := &action.Attachment{ContentType: ctype, Length: &n, Digest: "sha256-" + hex.EncodeToString(sum[:])}
	if len(data) < maxInlineCode {
		att.Name = action.SchemeMem + ":" + base64.URLEncoding.EncodeToString(data)
		return storedCode{code: &action.Code{Attachment: att}}, nil
	}
	name := randomUUID()
	att.Name = action.SchemeCouch + ":" + name
	return storedCode{code: &action.Code{Attachment: att}, attName: name, attType: ctype, attBytes: data}, nil
}

func randomUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// loadCode returns an action's code as the API shows it: text as is, binary code
// base64-encoded.
func (c *Controller) loadCode(ctx context.Context, a *action.Action) (*string, error) {
	if a.Exec.Code == nil {
		return nil, nil
	}
	if !a.Exec.Code.IsAttachment() {
		s := a.Exec.Code.Text
		return &s, nil
	}
	att := a.Exec.Code.Attachment
	var data []byte
	if att.IsInline() {
		b, err := att.InlineBytes()
		if err != nil {
			return nil, fmt.Errorf("action %s: %w", a.DocID(), err)
		}
		data = b
	} else if name, ok := att.CouchName(); ok {
		got, err := c.store.GetAttachment(ctx, c.cfg.DBWhisks, a.DocID(), name)
		if err != nil {
			return nil, fmt.Errorf("action %s: code: %w", a.DocID(), err)
		}
		data = got.Data
	} else {
		return nil, fmt.Errorf("action %s: code in external attachment %q", a.DocID(), att.Name)
	}
	s := string(data)
	if a.Exec.Binary {
		s = base64.StdEncoding.EncodeToString(data)
	}
	return &s, nil
}

// actionView is an action as the API returns it.
type actionView struct {
	Namespace   string            `json:"namespace"`
	Name        string            `json:"name"`
	Version     string            `json:"version"`
	Publish     bool              `json:"publish"`
	Exec        execView          `json:"exec"`
	Annotations action.Parameters `json:"annotations"`
	Parameters  action.Parameters `json:"parameters"`
	Limits      action.Limits     `json:"limits"`
	Updated     int64             `json:"updated"`
}

type execView struct {
	Kind       string   `json:"kind"`
	Image      string   `json:"image,omitempty"`
	Code       *string  `json:"code,omitempty"`
	Components []string `json:"components,omitempty"`
	Binary     bool     `json:"binary"`
	Main       string   `json:"main,omitempty"`
}

func viewOf(a *action.Action, code *string) actionView {
	return actionView{
		Namespace: a.Namespace, Name: a.Name, Version: a.Version, Publish: a.Publish,
		Exec: execView{
			Kind: a.Exec.Kind, Image: a.Exec.Image, Code: code, Components: a.Exec.Components,
			Binary: a.Exec.Binary, Main: a.Exec.Main,
		},
		Annotations: a.Annotations, Parameters: a.Parameters, Limits: a.Limits, Updated: a.Updated,
	}
}

// actionSummary is an action in a list (the actions view): no code, no parameters.
type actionSummary struct {
	Namespace   string            `json:"namespace"`
	Name        string            `json:"name"`
	Version     string            `json:"version"`
	Publish     bool              `json:"publish"`
	Annotations action.Parameters `json:"annotations"`
	Limits      action.Limits     `json:"limits"`
	Exec        struct {
		Binary bool `json:"binary"`
	} `json:"exec"`
	Updated int64 `json:"updated"`
}

// readAction fetches and decodes the action docID. It returns store.ErrNotFound when
// there is none and errNotAction when the document is another kind of entity.
func (c *Controller) readAction(ctx context.Context, docID string) (*action.Action, error) {
	doc, err := c.store.Get(ctx, c.cfg.DBWhisks, docID)
	if err != nil {
		return nil, err
	}
	var meta struct {
		EntityType string `json:"entityType"`
	}
	_ = json.Unmarshal(doc.Body, &meta)
	if meta.EntityType != "" && meta.EntityType != "action" {
		return nil, errNotAction
	}
	a, err := action.Decode(doc.Body)
	if err != nil {
		return nil, fmt.Errorf("read action %s: %w", docID, err)
	}
	a.Rev = doc.Rev
	return a, nil
}

var errNotAction = errors.New("document is not an action")

func (c *Controller) getAction(w http.ResponseWriter, r *http.Request) {
	name := param(r, "name")
	if !c.entityName(w, r, name) {
		return
	}
	withCode, text := parseBool(r.URL.Query(), "code", true)
	if text != "" {
		c.fail(w, r, http.StatusBadRequest, text)
		return
	}
	a, ok := c.fetchAction(w, r, namespace(r.Context())+"/"+name)
	if !ok {
		return
	}
	var code *string
	if withCode {
		var err error
		if code, err = c.loadCode(r.Context(), a); err != nil {
			c.failInternal(w, r, "load action code", err)
			return
		}
	}
	c.writeJSON(w, http.StatusOK, viewOf(a, code))
}

// fetchAction reads an action for a request and answers 404, 409 or 500 when it
// cannot.
func (c *Controller) fetchAction(w http.ResponseWriter, r *http.Request, docID string) (*action.Action, bool) {
	a, err := c.readAction(r.Context(), docID)
	switch {
	case err == nil:
		return a, true
	case errors.Is(err, store.ErrNotFound):
		c.fail(w, r, http.StatusNotFound, textNotFound)
	case errors.Is(err, errNotAction):
		c.fail(w, r, http.StatusConflict, textConformance)
	default:
		c.failInternal(w, r, "read action", err)
	}
	return nil, false
}

func (c *Controller) putAction(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	id := caller(ctx)
	ns := namespace(ctx)
	name := param(r, "name")
	if !c.entityName(w, r, name) {
		return
	}
	overwrite, text := parseBool(r.URL.Query(), "overwrite", false)
	if text != "" {
		c.fail(w, r, http.StatusBadRequest, text)
		return
	}
	l := c.cfg.Limits
	maxBody := l.ExecMaxBytes + 2*l.ParameterMaxBytes + 1<<20
	body, ok := c.readBody(w, r, maxBody)
	if !ok {
		return
	}
	put, perr := c.parseActionPut(body, c.namespaceBounds(id))
	if perr != nil {
		c.fail(w, r, perr.status, perr.text)
		return
	}
	docID := ns + "/" + name
	old, err := c.readAction(ctx, docID)
	switch {
	case err == nil && !overwrite:
		c.fail(w, r, http.StatusConflict, textExists)
		return
	case err == nil:
	case errors.Is(err, store.ErrNotFound):
		old = nil
	case errors.Is(err, errNotAction):
		c.fail(w, r, http.StatusConflict, textConformance)
		return
	default:
		c.failInternal(w, r, "read action", err)
		return
	}

	var a *action.Action
	if old == nil {
		a, perr = c.makeAction(ns, name, put)
	} else {
		a, perr = c.updateAction(old, put)
	}
	if perr != nil {
		c.fail(w, r, perr.status, perr.text)
		return
	}
	a.Updated = c.cfg.Now().UnixMilli()
	var sc storedCode
	if put.Exec != nil {
		if sc, err = storeCode(put.Exec); err != nil {
			c.fail(w, r, http.StatusBadRequest, textMalformedPrefix+err.Error())
			return
		}
		a.Exec.Code = sc.code
		a.Attachments = nil // the old code's attachment goes with the old exec
	}
	rev := ""
	if old != nil {
		rev = old.Rev
	}
	a.Rev = ""
	doc, err := a.MarshalJSON()
	if err != nil {
		c.failInternal(w, r, "encode action", err)
		return
	}
	newRev, err := c.store.Put(ctx, c.cfg.DBWhisks, docID, rev, doc)
	if errors.Is(err, store.ErrConflict) {
		c.fail(w, r, http.StatusConflict, textConflict)
		return
	}
	if err != nil {
		c.failInternal(w, r, "write action", err)
		return
	}
	if sc.attName != "" {
		if _, err := c.store.PutAttachment(ctx, c.cfg.DBWhisks, docID, newRev, sc.attName,
			store.Attachment{ContentType: sc.attType, Data: sc.attBytes}); err != nil {
			c.failInternal(w, r, "write action code", err)
			return
		}
	}
	c.log.Info("action written", zap.String("transid", transaction(ctx).ID), zap.String("action", docID),
		zap.String("kind", a.Exec.Kind), zap.Bool("created", old == nil))
	var code *string
	if put.Exec != nil {
		code = put.Exec.Code
	} else if code, err = c.loadCode(ctx, a); err != nil {
		c.failInternal(w, r, "load action code", err)
		return
	}
	c.writeJSON(w, http.StatusOK, viewOf(a, code))
}

// readBody reads at most max bytes of the request body and answers 413 when there is
// more.
func (c *Controller) readBody(w http.ResponseWriter, r *http.Request, max int64) ([]byte, bool) {
	if r.ContentLength > max {
		c.fail(w, r, http.StatusRequestEntityTooLarge, textEntityTooBig("Request", r.ContentLength, max))
		return nil, false
	}
	var buf bytes.Buffer
	n, err := buf.ReadFrom(http.MaxBytesReader(w, r.Body, max))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			c.fail(w, r, http.StatusRequestEntityTooLarge, textEntityTooBig("Request", n+1, max))
			return nil, false
		}
		c.fail(w, r, http.StatusBadRequest, textMalformedPrefix+err.Error())
		return nil, false
	}
	// JSON is UTF-8 (RFC 8259). Go's decoder would quietly turn bad bytes into U+FFFD in
	// what it decodes and pass them through in raw parameters: refuse them instead.
	if !utf8.Valid(buf.Bytes()) {
		c.fail(w, r, http.StatusBadRequest, textMalformedPrefix+"the request body is not valid UTF-8")
		return nil, false
	}
	return buf.Bytes(), true
}

// makeAction builds a new action from a PUT body, with OpenWhisk's defaults.
func (c *Controller) makeAction(ns, name string, p *actionPut) (*action.Action, *putError) {
	if p.Exec == nil {
		return nil, &putError{http.StatusBadRequest, textExecUndefined}
	}
	if p.Exec.Deprecated {
		return nil, &putError{http.StatusBadRequest, textDeprecated(p.Exec.Kind)}
	}
	std := c.cfg.Limits.Std
	limits := action.Limits{TimeoutMS: std.TimeoutMS, MemoryMB: std.MemoryMB, LogsMB: std.LogsMB, Concurrency: std.Concurrency}
	if p.Limits != nil {
		p.Limits.apply(&limits)
	}
	a := &action.Action{
		Namespace: ns, Name: name,
		Exec:       execOf(p.Exec),
		Parameters: p.Parameters,
		Limits:     limits,
		Version:    cmp.Or(p.Version, "0.0.1"),
	}
	if p.Publish != nil {
		a.Publish = *p.Publish
	}
	ann := p.Annotations
	if _, ok := ann.Get("provide-api-key"); !ok {
		ann = append(ann, action.Parameter{Key: "provide-api-key", Value: json.RawMessage("false")})
	}
	a.Annotations = withExecAnnotation(ann, a.Exec.Kind)
	return a, nil
}

// updateAction merges a PUT body into the stored action, as OpenWhisk's update does.
func (c *Controller) updateAction(old *action.Action, p *actionPut) (*action.Action, *putError) {
	if p.Exec == nil && c.deprecated(old.Exec.Kind) {
		return nil, &putError{http.StatusBadRequest, textDeprecated(old.Exec.Kind)}
	}
	if p.Exec != nil && p.Exec.Deprecated {
		return nil, &putError{http.StatusBadRequest, textDeprecated(p.Exec.Kind)}
	}
	a := *old
	if p.Exec != nil {
		a.Exec = execOf(p.Exec)
	}
	if p.Limits != nil {
		p.Limits.apply(&a.Limits)
	}
	if p.HasParameters {
		a.Parameters = p.Parameters
	}
	if p.Publish != nil {
		a.Publish = *p.Publish
	}
	if p.Version != "" {
		a.Version = p.Version
	} else {
		a.Version = upPatch(old.Version)
	}
	ann := slices.Clone(old.Annotations)
	for _, k := range p.DelAnnotations {
		ann = slices.DeleteFunc(ann, func(p action.Parameter) bool { return p.Key == k })
	}
	a.Annotations = withExecAnnotation(mergeParams(ann, p.Annotations), a.Exec.Kind)
	return &a, nil
}

func (c *Controller) deprecated(kind string) bool {
	rt, err := c.manifest.Resolve(kind)
	return err == nil && rt.Deprecated
}

func (lp *limitsPut) apply(l *action.Limits) {
	if lp.Timeout != nil {
		l.TimeoutMS = *lp.Timeout
	}
	if lp.Memory != nil {
		l.MemoryMB = *lp.Memory
	}
	if lp.Logs != nil {
		l.LogsMB = *lp.Logs
	}
	if lp.Concurrency != nil {
		l.Concurrency = *lp.Concurrency
	}
	if lp.Instances != nil {
		n := *lp.Instances
		l.Instances = &n
	}
}

func execOf(e *execPut) action.Exec {
	ex := action.Exec{Kind: e.Kind, Image: e.Image, Main: e.Main, Binary: e.Binary}
	if e.Code != nil {
		ex.Code = &action.Code{Text: *e.Code}
	}
	return ex
}

// mergeParams returns base with over's values: existing keys keep their position,
// new keys are appended.
func mergeParams(base, over action.Parameters) action.Parameters {
	out := slices.Clone(base)
	for _, p := range over {
		if i := slices.IndexFunc(out, func(q action.Parameter) bool { return q.Key == p.Key }); i >= 0 {
			out[i] = p
		} else {
			out = append(out, p)
		}
	}
	return out
}

// withExecAnnotation sets the "exec" annotation to the action's kind.
func withExecAnnotation(ann action.Parameters, kind string) action.Parameters {
	v, _ := json.Marshal(kind)
	return mergeParams(ann, action.Parameters{{Key: "exec", Value: v}})
}

// upPatch bumps the patch level of a version "x.y.z".
func upPatch(v string) string {
	var major, minor, patch int
	if _, err := fmt.Sscanf(v, "%d.%d.%d", &major, &minor, &patch); err != nil {
		return "0.0.1"
	}
	return fmt.Sprintf("%d.%d.%d", major, minor, patch+1)
}

func (c *Controller) deleteAction(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	name := param(r, "name")
	if !c.entityName(w, r, name) {
		return
	}
	docID := namespace(ctx) + "/" + name
	a, ok := c.fetchAction(w, r, docID)
	if !ok {
		return
	}
	code, err := c.loadCode(ctx, a)
	if err != nil {
		c.log.Warn("load code of deleted action", zap.String("action", docID), zap.Error(err))
	}
	err = c.store.Delete(ctx, c.cfg.DBWhisks, docID, a.Rev)
	switch {
	case errors.Is(err, store.ErrConflict):
		c.fail(w, r, http.StatusConflict, textConflict)
		return
	case errors.Is(err, store.ErrNotFound):
		c.fail(w, r, http.StatusNotFound, textNotFound)
		return
	case err != nil:
		c.failInternal(w, r, "delete action", err)
		return
	}
	c.log.Info("action deleted", zap.String("transid", transaction(ctx).ID), zap.String("action", docID))
	c.writeJSON(w, http.StatusOK, viewOf(a, code))
}

func (c *Controller) listActions(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	lp, text := parseList(r.URL.Query(), collActions)
	if text != "" {
		c.fail(w, r, http.StatusBadRequest, text)
		return
	}
	ns := namespace(ctx)
	docs, err := c.store.List(ctx, c.cfg.DBWhisks, prefixRange(ns+"/"))
	if err != nil {
		c.failInternal(w, r, "list actions", err)
		return
	}
	var all []*action.Action
	for _, d := range docs {
		a, err := action.Decode(d.Body)
		if err != nil {
			continue // packages, triggers, rules and unreadable documents
		}
		all = append(all, a)
	}
	if lp.count {
		c.writeJSON(w, http.StatusOK, map[string]int{collActions: max(len(all)-lp.skip, 0)})
		return
	}
	slices.SortStableFunc(all, func(a, b *action.Action) int {
		return cmp.Or(cmp.Compare(b.Updated, a.Updated), cmp.Compare(a.DocID(), b.DocID()))
	})
	from, to := page(len(all), lp)
	out := make([]actionSummary, 0, to-from)
	for _, a := range all[from:to] {
		s := actionSummary{
			Namespace: a.Namespace, Name: a.Name, Version: a.Version, Publish: a.Publish,
			Annotations: a.Annotations, Limits: a.Limits, Updated: a.Updated,
		}
		s.Exec.Binary = a.Exec.Binary
		out = append(out, s)
	}
	c.writeJSON(w, http.StatusOK, out)
}

// prefixRange selects the ids that start with prefix.
func prefixRange(prefix string) store.ListOptions {
	return store.ListOptions{StartID: prefix, EndID: prefix + "\ufff0"}
}
