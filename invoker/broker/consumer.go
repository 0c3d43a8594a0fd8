package broker

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/segmentio/kafka-go"
	"go.uber.org/zap"
)

// Delivery says when the consumer commits a record's offset.
type Delivery string

const (
	// AtMostOnce commits every record as soon as it is fetched, before it runs: OpenWhisk's
	// behaviour. A crash loses the records in flight (the controller force-completes them).
	AtMostOnce Delivery = "at-most-once"
	// AtLeastOnce commits only up to the oldest record not yet finished. After a crash the
	// unfinished records are delivered again; the invoker recognises the ones it had already
	// completed by their activation records.
	AtLeastOnce Delivery = "at-least-once"
)

// ParseDelivery turns a configuration value into a Delivery.
func ParseDelivery(s string) (Delivery, error) {
	switch Delivery(s) {
	case AtMostOnce, AtLeastOnce:
		return Delivery(s), nil
	case "":
		return AtMostOnce, nil
	}
	return "", fmt.Errorf("delivery mode %q: want %q or %q", s, AtMostOnce, AtLeastOnce)
}

// ConsumerConfig configures a Consumer.
type ConsumerConfig struct {
	Brokers []string // bootstrap addresses, host:port
	Topic   string   // e.g. "invoker0"
	// GroupID defaults to Topic, as OpenWhisk does: a replacement invoker must use the same
	// group to continue where the old one stopped.
	GroupID  string
	Delivery Delivery // default AtMostOnce
	// QueueCapacity bounds the records fetched ahead of the caller (OpenWhisk: maxPeek).
	QueueCapacity int           // default 16
	MaxWait       time.Duration // long-poll wait, default 500 ms (fetch.max.wait.ms)
	// MaxBytes bounds one fetch; default 5 MiB, above OpenWhisk's 1054644-byte messages.
	MaxBytes int
}

func (c *ConsumerConfig) validate() error {
	if len(c.Brokers) == 0 {
		return errors.New("consumer: no Kafka brokers configured")
	}
	if c.Topic == "" {
		return errors.New("consumer: no topic configured")
	}
	if c.GroupID == "" {
		c.GroupID = c.Topic
	}
	if c.Delivery == "" {
		c.Delivery = AtMostOnce
	}
	if _, err := ParseDelivery(string(c.Delivery)); err != nil {
		return fmt.Errorf("consumer: %w", err)
	}
	if c.QueueCapacity <= 0 {
		c.QueueCapacity = 16
	}
	if c.MaxWait <= 0 {
		c.MaxWait = 500 * time.Millisecond
	}
	if c.MaxBytes <= 0 {
		c.MaxBytes = 5 << 20
	}
	return nil
}

// Record is one Kafka record of the activation topic.
type Record struct {
	Topic     string
	Partition int
	Offset    int64
	Value     []byte
}

// Consumer reads the activation topic under a consumer group. Fetch and Finish may be called
// from different goroutines.
type Consumer struct {
	cfg    ConsumerConfig
	log    *zap.Logger
	reader *kafka.Reader

	mu       sync.Mutex
	trackers map[int]*commitTracker // per partition, AtLeastOnce only
	// next is, per partition, the offset after the last record handed out. The group
	// delivers again from the committed offset after every rejoin (a broker restart, a
	// session timeout): records below next were already handed out by this process.
	next map[int]int64
}

// NewConsumer joins the consumer group lazily: the first Fetch does.
func NewConsumer(cfg ConsumerConfig, log *zap.Logger) (*Consumer, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	r := kafka.NewReader(kafka.ReaderConfig{
		Brokers:           cfg.Brokers,
		Topic:             cfg.Topic,
		GroupID:           cfg.GroupID,
		QueueCapacity:     cfg.QueueCapacity,
		MinBytes:          1,
		MaxBytes:          cfg.MaxBytes,
		MaxWait:           cfg.MaxWait,
		StartOffset:       kafka.FirstOffset, // auto.offset.reset=earliest
		CommitInterval:    0,                 // synchronous commits
		SessionTimeout:    30 * time.Second,
		HeartbeatInterval: 3 * time.Second,
		RebalanceTimeout:  30 * time.Second,
		// A group joined while the topic's metadata was not there yet gets no partition;
		// watching partitions makes the reader rejoin once it appears.
		WatchPartitionChanges:  true,
		PartitionWatchInterval: time.Second,
		ReadBackoffMin:         50 * time.Millisecond,
		ReadBackoffMax:         time.Second,
		ErrorLogger: kafka.LoggerFunc(func(msg string, args ...any) {
			log.Warn("kafka reader", zap.String("detail", fmt.Sprintf(msg, args...)))
		}),
	})
	return &Consumer{cfg: cfg, log: log.Named("consumer"), reader: r, trackers: map[int]*commitTracker{}, next: map[int]int64{}}, nil
}

