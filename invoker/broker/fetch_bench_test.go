package broker_test

import (
	"testing"

	"go.uber.org/zap"

	"github.com/owinvoker/owinvoker/deploy/dev/testenv"
	"github.com/owinvoker/owinvoker/invoker/broker"
)

// BenchmarkFetch measures Fetch per record, with its commit, in both delivery modes.
func BenchmarkFetch(b *testing.B) {
	for _, mode := range []broker.Delivery{broker.AtMostOnce, broker.AtLeastOnce} {
		b.Run(string(mode), func(b *testing.B) {
			addr := testenv.Kafka(b)
			topic := testenv.UniqueName("bench")
			if err := broker.EnsureTopic(b.Context(), []string{addr}, topic, broker.InvokerTopicConfig(1)); err != nil {
				b.Fatal(err)
			}
			p, _ := broker.NewProducer(broker.ProducerConfig{Brokers: []string{addr}}, zap.NewNop())
			defer p.Close()
			for range b.N + 1 {
				if err := p.Send(b.Context(), topic, []byte(`{}`)); err != nil {
					b.Fatal(err)
				}
			}
			c, _ := broker.NewConsumer(broker.ConsumerConfig{Brokers: []string{addr}, Topic: topic, Delivery: mode}, zap.NewNop())
			defer c.Close()
			if _, err := c.Fetch(b.Context()); err != nil { // join the group
				b.Fatal(err)
			}
			b.ResetTimer()
			for range b.N {
				r, err := c.Fetch(b.Context())
				if err != nil {
					b.Fatal(err)
				}
				if err := c.Finish(b.Context(), r); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkSend measures one acknowledged send.
func BenchmarkSend(b *testing.B) {
	addr := testenv.Kafka(b)
	topic := testenv.UniqueName("bench")
	p, _ := broker.NewProducer(broker.ProducerConfig{Brokers: []string{addr}}, zap.NewNop())
	defer p.Close()
	_ = p.Send(b.Context(), topic, []byte(`{}`))
	for b.Loop() {
		if err := p.Send(b.Context(), topic, []byte(`{}`)); err != nil {
			b.Fatal(err)
		}
	}
}
