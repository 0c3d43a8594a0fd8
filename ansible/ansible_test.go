// Package ansible_test runs the playbooks in this directory against this machine: the
// lean-cluster playbook deploys owcontroller and two owinvokers into the real Docker
// engine, an action is invoked end to end through OpenWhisk's Go client, a second run
// must change nothing, and the clean playbook must leave nothing of ours behind.
package ansible_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/apache/openwhisk-client-go/whisk"

	"github.com/owinvoker/owinvoker/controller-plugin/controller"
	"github.com/owinvoker/owinvoker/deploy/dev/testenv"
)

var playbooks = []string{"invoker.yml", "lean-cluster.yml", "clean.yml"}

func TestLeanClusterPlaybook(t *testing.T) {
	testenv.Docker(t)
	kafka := testenv.Kafka(t)
	dbs := testenv.NewDatabases(t)
	root, err := testenv.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	for _, script := range []string{"deploy/dev/ansible.sh", "deploy/images/build.sh", "deploy/runtimes/build.sh"} {
		if out, err := exec.Command(filepath.Join(root, script)).CombinedOutput(); err != nil {
			t.Fatalf("%s: %v\n%s", script, err, out)
		}
	}
	dir := filepath.Join(root, "ansible")

	for _, pb := range playbooks {
		if out, err := ansible(dir, "ansible-playbook", "--syntax-check", pb); err != nil {
			t.Errorf("syntax check of %s: %v\n%s", pb, err, out)
		}
	}
	if out, err := ansible(dir, "ansible-lint", "--offline", "--nocolor", "-p"); err != nil {
		t.Errorf("ansible-lint: %v\n%s", err, out)
	}

	// Variables for this run: the test's Kafka, CouchDB databases and free ports.
	db, err := url.Parse(dbs.URL)
	if err != nil {
		t.Fatal(err)
	}
	dbPort := db.Port()
	ctlPort := freePorts(t, 1)
	invPort := freePorts(t, 2)
	dockerRoot, err := exec.Command("docker", "info", "-f", "{{.DockerRootDir}}").Output()
	if err != nil {
		t.Fatal(err)
	}
	vars := map[string]any{
		"kafka_connect_string": kafka,
		"kafka":                map[string]any{"topicsPrefix": testenv.UniqueName("a") + "_", "replicationFactor": 1},
		"db_protocol":          db.Scheme, "db_host": db.Hostname(), "db_port": dbPort,
		"db":                       map[string]any{"whisk": map[string]any{"actions": dbs.Whisks, "activations": dbs.Activations, "auth": dbs.Subjects}},
		"controller":               map[string]any{"basePort": ctlPort},
		"invoker":                  map[string]any{"port": invPort, "userMemory": "1024m"},
		"whisk_api_host_port":      ctlPort,
		"whisk_logs_dir":           t.TempDir(),
		"owinvoker_docker_root":    strings.TrimSpace(string(dockerRoot)),
		"owinvoker_stop_timeout":   30,
		"owcontroller_listen_host": "127.0.0.1",
	}
	varsFile := filepath.Join(t.TempDir(), "vars.json")
	b, _ := json.Marshal(vars)
	if err := os.WriteFile(varsFile, b, 0o644); err != nil {
		t.Fatal(err)
	}
	play := func(pb string, hosts int) map[string]recap {
		t.Helper()
		out, err := ansible(dir, "ansible-playbook", "-e", "@"+varsFile, pb)
		if err != nil {
			t.Fatalf("%s: %v\n%s", pb, err, out)
		}
		r := recaps(out)
		if len(r) != hosts {
			t.Fatalf("%s: recap for %d hosts, want %d:\n%s", pb, len(r), hosts, out)
		}
		return r
	}
	cleaned := false
	t.Cleanup(func() {
		if !cleaned {
			_, _ = ansible(dir, "ansible-playbook", "-e", "@"+varsFile, "clean.yml")
		}
	})

	first := play("lean-cluster.yml", 3)
	for host, r := range first {
		if r.failed != 0 || r.unreachable != 0 || r.changed == 0 {
			t.Errorf("first deploy on %s: %+v, want changes and no failure", host, r)
		}
	}

	// End to end through the client library, as wsk does.
	api, _ := url.Parse(fmt.Sprintf("http://127.0.0.1:%d/api", ctlPort))
	client, err := whisk.NewClient(http.DefaultClient, &whisk.Config{AuthToken: controller.GuestKey, Namespace: "guest", BaseURL: api, Host: api.Host})
	if err != nil {
		t.Fatal(err)
	}
	code := `function main(p) { return {greeting: "Hello, " + p.name + "!"}; }`
	if _, _, err := client.Actions.Insert(&whisk.Action{Name: "hello", Exec: &whisk.Exec{Kind: "nodejs:20", Code: &code}}, true); err != nil {
		t.Fatalf("create action: %v", err)
	}
	var res map[string]any
	deadline := time.Now().Add(90 * time.Second)
	for {
		r, _, err := client.Actions.Invoke("hello", map[string]any{"name": "Ansible"}, true, true)
		if err == nil {
			res, _ = r.(map[string]any)
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("invoke: %v", err)
		}
		time.Sleep(time.Second) // the invokers may still be joining
	}
	if res["greeting"] != "Hello, Ansible!" {
		t.Fatalf("result %v", res)
	}

	second := play("lean-cluster.yml", 3)
	for host, r := range second {
		if r.failed != 0 || r.changed != 0 {
			t.Errorf("second deploy on %s: %+v, want no change (idempotent)", host, r)
		}
	}
	// The swap playbook, with the inventory's invoker_implementation=owinvoker, deploys
	// the same invoker<N> containers: nothing to change.
	for host, r := range play("invoker.yml", 2) {
		if r.failed != 0 || r.changed != 0 {
			t.Errorf("swap playbook on %s: %+v, want the deployed owinvoker unchanged", host, r)
		}
	}

	third := play("clean.yml", 3)
	cleaned = true
	for host, r := range third {
		if r.failed != 0 {
			t.Errorf("clean on %s: %+v", host, r)
		}
	}
	out, err := exec.Command("docker", "ps", "-a", "--format", "{{.Names}}").Output()
	if err != nil {
		t.Fatal(err)
	}
	left := regexp.MustCompile(`(?m)^(controller0|invoker[01]|wsk00_.*|wsk11_.*)$`).FindAllString(string(out), -1)
	if len(left) > 0 {
		t.Errorf("left after clean: %v", left)
	}
}

