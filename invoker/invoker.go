// Package invoker runs OpenWhisk activations end to end: it consumes ActivationMessages from
// Kafka, fetches actions from the store, runs them in the sandbox's containers, and answers
// with acknowledgements and activation records exactly as OpenWhisk's Scala invoker does
// (shared/spec/openwhisk-invoker-wire.md). It also sends the health pings.
//
// Data flows one way: broker → invoker → sandbox → record + ack. The invoker owns no
// container policy (package sandbox/pool does) and no wire format (package message does).
package invoker

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.uber.org/zap"

	"github.com/owinvoker/owinvoker/invoker/action"
	"github.com/owinvoker/owinvoker/invoker/broker"
	"github.com/owinvoker/owinvoker/invoker/health"
	"github.com/owinvoker/owinvoker/invoker/message"
	"github.com/owinvoker/owinvoker/invoker/store"
	"github.com/owinvoker/owinvoker/sandbox"
	"github.com/owinvoker/owinvoker/sandbox/manifest"
)

// Config configures an Invoker. cmd/owinvoker fills it from OpenWhisk's configuration names
// (package invoker/config).
type Config struct {
	Instance      message.InvokerInstanceID
	Brokers       []string
	TopicPrefix   string
	UserEvents    bool
	EventPrefix   string
	Replication   int
	Delivery      broker.Delivery
	MaxPeek       int // activations in the invoker at once (executing or waiting)
	WhisksDB      string
	ActivationsDB string
	SubjectsDB    string
	// CouchURL etc. are used for the namespace blacklist view; empty with an embedded store.
	CouchURL, CouchUser, CouchPassword string
	Bounds                             action.Bounds // system action limits
	ParameterKeys                      action.Keys
	RuntimesRegistry                   string
	StoreBlocking, StoreNonBlocking    StoreLevel
	PingInterval                       time.Duration // default 1 s
	BlacklistInterval                  time.Duration // default 5 min
	// DrainTimeout bounds how long a stop waits for activations in flight (default 6 min,
	// above OpenWhisk's 5 min maximum action time limit).
	DrainTimeout time.Duration
	// Harvest switches Libra-style harvesting of idle CPU and memory on (off by default).
	Harvest HarvestConfig
}

func (c *Config) validate() error {
	if len(c.Brokers) == 0 {
		return errors.New("invoker: no Kafka brokers")
	}
	if c.Delivery == "" {
		c.Delivery = broker.AtMostOnce
	}
	if c.MaxPeek <= 0 {
		c.MaxPeek = 16
	}
	if c.Replication <= 0 {
		c.Replication = 1
	}
	if c.WhisksDB == "" || c.ActivationsDB == "" {
		return errors.New("invoker: whisks and activations database names are required")
	}
	if c.Bounds == (action.Bounds{}) {
		c.Bounds = action.DefaultBounds()
	}
	if c.StoreBlocking == "" {
		c.StoreBlocking = StoreAlways
	}
	if c.StoreNonBlocking == "" {
		c.StoreNonBlocking = StoreAlways
	}
	if c.PingInterval <= 0 {
		c.PingInterval = time.Second
	}
	if c.BlacklistInterval <= 0 {
		c.BlacklistInterval = 5 * time.Minute
	}
	if c.DrainTimeout <= 0 {
		c.DrainTimeout = 6 * time.Minute
	}
	return nil
}

// Invoker is one owinvoker instance.
type Invoker struct {
	cfg       Config
	log       *zap.Logger
	now       func() time.Time
	manifest  *manifest.Manifest
	store     store.DocStore
	sandbox   *sandbox.Sandbox
	fetcher   *Fetcher
	acks      *acker
	records   *recorder
	health    *health.Health
	blacklist *blacklist
	metrics   *metrics
	harvester *harvester // nil when harvesting is off

	producer     *broker.Producer // acks and events
	pingProducer *broker.Producer // pings, default settings as OpenWhisk
	enabledCh    chan struct{}    // signalled on Enable
}

