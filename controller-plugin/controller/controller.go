package controller

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/owinvoker/owinvoker/controller-plugin/balancer"
	"github.com/owinvoker/owinvoker/controller-plugin/supervisor"
	"github.com/owinvoker/owinvoker/invoker/broker"
	"github.com/owinvoker/owinvoker/invoker/message"
	"github.com/owinvoker/owinvoker/invoker/store"
	"github.com/owinvoker/owinvoker/sandbox/manifest"
	"go.uber.org/zap"
)

// Controller serves the OpenWhisk REST API subset that wsk uses, places activations on
// invokers through Kafka and supervises the invokers' health.
type Controller struct {
	cfg      Config
	log      *zap.Logger
	store    store.DocStore
	manifest *manifest.Manifest

	balancer   *balancer.Balancer
	supervisor *supervisor.Supervisor
	producer   *broker.Producer
	identities *identities
	waits      *waits
	rates      *rates
	demand     *demand

	// health is the state of invoker supervision: the invokers' last pings and the
	// supervisor calls whose outcome must reach the balancer in order.
	health struct {
		sync.Mutex
		invokers map[int]invokerReport
	}
	healthTID  message.TransactionID // sid_invokerHealth, started at New
	healthUser message.Identity      // the synthetic whisk.system identity of test actions
	healthName string                // invokerHealthTestAction<C>

	handler http.Handler

	// wake tells the timer loop that a deadline may have come nearer.
	wake chan struct{}

	initMu   sync.Mutex
	initDone bool

	// stopping is closed when Serve begins to shut down: blocking invokes answer 202
	// at once rather than holding up the shutdown.
	stopOnce sync.Once
	stopping chan struct{}
}

// invokerReport is what an invoker's last ping said.
type invokerReport struct {
	userMemoryMB      int
	lendableCPUMillis int
	lendableMemoryMB  int
}

// New checks cfg and builds a Controller. It does no IO: Serve (or Init) prepares the
// databases and Kafka topics.
func New(cfg Config, log *zap.Logger) (*Controller, error) {
	m, policy, err := cfg.validate()
	if err != nil {
		return nil, err
	}
	log = log.Named("controller")
	db := cfg.Store
	if db == nil {
		couch, err := store.NewCouch(cfg.CouchDB, log)
		if err != nil {
			return nil, fmt.Errorf("controller: %w", err)
		}
		db = couch
	}
	bcfg := cfg.Balancer
	bcfg.Policy = policy
	bal, err := balancer.New(bcfg)
	if err != nil {
		return nil, fmt.Errorf("controller: %w", err)
	}
	sup, err := supervisor.New(cfg.Supervisor)
	if err != nil {
		return nil, fmt.Errorf("controller: %w", err)
	}
	prod, err := broker.NewProducer(broker.ProducerConfig{Brokers: cfg.KafkaBrokers}, log)
	if err != nil {
		return nil, fmt.Errorf("controller: %w", err)
	}
	c := &Controller{
		cfg:        cfg,
		log:        log,
		store:      db,
		manifest:   m,
		balancer:   bal,
		supervisor: sup,
		producer:   prod,
		identities: newIdentities(db, cfg.DBSubjects, cfg.IdentityCacheTTL, log.Named("auth")),
		waits:      newWaits(),
		rates:      newRates(),
		demand:     newDemand(demandWindow),
		healthTID:  message.SystemTransactionID("invokerHealth", cfg.Now()),
		healthUser: healthIdentity(),
		healthName: "invokerHealthTestAction" + string(cfg.ControllerID),
		stopping:   make(chan struct{}),
		wake:       make(chan struct{}, 1),
	}
	c.health.invokers = map[int]invokerReport{}
	c.handler = c.routes()
	return c, nil
}

// healthIdentity is the identity test actions run as: whisk.system with a random uuid
// and secret that exist in no subjects database, and no rights.
func healthIdentity() message.Identity {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	uuid := fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
	const alnum = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
	secret := make([]byte, 64)
	_, _ = rand.Read(secret)
	for i := range secret {
		secret[i] = alnum[int(secret[i])%len(alnum)]
	}
	key, _ := json.Marshal(uuid + ":" + string(secret))
	return message.Identity{
		Subject:   "whisk.system",
		Namespace: message.Namespace{Name: "whisk.system", UUID: uuid},
		AuthKey:   map[string]json.RawMessage{"api_key": key},
		Rights:    []string{},
	}
}

// Handler returns the REST API. It serves requests without Serve too (Serve adds the
// Kafka side); call Init first so that the databases exist.
func (c *Controller) Handler() http.Handler { return c.handler }

// Init prepares the databases: it creates them if needed, seeds the guest and
// whisk.system identities (unless Config.NoSeedSubjects) and writes the invoker health
// test action. It is idempotent; Serve calls it.
func (c *Controller) Init(ctx context.Context) error {
	c.initMu.Lock()
	defer c.initMu.Unlock()
	if c.initDone {
		return nil
	}
	for _, db := range []string{c.cfg.DBWhisks, c.cfg.DBActivations, c.cfg.DBSubjects} {
		if err := c.store.EnsureDB(ctx, db); err != nil {
			return fmt.Errorf("controller init: %w", err)
		}
	}
	if !c.cfg.NoSeedSubjects {
		if err := seedSubjects(ctx, c.store, c.cfg.DBSubjects); err != nil {
			return fmt.Errorf("controller init: %w", err)
		}
	}
	if err := c.writeHealthAction(ctx); err != nil {
		return fmt.Errorf("controller init: %w", err)
	}
	c.initDone = true
	return nil
}

