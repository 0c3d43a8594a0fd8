package docker_test

import (
	"archive/tar"
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/docker/docker/api/types/build"
	dclient "github.com/docker/docker/client"
	"go.uber.org/zap/zaptest"

	"github.com/owinvoker/owinvoker/deploy/dev/testenv"
	"github.com/owinvoker/owinvoker/sandbox/docker"
)

const testLabel = "owinvoker.test"

// testboxImage builds (once per content) a FROM-scratch image around testdata/testbox.
func testboxImage(t *testing.T) string {
	t.Helper()
	testenv.Docker(t)
	dir := t.TempDir()
	bin := filepath.Join(dir, "testbox")
	cmd := exec.Command("go", "build", "-o", bin, "./testdata/testbox")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build testbox: %v\n%s", err, out)
	}
	data, err := os.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	var ctxTar bytes.Buffer
	tw := tar.NewWriter(&ctxTar)
	for name, content := range map[string][]byte{
		"Dockerfile": []byte("FROM scratch\nCOPY testbox /testbox\nENTRYPOINT [\"/testbox\"]\n"),
		"testbox":    data,
	} {
		_ = tw.WriteHeader(&tar.Header{Name: name, Mode: 0o755, Size: int64(len(content))})
		_, _ = tw.Write(content)
	}
	_ = tw.Close()
	api, err := dclient.NewClientWithOpts(dclient.FromEnv, dclient.WithAPIVersionNegotiation())
	if err != nil {
		t.Fatal(err)
	}
	defer api.Close()
	const tag = "owinvoker-testbox:latest"
	res, err := api.ImageBuild(t.Context(), &ctxTar, build.ImageBuildOptions{Tags: []string{tag}, Remove: true})
	if err != nil {
		t.Fatalf("build image: %v", err)
	}
	out, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if bytes.Contains(out, []byte(`"error"`)) {
		t.Fatalf("build image: %s", out)
	}
	return tag
}

