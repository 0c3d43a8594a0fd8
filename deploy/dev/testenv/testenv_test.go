package testenv_test

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/docker/docker/api/types/build"
	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/image"
	"github.com/docker/docker/client"
	"github.com/docker/docker/pkg/stdcopy"
	"github.com/segmentio/kafka-go"

	"github.com/owinvoker/owinvoker/deploy/dev/testenv"
)

// TestKafkaIsReal produces a record through kafka-go and reads it back from the broker.
func TestKafkaIsReal(t *testing.T) {
	addr := testenv.Kafka(t)
	topic := testenv.UniqueName("testenv-")
	conn, err := kafka.Dial("tcp", addr)
	if err != nil {
		t.Fatalf("dial %s: %v", addr, err)
	}
	defer conn.Close()
	if err := conn.CreateTopics(kafka.TopicConfig{Topic: topic, NumPartitions: 1, ReplicationFactor: 1}); err != nil {
		t.Fatalf("create topic %s: %v", topic, err)
	}
	w := &kafka.Writer{Addr: kafka.TCP(addr), Topic: topic, RequiredAcks: kafka.RequireAll}
	defer w.Close()
	want := `{"hello":"kafka"}`
	// A topic just created has no leader for a moment: retry that error only.
	for attempt := 0; attempt < 50; attempt++ {
		if err = w.WriteMessages(t.Context(), kafka.Message{Value: []byte(want)}); !errors.Is(err, kafka.UnknownTopicOrPartition) && !errors.Is(err, kafka.LeaderNotAvailable) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err != nil {
		t.Fatalf("produce to %s: %v", topic, err)
	}
	r := kafka.NewReader(kafka.ReaderConfig{Brokers: []string{addr}, Topic: topic, GroupID: topic, MaxWait: 100 * time.Millisecond})
	defer r.Close()
	msg, err := r.ReadMessage(t.Context())
	if err != nil {
		t.Fatalf("consume from %s: %v", topic, err)
	}
	if string(msg.Value) != want {
		t.Fatalf("consumed %q, want %q", msg.Value, want)
	}
}

// TestCouchDBIsReal puts a document and an attachment and reads both back.
func TestCouchDBIsReal(t *testing.T) {
	dbs := testenv.NewDatabases(t)
	c := &http.Client{Timeout: 30 * time.Second}
	docURL := dbs.URL + "/" + dbs.Whisks + "/" + "guest%2Fhello"

	resp := do(t, c, http.MethodPut, docURL, "application/json", `{"name":"hello","namespace":"guest"}`)
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("PUT doc: HTTP %d %s", resp.StatusCode, body(t, resp))
	}
	var put struct {
		Rev string `json:"rev"`
	}
	if err := json.Unmarshal([]byte(body(t, resp)), &put); err != nil || put.Rev == "" {
		t.Fatalf("PUT doc answer has no rev: %v", err)
	}
	code := "function main() { return {}; }"
	resp = do(t, c, http.MethodPut, docURL+"/codefile?rev="+put.Rev, "text/plain", code)
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("PUT attachment: HTTP %d %s", resp.StatusCode, body(t, resp))
	}
	resp = do(t, c, http.MethodGet, docURL, "", "")
	if got := body(t, resp); !strings.Contains(got, `"namespace":"guest"`) || !strings.Contains(got, `"codefile"`) {
		t.Fatalf("GET doc = %s, want the document with its attachment stub", got)
	}
	resp = do(t, c, http.MethodGet, docURL+"/codefile", "", "")
	if got := body(t, resp); got != code {
		t.Fatalf("GET attachment = %q, want %q", got, code)
	}
}

// TestDockerIsReal builds an image FROM scratch around a static binary, runs it and reads
// what it printed.
func TestDockerIsReal(t *testing.T) {
	testenv.Docker(t)
	ctx := t.Context()
	dir := t.TempDir()
	src := filepath.Join(dir, "main.go")
	if err := os.WriteFile(src, []byte("package main\nimport \"fmt\"\nfunc main() { fmt.Println(\"hello from scratch\") }\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, "hello")
	gobuild := exec.CommandContext(ctx, "go", "build", "-o", bin, src)
	gobuild.Env = append(os.Environ(), "CGO_ENABLED=0", "GO111MODULE=off")
	if out, err := gobuild.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	binary, err := os.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}

	cli, err := client.NewClientWithOpts(client.FromEnv, client.WithAPIVersionNegotiation())
	if err != nil {
		t.Fatalf("docker client: %v", err)
	}
	defer cli.Close()

	var buildCtx bytes.Buffer
	tw := tar.NewWriter(&buildCtx)
	addFile(t, tw, "Dockerfile", 0o644, []byte("FROM scratch\nCOPY hello /hello\nENTRYPOINT [\"/hello\"]\n"))
	addFile(t, tw, "hello", 0o755, binary)
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	tag := testenv.UniqueName("owinvoker-testenv-scratch:")
	res, err := cli.ImageBuild(ctx, &buildCtx, build.ImageBuildOptions{Tags: []string{tag}, Remove: true, ForceRemove: true,
		Labels: map[string]string{"owinvoker.test": "testenv"}})
	if err != nil {
		t.Fatalf("image build: %v", err)
	}
	out, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if bytes.Contains(out, []byte(`"error"`)) {
		t.Fatalf("image build failed: %s", out)
	}
	t.Cleanup(func() {
		_, _ = cli.ImageRemove(context.Background(), tag, image.RemoveOptions{Force: true, PruneChildren: true})
	})

	created, err := cli.ContainerCreate(ctx, &container.Config{Image: tag, Labels: map[string]string{"owinvoker.test": "testenv"}}, nil, nil, nil, "")
	if err != nil {
		t.Fatalf("container create: %v", err)
	}
	t.Cleanup(func() {
		_ = cli.ContainerRemove(context.Background(), created.ID, container.RemoveOptions{Force: true})
	})
	if err := cli.ContainerStart(ctx, created.ID, container.StartOptions{}); err != nil {
		t.Fatalf("container start: %v", err)
	}
	waitC, errC := cli.ContainerWait(ctx, created.ID, container.WaitConditionNotRunning)
	select {
	case w := <-waitC:
		if w.StatusCode != 0 {
			t.Fatalf("container exited with %d", w.StatusCode)
		}
	case err := <-errC:
		t.Fatalf("container wait: %v", err)
	}
	logs, err := cli.ContainerLogs(ctx, created.ID, container.LogsOptions{ShowStdout: true})
	if err != nil {
		t.Fatalf("container logs: %v", err)
	}
	defer logs.Close()
	var stdout bytes.Buffer
	if _, err := stdcopy.StdCopy(&stdout, io.Discard, logs); err != nil {
		t.Fatalf("read logs: %v", err)
	}
	if got := strings.TrimSpace(stdout.String()); got != "hello from scratch" {
		t.Fatalf("container printed %q, want %q", got, "hello from scratch")
	}
}

func addFile(t *testing.T, tw *tar.Writer, name string, mode int64, data []byte) {
	t.Helper()
	if err := tw.WriteHeader(&tar.Header{Name: name, Mode: mode, Size: int64(len(data))}); err != nil {
		t.Fatal(err)
	}
	if _, err := tw.Write(data); err != nil {
		t.Fatal(err)
	}
}

func do(t *testing.T, c *http.Client, method, url, contentType, payload string) *http.Response {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, url, strings.NewReader(payload))
	if err != nil {
		t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	return resp
}

func body(t *testing.T, resp *http.Response) string {
	t.Helper()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(fmt.Errorf("read body: %w", err))
	}
	return string(b)
}
