package controller

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/go-chi/chi/v5"
	"github.com/owinvoker/owinvoker/controller-plugin/supervisor"
	"github.com/owinvoker/owinvoker/invoker/message"
)

// Collections of the API, as named in list errors.
const (
	collActions     = "actions"
	collActivations = "activations"
	collPackages    = "packages"
	collTriggers    = "triggers"
	collRules       = "rules"
)

// List parameters (whisk.query-limit).
const (
	defaultListLimit = 30
	maxListLimit     = 200
)

// maxEntityName is the longest entity name OpenWhisk accepts.
const maxEntityName = 256

func (c *Controller) routes() http.Handler {
	r := chi.NewRouter()
	r.Use(c.withTransaction, preflight)
	r.NotFound(func(w http.ResponseWriter, r *http.Request) {
		c.fail(w, r, http.StatusNotFound, textRouteNotFound)
	})
	r.MethodNotAllowed(func(w http.ResponseWriter, r *http.Request) {
		c.fail(w, r, http.StatusMethodNotAllowed, textMethodNotAllowed(allowedMethods(r)))
	})
	r.Get("/", c.handleInfo)
	r.Group(func(r chi.Router) {
		r.Use(c.adminOnly)
		r.Get("/invokers", c.handleInvokers)
		r.Get("/invokers/healthy/count", c.handleHealthyCount)
		r.Get("/invokers/ready", c.handleReady)
	})
	r.Route("/api/v1", func(r chi.Router) {
		r.Get("/", c.handleAPIInfo)
		r.Group(func(r chi.Router) {
			r.Use(c.authenticate)
			r.Get("/namespaces", c.handleNamespaces)
			r.Route("/namespaces/{ns}", func(r chi.Router) {
				r.Use(c.resolveNamespace)
				r.Get("/actions", c.listActions)
				r.Get("/actions/{name}", c.getAction)
				r.Put("/actions/{name}", c.putAction)
				r.Delete("/actions/{name}", c.deleteAction)
				r.Post("/actions/{name}", c.invokeAction)
				// Packages are not supported: every packaged action is absent.
				r.HandleFunc("/actions/{pkg}/*", c.notFound)
				r.Get("/activations", c.listActivations)
				r.Get("/activations/{id}", c.getActivation)
				r.Get("/activations/{id}/logs", c.getActivationLogs)
				r.Get("/activations/{id}/result", c.getActivationResult)
				for _, coll := range []string{collPackages, collTriggers, collRules} {
					r.Get("/"+coll, c.emptyList(coll))
					r.HandleFunc("/"+coll+"/*", c.notImplemented)
					r.Get("/"+coll+"/*", c.notFound)
				}
			})
		})
	})
	return r
}

// preflight answers CORS preflight requests as OpenWhisk does: 200 with the CORS
// headers (set by withTransaction), without credentials.
func preflight(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodOptions {
			w.WriteHeader(http.StatusOK)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// allowedMethods lists the methods the matched path supports, for 405 answers.
func allowedMethods(r *http.Request) string {
	rctx := chi.RouteContext(r.Context())
	if rctx == nil || rctx.Routes == nil {
		return "GET"
	}
	var out []string
	for _, m := range []string{http.MethodGet, http.MethodPut, http.MethodPost, http.MethodDelete} {
		if rctx.Routes.Match(chi.NewRouteContext(), m, r.URL.Path) {
			out = append(out, m)
		}
	}
	if len(out) == 0 {
		return "GET"
	}
	return strings.Join(out, ", ")
}

func (c *Controller) notFound(w http.ResponseWriter, r *http.Request) {
	c.fail(w, r, http.StatusNotFound, textNotFound)
}

func (c *Controller) notImplemented(w http.ResponseWriter, r *http.Request) {
	c.fail(w, r, http.StatusNotImplemented, textNotImplemented)
}

// param returns the unescaped path parameter name.
func param(r *http.Request, name string) string {
	v := chi.URLParam(r, name)
	if r.URL.RawPath != "" {
		if u, err := url.PathUnescape(v); err == nil {
			return u
		}
	}
	return v
}

type nsKey struct{}

// namespace returns the request's resolved namespace name.
func namespace(ctx context.Context) string {
	ns, _ := ctx.Value(nsKey{}).(string)
	return ns
}

// resolveNamespace resolves the {ns} path segment: "_" is the caller's namespace; any
// other namespace must be the caller's own (403 otherwise).
func (c *Controller) resolveNamespace(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := caller(r.Context())
		ns := param(r, "ns")
		switch {
		case ns == "_" || ns == id.Namespace:
			ns = id.Namespace
		case !message.ValidEntityName(ns):
			c.fail(w, r, http.StatusBadRequest, textNamespaceIllegal)
			return
		default:
			c.fail(w, r, http.StatusForbidden, textNotAuthorized)
			return
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), nsKey{}, ns)))
	})
}