// New wires an invoker. It does not contact Kafka until Run.
func New(cfg Config, m *manifest.Manifest, s store.DocStore, sb *sandbox.Sandbox, log *zap.Logger, now func() time.Time) (*Invoker, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	if now == nil {
		now = time.Now
	}
	log = log.Named("invoker")
	met := newMetrics()
	producer, err := broker.NewProducer(broker.ProducerConfig{Brokers: cfg.Brokers}, log)
	if err != nil {
		return nil, err
	}
	pingProducer, err := broker.NewProducer(broker.ProducerConfig{Brokers: cfg.Brokers, MaxBytes: 1 << 20}, log)
	if err != nil {
		return nil, err
	}
	inv := &Invoker{
		cfg: cfg, log: log, now: now, manifest: m, store: s, sandbox: sb,
		fetcher:      NewFetcher(s, cfg.WhisksDB, m, log, now),
		health:       health.New(cfg.Instance),
		blacklist:    &blacklist{},
		metrics:      met,
		producer:     producer,
		pingProducer: pingProducer,
		enabledCh:    make(chan struct{}, 1),
	}
	met.reg.MustRegister(newScratchCollector(sb),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Namespace: "owinvoker", Name: "memory_in_use_bytes",
			Help: "Memory of all action containers of the pool (busy, warm, paused, prewarm, starting)."},
			func() float64 { return float64(sb.MemoryInUse()) * (1 << 20) }))
	if cfg.Harvest.Enabled {
		inv.harvester, err = newHarvester(cfg.Harvest, cfg.Instance.Instance, sb, met.reg, log, now)
		if err != nil {
			return nil, fmt.Errorf("harvest: %w", err)
		}
	}
	inv.acks = &acker{producer: producer, instance: cfg.Instance, prefix: cfg.TopicPrefix, events: cfg.UserEvents,
		eventPrefix: cfg.EventPrefix, log: log.Named("ack"), now: now, metrics: met}
	inv.records = &recorder{store: s, db: cfg.ActivationsDB, blocking: cfg.StoreBlocking, nonBlocking: cfg.StoreNonBlocking,
		log: log.Named("record"), now: now, metrics: met}
	return inv, nil
}

// Health is the invoker's enable/drain state, for the admin API.
func (inv *Invoker) Health() *health.Health { return inv.health }

// MetricsHandler serves the invoker's Prometheus metrics.
func (inv *Invoker) MetricsHandler() http.Handler {
	return promhttp.HandlerFor(inv.metrics.reg, promhttp.HandlerOpts{})
}

// Enable resumes pinging and consuming; it returns the admin reply.
func (inv *Invoker) Enable() string {
	reply := inv.health.Enable()
	select {
	case inv.enabledCh <- struct{}{}:
	default:
	}
	return reply
}

// Disable sends the final isEnabled=false ping, stops pinging and consuming new work, and
// lets the work in flight finish (Health().State() reports Drained when it has).
func (inv *Invoker) Disable(ctx context.Context) string {
	reply, final := inv.health.Disable()
	if final != nil {
		inv.sendPing(ctx, *final)
	}
	return reply
}

