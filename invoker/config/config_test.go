package config

import (
	"strings"
	"testing"
	"time"
)

func TestKeysTransformLikeOpenWhisk(t *testing.T) {
	got := Keys([]string{
		"CONFIG_whisk_containerPool_userMemory=2048m",
		"CONFIG_whisk_spi_LogStoreProvider=org.example.Logs",
		"CONFIG_whisk_couchdb_databases_WhiskEntity=local_whisks",
		"CONFIG_whisk_containerFactory_containerArgs_extraEnvVars_0=__OW_ALLOW_CONCURRENT=true",
		"CONFIG_whisk_empty=",
		"CONFIG_whisk_ref=$OTHER",
		"OTHER=from-other",
		"PATH=/bin",
	})
	want := map[string]string{
		"whisk.container-pool.user-memory":                        "2048m",
		"whisk.spi.LogStoreProvider":                              "org.example.Logs",
		"whisk.couchdb.databases.WhiskEntity":                     "local_whisks",
		"whisk.container-factory.container-args.extra-env-vars.0": "__OW_ALLOW_CONCURRENT=true",
		"whisk.ref": "from-other",
	}
	if len(got) != len(want) {
		t.Fatalf("Keys = %v, want %v", got, want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("key %s = %q, want %q", k, got[k], v)
		}
	}
}

// ansibleEnv is what OpenWhisk's ansible role passes to an invoker (spec §12.2), trimmed.
func ansibleEnv() []string {
	return []string{
		"PORT=8080",
		"KAFKA_HOSTS=kafka0:9092,kafka1:9092",
		"CONFIG_whisk_kafka_replicationFactor=2",
		"CONFIG_whisk_couchdb_protocol=http",
		"CONFIG_whisk_couchdb_host=172.17.0.1",
		"CONFIG_whisk_couchdb_port=5984",
		"CONFIG_whisk_couchdb_username=whisk_admin",
		"CONFIG_whisk_couchdb_password=some_passw0rd",
		"CONFIG_whisk_couchdb_provider=CouchDB",
		"CONFIG_whisk_couchdb_databases_WhiskAuth=local_subjects",
		"CONFIG_whisk_couchdb_databases_WhiskEntity=local_whisks",
		"CONFIG_whisk_couchdb_databases_WhiskActivation=local_activations",
		"DB_WHISK_ACTIONS=local_whisks",
		"WHISK_API_HOST_PROTO=HTTPS",
		"WHISK_API_HOST_PORT=443",
		"WHISK_API_HOST_NAME=OpenWhisk.Example.com",
		`RUNTIMES_MANIFEST={"runtimes":{}}`,
		"CONFIG_whisk_containerFactory_containerArgs_network=bridge",
		"CONFIG_whisk_containerFactory_containerArgs_dnsServers_0=8.8.8.8",
		"CONFIG_whisk_containerFactory_containerArgs_extraEnvVars_0=__OW_ALLOW_CONCURRENT=true",
		"CONFIG_whisk_containerPool_userMemory=2048m",
		"CONFIG_whisk_docker_client_parallelRuns=10",
		"CONFIG_whisk_spi_InvokerProvider=org.apache.openwhisk.core.invoker.InvokerReactive",
		"CONFIG_whisk_containerProxy_timeouts_pauseGrace=50 milliseconds",
		"CONFIG_whisk_invoker_username=invoker.user",
		"CONFIG_whisk_invoker_password=invoker.pass",
		"JAVA_OPTS=-Xmx512m",
	}
}