// entityName validates an entity name path segment and answers 400 when it is bad.
func (c *Controller) entityName(w http.ResponseWriter, r *http.Request, name string) bool {
	if message.ValidEntityName(name) {
		return true
	}
	if len(name) > maxEntityName {
		c.fail(w, r, http.StatusBadRequest, textNameTooLong(len(name), maxEntityName))
	} else {
		c.fail(w, r, http.StatusBadRequest, textEntityIllegal)
	}
	return false
}

func (c *Controller) handleInfo(w http.ResponseWriter, r *http.Request) {
	type runtime struct {
		Kind        string `json:"kind"`
		Image       string `json:"image"`
		Deprecated  bool   `json:"deprecated"`
		Default     bool   `json:"default"`
		Attached    bool   `json:"attached"`
		RequireMain bool   `json:"requireMain"`
	}
	runtimes := map[string][]runtime{}
	for _, rt := range c.manifest.Runtimes() {
		runtimes[rt.Family] = append(runtimes[rt.Family], runtime{
			Kind: rt.Kind, Image: rt.Image.String(), Deprecated: rt.Deprecated, Default: rt.Default,
			Attached: rt.Attached != nil, RequireMain: rt.RequireMain,
		})
	}
	l := c.cfg.Limits
	info := map[string]any{
		"description": "OpenWhisk",
		"support": map[string]string{
			"github": "https://github.com/apache/openwhisk/issues",
			"slack":  "http://slack.openwhisk.org",
		},
		"api_paths": []string{"/api/v1"},
		"limits": map[string]any{
			"actions_per_minute":          l.InvocationsPerMinute,
			"concurrent_actions":          l.ConcurrentInvocations,
			"default_min_action_duration": l.NamespaceDefault.TimeoutMS.Min,
			"default_max_action_duration": l.NamespaceDefault.TimeoutMS.Max,
			"default_min_action_memory":   int64(l.NamespaceDefault.MemoryMB.Min) << 20,
			"default_max_action_memory":   int64(l.NamespaceDefault.MemoryMB.Max) << 20,
			"default_min_action_logs":     int64(l.NamespaceDefault.LogsMB.Min) << 20,
			"default_max_action_logs":     int64(l.NamespaceDefault.LogsMB.Max) << 20,
			"min_action_duration":         l.System.TimeoutMS.Min,
			"max_action_duration":         l.System.TimeoutMS.Max,
			"min_action_memory":           int64(l.System.MemoryMB.Min) << 20,
			"max_action_memory":           int64(l.System.MemoryMB.Max) << 20,
			"min_action_logs":             int64(l.System.LogsMB.Min) << 20,
			"max_action_logs":             int64(l.System.LogsMB.Max) << 20,
		},
		"runtimes": runtimes,
	}
	if c.cfg.APIHost != "" {
		info["api_host"] = c.cfg.APIHost
	}
	c.writeJSON(w, http.StatusOK, info)
}

func (c *Controller) handleAPIInfo(w http.ResponseWriter, r *http.Request) {
	c.writeJSON(w, http.StatusOK, map[string]any{
		"description":      "OpenWhisk API",
		"api_version":      "1.0.0",
		"api_version_path": "v1",
		"build":            c.cfg.Build,
		"buildno":          c.cfg.BuildNo,
		"swagger_paths":    map[string]string{"ui": "/docs", "api-docs": "/api-docs"},
	})
}

