package broker

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/segmentio/kafka-go"
	"go.uber.org/zap"
)

// MaxMessageBytes is OpenWhisk's MAX_ACTIVATION_LIMIT: the 1 MiB payload limit plus 6068 bytes
// of serialisation overhead. The invoker topic and the ack producer both use it.
const MaxMessageBytes = 1048576 + 6068

// ErrTooLarge is returned (wrapped) by Producer.Send when the broker refuses a record as too
// large; the caller may shrink the message and send again (OpenWhisk's ack shrinking).
var ErrTooLarge = errors.New("broker: record too large")

// ProducerConfig configures a Producer.
type ProducerConfig struct {
	Brokers  []string
	MaxBytes int           // largest record, default MaxMessageBytes
	Timeout  time.Duration // per send, default 30 s (request.timeout.ms)
}

// Producer sends records to any topic. It is safe for concurrent use; concurrent sends are
// batched together.
type Producer struct {
	cfg ProducerConfig
	w   *kafka.Writer
	log *zap.Logger
}

// NewProducer creates a producer; it connects on first use.
func NewProducer(cfg ProducerConfig, log *zap.Logger) (*Producer, error) {
	if len(cfg.Brokers) == 0 {
		return nil, errors.New("producer: no Kafka brokers configured")
	}
	if cfg.MaxBytes <= 0 {
		cfg.MaxBytes = MaxMessageBytes
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 30 * time.Second
	}
	w := &kafka.Writer{
		Addr:                   kafka.TCP(cfg.Brokers...),
		Balancer:               &kafka.RoundRobin{},
		RequiredAcks:           kafka.RequireOne, // acks=1
		BatchTimeout:           time.Millisecond, // latency matters more than batching here
		BatchBytes:             int64(cfg.MaxBytes),
		MaxAttempts:            3,
		WriteBackoffMin:        100 * time.Millisecond,
		WriteBackoffMax:        time.Second,
		WriteTimeout:           cfg.Timeout,
		ReadTimeout:            cfg.Timeout,
		AllowAutoTopicCreation: true,
	}
	return &Producer{cfg: cfg, w: w, log: log.Named("producer")}, nil
}

// Send writes one record (no key, no headers, as OpenWhisk does) and waits for the broker's
// acknowledgement. It returns an error wrapping ErrTooLarge for an oversized record.
func (p *Producer) Send(ctx context.Context, topic string, value []byte) error {
	if len(value) > p.cfg.MaxBytes {
		return fmt.Errorf("send to %s: %d bytes: %w", topic, len(value), ErrTooLarge)
	}
	var err error
	// A topic that was just created (or auto-created by this write) is unknown to the
	// partition leader for a moment; wait for it rather than fail.
	for delay := 50 * time.Millisecond; ; delay *= 2 {
		err = p.w.WriteMessages(ctx, kafka.Message{Topic: topic, Value: value})
		if err == nil {
			return nil
		}
		if !errors.Is(err, kafka.UnknownTopicOrPartition) && !errors.Is(err, kafka.LeaderNotAvailable) || delay > 3*time.Second {
			break
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("send to %s: %w", topic, err)
		case <-time.After(delay):
		}
	}
	var werr kafka.WriteErrors
	if errors.As(err, &werr) && len(werr) == 1 && werr[0] != nil {
		err = werr[0]
	}
	var tooLarge kafka.MessageTooLargeError
	if errors.Is(err, kafka.MessageSizeTooLarge) || errors.As(err, &tooLarge) {
		return fmt.Errorf("send to %s: %d bytes: %w", topic, len(value), ErrTooLarge)
	}
	return fmt.Errorf("send to %s: %w", topic, err)
}

// Close flushes and closes the producer.
func (p *Producer) Close() error {
	if err := p.w.Close(); err != nil {
		return fmt.Errorf("close producer: %w", err)
	}
	return nil
}