// Run listens on Config.Listen and calls Serve.
func (c *Controller) Run(ctx context.Context) error {
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", c.cfg.Listen)
	if err != nil {
		return fmt.Errorf("controller: listen: %w", err)
	}
	return c.Serve(ctx, ln)
}

// shutdownGrace bounds how long Serve waits for requests in progress when ctx ends.
const shutdownGrace = 10 * time.Second

// Serve runs the controller until ctx is done: it calls Init, creates the
// completed<C> and health topics, consumes acks and pings, supervises the invokers and
// serves the API on ln (which it closes). When ctx ends it stops accepting requests,
// answers blocking invokes still waiting with 202 and returns nil after a graceful
// shutdown; it returns an error if the controller could not start or failed. Call it
// (or Run) once per Controller.
func (c *Controller) Serve(ctx context.Context, ln net.Listener) error {
	defer ln.Close()
	if err := c.Init(ctx); err != nil {
		return err
	}
	topics := []struct {
		name string
		cfg  broker.TopicConfig
	}{
		{message.CompletedTopic(c.cfg.TopicPrefix, c.cfg.ControllerID), broker.TopicConfig{
			ReplicationFactor: c.cfg.ReplicationFactor,
			Configs: map[string]string{
				"retention.ms": "3600000", "max.message.bytes": strconv.Itoa(message.MaxRecordBytes),
			},
		}},
		{message.HealthTopic(c.cfg.TopicPrefix), broker.TopicConfig{
			ReplicationFactor: c.cfg.ReplicationFactor,
			Configs:           map[string]string{"retention.ms": "3600000"},
		}},
	}
	for _, t := range topics {
		if err := broker.EnsureTopic(ctx, c.cfg.KafkaBrokers, t.name, t.cfg); err != nil {
			return fmt.Errorf("controller: %w", err)
		}
	}
	acks, err := broker.NewConsumer(broker.ConsumerConfig{
		Brokers: c.cfg.KafkaBrokers, Topic: message.CompletedTopic(c.cfg.TopicPrefix, c.cfg.ControllerID),
		QueueCapacity: 128,
	}, c.log.Named("acks"))
	if err != nil {
		return fmt.Errorf("controller: %w", err)
	}
	pings, err := broker.NewConsumer(broker.ConsumerConfig{
		Brokers: c.cfg.KafkaBrokers, Topic: message.HealthTopic(c.cfg.TopicPrefix),
		GroupID:       message.HealthGroup(c.cfg.TopicPrefix, c.cfg.ControllerID),
		QueueCapacity: 128,
	}, c.log.Named("pings"))
	if err != nil {
		_ = acks.Close()
		return fmt.Errorf("controller: %w", err)
	}

	loopCtx, stopLoops := context.WithCancel(context.WithoutCancel(ctx))
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for _, loop := range []func(context.Context) error{
		func(ctx context.Context) error { return c.consumeAcks(ctx, acks) },
		func(ctx context.Context) error { return c.consumePings(ctx, pings) },
		c.runTimers,
	} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := loop(loopCtx); err != nil && loopCtx.Err() == nil {
				errs <- err
			}
		}()
	}

	srv := &http.Server{
		Handler:           c.handler,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          zap.NewStdLog(c.log.Named("http")),
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	c.log.Info("controller serving", zap.String("addr", ln.Addr().String()),
		zap.String("controller", string(c.cfg.ControllerID)), zap.String("policy", c.cfg.Policy))

	var result, serveErr error
	serveDone := false
	select {
	case <-ctx.Done():
	case serveErr = <-served:
		serveDone = true
		result = fmt.Errorf("controller: serve: %w", serveErr)
	case err := <-errs:
		result = fmt.Errorf("controller: %w", err)
	}
	c.stopOnce.Do(func() { close(c.stopping) })
	shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), shutdownGrace)
	if err := srv.Shutdown(shutdownCtx); err != nil && result == nil {
		result = fmt.Errorf("controller: shutdown: %w", err)
	}
	cancel()
	stopLoops()
	wg.Wait()
	if err := acks.Close(); err != nil {
		c.log.Warn("close ack consumer", zap.Error(err))
	}
	if err := pings.Close(); err != nil {
		c.log.Warn("close ping consumer", zap.Error(err))
	}
	if !serveDone {
		serveErr = <-served
	}
	if serveErr != nil && !errors.Is(serveErr, http.ErrServerClosed) && result == nil {
		result = fmt.Errorf("controller: serve: %w", serveErr)
	}
	return result
}

// Close releases the Kafka producer and, when the controller opened it itself, the
// store. Call it after Serve has returned.
func (c *Controller) Close() error {
	c.stopOnce.Do(func() { close(c.stopping) })
	if err := c.producer.Close(); err != nil {
		return fmt.Errorf("controller: %w", err)
	}
	return nil
}
