package config

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Config is everything an owinvoker process is configured with. Every field has the
// OpenWhisk name it is read from in its comment.
type Config struct {
	// Identity (--id, --uniqueName, --displayedName).
	ID            int
	UniqueName    string
	DisplayedName string

	// Kafka.
	KafkaHosts        []string // KAFKA_HOSTS
	TopicPrefix       string   // whisk.kafka.topics.prefix
	UserEventPrefix   string   // whisk.kafka.topics.user-event.prefix
	ReplicationFactor int      // whisk.kafka.replication-factor
	UserEvents        bool     // whisk.user-events.enabled
	// Delivery is "at-most-once" (OpenWhisk's, default) or "at-least-once"
	// (whisk.invoker.delivery, owinvoker's own key; env CONFIG_whisk_invoker_delivery).
	Delivery string

	// CouchDB (whisk.couchdb.*, DB_* legacy names).
	DBURL         string // protocol://host:port
	DBUsername    string
	DBPassword    string
	DBWhisks      string // whisk.couchdb.databases.WhiskEntity / DB_WHISK_ACTIONS
	DBActivations string // whisk.couchdb.databases.WhiskActivation / DB_WHISK_ACTIVATIONS
	DBSubjects    string // whisk.couchdb.databases.WhiskAuth / DB_WHISK_AUTHS
	// StoreFile, when set, keeps documents in an embedded bbolt file instead of CouchDB
	// (owinvoker's --store-file, for a single-host system).
	StoreFile string

	// Runtimes and action containers.
	RuntimesManifest string   // RUNTIMES_MANIFEST (JSON)
	APIHost          string   // from WHISK_API_HOST_{PROTO,NAME,PORT}, normalised
	Network          string   // whisk.container-factory.container-args.network
	DNSServers       []string // ...container-args.dns-servers.<i>
	DNSSearch        []string
	DNSOptions       []string
	ExtraEnv         []string // ...container-args.extra-env-vars.<i>
	RuntimesRegistry string   // whisk.container-factory.runtimes-registry.url
	UserImagesReg    string   // whisk.container-factory.user-images-registry.url
	ParallelRuns     int      // whisk.docker.client.parallel-runs
	LogRoot          string   // where the engine's containers/ directory is visible (/containers in the ansible container)

	// Pool.
	UserMemoryMB  int           // whisk.container-pool.user-memory
	UserCPUs      float64       // whisk.container-pool.user-cpus (0 = unset)
	PauseGrace    time.Duration // whisk.container-proxy.timeouts.pause-grace
	IdleContainer time.Duration // whisk.container-proxy.timeouts.idle-container

	// Action limits (must match the controller's).
	MemoryMin, MemoryMax, MemoryStd    int           // whisk.memory.{min,max,std}, MB
	TimeMin, TimeMax, TimeStd          time.Duration // whisk.time-limit.*
	LogMin, LogMax, LogStd             int           // whisk.log-limit.*, MB
	ConcurrencyMin, ConcurrencyMax     int           // whisk.concurrency-limit.*
	ConcurrencyStd                     int
	PayloadMax                         int // whisk.activation.payload.max, bytes
	StoreBlockingLevel, StoreNonBlockL string

	// Admin HTTP server.
	Port          int    // PORT
	AdminUser     string // whisk.invoker.username
	AdminPassword string // whisk.invoker.password

	// Our additions.
	Harvest     bool   // whisk.invoker.harvest.enabled
	HarvestCPU  bool   // whisk.invoker.harvest.cpu
	HarvestMem  bool   // whisk.invoker.harvest.memory
	Scratch     bool   // whisk.invoker.scratch.enabled (in-memory /tmp)
	ScratchHost int    // whisk.invoker.scratch.host-budget, MB
	LogLevel    string // CONFIG_logback_log_level
}

