package controller

import (
	"context"
	"net/http"
	"strings"

	"github.com/owinvoker/owinvoker/invoker/message"
	"go.uber.org/zap"
)

// headerRequestID carries the transaction id (whisk.transactions.header).
const headerRequestID = "X-Request-ID"

// headerActivationID names the activation a response is about.
const headerActivationID = "x-openwhisk-activation-id"

type tidKey struct{}

// transaction returns the request's transaction id, set by the transaction middleware.
func transaction(ctx context.Context) message.TransactionID {
	tid, _ := ctx.Value(tidKey{}).(message.TransactionID)
	return tid
}

// withTransaction gives every request a transaction id: the client's X-Request-ID when
// it sent a usable one, or a fresh random one, started at the time the request arrived.
// The id goes back in the X-Request-ID header of every response.
func (c *Controller) withTransaction(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		now := c.cfg.Now()
		tid := message.NewTransactionID(now)
		if id := strings.TrimSpace(r.Header.Get(headerRequestID)); id != "" && len(id) <= 128 && printable(id) {
			tid.ID = id
		}
		w.Header().Set(headerRequestID, tid.ID)
		w.Header().Set("Access-Control-Allow-Origin", "*")
		w.Header().Set("Access-Control-Allow-Methods", "GET, DELETE, POST, PUT, HEAD")
		w.Header().Set("Access-Control-Allow-Headers", "Authorization, Origin, X-Requested-With, Content-Type, Accept, User-Agent")
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), tidKey{}, tid)))
	})
}

func printable(s string) bool {
	for _, r := range s {
		if r < 0x21 || r > 0x7e {
			return false
		}
	}
	return true
}

// writeJSON answers with status and v as compact JSON.
func (c *Controller) writeJSON(w http.ResponseWriter, status int, v any) {
	body, err := message.Marshal(v)
	if err != nil {
		c.log.Error("encode response", zap.Error(err))
		status, body = http.StatusInternalServerError, []byte(`{"error":"`+textInternal+`"}`)
	}
	c.writeRaw(w, status, body)
}

func (c *Controller) writeRaw(w http.ResponseWriter, status int, body []byte) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// errorBody is OpenWhisk's error response: the message and the transaction id.
type errorBody struct {
	Error string `json:"error"`
	Code  string `json:"code"`
}

// fail answers with OpenWhisk's error JSON.
func (c *Controller) fail(w http.ResponseWriter, r *http.Request, status int, text string) {
	c.writeJSON(w, status, errorBody{Error: strings.TrimSpace(text), Code: transaction(r.Context()).ID})
}

// failInternal logs err and answers 500 with the standard text.
func (c *Controller) failInternal(w http.ResponseWriter, r *http.Request, what string, err error) {
	c.log.Error(what, zap.String("transid", transaction(r.Context()).ID), zap.Error(err))
	c.fail(w, r, http.StatusInternalServerError, textInternal)
}