func TestLoadAnsibleEnvironment(t *testing.T) {
	c, err := Load([]string{"--id", "0", "--uniqueName", "0"}, ansibleEnv())
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	checks := []struct {
		name      string
		got, want any
	}{
		{"ID", c.ID, 0},
		{"UniqueName", c.UniqueName, "0"},
		{"KafkaHosts", strings.Join(c.KafkaHosts, ","), "kafka0:9092,kafka1:9092"},
		{"ReplicationFactor", c.ReplicationFactor, 2},
		{"DBURL", c.DBURL, "http://172.17.0.1:5984"},
		{"DBWhisks", c.DBWhisks, "local_whisks"},
		{"DBActivations", c.DBActivations, "local_activations"},
		{"DBSubjects", c.DBSubjects, "local_subjects"},
		{"APIHost", c.APIHost, "https://openwhisk.example.com"},
		{"DNSServers", strings.Join(c.DNSServers, ","), "8.8.8.8"},
		{"ExtraEnv", strings.Join(c.ExtraEnv, ","), "__OW_ALLOW_CONCURRENT=true"},
		{"UserMemoryMB", c.UserMemoryMB, 2048},
		{"PauseGrace", c.PauseGrace, 50 * time.Millisecond},
		{"IdleContainer", c.IdleContainer, 10 * time.Minute},
		{"MaxPeek", c.MaxPeek(), 16},
		{"Delivery", c.Delivery, "at-most-once"},
	}
	for _, ch := range checks {
		if ch.got != ch.want {
			t.Errorf("%s = %v, want %v", ch.name, ch.got, ch.want)
		}
	}
}

func TestLoadRejectsBadConfiguration(t *testing.T) {
	tests := []struct {
		name string
		args []string
		env  []string
		want string
	}{
		{"no id", []string{"--uniqueName", "0"}, ansibleEnv(), "--id is required"},
		{"unknown argument", []string{"--id", "0", "extra"}, ansibleEnv(), `unknown argument "extra"`},
		{"unknown flag", []string{"--id", "0", "--bogus"}, ansibleEnv(), "bogus"},
		{"bad memory", []string{"--id", "0"}, append(ansibleEnv(), "CONFIG_whisk_containerPool_userMemory=lots"), "whisk.container-pool.user-memory"},
		{"bad duration", []string{"--id", "0"}, append(ansibleEnv(), "CONFIG_whisk_containerProxy_timeouts_pauseGrace=soon"), "pause-grace"},
		{"FPC stack", []string{"--id", "0"}, append(ansibleEnv(), "CONFIG_whisk_spi_InvokerProvider=org.apache.openwhisk.core.invoker.FPCInvokerReactive"), "FPC"},
		{"no kafka", []string{"--id", "0"}, without(ansibleEnv(), "KAFKA_HOSTS"), "KAFKA_HOSTS"},
		{"no manifest", []string{"--id", "0"}, without(ansibleEnv(), "RUNTIMES_MANIFEST"), "RUNTIMES_MANIFEST"},
		{"bad delivery", []string{"--id", "0"}, append(ansibleEnv(), "CONFIG_whisk_invoker_delivery=twice"), "delivery"},
		{"bad provider", []string{"--id", "0"}, append(ansibleEnv(), "CONFIG_whisk_couchdb_provider=Mongo"), "provider"},
		{"memory too small", []string{"--id", "0"}, append(ansibleEnv(), "CONFIG_whisk_containerPool_userMemory=64m"), "less than whisk.memory.min"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Load(tt.args, tt.env)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Load(%v) = %v, want an error mentioning %q", tt.args, err, tt.want)
			}
		})
	}
}

func without(env []string, name string) []string {
	var out []string
	for _, kv := range env {
		if !strings.HasPrefix(kv, name+"=") {
			out = append(out, kv)
		}
	}
	return out
}

func TestParseMemoryAndDuration(t *testing.T) {
	for in, want := range map[string]int{"2048m": 2048, "2048 m": 2048, "2048 MB": 2048, "2g": 2048, "1073741824 B": 1024, "524288k": 512, "256MiB": 256} {
		if got, err := ParseMemory(in); err != nil || got != want {
			t.Errorf("ParseMemory(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "m", "-1m", "12 parsecs"} {
		if _, err := ParseMemory(bad); err == nil {
			t.Errorf("ParseMemory(%q) succeeded", bad)
		}
	}
	for in, want := range map[string]time.Duration{"10 seconds": 10 * time.Second, "10s": 10 * time.Second, "50 ms": 50 * time.Millisecond,
		"2 minutes": 2 * time.Minute, "1 h": time.Hour, "1m30s": 90 * time.Second, "250": 250 * time.Millisecond} {
		if got, err := ParseDuration(in); err != nil || got != want {
			t.Errorf("ParseDuration(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "soon", "10 fortnights"} {
		if _, err := ParseDuration(bad); err == nil {
			t.Errorf("ParseDuration(%q) succeeded", bad)
		}
	}
}
