package invoker

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.uber.org/zap"

	"github.com/owinvoker/owinvoker/invoker/broker"
	"github.com/owinvoker/owinvoker/invoker/message"
)

// acker sends acknowledgements on completed<C> in the shapes and order of spec §5.2, and
// user events with the slot-freeing ack when they are enabled.
type acker struct {
	producer    *broker.Producer
	instance    message.InvokerInstanceID
	prefix      string
	events      bool
	eventPrefix string
	log         *zap.Logger
	now         func() time.Time
	metrics     *metrics
}

// result sends the ResultMessage of a blocking activation (without logs) as soon as the
// result is known.
func (a *acker) result(ctx context.Context, msg *message.ActivationMessage, act message.WhiskActivation) error {
	act.Logs = nil
	return a.send(ctx, msg, message.NewResult(msg.TransID, &act))
}

// completion sends the slot-freeing CompletionMessage.
func (a *acker) completion(ctx context.Context, msg *message.ActivationMessage, act message.WhiskActivation) error {
	err := a.send(ctx, msg, message.NewCompletion(msg.TransID, &act, a.instance))
	a.event(ctx, act, msg)
	return err
}

// combined sends a CombinedCompletionAndResultMessage, shrunk for non-blocking activations.
func (a *acker) combined(ctx context.Context, msg *message.ActivationMessage, act message.WhiskActivation, blocking bool) error {
	var ack message.Ack = message.NewCombined(msg.TransID, &act, a.instance)
	if !blocking {
		ack = ack.Shrink()
	}
	err := a.send(ctx, msg, ack)
	a.event(ctx, act, msg)
	return err
}

// send writes the ack, shrinking it when the broker refuses it as too large, and retries
// other failures with back-off until ctx ends: a lost slot-freeing ack would leave the
// controller's accounting of this invoker wrong until its timeout.
func (a *acker) send(ctx context.Context, msg *message.ActivationMessage, ack message.Ack) error {
	topic := message.CompletedTopic(a.prefix, msg.RootControllerIndex)
	delay := 100 * time.Millisecond
	for attempt := 1; ; attempt++ {
		data, err := message.Marshal(ack)
		if err != nil {
			return fmt.Errorf("encode ack of %s: %w", msg.ActivationID, err)
		}
		err = a.producer.Send(ctx, topic, data)
		if err == nil {
			a.metrics.acks.WithLabel(ack.Kind().String()).Inc()
			return nil
		}
		if errors.Is(err, broker.ErrTooLarge) {
			shrunk := ack.Shrink()
			if shrunkData, _ := message.Marshal(shrunk); string(shrunkData) != string(data) {
				a.log.Info("ack too large, sending it shrunk", zap.String("activationId", string(msg.ActivationID)), zap.Int("bytes", len(data)))
				ack = shrunk
				continue
			}
		}
		if ctx.Err() != nil {
			return fmt.Errorf("ack of %s: %w", msg.ActivationID, err)
		}
		a.metrics.ackRetries.Inc()
		a.log.Warn("ack not sent, retrying", zap.String("activationId", string(msg.ActivationID)), zap.Int("attempt", attempt), zap.Error(err))
		select {
		case <-ctx.Done():
			return fmt.Errorf("ack of %s: %w", msg.ActivationID, err)
		case <-time.After(delay):
		}
		delay = min(2*delay, 5*time.Second)
	}
}

func (a *acker) event(ctx context.Context, act message.WhiskActivation, msg *message.ActivationMessage) {
	if !a.events {
		return
	}
	ev, err := message.NewActivationEvent(&act, a.instance, msg.User.Namespace.UUID, a.now().UnixMilli())
	if errors.Is(err, message.ErrNoEvent) {
		return
	}
	if err == nil {
		var data []byte
		if data, err = message.Marshal(ev); err == nil {
			err = a.producer.Send(ctx, message.EventsTopic(a.eventPrefix), data)
		}
	}
	if err != nil {
		a.log.Warn("user event not sent", zap.String("activationId", string(msg.ActivationID)), zap.Error(err))
	}
}
