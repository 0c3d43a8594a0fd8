package controller

import (
	"errors"
	"fmt"
	"time"

	"github.com/owinvoker/owinvoker/controller-plugin/balancer"
	"github.com/owinvoker/owinvoker/controller-plugin/supervisor"
	"github.com/owinvoker/owinvoker/invoker/action"
	"github.com/owinvoker/owinvoker/invoker/message"
	"github.com/owinvoker/owinvoker/invoker/store"
	"github.com/owinvoker/owinvoker/sandbox/manifest"
)

// Config configures a Controller. The zero value of every field but KafkaBrokers,
// the store (Store or CouchDB.URL) and Manifest gives OpenWhisk's defaults; New fills
// them in and rejects contradictions in one place.
type Config struct {
	// KafkaBrokers are the bootstrap addresses (KAFKA_HOSTS). Required.
	KafkaBrokers []string
	// TopicPrefix is whisk.kafka.topics.prefix, prepended to invoker<N>, completed<C>
	// and health.
	TopicPrefix string
	// ReplicationFactor (whisk.kafka.replication-factor) for the completed<C> and health
	// topics this controller creates. Zero means 1.
	ReplicationFactor int
	// ControllerID is this controller's instance id: acks come back on completed<ID>
	// and pings are read in the consumer group health<ID>. Empty means "0".
	ControllerID message.ControllerInstanceID

	// Store holds the three databases. When nil, the controller talks to CouchDB's
	// HTTP API with CouchDB. The controller never closes an injected Store.
	Store   store.DocStore
	CouchDB store.CouchConfig
	// Database names (whisk.couchdb.databases.*). Empty means "whisks", "activations"
	// and "subjects".
	DBWhisks      string
	DBActivations string
	DBSubjects    string

	// Manifest is the runtimes manifest JSON (RUNTIMES_MANIFEST). Required; it must
	// have a default nodejs kind, which runs the invoker health test action.
	Manifest []byte

	// Limits are the action and namespace limits.
	Limits Limits

	// BlockingWait (whisk.controller.activation.max-wait-for-blocking-activation) is how
	// long a blocking invoke waits for its result before answering 202 with the
	// activation id; it is also the largest `timeout` a request may ask for. Zero means
	// 60 s.
	BlockingWait time.Duration
	// DBPollInterval is the period at which a blocking invoke also looks for the
	// activation record in the database, in case its ack is lost. Zero means 15 s.
	DBPollInterval time.Duration
	// ResultPollDelays are the waits between the database reads that follow an ack
	// carrying only the activation id (a shrunk ack). Nil means 1 s, 3 s, 5 s, 7 s.
	ResultPollDelays []time.Duration

	// Policy names the placement policy: "sharding" (OpenWhisk's, the default) or
	// "harvest" (prefer invokers whose reported lendable resources cover an action's
	// predicted extra demand).
	Policy string
	// Balancer configures the balancer (fractions, timeouts, cluster size). Its Policy
	// field is ignored: Policy above decides.
	Balancer balancer.Config
	// Supervisor configures invoker health supervision (ping timeout, test interval).
	Supervisor supervisor.Config
	// ReadinessThreshold is the share of known invokers that must be healthy for
	// GET /invokers/ready to answer 200. Zero means 1 (all of them).
	ReadinessThreshold float64

	// Listen is the API's TCP address for Run. Empty means 127.0.0.1:3233.
	Listen string
	// APIHost is the address clients use to reach this API (shown by GET /).
	APIHost string
	// NoSeedSubjects turns off writing the guest and whisk.system identities into the
	// subjects database when they are missing (seeding is on by default).
	NoSeedSubjects bool
	// IdentityCacheTTL is how long an authenticated identity (and its limits) is
	// trusted before the subjects database is read again. Zero means 30 s.
	IdentityCacheTTL time.Duration
	// AdminUser and AdminPassword protect GET /invokers… with HTTP basic auth when set
	// (whisk.controller.username and password); when empty those routes are open.
	AdminUser     string
	AdminPassword string
	// Build and BuildNo are shown by GET /api/v1 (whisk.info.date and build-no).
	Build   string
	BuildNo string

	// Now is the clock. Nil means time.Now.
	Now func() time.Time
}

// Limits are the action limits the API enforces (whisk.memory, whisk.time-limit,
// whisk.log-limit, whisk.concurrency-limit and whisk.limits.actions.*).
type Limits struct {
	// System are the system bounds. The zero value means action.DefaultBounds():
	// timeout 100..300000 ms, memory 128..512 MB, logs 0..10 MB, concurrency 1..1.
	System action.Bounds
	// NamespaceDefault (whisk.namespace-default-limit) bounds namespaces without limits
	// of their own. The zero value means System.
	NamespaceDefault action.Bounds
	// Std are the limits of an action created without them. The zero value means
	// timeout 60000 ms, memory 256 MB, logs 10 MB, concurrency 1.
	Std action.Limits
	// InvocationsPerMinute and ConcurrentInvocations are the default per-namespace
	// throttles (whisk.limits.actions.invokes.perMinute and .concurrent); a namespace's
	// limits document overrides them. Zero means 60 and 30; a negative value means no
	// limit.
	InvocationsPerMinute  int
	ConcurrentInvocations int
	// PayloadMaxBytes (whisk.activation.payload.max) bounds an invoke's body. Zero means
	// 1 MiB.
	PayloadMaxBytes int64
	// ExecMaxBytes (whisk.exec-size-limit) bounds an action's code. Zero means 48 MiB.
	ExecMaxBytes int64
	// ParameterMaxBytes (whisk.parameter-size-limit) bounds an action's parameters and
	// annotations. Zero means 1 MiB.
	ParameterMaxBytes int64
}