// Fetch blocks until the next record arrives or ctx is done. With AtMostOnce the record is
// committed before Fetch returns it; a commit failure is returned with the record, which the
// caller may still run (OpenWhisk logs and carries on).
//
// A record this consumer already handed out is never handed out again: after the group is
// rejoined (a broker restart, for instance) Kafka delivers again from the committed offset,
// and those records are running or done here. With AtMostOnce such a record is committed
// again (its first commit may have failed while the broker was away) and skipped.
func (c *Consumer) Fetch(ctx context.Context) (Record, error) {
	var m kafka.Message
	for {
		var err error
		if m, err = c.reader.FetchMessage(ctx); err != nil {
			return Record{}, fmt.Errorf("fetch from %s: %w", c.cfg.Topic, err)
		}
		c.mu.Lock()
		next, seen := c.next[m.Partition]
		again := seen && m.Offset < next
		if !again {
			c.next[m.Partition] = m.Offset + 1
		}
		c.mu.Unlock()
		if !again {
			break
		}
		c.log.Info("record delivered again after a rejoin: skipped", zap.Int("partition", m.Partition), zap.Int64("offset", m.Offset))
		if c.cfg.Delivery == AtMostOnce {
			if err := c.reader.CommitMessages(ctx, m); err != nil {
				c.log.Warn("commit", zap.Int64("offset", m.Offset), zap.Error(err))
			}
		}
	}
	rec := Record{Topic: m.Topic, Partition: m.Partition, Offset: m.Offset, Value: m.Value}
	switch c.cfg.Delivery {
	case AtMostOnce:
		if err := c.reader.CommitMessages(ctx, m); err != nil {
			return rec, fmt.Errorf("commit %s/%d@%d: %w", m.Topic, m.Partition, m.Offset, err)
		}
	case AtLeastOnce:
		c.mu.Lock()
		t, ok := c.trackers[m.Partition]
		if !ok {
			t = newCommitTracker()
			c.trackers[m.Partition] = t
		}
		t.started(m.Offset)
		c.mu.Unlock()
	}
	return rec, nil
}

// Finish marks a record as done (its record written and its ack sent, or skipped as
// malformed). With AtLeastOnce it commits up to the oldest record still in flight; with
// AtMostOnce it does nothing.
func (c *Consumer) Finish(ctx context.Context, rec Record) error {
	if c.cfg.Delivery != AtLeastOnce {
		return nil
	}
	c.mu.Lock()
	t, ok := c.trackers[rec.Partition]
	var next int64
	var moved bool
	if ok {
		next, moved = t.finished(rec.Offset)
	}
	c.mu.Unlock()
	if !moved {
		return nil
	}
	// CommitMessages commits "offset + 1", the next record to read.
	m := kafka.Message{Topic: rec.Topic, Partition: rec.Partition, Offset: next - 1}
	if err := c.reader.CommitMessages(ctx, m); err != nil {
		return fmt.Errorf("commit %s/%d@%d: %w", rec.Topic, rec.Partition, next-1, err)
	}
	return nil
}

// InFlight returns the records fetched and not finished (AtLeastOnce only; 0 otherwise).
func (c *Consumer) InFlight() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for _, t := range c.trackers {
		n += t.pending()
	}
	return n
}

// Lag is the reader's last known lag behind the end of the topic, for metrics.
func (c *Consumer) Lag() int64 { return c.reader.Stats().Lag }

// Close leaves the consumer group.
func (c *Consumer) Close() error {
	if err := c.reader.Close(); err != nil {
		return fmt.Errorf("close consumer of %s: %w", c.cfg.Topic, err)
	}
	return nil
}