func newClient(t *testing.T) *docker.Client {
	t.Helper()
	c, err := docker.New(docker.Config{ExtraEnv: []string{"__OW_ALLOW_CONCURRENT=true"}, APIHost: "http://127.0.0.1:3233"}, zaptest.NewLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func run(t *testing.T, c *docker.Client, spec docker.Spec) docker.Container {
	t.Helper()
	spec.Labels = map[string]string{testLabel: "sandbox-docker"}
	if spec.Name == "" {
		spec.Name = testenv.UniqueName("owtest_docker_")
	}
	ctr, err := c.Run(t.Context(), spec)
	if err != nil {
		t.Fatalf("Run(%s): %v", spec.Name, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		_ = c.Remove(ctx, ctr.ID)
	})
	return ctr
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	client := &http.Client{Timeout: 10 * time.Second}
	var lastErr error
	for range 100 {
		resp, err := client.Get(url)
		if err == nil {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			return resp.StatusCode, strings.TrimSpace(string(b))
		}
		lastErr = err
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("GET %s: %v", url, lastErr)
	return 0, ""
}

func TestRunInspectPauseResizeRemove(t *testing.T) {
	img := testboxImage(t)
	c := newClient(t)
	ctr := run(t, c, docker.Spec{Image: img, MemoryMB: 128, CPUShares: docker.CPUShares(2048, 128), CPUs: 0.5,
		Env: []string{"OW_TEST=1"}, Scratch: []docker.Scratch{{Target: "/tmp", SizeBytes: 16 << 20}}})
	if ctr.IP == "" || ctr.LogPath == "" {
		t.Fatalf("container %+v: want an IP and a log path", ctr)
	}
	base := "http://" + ctr.IP + ":8080"
	if _, got := get(t, base+"/env?key=__OW_API_HOST"); got != "http://127.0.0.1:3233" {
		t.Errorf("__OW_API_HOST = %q", got)
	}
	if _, got := get(t, base+"/env?key=__OW_ALLOW_CONCURRENT"); got != "true" {
		t.Errorf("__OW_ALLOW_CONCURRENT = %q", got)
	}
	// The tmpfs scratch is sized: writing past 16 MiB fails with ENOSPC, the container lives.
	if code, body := get(t, base+"/write?path=/tmp/f&mb=32"); code != 507 || !strings.Contains(body, "no space left on device") {
		t.Errorf("write 32 MiB to a 16 MiB scratch = %d %q, want 507 and ENOSPC", code, body)
	}
	if code, _ := get(t, base+"/write?path=/tmp/f&mb=1"); code != 200 {
		t.Errorf("container no longer answers after ENOSPC: %d", code)
	}
	if err := c.Pause(t.Context(), ctr.ID); err != nil {
		t.Fatal(err)
	}
	st, err := c.Inspect(t.Context(), ctr.ID)
	if err != nil || !st.Paused {
		t.Fatalf("after pause: %+v, %v", st, err)
	}
	if err := c.Unpause(t.Context(), ctr.ID); err != nil {
		t.Fatal(err)
	}
	if err := c.Resize(t.Context(), ctr.ID, 192, 1.0); err != nil {
		t.Fatalf("resize: %v", err)
	}
	// The log file is there and holds both streams.
	f, err := docker.OpenLog(ctr.LogPath, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var lines []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		lines = append(lines, sc.Text())
	}
	joined := strings.Join(lines, "\n")
	if !strings.Contains(joined, `"testbox up\n","stream":"stdout"`) || !strings.Contains(joined, `"stream":"stderr"`) {
		t.Errorf("json log = %s, want both streams", joined)
	}
	listed, err := c.List(t.Context(), testLabel, "sandbox-docker")
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, l := range listed {
		found = found || l.ID == ctr.ID
	}
	if !found {
		t.Errorf("List did not find %s", ctr.Name)
	}
	if err := c.Remove(t.Context(), ctr.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Inspect(t.Context(), ctr.ID); !errors.Is(err, docker.ErrNotFound) {
		t.Fatalf("inspect after remove = %v, want ErrNotFound", err)
	}
	if err := c.Remove(t.Context(), ctr.ID); err != nil {
		t.Fatalf("second remove = %v, want nil", err)
	}
}

func TestOOMKillIsReported(t *testing.T) {
	img := testboxImage(t)
	c := newClient(t)
	ctr := run(t, c, docker.Spec{Image: img, MemoryMB: 64, CPUShares: 256})
	client := &http.Client{Timeout: 30 * time.Second}
	get(t, "http://"+ctr.IP+":8080/env?key=X") // wait until it serves
	if resp, err := client.Get("http://" + ctr.IP + ":8080/eat?mb=200"); err == nil {
		resp.Body.Close()
	}
	var st docker.State
	for range 100 {
		var err error
		if st, err = c.Inspect(t.Context(), ctr.ID); err != nil {
			t.Fatal(err)
		}
		if !st.Running {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if st.Running || !st.OOMKilled {
		t.Fatalf("after eating 200 MB in 64 MB: %+v, want stopped and OOMKilled", st)
	}
	if n, err := c.OOMKills(t.Context(), ctr.ID); err != nil || n < 1 {
		t.Fatalf("OOMKills = %d, %v; want ≥ 1", n, err)
	}
}

func TestRunErrorsAreClassified(t *testing.T) {
	testenv.Docker(t)
	c := newClient(t)
	_, err := c.Run(t.Context(), docker.Spec{Name: testenv.UniqueName("owtest_docker_"), Image: "owinvoker-no-such-image:1", MemoryMB: 64})
	if !errors.Is(err, docker.ErrImage) {
		t.Fatalf("run of a missing image = %v, want ErrImage", err)
	}
	// A required pull of an image that no registry has fails as an image error too.
	_, err = c.Run(t.Context(), docker.Spec{Name: testenv.UniqueName("owtest_docker_"), Image: "127.0.0.1:1/none:latest", MemoryMB: 64, Pull: true, PullRequired: true})
	if !errors.Is(err, docker.ErrImage) {
		t.Fatalf("required pull from nowhere = %v, want ErrImage", err)
	}
}

func TestCPUSharesAndCPUs(t *testing.T) {
	for _, tc := range []struct {
		user, action int
		shares       int64
		cpus         float64
	}{
		{2048, 256, 128, 0.25},
		{2048, 128, 64, 0.125},
		{1024, 512, 512, 1},
		{2048, 2048, 1024, 2},
		{65536, 128, 2, 0.01},
	} {
		if got := docker.CPUShares(tc.user, tc.action); got != tc.shares {
			t.Errorf("CPUShares(%d, %d) = %d, want %d", tc.user, tc.action, got, tc.shares)
		}
		if got := docker.CPUs(2, tc.user, tc.action); got != tc.cpus {
			t.Errorf("CPUs(2, %d, %d) = %v, want %v", tc.user, tc.action, got, tc.cpus)
		}
	}

}
