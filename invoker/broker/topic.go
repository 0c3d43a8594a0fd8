package broker

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"time"

	"github.com/segmentio/kafka-go"
)

// TopicConfig is what EnsureTopic creates a missing topic with.
type TopicConfig struct {
	Partitions        int               // default 1
	ReplicationFactor int               // default 1
	Configs           map[string]string // Kafka topic configs, e.g. "retention.ms"
}

// InvokerTopicConfig is OpenWhisk's configuration of the `invoker<N>` topic (spec §1.2).
func InvokerTopicConfig(replicationFactor int) TopicConfig {
	return TopicConfig{
		Partitions:        1,
		ReplicationFactor: replicationFactor,
		Configs: map[string]string{
			"segment.bytes":     "536870912",
			"retention.bytes":   "1073741824",
			"retention.ms":      "172800000",
			"max.message.bytes": strconv.Itoa(MaxMessageBytes),
		},
	}
}

// EnsureTopic creates topic unless it exists, retrying retriable failures 5 times with a
// second between them, as OpenWhisk's invoker does at start-up.
func EnsureTopic(ctx context.Context, brokers []string, topic string, cfg TopicConfig) error {
	if cfg.Partitions <= 0 {
		cfg.Partitions = 1
	}
	if cfg.ReplicationFactor <= 0 {
		cfg.ReplicationFactor = 1
	}
	var last error
	for attempt := 0; attempt < 5; attempt++ {
		if attempt > 0 {
			select {
			case <-ctx.Done():
				return fmt.Errorf("ensure topic %s: %w (last error: %v)", topic, ctx.Err(), last)
			case <-time.After(time.Second):
			}
		}
		last = ensureTopicOnce(ctx, brokers, topic, cfg)
		if last == nil {
			last = waitForLeaders(ctx, brokers, topic)
		}
		if last == nil {
			return nil
		}
	}
	return fmt.Errorf("ensure topic %s: %w", topic, last)
}

func ensureTopicOnce(ctx context.Context, brokers []string, topic string, cfg TopicConfig) error {
	var d kafka.Dialer
	var conn *kafka.Conn
	var err error
	for _, b := range brokers {
		if conn, err = d.DialContext(ctx, "tcp", b); err == nil {
			break
		}
	}
	if conn == nil {
		return fmt.Errorf("dial %v: %w", brokers, err)
	}
	defer conn.Close()
	ctrl, err := conn.Controller()
	if err != nil {
		return fmt.Errorf("find controller: %w", err)
	}
	cc, err := d.DialContext(ctx, "tcp", net.JoinHostPort(ctrl.Host, strconv.Itoa(ctrl.Port)))
	if err != nil {
		return fmt.Errorf("dial controller: %w", err)
	}
	defer cc.Close()
	tc := kafka.TopicConfig{Topic: topic, NumPartitions: cfg.Partitions, ReplicationFactor: cfg.ReplicationFactor}
	for k, v := range cfg.Configs {
		tc.ConfigEntries = append(tc.ConfigEntries, kafka.ConfigEntry{ConfigName: k, ConfigValue: v})
	}
	err = cc.CreateTopics(tc)
	if err == nil || errors.Is(err, kafka.TopicAlreadyExists) {
		return nil
	}
	return err
}

// waitForLeaders waits until every partition of a (just created) topic has a leader in the
// broker's metadata. A consumer group joined before that is assigned no partition and, with
// kafka-go, stays idle until the next rebalance: an invoker that never consumes.
func waitForLeaders(ctx context.Context, brokers []string, topic string) error {
	var d kafka.Dialer
	deadline := time.Now().Add(30 * time.Second)
	for {
		var err error
		for _, b := range brokers {
			var conn *kafka.Conn
			if conn, err = d.DialContext(ctx, "tcp", b); err != nil {
				continue
			}
			var parts []kafka.Partition
			parts, err = conn.ReadPartitions(topic)
			conn.Close()
			if err == nil {
				ready := len(parts) > 0
				for _, p := range parts {
					ready = ready && p.Leader.Host != ""
				}
				if ready {
					return nil
				}
				err = fmt.Errorf("topic %s: partitions without a leader", topic)
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("wait for topic %s: %w", topic, err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}
