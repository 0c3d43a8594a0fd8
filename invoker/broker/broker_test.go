package broker_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
	"go.uber.org/zap/zaptest"

	"github.com/owinvoker/owinvoker/deploy/dev/testenv"
	"github.com/owinvoker/owinvoker/invoker/broker"
)

func newTopic(t *testing.T, addr string, cfg broker.TopicConfig) string {
	t.Helper()
	topic := testenv.UniqueName("invoker")
	if err := broker.EnsureTopic(t.Context(), []string{addr}, topic, cfg); err != nil {
		t.Fatalf("EnsureTopic(%s): %v", topic, err)
	}
	return topic
}

func produce(t *testing.T, p *broker.Producer, topic string, n int) {
	t.Helper()
	for i := range n {
		if err := p.Send(t.Context(), topic, []byte(fmt.Sprintf(`{"n":%d}`, i))); err != nil {
			t.Fatalf("send %d: %v", i, err)
		}
	}
}

func fetchN(t *testing.T, c *broker.Consumer, n int) []broker.Record {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	var recs []broker.Record
	for range n {
		r, err := c.Fetch(ctx)
		if err != nil {
			t.Fatalf("fetch after %d records: %v", len(recs), err)
		}
		recs = append(recs, r)
	}
	return recs
}

func TestEnsureTopicIsIdempotentAndConfigured(t *testing.T) {
	addr := testenv.Kafka(t)
	topic := newTopic(t, addr, broker.InvokerTopicConfig(1))
	if err := broker.EnsureTopic(t.Context(), []string{addr}, topic, broker.InvokerTopicConfig(1)); err != nil {
		t.Fatalf("second EnsureTopic: %v", err)
	}
	client := &kafka.Client{Addr: kafka.TCP(addr)}
	resp, err := client.DescribeConfigs(t.Context(), &kafka.DescribeConfigsRequest{Resources: []kafka.DescribeConfigRequestResource{{
		ResourceType: kafka.ResourceTypeTopic, ResourceName: topic, ConfigNames: []string{"max.message.bytes", "retention.ms"}}}})
	if err != nil {
		t.Fatalf("describe configs: %v", err)
	}
	got := map[string]string{}
	for _, r := range resp.Resources {
		for _, e := range r.ConfigEntries {
			got[e.ConfigName] = e.ConfigValue
		}
	}
	if got["max.message.bytes"] != "1054644" || got["retention.ms"] != "172800000" {
		t.Fatalf("topic configs = %v, want max.message.bytes=1054644 retention.ms=172800000", got)
	}
}

func TestAtLeastOnceCommitsUpToOldestUnfinished(t *testing.T) {
	addr := testenv.Kafka(t)
	log := zaptest.NewLogger(t)
	topic := newTopic(t, addr, broker.InvokerTopicConfig(1))
	p, err := broker.NewProducer(broker.ProducerConfig{Brokers: []string{addr}}, log)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	produce(t, p, topic, 5)

	c, err := broker.NewConsumer(broker.ConsumerConfig{Brokers: []string{addr}, Topic: topic, Delivery: broker.AtLeastOnce}, log)
	if err != nil {
		t.Fatal(err)
	}
	recs := fetchN(t, c, 5)
	// Finish 0, 1, 3, 4 but not 2: a restart must redeliver 2, 3 and 4 (3 and 4 are
	// recognised as done by their records, which is the invoker's job, not ours).
	for _, i := range []int{0, 3, 1, 4} {
		if err := c.Finish(t.Context(), recs[i]); err != nil {
			t.Fatalf("finish %d: %v", i, err)
		}
	}
	if got := c.InFlight(); got != 1 {
		t.Fatalf("InFlight = %d, want 1", got)
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}

	c2, err := broker.NewConsumer(broker.ConsumerConfig{Brokers: []string{addr}, Topic: topic, Delivery: broker.AtLeastOnce}, log)
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	again := fetchN(t, c2, 1)
	if again[0].Offset != recs[2].Offset || string(again[0].Value) != `{"n":2}` {
		t.Fatalf("after restart first record = offset %d %s, want offset %d {\"n\":2}", again[0].Offset, again[0].Value, recs[2].Offset)
	}
}

func TestAtMostOnceCommitsBeforeProcessing(t *testing.T) {
	addr := testenv.Kafka(t)
	log := zaptest.NewLogger(t)
	topic := newTopic(t, addr, broker.InvokerTopicConfig(1))
	p, err := broker.NewProducer(broker.ProducerConfig{Brokers: []string{addr}}, log)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	produce(t, p, topic, 3)

	c, err := broker.NewConsumer(broker.ConsumerConfig{Brokers: []string{addr}, Topic: topic}, log)
	if err != nil {
		t.Fatal(err)
	}
	fetchN(t, c, 2) // never finished: lost on "crash", as with OpenWhisk
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	c2, err := broker.NewConsumer(broker.ConsumerConfig{Brokers: []string{addr}, Topic: topic}, log)
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	if got := fetchN(t, c2, 1)[0]; string(got.Value) != `{"n":2}` {
		t.Fatalf("after restart first record = %s, want {\"n\":2}", got.Value)
	}
}

func TestProducerReportsTooLarge(t *testing.T) {
	addr := testenv.Kafka(t)
	log := zaptest.NewLogger(t)
	p, err := broker.NewProducer(broker.ProducerConfig{Brokers: []string{addr}}, log)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()

	// Refused before it leaves: larger than the producer's own limit.
	err = p.Send(t.Context(), "unused", make([]byte, broker.MaxMessageBytes+1))
	if !errors.Is(err, broker.ErrTooLarge) {
		t.Fatalf("Send(oversized) = %v, want ErrTooLarge", err)
	}
	// Refused by the broker: the topic allows less than the producer does.
	small := newTopic(t, addr, broker.TopicConfig{Configs: map[string]string{"max.message.bytes": "2000"}})
	err = p.Send(t.Context(), small, []byte(strings.Repeat("x", 10000)))
	if !errors.Is(err, broker.ErrTooLarge) {
		t.Fatalf("Send(10000 bytes to a 2000-byte topic) = %v, want ErrTooLarge", err)
	}
}

func TestParseDelivery(t *testing.T) {
	for in, want := range map[string]broker.Delivery{"": broker.AtMostOnce, "at-most-once": broker.AtMostOnce, "at-least-once": broker.AtLeastOnce} {
		if got, err := broker.ParseDelivery(in); err != nil || got != want {
			t.Errorf("ParseDelivery(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	if _, err := broker.ParseDelivery("exactly-once"); err == nil {
		t.Error("ParseDelivery(exactly-once) succeeded, want an error")
	}
}
