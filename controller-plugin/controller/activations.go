package controller

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/owinvoker/owinvoker/invoker/message"
	"github.com/owinvoker/owinvoker/invoker/store"
)

// readActivation reads the record "<ns>/<id>" of the activations database.
func (c *Controller) readActivation(ctx context.Context, ns string, aid message.ActivationID) (*message.WhiskActivation, error) {
	doc, err := c.store.Get(ctx, c.cfg.DBActivations, ns+"/"+string(aid))
	if err != nil {
		return nil, err
	}
	var rec message.ActivationRecord
	if err := json.Unmarshal(doc.Body, &rec); err != nil {
		return nil, fmt.Errorf("activation %s/%s: %w", ns, aid, err)
	}
	return &rec.WhiskActivation, nil
}

// extendedResponse is an activation's response as users see it: the status text and a
// success flag instead of the status code.
func extendedResponse(r message.ActivationResponse) map[string]any {
	out := map[string]any{
		"status":  r.StatusCode.Message(),
		"success": r.StatusCode == message.StatusSuccess,
	}
	if r.Result != nil {
		out["result"] = r.Result
	}
	if r.Size != nil {
		out["size"] = *r.Size
	}
	return out
}

// extendedActivation is the activation as the API returns it (OpenWhisk's
// toExtendedJson): the extended response, and no end while the activation has not
// ended, otherwise a duration.
func extendedActivation(a *message.WhiskActivation) ([]byte, error) {
	raw, err := message.Marshal(a)
	if err != nil {
		return nil, err
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(raw, &fields); err != nil {
		return nil, err
	}
	resp, err := message.Marshal(extendedResponse(a.Response))
	if err != nil {
		return nil, err
	}
	fields["response"] = resp
	if a.End != 0 {
		d := a.End - a.Start
		if a.Duration != nil {
			d = *a.Duration
		}
		fields["duration"] = json.RawMessage(strconv.FormatInt(d, 10))
	} else {
		delete(fields, "end")
	}
	return message.Marshal(fields)
}

// activationSummary is an activation in a list without docs (OpenWhisk's activations
// view): no response, no logs; end, duration and statusCode once it has ended.
type activationSummary struct {
	Namespace    string             `json:"namespace"`
	Name         string             `json:"name"`
	Version      string             `json:"version"`
	Publish      bool               `json:"publish"`
	Annotations  message.Parameters `json:"annotations"`
	ActivationID string             `json:"activationId"`
	Start        int64              `json:"start"`
	End          *int64             `json:"end,omitempty"`
	Duration     *int64             `json:"duration,omitempty"`
	Cause        string             `json:"cause,omitempty"`
	StatusCode   *int               `json:"statusCode,omitempty"`
}

func summarize(a *message.WhiskActivation) activationSummary {
	s := activationSummary{
		Namespace: a.Namespace, Name: a.Name, Version: a.Version, Publish: a.Publish,
		Annotations: a.Annotations, ActivationID: string(a.ActivationID), Start: a.Start, Cause: string(a.Cause),
	}
	if s.Annotations == nil {
		s.Annotations = message.Parameters{}
	}
	if a.End != 0 {
		end, d, code := a.End, a.End-a.Start, int(a.Response.StatusCode)
		s.End, s.Duration, s.StatusCode = &end, &d, &code
	}
	return s
}

// pathFilter is the name an activation is listed under when filtered by name, as
// OpenWhisk's activations filter view computes it: "pkg/name" for packaged actions
// (the binding's package when invoked through one), else the name.
func pathFilter(a *message.WhiskActivation) string {
	if b, ok := a.Annotations.GetString(message.AnnotationBinding); ok {
		if segs := strings.Split(b, "/"); len(segs) > 1 {
			return segs[1] + "/" + a.Name
		}
	}
	if p, ok := a.Annotations.GetString(message.AnnotationPath); ok {
		if segs := strings.Split(p, "/"); len(segs) == 3 {
			return segs[1] + "/" + a.Name
		}
	}
	return a.Name
}

// activationQuery is a parsed activation list request.
type activationQuery struct {
	listParams
	docs        bool
	name        string // "", "name" or "pkg/name"
	since, upto *int64 // epoch ms, inclusive
}

func parseActivationQuery(q url.Values) (activationQuery, string) {
	var aq activationQuery
	var text string
	if aq.listParams, text = parseList(q, collActivations); text != "" {
		return aq, text
	}
	if aq.docs, text = parseBool(q, "docs", false); text != "" {
		return aq, text
	}
	if aq.count && aq.docs {
		return aq, textDocsWithCount
	}
	if v := q.Get("name"); strings.TrimSpace(v) != "" {
		segs := strings.FieldsFunc(v, func(r rune) bool { return r == '/' })
		ok := len(segs) > 0 && len(segs) <= 2
		for _, s := range segs {
			ok = ok && message.ValidEntityName(s)
		}
		if !ok {
			return aq, textMalformedQuery("name", textBadNameFilter(v))
		}
		aq.name = strings.Join(segs, "/")
	}
	for _, f := range []struct {
		key string
		dst **int64
	}{{"since", &aq.since}, {"upto", &aq.upto}} {
		if v, ok := q[f.key]; ok && len(v) > 0 {
			n, err := strconv.ParseInt(strings.TrimSpace(v[0]), 10, 64)
			if err != nil {
				return aq, textMalformedQuery(f.key, textBadEpoch(v[0]))
			}
			*f.dst = &n
		}
	}
	return aq, ""
}

// matches reports whether a falls in the query's name and time window.
func (aq *activationQuery) matches(ns string, a *message.WhiskActivation) bool {
	if a.Namespace != ns {
		return false
	}
	if aq.name != "" && pathFilter(a) != aq.name {
		return false
	}
	if aq.since != nil && a.Start < *aq.since {
		return false
	}
	if aq.upto != nil && a.Start > *aq.upto {
		return false
	}
	return true
}

func (c *Controller) listActivations(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	aq, text := parseActivationQuery(r.URL.Query())
	if text != "" {
		c.fail(w, r, http.StatusBadRequest, text)
		return
	}
	ns := namespace(ctx)
	docs, err := c.store.List(ctx, c.cfg.DBActivations, prefixRange(ns+"/"))
	if err != nil {
		c.failInternal(w, r, "list activations", err)
		return
	}
	var acts []*message.WhiskActivation
	for _, d := range docs {
		var rec message.ActivationRecord
		if json.Unmarshal(d.Body, &rec) != nil {
			continue
		}
		if aq.matches(ns, &rec.WhiskActivation) {
			acts = append(acts, &rec.WhiskActivation)
		}
	}
	if aq.count {
		c.writeJSON(w, http.StatusOK, map[string]int{collActivations: max(len(acts)-aq.skip, 0)})
		return
	}
	slices.SortStableFunc(acts, func(a, b *message.WhiskActivation) int {
		return cmp.Or(cmp.Compare(b.Start, a.Start), cmp.Compare(b.ActivationID, a.ActivationID))
	})
	from, to := page(len(acts), aq.listParams)
	out := make([]json.RawMessage, 0, to-from)
	for _, a := range acts[from:to] {
		var raw []byte
		var err error
		if aq.docs {
			raw, err = extendedActivation(a)
		} else {
			raw, err = message.Marshal(summarize(a))
		}
		if err != nil {
			c.failInternal(w, r, "encode activation", err)
			return
		}
		out = append(out, raw)
	}
	c.writeJSON(w, http.StatusOK, out)
}

// activationParam validates the {id} path segment and answers 400 when it is bad.
func (c *Controller) activationParam(w http.ResponseWriter, r *http.Request) (message.ActivationID, bool) {
	s := param(r, "id")
	if len(s) != 32 {
		c.fail(w, r, http.StatusBadRequest, textActivationIDLength(len(s)))
		return "", false
	}
	for _, ch := range s {
		if !(ch >= '0' && ch <= '9' || ch >= 'a' && ch <= 'f' || ch >= 'A' && ch <= 'F') {
			c.fail(w, r, http.StatusBadRequest, textActivationID)
			return "", false
		}
	}
	return message.ActivationID(s), true
}

// fetchActivation reads the requested activation and answers 404 or 500 when it cannot.
func (c *Controller) fetchActivation(w http.ResponseWriter, r *http.Request) (*message.WhiskActivation, bool) {
	aid, ok := c.activationParam(w, r)
	if !ok {
		return nil, false
	}
	a, err := c.readActivation(r.Context(), namespace(r.Context()), aid)
	switch {
	case err == nil:
		return a, true
	case errors.Is(err, store.ErrNotFound):
		c.fail(w, r, http.StatusNotFound, textNotFound)
	default:
		c.failInternal(w, r, "read activation", err)
	}
	return nil, false
}

func (c *Controller) getActivation(w http.ResponseWriter, r *http.Request) {
	a, ok := c.fetchActivation(w, r)
	if !ok {
		return
	}
	body, err := extendedActivation(a)
	if err != nil {
		c.failInternal(w, r, "encode activation", err)
		return
	}
	c.writeRaw(w, http.StatusOK, body)
}

func (c *Controller) getActivationLogs(w http.ResponseWriter, r *http.Request) {
	a, ok := c.fetchActivation(w, r)
	if !ok {
		return
	}
	logs := a.Logs
	if logs == nil {
		logs = []string{}
	}
	c.writeJSON(w, http.StatusOK, map[string][]string{"logs": logs})
}

func (c *Controller) getActivationResult(w http.ResponseWriter, r *http.Request) {
	a, ok := c.fetchActivation(w, r)
	if !ok {
		return
	}
	c.writeJSON(w, http.StatusOK, extendedResponse(a.Response))
}