const (
	defaultListen     = "127.0.0.1:3233"
	defaultController = message.ControllerInstanceID("0")
)

// validate fills in defaults and checks the configuration. It returns the parsed
// manifest and policy.
func (c *Config) validate() (*manifest.Manifest, balancer.Policy, error) {
	var errs []error
	if len(c.KafkaBrokers) == 0 {
		errs = append(errs, errors.New("kafka: no brokers configured"))
	}
	if c.ReplicationFactor <= 0 {
		c.ReplicationFactor = 1
	}
	if c.ControllerID == "" {
		c.ControllerID = defaultController
	}
	if err := c.ControllerID.Validate(); err != nil {
		errs = append(errs, fmt.Errorf("controller id: %w", err))
	}
	if c.Store == nil && c.CouchDB.URL == "" {
		errs = append(errs, errors.New("store: neither a Store nor a CouchDB URL configured"))
	}
	if c.DBWhisks == "" {
		c.DBWhisks = "whisks"
	}
	if c.DBActivations == "" {
		c.DBActivations = "activations"
	}
	if c.DBSubjects == "" {
		c.DBSubjects = "subjects"
	}
	var m *manifest.Manifest
	if len(c.Manifest) == 0 {
		errs = append(errs, errors.New("runtimes manifest: none configured"))
	} else {
		var err error
		if m, err = manifest.Parse(c.Manifest); err != nil {
			errs = append(errs, fmt.Errorf("runtimes manifest: %w", err))
		} else if _, ok := m.Default("nodejs"); !ok {
			errs = append(errs, errors.New("runtimes manifest: no default nodejs kind for the invoker health test action"))
		}
	}
	if err := c.Limits.validate(); err != nil {
		errs = append(errs, err)
	}
	if c.BlockingWait < 0 || c.DBPollInterval < 0 {
		errs = append(errs, errors.New("blocking wait and database poll interval must not be negative"))
	}
	if c.BlockingWait == 0 {
		c.BlockingWait = time.Minute
	}
	if c.BlockingWait < time.Millisecond {
		errs = append(errs, fmt.Errorf("blocking wait %v: want at least 1 ms", c.BlockingWait))
	}
	if c.DBPollInterval == 0 {
		c.DBPollInterval = 15 * time.Second
	}
	if c.ResultPollDelays == nil {
		c.ResultPollDelays = []time.Duration{time.Second, 3 * time.Second, 5 * time.Second, 7 * time.Second}
	}
	for _, d := range c.ResultPollDelays {
		if d < 0 {
			errs = append(errs, fmt.Errorf("result poll delay %v: must not be negative", d))
		}
	}
	if c.Policy == "" {
		c.Policy = "sharding"
	}
	policy, err := balancer.ParsePolicy(c.Policy)
	if err != nil {
		errs = append(errs, fmt.Errorf("policy: %w", err))
	}
	if c.ReadinessThreshold == 0 {
		c.ReadinessThreshold = 1
	}
	if c.ReadinessThreshold < 0 || c.ReadinessThreshold > 1 {
		errs = append(errs, fmt.Errorf("readiness threshold %v: want a share in (0, 1]", c.ReadinessThreshold))
	}
	if c.Listen == "" {
		c.Listen = defaultListen
	}
	if c.IdentityCacheTTL <= 0 {
		c.IdentityCacheTTL = 30 * time.Second
	}
	if (c.AdminUser == "") != (c.AdminPassword == "") {
		errs = append(errs, errors.New("admin credentials: set both user and password, or neither"))
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if err := errors.Join(errs...); err != nil {
		return nil, nil, fmt.Errorf("controller config: %w", err)
	}
	return m, policy, nil
}

func (l *Limits) validate() error {
	if l.System == (action.Bounds{}) {
		l.System = action.DefaultBounds()
	}
	if l.NamespaceDefault == (action.Bounds{}) {
		l.NamespaceDefault = l.System
	}
	if l.Std == (action.Limits{}) {
		l.Std = action.Limits{TimeoutMS: action.StdTimeoutMS, MemoryMB: action.StdMemoryMB, LogsMB: action.StdLogsMB, Concurrency: action.StdConcurrency}
	}
	if l.InvocationsPerMinute == 0 {
		l.InvocationsPerMinute = 60
	}
	if l.ConcurrentInvocations == 0 {
		l.ConcurrentInvocations = 30
	}
	if l.PayloadMaxBytes <= 0 {
		l.PayloadMaxBytes = 1 << 20
	}
	if l.ExecMaxBytes <= 0 {
		l.ExecMaxBytes = 48 << 20
	}
	if l.ParameterMaxBytes <= 0 {
		l.ParameterMaxBytes = 1 << 20
	}
	var errs []error
	for _, r := range []struct {
		name string
		r    action.Range
	}{
		{"time-limit", l.System.TimeoutMS}, {"memory", l.System.MemoryMB},
		{"log-limit", l.System.LogsMB}, {"concurrency-limit", l.System.Concurrency},
	} {
		if r.r.Min > r.r.Max || r.r.Min < 0 {
			errs = append(errs, fmt.Errorf("limits: %s: want 0 ≤ min ≤ max, have %d..%d", r.name, r.r.Min, r.r.Max))
		}
	}
	if l.System.MemoryMB.Min <= 0 || l.System.Concurrency.Min < 1 {
		errs = append(errs, errors.New("limits: memory min must be positive and concurrency min at least 1"))
	}
	if err := l.Std.Check(l.System); err != nil {
		errs = append(errs, fmt.Errorf("limits: standard limits outside the system bounds: %v", err))
	}
	return errors.Join(errs...)
}