// Run consumes and executes activations until ctx ends, then drains: it stops fetching,
// waits up to DrainTimeout for the activations in flight, and returns. The caller closes the
// sandbox afterwards (removing every container of this invoker).
func (inv *Invoker) Run(ctx context.Context) error {
	topic := message.InvokerTopic(inv.cfg.TopicPrefix, inv.cfg.Instance.Instance)
	if err := broker.EnsureTopic(ctx, inv.cfg.Brokers, topic, broker.InvokerTopicConfig(inv.cfg.Replication)); err != nil {
		if ctx.Err() != nil {
			return nil // stopped while starting
		}
		return err
	}
	consumer, err := broker.NewConsumer(broker.ConsumerConfig{Brokers: inv.cfg.Brokers, Topic: topic,
		Delivery: inv.cfg.Delivery, QueueCapacity: inv.cfg.MaxPeek}, inv.log)
	if err != nil {
		return err
	}
	defer consumer.Close()

	// Activations run under their own context: a stop lets them finish (drain) and only
	// cancels them after DrainTimeout.
	workCtx, cancelWork := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelWork()

	var bg sync.WaitGroup
	bg.Add(1)
	go func() { defer bg.Done(); inv.pingLoop(ctx) }()
	if inv.harvester != nil {
		bg.Add(1)
		go func() { defer bg.Done(); inv.harvester.run(ctx) }()
	}
	if inv.cfg.CouchURL != "" {
		p := &blacklistPoller{url: inv.cfg.CouchURL, user: inv.cfg.CouchUser, password: inv.cfg.CouchPassword,
			db: inv.cfg.SubjectsDB, client: &http.Client{Timeout: 30 * time.Second}, log: inv.log.Named("blacklist")}
		bg.Add(1)
		go func() { defer bg.Done(); p.run(ctx, inv.blacklist, inv.cfg.BlacklistInterval) }()
	}

	slots := make(chan struct{}, inv.cfg.MaxPeek)
	var work sync.WaitGroup
	inv.log.Info("consuming", zap.String("topic", topic), zap.String("delivery", string(inv.cfg.Delivery)), zap.Int("maxPeek", inv.cfg.MaxPeek))
	for ctx.Err() == nil {
		if !inv.health.Enabled() {
			select {
			case <-ctx.Done():
			case <-inv.enabledCh:
			case <-time.After(time.Second):
			}
			continue
		}
		select {
		case slots <- struct{}{}:
		case <-ctx.Done():
			continue
		}
		// Backpressure: fetch the next record only when no activation waits for memory.
		if err := inv.sandbox.WaitForRoom(ctx); err != nil {
			<-slots
			continue
		}
		rec, err := inv.fetch(ctx, consumer)
		if err != nil {
			<-slots
			if ctx.Err() == nil {
				inv.log.Warn("fetch", zap.Error(err))
				time.Sleep(200 * time.Millisecond)
			}
			continue
		}
		work.Add(1)
		go func() {
			defer work.Done()
			defer func() { <-slots }()
			inv.handle(workCtx, consumer, rec)
		}()
	}

	inv.log.Info("draining", zap.Int("inFlight", inv.health.InFlight()))
	inv.sandbox.RejectWaiters()
	done := make(chan struct{})
	go func() { work.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(inv.cfg.DrainTimeout):
		inv.log.Warn("drain timeout: cancelling activations in flight", zap.Int("inFlight", inv.health.InFlight()))
		cancelWork()
		<-done
	}
	bg.Wait()
	_ = inv.producer.Close()
	_ = inv.pingProducer.Close()
	return nil
}

// fetch reads the next record, giving up when the invoker is disabled meanwhile.
func (inv *Invoker) fetch(ctx context.Context, c *broker.Consumer) (broker.Record, error) {
	fctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		t := time.NewTicker(200 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-t.C:
				if !inv.health.Enabled() {
					cancel()
					return
				}
			}
		}
	}()
	rec, err := c.Fetch(fctx)
	if err != nil && rec.Value != nil {
		// A commit failure in at-most-once mode: the record is ours, run it (OpenWhisk does).
		inv.log.Warn("commit", zap.Error(err))
		return rec, nil
	}
	return rec, err
}