func ansible(dir string, cmd string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	c := exec.CommandContext(ctx, cmd, args...)
	c.Dir = dir
	c.Env = append(os.Environ(), "ANSIBLE_NOCOLOR=1", "ANSIBLE_FORCE_COLOR=0", "ANSIBLE_CONFIG="+filepath.Join(dir, "ansible.cfg"))
	out, err := c.CombinedOutput()
	return string(out), err
}

type recap struct{ ok, changed, unreachable, failed int }

var recapLine = regexp.MustCompile(`(?m)^(\S+)\s+:\s+ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)`)

// recaps reads the PLAY RECAP lines of ansible-playbook's output.
func recaps(out string) map[string]recap {
	m := map[string]recap{}
	for _, g := range recapLine.FindAllStringSubmatch(out, -1) {
		n := func(i int) int { v, _ := strconv.Atoi(g[i]); return v }
		m[g[1]] = recap{ok: n(2), changed: n(3), unreachable: n(4), failed: n(5)}
	}
	return m
}

// freePorts returns the first of n consecutive free ports on 127.0.0.1.
func freePorts(t *testing.T, n int) int {
	t.Helper()
	for range 50 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		p := l.Addr().(*net.TCPAddr).Port
		l.Close()
		ok := true
		for k := 1; k < n; k++ {
			l, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(p+k))
			if err != nil {
				ok = false
				break
			}
			l.Close()
		}
		if ok {
			return p
		}
	}
	t.Fatal("no free ports")
	return 0
}
