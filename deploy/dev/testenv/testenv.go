// Package testenv hands integration tests the real services they run against: an Apache
// Kafka broker, a CouchDB-API server and a Docker engine, all on this machine.
//
// Each service comes from the environment when it is set (OW_TEST_KAFKA=host:port,
// OW_TEST_COUCHDB=http://host:port, OW_TEST_DOCKER=1), which is how `make test` passes the
// services it started once for the whole run. Otherwise the first test that asks starts it
// through the deploy/dev scripts (idempotent and locked, so parallel test binaries share one
// instance; a running service costs one quick check) and it is left running for the next
// package; `deploy/dev/services.sh down`
// stops it.
//
// Under `go test -short` every call skips the test instead, so the pure packages can be
// tested without any service.
package testenv

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Kafka returns the bootstrap address (host:port) of a running Kafka broker.
func Kafka(tb testing.TB) string {
	tb.Helper()
	skipShort(tb)
	addr, err := fromEnvOrScript("OW_TEST_KAFKA", "kafka.sh", "start")
	if err != nil {
		tb.Fatalf("testenv: kafka: %v", err)
	}
	return addr
}

// CouchDB returns the base URL (http://host:port) of a running CouchDB-API server.
func CouchDB(tb testing.TB) string {
	tb.Helper()
	skipShort(tb)
	url, err := fromEnvOrScript("OW_TEST_COUCHDB", "pouchdb.sh", "start")
	if err != nil {
		tb.Fatalf("testenv: couchdb: %v", err)
	}
	return strings.TrimRight(url, "/")
}

// Docker makes sure a Docker engine answers on the default socket.
func Docker(tb testing.TB) {
	tb.Helper()
	skipShort(tb)
	if os.Getenv("OW_TEST_DOCKER") != "" {
		return
	}
	if _, err := runScript("docker.sh", "start"); err != nil {
		tb.Fatalf("testenv: docker: %v", err)
	}
}

// Databases are the names of the OpenWhisk databases of one test, each with its own prefix.
type Databases struct {
	URL         string // base URL of the server
	Prefix      string // e.g. "t3f9a1c2_"
	Whisks      string // Prefix + "whisks"
	Activations string // Prefix + "activations"
	Subjects    string // Prefix + "subjects"
}

// NewDatabases creates whisks, activations and subjects under a fresh prefix on the
// CouchDB-API server and deletes them when the test ends, so tests never see each other's
// documents.
func NewDatabases(tb testing.TB) Databases {
	tb.Helper()
	base := CouchDB(tb)
	prefix := "t" + randomHex(4) + "_"
	dbs := Databases{URL: base, Prefix: prefix, Whisks: prefix + "whisks",
		Activations: prefix + "activations", Subjects: prefix + "subjects"}
	client := &http.Client{Timeout: 30 * time.Second}
	for _, db := range []string{dbs.Whisks, dbs.Activations, dbs.Subjects} {
		if err := couchDo(client, http.MethodPut, base+"/"+db, http.StatusCreated, http.StatusAccepted); err != nil {
			tb.Fatalf("testenv: create database %s: %v", db, err)
		}
		tb.Cleanup(func() {
			if err := couchDo(client, http.MethodDelete, base+"/"+db, http.StatusOK, http.StatusAccepted, http.StatusNotFound); err != nil {
				tb.Logf("testenv: delete database %s: %v", db, err)
			}
		})
	}
	return dbs
}

// UniqueName returns base followed by a random suffix; use it for Kafka topics, consumer
// groups and container names that must not clash across tests and runs.
func UniqueName(base string) string {
	return base + randomHex(4)
}

// RepoRoot returns the root of the checkout (the directory holding go.mod).
func RepoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("working directory: %w", err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no go.mod above the working directory")
		}
		dir = parent
	}
}

func skipShort(tb testing.TB) {
	tb.Helper()
	if testing.Short() {
		tb.Skip("testenv: integration test skipped in -short mode")
	}
}

func fromEnvOrScript(variable, script string, args ...string) (string, error) {
	if v := os.Getenv(variable); v != "" {
		return v, nil
	}
	return runScript(script, args...)
}

// runScript runs deploy/dev/<script> and returns the last line it printed on stdout.
func runScript(script string, args ...string) (string, error) {
	root, err := RepoRoot()
	if err != nil {
		return "", err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, filepath.Join(root, "deploy", "dev", script), args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("deploy/dev/%s %s: %w\n%s", script, strings.Join(args, " "), err, stderr.String())
	}
	lines := strings.Fields(strings.TrimSpace(stdout.String()))
	if len(lines) == 0 {
		return "", nil
	}
	return lines[len(lines)-1], nil
}

func couchDo(client *http.Client, method, url string, okCodes ...int) error {
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		return err
	}
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	for _, c := range okCodes {
		if resp.StatusCode == c {
			return nil
		}
	}
	return fmt.Errorf("%s %s: HTTP %d", method, url, resp.StatusCode)
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
