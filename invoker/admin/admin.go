// Package admin is the invoker's HTTP server, with the endpoints of OpenWhisk's
// DefaultInvokerServer (spec §11.3): GET /ping, GET /metrics, and, behind Basic auth,
// POST /enable, POST /disable and GET /isEnabled. On top of those, GET /status reports the
// drain state (enabled, draining, drained) so an operator can wait for a drain to finish.
package admin

import (
	"crypto/subtle"
	"encoding/json"
	"net/http"

	"github.com/go-chi/chi/v5"
	"go.uber.org/zap"
)

// Controls are what the server acts on; cmd/owinvoker hands in the invoker's.
type Controls struct {
	Enable  func() string
	Disable func(r *http.Request) string
	Enabled func() bool
	// State is "enabled", "draining" or "drained"; InFlight the activations in the invoker.
	State    func() string
	InFlight func() int
	Metrics  http.Handler
}

// Config holds the credentials of the protected endpoints (whisk.invoker.username/password)
// and the transaction header name.
type Config struct {
	Username, Password string
	RequestIDHeader    string // default X-Request-ID
}

// Handler returns the router.
func Handler(cfg Config, c Controls, log *zap.Logger) http.Handler {
	if cfg.RequestIDHeader == "" {
		cfg.RequestIDHeader = "X-Request-ID"
	}
	log = log.Named("admin")
	r := chi.NewRouter()
	r.Use(func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
			id := req.Header.Get(cfg.RequestIDHeader)
			if id == "" {
				id = "sid_invoker_admin"
			}
			w.Header().Set(cfg.RequestIDHeader, id)
			next.ServeHTTP(w, req)
		})
	})
	r.Get("/ping", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=UTF-8")
		_, _ = w.Write([]byte("pong"))
	})
	if c.Metrics != nil {
		r.Method(http.MethodGet, "/metrics", c.Metrics)
	}
	r.Group(func(r chi.Router) {
		r.Use(basicAuth(cfg.Username, cfg.Password))
		r.Post("/enable", func(w http.ResponseWriter, _ *http.Request) {
			text(w, c.Enable())
			log.Info("enabled")
		})
		r.Post("/disable", func(w http.ResponseWriter, req *http.Request) {
			text(w, c.Disable(req))
			log.Info("disabled")
		})
		r.Get("/isEnabled", func(w http.ResponseWriter, _ *http.Request) {
			b, _ := json.Marshal(map[string]bool{"enabled": c.Enabled()})
			text(w, string(b))
		})
		r.Get("/status", func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			_ = json.NewEncoder(w).Encode(map[string]any{"state": c.State(), "inFlight": c.InFlight()})
		})
	})
	return r
}

func text(w http.ResponseWriter, s string) {
	w.Header().Set("Content-Type", "text/plain; charset=UTF-8")
	_, _ = w.Write([]byte(s))
}

func basicAuth(user, password string) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			u, p, ok := r.BasicAuth()
			if !ok || subtle.ConstantTimeCompare([]byte(u), []byte(user)) != 1 || subtle.ConstantTimeCompare([]byte(p), []byte(password)) != 1 {
				w.Header().Set("WWW-Authenticate", `Basic realm="invoker"`)
				http.Error(w, "The supplied authentication is invalid", http.StatusUnauthorized)
				return
			}
			next.ServeHTTP(w, r)
		})
	}
}
