package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/owinvoker/owinvoker/controller-plugin/controller"
	"github.com/owinvoker/owinvoker/deploy/dev/testenv"
	"github.com/owinvoker/owinvoker/invoker/action"
)

const tinyManifest = `{"runtimes":{"nodejs":[{"kind":"nodejs:20","default":true,
	"image":{"prefix":"openwhisk","name":"action-nodejs-v20","tag":"nightly"},"deprecated":false}]}}`

func TestLoad(t *testing.T) {
	for _, tc := range []struct {
		name  string
		args  []string
		env   []string
		check func(*testing.T, settings)
		err   string
	}{
		{
			name: "ansible environment",
			env: []string{
				"KAFKA_HOSTS=k1:9092,k2:9092", "CONFIG_whisk_kafka_topics_prefix=ow_", "CONFIG_whisk_kafka_replicationFactor=3",
				"CONFIG_whisk_couchdb_protocol=https", "CONFIG_whisk_couchdb_host=db", "CONFIG_whisk_couchdb_port=6984",
				"CONFIG_whisk_couchdb_username=u", "CONFIG_whisk_couchdb_password=p",
				"CONFIG_whisk_couchdb_databases_WhiskAuth=x_subjects", "CONFIG_whisk_couchdb_databases_WhiskEntity=x_whisks",
				"CONFIG_whisk_couchdb_databases_WhiskActivation=x_activations",
				"RUNTIMES_MANIFEST=" + tinyManifest, "PORT=8080",
				"LIMITS_ACTIONS_INVOKES_PERMINUTE=120", "LIMITS_ACTIONS_INVOKES_CONCURRENT=50",
				"CONFIG_whisk_memory_max=1024m", "CONFIG_whisk_timeLimit_min=50 ms", "CONFIG_whisk_concurrencyLimit_max=500",
				"CONFIG_whisk_activation_payload_max=2097152",
				"CONFIG_whisk_controller_activation_maxWaitForBlockingActivation=30 seconds",
				"CONFIG_whisk_loadbalancer_managedFraction=80%", "CONFIG_whisk_loadbalancer_timeoutAddon=2 minutes",
				"CONFIG_whisk_loadbalancer_policy=harvest",
				"CONFIG_whisk_controller_username=ctl", "CONFIG_whisk_controller_password=pw",
				"CONFIG_whisk_info_date=2026-01-01", "CONFIG_whisk_info_buildNo=abc",
				"WHISK_API_HOST_PROTO=https", "WHISK_API_HOST_NAME=OW.example", "WHISK_API_HOST_PORT=443",
				"CONFIG_logback_log_level=DEBUG",
			},
			args: []string{"3"},
			check: func(t *testing.T, s settings) {
				c := s.cfg
				want := []any{
					strings.Join(c.KafkaBrokers, ","), "k1:9092,k2:9092", c.TopicPrefix, "ow_", c.ReplicationFactor, 3,
					c.CouchDB.URL, "https://db:6984", c.CouchDB.Username, "u", c.CouchDB.Password, "p",
					c.DBSubjects, "x_subjects", c.DBWhisks, "x_whisks", c.DBActivations, "x_activations",
					string(c.Manifest), tinyManifest, c.Listen, ":8080", string(c.ControllerID), "3",
					c.Limits.InvocationsPerMinute, 120, c.Limits.ConcurrentInvocations, 50,
					c.Limits.System.MemoryMB, action.Range{Min: 128, Max: 1024}, c.Limits.System.TimeoutMS.Min, 50,
					c.Limits.System.Concurrency.Max, 500, c.Limits.NamespaceDefault.MemoryMB.Max, 1024,
					c.Limits.PayloadMaxBytes, int64(2097152), c.BlockingWait, 30 * time.Second,
					c.Balancer.ManagedFraction, 0.8, c.Balancer.TimeoutAddon, 2 * time.Minute, c.Policy, "harvest",
					c.AdminUser, "ctl", c.AdminPassword, "pw", c.Build, "2026-01-01", c.BuildNo, "abc",
					c.APIHost, "https://ow.example", s.logLevel, "DEBUG", c.NoSeedSubjects, false,
				}
				for i := 0; i < len(want); i += 2 {
					if want[i] != want[i+1] {
						t.Errorf("setting %d: %v, want %v", i/2, want[i], want[i+1])
					}
				}
			},
		},
		{
			name: "legacy DB_ names and flags",
			env:  []string{"KAFKA_HOSTS=k:9092", "DB_PROTOCOL=http", "DB_HOST=couch", "DB_PORT=5984", "DB_WHISK_ACTIONS=w", "RUNTIMES_MANIFEST=" + tinyManifest},
			args: []string{"--listen", "127.0.0.1:9999", "--policy", "sharding", "--kafka", "a:1,b:2", "--blocking-wait", "5s", "--no-seed", "--id", "c1"},
			check: func(t *testing.T, s settings) {
				c := s.cfg
				if c.CouchDB.URL != "http://couch:5984" || c.DBWhisks != "w" || c.Listen != "127.0.0.1:9999" ||
					c.Policy != "sharding" || strings.Join(c.KafkaBrokers, ",") != "a:1,b:2" || c.BlockingWait != 5*time.Second ||
					!c.NoSeedSubjects || c.ControllerID != "c1" {
					t.Errorf("config %+v", c)
				}
			},
		},
		{
			name: "defaults",
			env:  []string{"KAFKA_HOSTS=k:9092", "RUNTIMES_MANIFEST=" + tinyManifest},
			check: func(t *testing.T, s settings) {
				if s.cfg.Listen != "127.0.0.1:3233" || s.cfg.Policy != "sharding" || s.cfg.ControllerID != "0" || s.logLevel != "INFO" {
					t.Errorf("config %+v", s.cfg)
				}
			},
		},
		{
			name: "manifest file",
			env:  []string{"RUNTIMES_MANIFEST=ignored"},
			args: []string{"--manifest", filepath.Join("..", "..", "deploy", "runtimes.json")},
			check: func(t *testing.T, s settings) {
				if !bytes.Contains(s.cfg.Manifest, []byte(`"nodejs:20"`)) {
					t.Errorf("manifest %.80s", s.cfg.Manifest)
				}
			},
		},
		{name: "no manifest", env: []string{"KAFKA_HOSTS=k:9092"}, err: "no runtimes manifest"},
		{name: "bad number", env: []string{"RUNTIMES_MANIFEST={}", "LIMITS_ACTIONS_INVOKES_PERMINUTE=many"}, err: `whisk.limits.actions.invokes.per-minute: "many" is not an integer`},
		{name: "bad memory", env: []string{"RUNTIMES_MANIFEST={}", "CONFIG_whisk_memory_max=lots"}, err: "whisk.memory.max"},
		{name: "bad provider", env: []string{"RUNTIMES_MANIFEST={}", "CONFIG_whisk_couchdb_provider=Mongo"}, err: "whisk.couchdb.provider"},
		{name: "unknown flag", env: []string{"RUNTIMES_MANIFEST={}"}, args: []string{"--frobnicate"}, err: "flag provided but not defined"},
		{name: "extra arguments", env: []string{"RUNTIMES_MANIFEST={}"}, args: []string{"0", "1"}, err: "unexpected arguments"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var usage bytes.Buffer
			s, err := load(tc.args, tc.env, &usage)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("load: %v, want an error containing %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tc.check(t, s)
		})
	}
}