func (c *Controller) handleNamespaces(w http.ResponseWriter, r *http.Request) {
	c.writeJSON(w, http.StatusOK, []string{caller(r.Context()).Namespace})
}

// emptyList answers the collections this controller does not keep with an empty list,
// after checking the list parameters as OpenWhisk does, so that `wsk list` works.
func (c *Controller) emptyList(coll string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		lp, text := parseList(r.URL.Query(), coll)
		if text != "" {
			c.fail(w, r, http.StatusBadRequest, text)
			return
		}
		if lp.count {
			c.writeJSON(w, http.StatusOK, map[string]int{coll: 0})
			return
		}
		c.writeJSON(w, http.StatusOK, []any{})
	}
}

func (c *Controller) handleInvokers(w http.ResponseWriter, r *http.Request) {
	out := map[string]string{}
	for id, s := range c.supervisor.Status() {
		out[fmt.Sprintf("invoker%d", id)] = s.String()
	}
	c.writeJSON(w, http.StatusOK, out)
}

func (c *Controller) healthy() (healthy, all int) {
	st := c.supervisor.Status()
	for _, s := range st {
		if s == supervisor.Healthy {
			healthy++
		}
	}
	return healthy, len(st)
}

func (c *Controller) handleHealthyCount(w http.ResponseWriter, r *http.Request) {
	h, _ := c.healthy()
	c.writeJSON(w, http.StatusOK, h)
}

func (c *Controller) handleReady(w http.ResponseWriter, r *http.Request) {
	h, all := c.healthy()
	ratio := fmt.Sprintf("%d/%d", h, all)
	if all > 0 && h > 0 && float64(h)/float64(all) >= c.cfg.ReadinessThreshold {
		c.writeJSON(w, http.StatusOK, map[string]string{"healthy": ratio})
		return
	}
	c.writeJSON(w, http.StatusInternalServerError, map[string]string{"unhealthy": ratio})
}

// listParams are the query parameters common to list requests.
type listParams struct {
	skip, limit int
	count       bool
}

// parseList reads skip, limit and count as OpenWhisk does; it returns the error text
// of a 400 answer when one is malformed.
func parseList(q url.Values, coll string) (listParams, string) {
	lp := listParams{limit: defaultListLimit}
	if v, ok := q["limit"]; ok && len(v) > 0 {
		n, err := strconv.Atoi(strings.TrimSpace(v[0]))
		switch {
		case err != nil:
			return lp, textMalformedQuery("limit", textNotInteger(coll, v[0]))
		case n == 0:
			lp.limit = maxListLimit
		case n > 0 && n <= maxListLimit:
			lp.limit = n
		default:
			return lp, textMalformedQuery("limit", textListLimit(coll, n, maxListLimit))
		}
	}
	if v, ok := q["skip"]; ok && len(v) > 0 {
		n, err := strconv.Atoi(strings.TrimSpace(v[0]))
		switch {
		case err != nil:
			return lp, textMalformedQuery("skip", textNotInteger(coll, v[0]))
		case n < 0:
			return lp, textMalformedQuery("skip", textListSkip(coll, n))
		}
		lp.skip = n
	}
	var text string
	if lp.count, text = parseBool(q, "count", false); text != "" {
		return lp, text
	}
	return lp, ""
}

// parseBool reads a boolean query parameter the way OpenWhisk's HTTP framework does.
func parseBool(q url.Values, name string, def bool) (bool, string) {
	v, ok := q[name]
	if !ok || len(v) == 0 {
		return def, ""
	}
	switch strings.ToLower(strings.TrimSpace(v[0])) {
	case "true", "yes", "on", "1":
		return true, ""
	case "false", "no", "off", "0":
		return false, ""
	}
	return def, textMalformedQuery(name, fmt.Sprintf("'%s' is not a valid Boolean value", v[0]))
}

// page applies skip and limit to n items and returns the bounds of the page.
func page(n int, lp listParams) (from, to int) {
	from = min(lp.skip, n)
	to = min(from+lp.limit, n)
	return from, to
}