// Load reads args (without the program name) and the environment. Unknown arguments and
// values that do not parse are errors, as in OpenWhisk.
func Load(args []string, environ []string) (Config, error) {
	env := map[string]string{}
	for _, kv := range environ {
		if k, v, ok := strings.Cut(kv, "="); ok {
			env[k] = v
		}
	}
	keys := Keys(environ)
	c := defaults()

	fs := flag.NewFlagSet("owinvoker", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	id := fs.Int("id", -1, "invoker instance id N (topic invoker<N>)")
	fs.StringVar(&c.UniqueName, "uniqueName", "", "unique name of this invoker (container names, pings)")
	fs.StringVar(&c.DisplayedName, "displayedName", "", "name shown for this invoker")
	fs.StringVar(&c.StoreFile, "store-file", "", "keep documents in this bbolt file instead of CouchDB")
	if err := fs.Parse(args); err != nil {
		return Config{}, fmt.Errorf("command line: %w", err)
	}
	if fs.NArg() > 0 {
		return Config{}, fmt.Errorf("command line: unknown argument %q", fs.Arg(0))
	}
	if *id < 0 {
		if c.UniqueName == "" {
			return Config{}, errors.New("command line: --id is required (dynamic ids through ZooKeeper are not supported)")
		}
		return Config{}, errors.New("command line: --id is required with --uniqueName (dynamic ids through ZooKeeper are not supported)")
	}
	c.ID = *id

	var errs []error
	str := func(dst *string, key string, envNames ...string) {
		for _, e := range envNames {
			if v := env[e]; v != "" {
				*dst = v
			}
		}
		if v, ok := keys[key]; ok {
			*dst = v
		}
	}
	num := func(dst *int, key string, envNames ...string) {
		s := ""
		str(&s, key, envNames...)
		if s == "" {
			return
		}
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %q is not an integer", key, s))
			return
		}
		*dst = n
	}
	boolean := func(dst *bool, key string) {
		s := ""
		str(&s, key)
		if s == "" {
			return
		}
		b, err := strconv.ParseBool(s)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %q is not true or false", key, s))
			return
		}
		*dst = b
	}
	mem := func(dst *int, key string) {
		s := ""
		str(&s, key)
		if s == "" {
			return
		}
		n, err := ParseMemory(s)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", key, err))
			return
		}
		*dst = n
	}
	dur := func(dst *time.Duration, key string) {
		s := ""
		str(&s, key)
		if s == "" {
			return
		}
		d, err := ParseDuration(s)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", key, err))
			return
		}
		*dst = d
	}

	if v := env["KAFKA_HOSTS"]; v != "" {
		c.KafkaHosts = splitList(v)
	}
	str(&c.TopicPrefix, "whisk.kafka.topics.prefix")
	str(&c.UserEventPrefix, "whisk.kafka.topics.user-event.prefix")
	num(&c.ReplicationFactor, "whisk.kafka.replication-factor")
	boolean(&c.UserEvents, "whisk.user-events.enabled")
	str(&c.Delivery, "whisk.invoker.delivery")

	proto, host, port := "http", "", ""
	str(&proto, "whisk.couchdb.protocol", "DB_PROTOCOL")
	str(&host, "whisk.couchdb.host", "DB_HOST")
	str(&port, "whisk.couchdb.port", "DB_PORT")
	if host != "" {
		c.DBURL = proto + "://" + host
		if port != "" {
			c.DBURL = proto + "://" + net.JoinHostPort(host, port)
		}
	}
	str(&c.DBURL, "whisk.couchdb.url", "DB_URL")
	str(&c.DBUsername, "whisk.couchdb.username", "DB_USERNAME")
	str(&c.DBPassword, "whisk.couchdb.password", "DB_PASSWORD")
	str(&c.DBWhisks, "whisk.couchdb.databases.WhiskEntity", "DB_WHISK_ACTIONS")
	str(&c.DBActivations, "whisk.couchdb.databases.WhiskActivation", "DB_WHISK_ACTIVATIONS")
	str(&c.DBSubjects, "whisk.couchdb.databases.WhiskAuth", "DB_WHISK_AUTHS")
	if provider := keys["whisk.couchdb.provider"]; provider != "" && provider != "CouchDB" && provider != "Cloudant" {
		errs = append(errs, fmt.Errorf("whisk.couchdb.provider: %q is not CouchDB or Cloudant", provider))
	}

	str(&c.RuntimesManifest, "whisk.runtimes.manifest", "RUNTIMES_MANIFEST")
	apiProto, apiName, apiPort := "https", "", "443"
	str(&apiProto, "", "WHISK_API_HOST_PROTO")
	str(&apiName, "", "WHISK_API_HOST_NAME")
	str(&apiPort, "", "WHISK_API_HOST_PORT")
	if apiName != "" {
		c.APIHost = normaliseAPIHost(apiProto, apiName, apiPort)
	}
	str(&c.Network, "whisk.container-factory.container-args.network")
	c.DNSServers = append(c.DNSServers, list(keys, "whisk.container-factory.container-args.dns-servers")...)
	c.DNSSearch = append(c.DNSSearch, list(keys, "whisk.container-factory.container-args.dns-search")...)
	c.DNSOptions = append(c.DNSOptions, list(keys, "whisk.container-factory.container-args.dns-options")...)
	c.ExtraEnv = append(c.ExtraEnv, list(keys, "whisk.container-factory.container-args.extra-env-vars")...)
	str(&c.RuntimesRegistry, "whisk.container-factory.runtimes-registry.url")
	str(&c.UserImagesReg, "whisk.container-factory.user-images-registry.url")
	num(&c.ParallelRuns, "whisk.docker.client.parallel-runs")
	str(&c.LogRoot, "whisk.invoker.log-root")

	mem(&c.UserMemoryMB, "whisk.container-pool.user-memory")
	cpus := ""
	str(&cpus, "whisk.container-pool.user-cpus")
	if cpus != "" {
		f, err := strconv.ParseFloat(cpus, 64)
		if err != nil || f <= 0 {
			errs = append(errs, fmt.Errorf("whisk.container-pool.user-cpus: %q is not a positive number", cpus))
		}
		c.UserCPUs = f
	}
	dur(&c.PauseGrace, "whisk.container-proxy.timeouts.pause-grace")
	dur(&c.IdleContainer, "whisk.container-proxy.timeouts.idle-container")

	mem(&c.MemoryMin, "whisk.memory.min")
	mem(&c.MemoryMax, "whisk.memory.max")
	mem(&c.MemoryStd, "whisk.memory.std")
	dur(&c.TimeMin, "whisk.time-limit.min")
	dur(&c.TimeMax, "whisk.time-limit.max")
	dur(&c.TimeStd, "whisk.time-limit.std")
	mem(&c.LogMin, "whisk.log-limit.min")
	mem(&c.LogMax, "whisk.log-limit.max")
	mem(&c.LogStd, "whisk.log-limit.std")
	num(&c.ConcurrencyMin, "whisk.concurrency-limit.min")
	num(&c.ConcurrencyMax, "whisk.concurrency-limit.max")
	num(&c.ConcurrencyStd, "whisk.concurrency-limit.std")
	payload := ""
	str(&payload, "whisk.activation.payload.max")
	if payload != "" {
		mb, err := ParseMemory(payload)
		if err != nil {
			errs = append(errs, fmt.Errorf("whisk.activation.payload.max: %w", err))
		} else if mb == 0 {
			if n, err := strconv.Atoi(payload); err == nil {
				c.PayloadMax = n
			}
		} else {
			c.PayloadMax = mb << 20
		}
	}
	str(&c.StoreBlockingLevel, "whisk.activation.store-blocking-result-level")
	str(&c.StoreNonBlockL, "whisk.activation.store-non-blocking-result-level")

	num(&c.Port, "", "PORT")
	str(&c.AdminUser, "whisk.invoker.username")
	str(&c.AdminPassword, "whisk.invoker.password")

	boolean(&c.Harvest, "whisk.invoker.harvest.enabled")
	boolean(&c.HarvestCPU, "whisk.invoker.harvest.cpu")
	boolean(&c.HarvestMem, "whisk.invoker.harvest.memory")
	boolean(&c.Scratch, "whisk.invoker.scratch.enabled")
	mem(&c.ScratchHost, "whisk.invoker.scratch.host-budget")
	str(&c.LogLevel, "logback.log.level")

	for _, spi := range []struct{ key, want string }{
		{"whisk.spi.InvokerProvider", "org.apache.openwhisk.core.invoker.InvokerReactive"},
		{"whisk.spi.InvokerServerProvider", "org.apache.openwhisk.core.invoker.DefaultInvokerServer"},
	} {
		if v := keys[spi.key]; v != "" && v != spi.want {
			errs = append(errs, fmt.Errorf("%s: %q is the FPC stack; owinvoker speaks the classic protocol (%s)", spi.key, v, spi.want))
		}
	}
	if len(errs) > 0 {
		return Config{}, errors.Join(errs...)
	}
	if err := c.validate(); err != nil {
		return Config{}, err
	}
	return c, nil
}

