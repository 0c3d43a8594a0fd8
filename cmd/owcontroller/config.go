package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/owinvoker/owinvoker/controller-plugin/controller"
	"github.com/owinvoker/owinvoker/invoker/action"
	"github.com/owinvoker/owinvoker/invoker/config"
	"github.com/owinvoker/owinvoker/invoker/message"
)

// defaultManifest is the runtimes manifest used when neither RUNTIMES_MANIFEST nor
// --manifest is given and the file exists (running from the repository root).
const defaultManifest = "deploy/runtimes.json"

// settings is everything the command line and environment configure.
type settings struct {
	cfg      controller.Config
	logLevel string
}

// load reads the command line and the environment, under the names OpenWhisk's ansible
// role gives the Scala controller (KAFKA_HOSTS, CONFIG_whisk_*, DB_*, RUNTIMES_MANIFEST,
// PORT, LIMITS_ACTIONS_INVOKES_*). Flags win over the environment. usage receives the
// flag help.
func load(args, environ []string, usage io.Writer) (settings, error) {
	env := map[string]string{}
	for _, kv := range environ {
		if k, v, ok := strings.Cut(kv, "="); ok {
			env[k] = v
		}
	}
	keys := config.Keys(environ)
	lookup := func(key string, envNames ...string) string {
		v := ""
		for _, e := range envNames {
			if s := env[e]; s != "" {
				v = s
			}
		}
		if s, ok := keys[key]; ok {
			v = s
		}
		return v
	}

	s := settings{logLevel: "INFO"}
	c := &s.cfg
	var errs []error
	fail := func(key string, err error) { errs = append(errs, fmt.Errorf("%s: %w", key, err)) }
	num := func(dst *int, key string, envNames ...string) {
		if v := lookup(key, envNames...); v != "" {
			n, err := strconv.Atoi(strings.TrimSpace(v))
			if err != nil {
				fail(key, fmt.Errorf("%q is not an integer", v))
				return
			}
			*dst = n
		}
	}
	mem := func(dst *int, key string) {
		if v := lookup(key); v != "" {
			mb, err := config.ParseMemory(v)
			if err != nil {
				fail(key, err)
				return
			}
			*dst = mb
		}
	}
	millis := func(dst *int, key string) {
		if v := lookup(key); v != "" {
			d, err := config.ParseDuration(v)
			if err != nil {
				fail(key, err)
				return
			}
			*dst = int(d.Milliseconds())
		}
	}
	dur := func(dst *time.Duration, key string) {
		if v := lookup(key); v != "" {
			d, err := config.ParseDuration(v)
			if err != nil {
				fail(key, err)
				return
			}
			*dst = d
		}
	}
	frac := func(dst *float64, key string) {
		if v := lookup(key); v != "" {
			f, err := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(v), "%"), 64)
			if err != nil {
				fail(key, fmt.Errorf("%q is not a number", v))
				return
			}
			if strings.HasSuffix(strings.TrimSpace(v), "%") {
				f /= 100
			}
			*dst = f
		}
	}

	// Kafka.
	if v := env["KAFKA_HOSTS"]; v != "" {
		c.KafkaBrokers = splitList(v)
	}
	c.TopicPrefix = lookup("whisk.kafka.topics.prefix")
	num(&c.ReplicationFactor, "whisk.kafka.replication-factor")

	// CouchDB.
	proto, host, port := lookup("whisk.couchdb.protocol", "DB_PROTOCOL"), lookup("whisk.couchdb.host", "DB_HOST"), lookup("whisk.couchdb.port", "DB_PORT")
	if proto == "" {
		proto = "http"
	}
	if host != "" {
		c.CouchDB.URL = proto + "://" + host
		if port != "" {
			c.CouchDB.URL = proto + "://" + net.JoinHostPort(host, port)
		}
	}
	if v := lookup("whisk.couchdb.url", "DB_URL"); v != "" {
		c.CouchDB.URL = v
	}
	c.CouchDB.Username = lookup("whisk.couchdb.username", "DB_USERNAME")
	c.CouchDB.Password = lookup("whisk.couchdb.password", "DB_PASSWORD")
	c.DBWhisks = lookup("whisk.couchdb.databases.WhiskEntity", "DB_WHISK_ACTIONS")
	c.DBActivations = lookup("whisk.couchdb.databases.WhiskActivation", "DB_WHISK_ACTIVATIONS")
	c.DBSubjects = lookup("whisk.couchdb.databases.WhiskAuth", "DB_WHISK_AUTHS")
	if p := lookup("whisk.couchdb.provider"); p != "" && p != "CouchDB" && p != "Cloudant" {
		fail("whisk.couchdb.provider", fmt.Errorf("%q is not CouchDB or Cloudant", p))
	}

	// Limits.
	l := &c.Limits
	l.System = action.DefaultBounds()
	l.Std = action.Limits{TimeoutMS: action.StdTimeoutMS, MemoryMB: action.StdMemoryMB, LogsMB: action.StdLogsMB, Concurrency: action.StdConcurrency}
	mem(&l.System.MemoryMB.Min, "whisk.memory.min")
	mem(&l.System.MemoryMB.Max, "whisk.memory.max")
	mem(&l.Std.MemoryMB, "whisk.memory.std")
	millis(&l.System.TimeoutMS.Min, "whisk.time-limit.min")
	millis(&l.System.TimeoutMS.Max, "whisk.time-limit.max")
	millis(&l.Std.TimeoutMS, "whisk.time-limit.std")
	mem(&l.System.LogsMB.Min, "whisk.log-limit.min")
	mem(&l.System.LogsMB.Max, "whisk.log-limit.max")
	mem(&l.Std.LogsMB, "whisk.log-limit.std")
	num(&l.System.Concurrency.Min, "whisk.concurrency-limit.min")
	num(&l.System.Concurrency.Max, "whisk.concurrency-limit.max")
	num(&l.Std.Concurrency, "whisk.concurrency-limit.std")
	l.NamespaceDefault = l.System
	mem(&l.NamespaceDefault.MemoryMB.Min, "whisk.namespace-default-limit.memory.min")
	mem(&l.NamespaceDefault.MemoryMB.Max, "whisk.namespace-default-limit.memory.max")
	millis(&l.NamespaceDefault.TimeoutMS.Min, "whisk.namespace-default-limit.time-limit.min")
	millis(&l.NamespaceDefault.TimeoutMS.Max, "whisk.namespace-default-limit.time-limit.max")
	mem(&l.NamespaceDefault.LogsMB.Min, "whisk.namespace-default-limit.log-limit.min")
	mem(&l.NamespaceDefault.LogsMB.Max, "whisk.namespace-default-limit.log-limit.max")
	num(&l.NamespaceDefault.Concurrency.Min, "whisk.namespace-default-limit.concurrency-limit.min")
	num(&l.NamespaceDefault.Concurrency.Max, "whisk.namespace-default-limit.concurrency-limit.max")
	num(&l.InvocationsPerMinute, "whisk.limits.actions.invokes.per-minute", "LIMITS_ACTIONS_INVOKES_PERMINUTE")
	num(&l.ConcurrentInvocations, "whisk.limits.actions.invokes.concurrent", "LIMITS_ACTIONS_INVOKES_CONCURRENT")
	if v := lookup("whisk.activation.payload.max"); v != "" {
		mb, err := config.ParseMemory(v)
		switch {
		case err != nil:
			fail("whisk.activation.payload.max", err)
		case mb == 0:
			n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
			if err != nil {
				fail("whisk.activation.payload.max", fmt.Errorf("%q is not a size", v))
			}
			l.PayloadMaxBytes = n
		default:
			l.PayloadMaxBytes = int64(mb) << 20
		}
	}

	// Balancer and supervision.
	c.Policy = lookup("whisk.loadbalancer.policy")
	frac(&c.Balancer.ManagedFraction, "whisk.loadbalancer.managed-fraction")
	frac(&c.Balancer.BlackboxFraction, "whisk.loadbalancer.blackbox-fraction")
	num(&c.Balancer.TimeoutFactor, "whisk.loadbalancer.timeout-factor")
	dur(&c.Balancer.TimeoutAddon, "whisk.loadbalancer.timeout-addon")
	dur(&c.BlockingWait, "whisk.controller.activation.max-wait-for-blocking-activation")

	// The API.
	if p := env["PORT"]; p != "" {
		c.Listen = ":" + p // as the controller container does: every interface
	}
	c.AdminUser = lookup("whisk.controller.username")
	c.AdminPassword = lookup("whisk.controller.password")
	c.Build = lookup("whisk.info.date")
	c.BuildNo = lookup("whisk.info.build-no")
	if name := env["WHISK_API_HOST_NAME"]; name != "" {
		c.APIHost = apiHost(cmpOr(env["WHISK_API_HOST_PROTO"], "https"), name, env["WHISK_API_HOST_PORT"])
	}
	if v := lookup("whisk.controller.seed-subjects"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			fail("whisk.controller.seed-subjects", fmt.Errorf("%q is not true or false", v))
		}
		c.NoSeedSubjects = !b
	}
	if v := lookup("logback.log.level"); v != "" {
		s.logLevel = v
	}
	manifestJSON := lookup("whisk.runtimes.manifest", "RUNTIMES_MANIFEST")

	// The command line.
	fs := flag.NewFlagSet("owcontroller", flag.ContinueOnError)
	fs.SetOutput(usage)
	id := fs.String("id", "0", "controller instance id: acks come back on completed<id>")
	fs.StringVar(&c.Listen, "listen", cmpOr(c.Listen, "127.0.0.1:3233"), "address the REST API listens on (PORT=n means :n)")
	kafka := fs.String("kafka", strings.Join(c.KafkaBrokers, ","), "Kafka bootstrap addresses, comma-separated (KAFKA_HOSTS)")
	fs.StringVar(&c.CouchDB.URL, "couchdb", c.CouchDB.URL, "CouchDB URL (CONFIG_whisk_couchdb_protocol/host/port or DB_*)")
	manifestPath := fs.String("manifest", "", "runtimes manifest file (default: RUNTIMES_MANIFEST, else "+defaultManifest+" when present)")
	fs.StringVar(&c.Policy, "policy", cmpOr(c.Policy, "sharding"), "placement policy: sharding or harvest (CONFIG_whisk_loadbalancer_policy)")
	wait := fs.Duration("blocking-wait", 0, "how long a blocking invoke waits before answering 202 (default 60s)")
	noSeed := fs.Bool("no-seed", c.NoSeedSubjects, "do not write the guest and whisk.system identities into an empty subjects database")
	fs.StringVar(&c.APIHost, "api-host", c.APIHost, "the API's public address, shown by GET /")
	fs.StringVar(&s.logLevel, "log-level", s.logLevel, "log level: DEBUG, INFO, WARN, ERROR")
	if err := fs.Parse(args); err != nil {
		return s, err
	}
	switch fs.NArg() {
	case 0:
	case 1: // OpenWhisk's controller takes its instance id as its argument
		*id = fs.Arg(0)
	default:
		return s, fmt.Errorf("command line: unexpected arguments %q", fs.Args()[1:])
	}
	c.ControllerID = message.ControllerInstanceID(*id)
	c.KafkaBrokers = splitList(*kafka)
	c.NoSeedSubjects = *noSeed
	if *wait > 0 {
		c.BlockingWait = *wait
	}
	switch {
	case *manifestPath != "":
		b, err := os.ReadFile(*manifestPath)
		if err != nil {
			errs = append(errs, fmt.Errorf("--manifest: %w", err))
		}
		c.Manifest = b
	case manifestJSON != "":
		c.Manifest = []byte(manifestJSON)
	default:
		if b, err := os.ReadFile(defaultManifest); err == nil {
			c.Manifest = b
		} else {
			errs = append(errs, errors.New("no runtimes manifest: set RUNTIMES_MANIFEST or --manifest"))
		}
	}
	return s, errors.Join(errs...)
}

func splitList(s string) []string {
	return strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' })
}

func cmpOr(v, def string) string {
	if v == "" {
		return def
	}
	return v
}

// apiHost builds the API host as OpenWhisk does: the scheme's default port dropped.
func apiHost(proto, name, port string) string {
	proto, name = strings.ToLower(proto), strings.ToLower(name)
	if port == "" || (proto == "https" && port == "443") || (proto == "http" && port == "80") {
		return proto + "://" + name
	}
	return proto + "://" + net.JoinHostPort(name, port)
}
