package main

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestRunServesAndStops(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	dir := t.TempDir()
	stdout, _ := os.Create(filepath.Join(dir, "stdout"))
	stderr, _ := os.Create(filepath.Join(dir, "stderr"))
	defer stdout.Close()
	defer stderr.Close()

	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	env := []string{"OW_COMPILER=/nonexistent", "OW_WAIT_FOR_ACK=0", "FOO=bar", "PATH=/usr/bin:/bin"}
	go func() {
		done <- run(ctx, []string{"-listen", addr, "-dir", filepath.Join(dir, "action")}, env, stdout, stderr)
	}()

	// The action is a shell script: it reports whether the proxy's own variables leaked.
	code := "#!/bin/sh\nwhile read line; do\n" +
		"  if [ -n \"$OW_COMPILER$OW_WAIT_FOR_ACK\" ]; then echo '{\"leak\":true}' >&3; else echo \"{\\\"foo\\\":\\\"$FOO\\\"}\" >&3; fi\n" +
		"done\n"
	initBody, _ := json.Marshal(map[string]any{"value": map[string]any{"name": "x", "main": "main", "code": code}})
	hc := &http.Client{Transport: &http.Transport{}}
	post := func(path, body string) (int, string) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for {
			req, _ := http.NewRequestWithContext(t.Context(), http.MethodPost, "http://"+addr+path, strings.NewReader(body))
			resp, err := hc.Do(req)
			if err != nil {
				if time.Now().After(deadline) {
					t.Fatalf("POST %s: %v", path, err)
				}
				time.Sleep(10 * time.Millisecond)
				continue
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			return resp.StatusCode, string(b)
		}
	}
	if status, body := post("/init", string(initBody)); status != 200 {
		t.Fatalf("/init = %d %s", status, body)
	}
	if status, body := post("/run", `{"value":{}}`); status != 200 || body != `{"foo":"bar"}` {
		t.Fatalf("/run = %d %s, want 200 {\"foo\":\"bar\"}", status, body)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("run after cancel: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("run did not return after cancel")
	}
}

func TestRunBadFlag(t *testing.T) {
	if err := run(t.Context(), []string{"-nope"}, nil, os.Stdout, os.Stderr); err == nil {
		t.Error("run with an unknown flag: no error")
	}
}

func TestTruthy(t *testing.T) {
	for v, want := range map[string]bool{"": false, "0": false, "false": false, "OFF": false, "1": true, "true": true, "yes": true} {
		if got := truthy(v); got != want {
			t.Errorf("truthy(%q) = %v, want %v", v, got, want)
		}
	}
}