// handle takes one record from decode to the last ack.
func (inv *Invoker) handle(ctx context.Context, c *broker.Consumer, rec broker.Record) {
	log := inv.log.With(zap.Int64("offset", rec.Offset), zap.Int("partition", rec.Partition))
	finish := func() {
		if err := c.Finish(ctx, rec); err != nil {
			log.Warn("commit", zap.Error(err))
		}
	}
	msg, err := message.DecodeActivationMessage(rec.Value)
	if errors.Is(err, message.ErrFPCMessage) {
		inv.metrics.fpcDropped.Inc()
		log.Warn("FPC container message on the invoker topic: dropped (is the controller in FPC mode?)")
		finish()
		return
	}
	if err != nil {
		inv.metrics.malformed.Inc()
		log.Warn("malformed activation message skipped", zap.Error(err), zap.Int("bytes", len(rec.Value)))
		finish()
		return
	}
	inv.health.Started()
	inv.metrics.inflight.Inc()
	defer func() {
		inv.health.Finished()
		inv.metrics.inflight.Dec()
	}()

	if inv.cfg.Delivery == broker.AtLeastOnce {
		// Whether it already ran must be known before it runs: a redelivered activation run
		// again because the database did not answer would break the promise. The ack waits
		// for the database in this mode anyway.
		act, err := inv.records.existing(ctx, msg)
		for delay := 200 * time.Millisecond; err != nil; delay = min(2*delay, recordRetryMax) {
			log.Warn("redelivery check failed, retrying", zap.Error(err))
			select {
			case <-ctx.Done():
				return // stopping: the record stays unfinished, for the next run
			case <-time.After(delay):
			}
			act, err = inv.records.existing(ctx, msg)
		}
		if act != nil {
			// Already ran: acknowledge again from the record, never run twice.
			inv.metrics.redelivered.Inc()
			if err := inv.acks.combined(ctx, msg, *act, msg.Blocking); err == nil {
				finish()
			}
			return
		}
	}

	var o outcome
	if n := len(rec.Value); n > broker.MaxMessageBytes {
		// Larger than any OpenWhisk controller sends (its MAX_ACTIVATION_LIMIT): a producer
		// that ignored the limit, on a topic that let it through. Answer, do not run it.
		log.Warn("oversized activation message refused", zap.String("activationId", string(msg.ActivationID)), zap.Int("bytes", n))
		resp := message.ErrorTextResponse(message.StatusApplicationError,
			fmt.Sprintf("Request larger than allowed: %d > %d bytes.", n, broker.MaxMessageBytes))
		o = outcome{act: message.FallbackActivation(msg, resp, inv.now().UnixMilli()), combined: true, store: true}
	} else {
		o = inv.run(ctx, msg)
	}
	if o.abandon {
		log.Info("stopping: activation left for redelivery", zap.String("activationId", string(msg.ActivationID)))
		return
	}
	inv.metrics.activations.WithLabelValues(o.act.Response.StatusCode.String()).Inc()
	if err := inv.finalize(ctx, msg, o); err != nil {
		log.Error("activation not completed", zap.String("activationId", string(msg.ActivationID)), zap.Error(err))
		return
	}
	finish()
}

// finalize writes the record and sends the slot-freeing ack. In at-least-once mode the record
// goes first, so that a crash between the two is repaired by re-acking from the record; in
// at-most-once mode both go out together, as OpenWhisk sends them.
func (inv *Invoker) finalize(ctx context.Context, msg *message.ActivationMessage, o outcome) error {
	ack := func() error {
		if o.combined {
			blocking := msg.Blocking && o.store // blacklisted: always shrunk
			return inv.acks.combined(ctx, msg, o.act, blocking)
		}
		return inv.acks.completion(ctx, msg, o.act)
	}
	record := func() error {
		if !o.store {
			return nil
		}
		return inv.records.write(ctx, msg, o.act)
	}
	if inv.cfg.Delivery == broker.AtLeastOnce {
		if err := record(); err != nil {
			return err
		}
		return ack()
	}
	errc := make(chan error, 1)
	go func() { errc <- record() }()
	ackErr := ack()
	recErr := <-errc
	return errors.Join(ackErr, recErr)
}

func (inv *Invoker) pingLoop(ctx context.Context) {
	t := time.NewTicker(inv.cfg.PingInterval)
	defer t.Stop()
	for {
		var cpu, mem int
		if inv.harvester != nil {
			cpu, mem = inv.harvester.lendable()
		}
		if ping, send := inv.health.Ping(cpu, mem); send {
			inv.sendPing(ctx, ping)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func (inv *Invoker) sendPing(ctx context.Context, ping message.PingMessage) {
	data, err := message.Marshal(ping)
	if err != nil {
		inv.log.Error("encode ping", zap.Error(err))
		return
	}
	pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := inv.pingProducer.Send(pctx, message.HealthTopic(inv.cfg.TopicPrefix), data); err != nil && ctx.Err() == nil {
		inv.log.Warn("ping not sent", zap.Error(err))
	}
}