func defaults() Config {
	return Config{
		ReplicationFactor: 1,
		Delivery:          "at-most-once",
		DBWhisks:          "whisks",
		DBActivations:     "activations",
		DBSubjects:        "subjects",
		Network:           "bridge",
		ParallelRuns:      10,
		UserMemoryMB:      1024,
		PauseGrace:        10 * time.Second,
		IdleContainer:     10 * time.Minute,
		MemoryMin:         128, MemoryMax: 512, MemoryStd: 256,
		TimeMin: 100 * time.Millisecond, TimeMax: 5 * time.Minute, TimeStd: time.Minute,
		LogMin: 0, LogMax: 10, LogStd: 10,
		ConcurrencyMin: 1, ConcurrencyMax: 1, ConcurrencyStd: 1,
		PayloadMax:         1 << 20,
		StoreBlockingLevel: "STORE_ALWAYS",
		StoreNonBlockL:     "STORE_ALWAYS",
		Port:               8080,
		AdminUser:          "invoker.user",
		AdminPassword:      "invoker.pass",
		HarvestCPU:         true,
		HarvestMem:         true,
		Scratch:            true,
		ScratchHost:        512,
		LogLevel:           "INFO",
	}
}

func (c *Config) validate() error {
	var errs []error
	if len(c.KafkaHosts) == 0 {
		errs = append(errs, errors.New("KAFKA_HOSTS: no Kafka brokers configured"))
	}
	if c.DBURL == "" && c.StoreFile == "" {
		errs = append(errs, errors.New("whisk.couchdb.{protocol,host,port} (or DB_HOST): no CouchDB configured"))
	}
	if c.DBURL != "" {
		if u, err := url.Parse(c.DBURL); err != nil || u.Host == "" {
			errs = append(errs, fmt.Errorf("couchdb url %q: want protocol://host:port", c.DBURL))
		}
	}
	if c.RuntimesManifest == "" {
		errs = append(errs, errors.New("RUNTIMES_MANIFEST: no runtimes manifest"))
	}
	if c.Delivery != "at-most-once" && c.Delivery != "at-least-once" {
		errs = append(errs, fmt.Errorf("whisk.invoker.delivery: %q is not at-most-once or at-least-once", c.Delivery))
	}
	if c.UserMemoryMB < c.MemoryMin {
		errs = append(errs, fmt.Errorf("whisk.container-pool.user-memory: %d MB is less than whisk.memory.min (%d MB)", c.UserMemoryMB, c.MemoryMin))
	}
	if c.MemoryMin > c.MemoryStd || c.MemoryStd > c.MemoryMax {
		errs = append(errs, fmt.Errorf("whisk.memory: want min ≤ std ≤ max, have %d, %d, %d MB", c.MemoryMin, c.MemoryStd, c.MemoryMax))
	}
	if c.TimeMin > c.TimeStd || c.TimeStd > c.TimeMax {
		errs = append(errs, fmt.Errorf("whisk.time-limit: want min ≤ std ≤ max, have %v, %v, %v", c.TimeMin, c.TimeStd, c.TimeMax))
	}
	if c.ConcurrencyMin < 1 || c.ConcurrencyMin > c.ConcurrencyStd || c.ConcurrencyStd > c.ConcurrencyMax {
		errs = append(errs, fmt.Errorf("whisk.concurrency-limit: want 1 ≤ min ≤ std ≤ max, have %d, %d, %d", c.ConcurrencyMin, c.ConcurrencyStd, c.ConcurrencyMax))
	}
	if c.Port <= 0 || c.Port > 65535 {
		errs = append(errs, fmt.Errorf("PORT: %d is not a TCP port", c.Port))
	}
	for _, l := range []string{c.StoreBlockingLevel, c.StoreNonBlockL} {
		switch l {
		case "STORE_ALWAYS", "STORE_FAILURES", "STORE_FAILURES_NOT_APPLICATION_ERRORS":
		default:
			errs = append(errs, fmt.Errorf("whisk.activation store level %q: want STORE_ALWAYS, STORE_FAILURES or STORE_FAILURES_NOT_APPLICATION_ERRORS", l))
		}
	}
	return errors.Join(errs...)
}

// MaxPeek is OpenWhisk's bound on activations in the invoker (executing or waiting):
// max(userMemory/minMemory, floor(userMemory/minMemory * concurrencyMax * 0.5)).
func (c Config) MaxPeek() int {
	n := c.UserMemoryMB / c.MemoryMin
	return max(n, int(float64(n)*float64(c.ConcurrencyMax)*0.5))
}

func splitList(s string) []string {
	return strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' })
}

// normaliseAPIHost builds __OW_API_HOST as OpenWhisk does: scheme and host lower-cased, the
// default port of the scheme dropped.
func normaliseAPIHost(proto, name, port string) string {
	proto, name = strings.ToLower(proto), strings.ToLower(name)
	if (proto == "https" && port == "443") || (proto == "http" && port == "80") || port == "" {
		return proto + "://" + name
	}
	return proto + "://" + net.JoinHostPort(name, port)
}