func TestInvalidConfigFails(t *testing.T) {
	var out bytes.Buffer
	err := serve(t.Context(), []string{"--policy", "random"}, []string{"KAFKA_HOSTS=k:1", "DB_HOST=db", "RUNTIMES_MANIFEST=" + tinyManifest}, &out)
	if err == nil || !strings.Contains(err.Error(), "policy") {
		t.Fatalf("serve with an unknown policy: %v", err)
	}
	if err := serve(t.Context(), []string{"-h"}, nil, &out); err != nil || !strings.Contains(out.String(), "-blocking-wait") {
		t.Errorf("-h: %v, usage %q", err, out.String())
	}
}

// TestServe runs the command against real Kafka and a CouchDB-API server, checks that
// the API answers with the seeded guest identity, and that it stops cleanly.
func TestServe(t *testing.T) {
	kafka := testenv.Kafka(t)
	dbs := testenv.NewDatabases(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	root, err := testenv.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	env := []string{
		"KAFKA_HOSTS=" + kafka, "CONFIG_whisk_kafka_topics_prefix=" + testenv.UniqueName("cmd") + "-",
		"DB_URL=" + dbs.URL, "CONFIG_whisk_couchdb_databases_WhiskAuth=" + dbs.Subjects,
		"CONFIG_whisk_couchdb_databases_WhiskEntity=" + dbs.Whisks, "CONFIG_whisk_couchdb_databases_WhiskActivation=" + dbs.Activations,
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var logs syncBuffer
	done := make(chan error, 1)
	go func() {
		done <- serve(ctx, []string{"--listen", addr, "--manifest", filepath.Join(root, "deploy", "runtimes.json")}, env, &logs)
	}()
	client := &http.Client{Timeout: 5 * time.Second}
	deadline := time.Now().Add(time.Minute)
	for {
		req, _ := http.NewRequest("GET", "http://"+addr+"/api/v1/namespaces", nil)
		u, p, _ := strings.Cut(controller.GuestKey, ":")
		req.SetBasicAuth(u, p)
		resp, err := client.Do(req)
		if err == nil {
			var ns []string
			_ = json.NewDecoder(resp.Body).Decode(&ns)
			resp.Body.Close()
			if resp.StatusCode == 200 && len(ns) == 1 && ns[0] == "guest" {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("API did not answer: %v\n%s", err, logs.String())
		}
		select {
		case err := <-done:
			t.Fatalf("serve returned early: %v\n%s", err, logs.String())
		case <-time.After(50 * time.Millisecond):
		}
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("serve: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("serve did not stop")
	}
	if !strings.Contains(logs.String(), `"msg":"controller stopped"`) {
		t.Errorf("logs do not show a clean stop:\n%s", logs.String())
	}
}

// syncBuffer is a bytes.Buffer safe for the logger and the test at once.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
