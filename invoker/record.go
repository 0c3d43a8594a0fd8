package invoker

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"go.uber.org/zap"

	"github.com/owinvoker/owinvoker/invoker/message"
	"github.com/owinvoker/owinvoker/invoker/store"
)

// StoreLevel is OpenWhisk's store-(non-)blocking-result-level (spec §6.6).
type StoreLevel string

// The store levels.
const (
	StoreAlways                        StoreLevel = "STORE_ALWAYS"
	StoreFailures                      StoreLevel = "STORE_FAILURES"
	StoreFailuresNotApplicationErrors  StoreLevel = "STORE_FAILURES_NOT_APPLICATION_ERRORS"
	recordRetryMax                                = 30 * time.Second
	recordOutcomeStored, recordSkipped            = "stored", "skipped"
	recordExisting                                = "existing"
)

// recorder writes activation records to the activations database.
type recorder struct {
	store       store.DocStore
	db          string
	blocking    StoreLevel
	nonBlocking StoreLevel
	log         *zap.Logger
	now         func() time.Time
	metrics     *metrics
}

// shouldStore applies the store policy of spec §6.6.
func (r *recorder) shouldStore(msg *message.ActivationMessage, act *message.WhiskActivation) bool {
	if msg.TransID.ExtraLogging {
		return true
	}
	if !msg.User.Limits.StoresActivations() {
		return false
	}
	level := r.nonBlocking
	if msg.Blocking {
		level = r.blocking
	}
	switch level {
	case StoreFailures:
		return act.Response.StatusCode != message.StatusSuccess
	case StoreFailuresNotApplicationErrors:
		return act.Response.StatusCode == message.StatusDeveloperError || act.Response.StatusCode == message.StatusWhiskError
	}
	return true
}

// write stores the record unless the policy says not to. An existing record with the same id
// counts as written (a redelivered activation, or a retry whose first attempt got through).
// An unavailable database is retried with back-off until ctx ends; the error returned then
// names the activation, and the caller keeps the Kafka record unfinished so that, in
// at-least-once mode, the activation is delivered again rather than lost.
func (r *recorder) write(ctx context.Context, msg *message.ActivationMessage, act message.WhiskActivation) error {
	if !r.shouldStore(msg, &act) {
		r.metrics.records.WithLabelValues(recordSkipped).Inc()
		return nil
	}
	doc, err := message.Marshal(act.Record(r.now().UnixMilli()))
	if err != nil {
		return fmt.Errorf("encode record of %s: %w", act.ActivationID, err)
	}
	delay := 200 * time.Millisecond
	for attempt := 1; ; attempt++ {
		_, err = r.store.Put(ctx, r.db, act.DocID(), "", json.RawMessage(doc))
		switch {
		case err == nil:
			r.metrics.records.WithLabelValues(recordOutcomeStored).Inc()
			return nil
		case errors.Is(err, store.ErrConflict):
			r.metrics.records.WithLabelValues(recordExisting).Inc()
			return nil
		}
		if ctx.Err() != nil {
			r.log.Error("activation record not written", zap.String("activationId", string(act.ActivationID)), zap.Error(err))
			return fmt.Errorf("record of %s: %w", act.ActivationID, err)
		}
		r.metrics.recordRetry.Inc()
		r.log.Warn("activation record not written, retrying", zap.String("activationId", string(act.ActivationID)),
			zap.Int("attempt", attempt), zap.Error(err))
		select {
		case <-ctx.Done():
			r.log.Error("activation record not written", zap.String("activationId", string(act.ActivationID)), zap.Error(ctx.Err()))
			return fmt.Errorf("record of %s: %w", act.ActivationID, err)
		case <-time.After(delay):
		}
		delay = min(2*delay, recordRetryMax)
	}
}

// existing returns the stored record of an activation, if there is one: a redelivered
// activation that already ran is acknowledged from it instead of running again.
func (r *recorder) existing(ctx context.Context, msg *message.ActivationMessage) (*message.WhiskActivation, error) {
	id := msg.User.Namespace.Name + "/" + string(msg.ActivationID)
	doc, err := r.store.Get(ctx, r.db, id)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("look up record %s: %w", id, err)
	}
	var rec message.ActivationRecord
	if err := json.Unmarshal(doc.Body, &rec); err != nil {
		return nil, fmt.Errorf("decode record %s: %w", id, err)
	}
	return &rec.WhiskActivation, nil
}
