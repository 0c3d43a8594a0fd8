package reliability_test

import (
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/owinvoker/owinvoker/invoker/message"
	"github.com/owinvoker/owinvoker/reliability"
)

// TestActionContainerConfinement runs an action through owinvoker that reports what its
// process may do, then inspects its container's HostConfig: no-new-privileges, the dropped
// capabilities, the pids limit, no Docker socket, no host mounts, no host namespaces.
func TestActionContainerConfinement(t *testing.T) {
	t.Parallel()
	sys := reliability.NewSystem(t, bins, reliability.SystemConfig{})
	inv := sys.StartInvoker(reliability.InvokerConfig{})
	rev := sys.PutAction(reliability.Action{Name: "probe", Kind: "python:3", Code: reliability.ProbeAction})
	msg := sys.Activation("guest", "probe", rev, true, nil)
	sys.Send(0, msg)
	sys.Acks.WaitSlot(t, msg.ActivationID, 2*time.Minute)
	rec := sys.WaitRecord("guest", msg.ActivationID, time.Minute)
	if rec.Response.StatusCode != message.StatusSuccess {
		t.Fatalf("probe: %d %s", rec.Response.StatusCode, rec.Response.Result)
	}
	var probe struct {
		Status        map[string]string
		RawSocket     string
		PidsMax       string
		DockerSockets []string
		Mounts        []string
		UID           int
	}
	if err := json.Unmarshal(rec.Response.Result, &probe); err != nil {
		t.Fatal(err)
	}
	t.Logf("probe: %s", rec.Response.Result)

	// What the process sees.
	capEff, err := strconv.ParseUint(probe.Status["CapEff"], 16, 64)
	if err != nil {
		t.Fatalf("CapEff %q: %v", probe.Status["CapEff"], err)
	}
	// Bit numbers from linux/capability.h.
	dropped := map[string]uint{"CAP_MKNOD": 27, "CAP_NET_RAW": 13, "CAP_NET_ADMIN": 12, "CAP_NET_BIND_SERVICE": 10,
		"CAP_AUDIT_WRITE": 29, "CAP_SETFCAP": 31, "CAP_SETPCAP": 8, "CAP_SYS_CHROOT": 18, "CAP_SYS_ADMIN": 21,
		"CAP_SYS_PTRACE": 19, "CAP_SYS_MODULE": 16, "CAP_DAC_READ_SEARCH": 2, "CAP_BPF": 39, "CAP_PERFMON": 38}
	for name, bit := range dropped {
		if capEff&(1<<bit) != 0 {
			t.Errorf("the action's process has %s (CapEff %s)", name, probe.Status["CapEff"])
		}
	}
	if probe.Status["NoNewPrivs"] != "1" {
		t.Errorf("NoNewPrivs = %q, want 1", probe.Status["NoNewPrivs"])
	}
	if !strings.HasPrefix(probe.RawSocket, "refused") {
		t.Errorf("raw socket: %s, want refused", probe.RawSocket)
	}
	if probe.PidsMax != "1024" {
		t.Errorf("pids.max = %q, want 1024", probe.PidsMax)
	}
	if len(probe.DockerSockets) != 0 {
		t.Errorf("the action sees the Docker socket at %v", probe.DockerSockets)
	}

	// What the engine was told.
	var id string
	for _, c := range inv.Containers() {
		if strings.HasSuffix(c.Name, "_guest_probe") {
			id = c.ID
		}
	}
	info, err := sys.Docker.ContainerInspect(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	hc := info.HostConfig
	for _, c := range []string{"NET_RAW", "NET_ADMIN", "MKNOD", "AUDIT_WRITE", "SETFCAP", "SETPCAP", "SYS_CHROOT", "NET_BIND_SERVICE"} {
		if !slices.Contains(hc.CapDrop, c) && !slices.Contains(hc.CapDrop, "CAP_"+c) {
			t.Errorf("CapDrop %v lacks %s", hc.CapDrop, c)
		}
	}
	checks := []struct {
		what string
		ok   bool
	}{
		{"no-new-privileges", slices.Contains(hc.SecurityOpt, "no-new-privileges") || slices.Contains(hc.SecurityOpt, "no-new-privileges:true")},
		{"no capability added", len(hc.CapAdd) == 0},
		{"not privileged", !hc.Privileged},
		{"pids limit 1024", hc.PidsLimit != nil && *hc.PidsLimit == 1024},
		{"no devices", len(hc.Devices) == 0},
		{"no host network", !hc.NetworkMode.IsHost()},
		{"no host pid namespace", !hc.PidMode.IsHost()},
		{"no host ipc namespace", !hc.IpcMode.IsHost()},
		{"no host uts namespace", !hc.UTSMode.IsHost()},
		{"no host user namespace", !hc.UsernsMode.IsHost()},
		{"no volumes from other containers", len(hc.VolumesFrom) == 0},
		{"no mounts", len(hc.Mounts) == 0},
	}
	for _, c := range checks {
		if !c.ok {
			t.Errorf("action container: want %s; host config %+v", c.what, hc)
		}
	}
	// Host directories: only a scratch directory of its own at /tmp.
	for _, b := range hc.Binds {
		parts := strings.Split(b, ":")
		if len(parts) < 2 || parts[1] != "/tmp" || strings.Contains(parts[0], "docker.sock") || parts[0] == "/" {
			t.Errorf("bind mount %q: only a scratch directory at /tmp is allowed", b)
		}
	}
	for _, m := range info.Mounts {
		if m.Type == "bind" && m.Destination != "/tmp" {
			t.Errorf("host mount %s at %s", m.Source, m.Destination)
		}
	}
}

// TestInvokerAdminAPIRequiresAuth calls the admin API of an owinvoker process: /enable,
// /disable, /isEnabled and /status answer 401 without the configured Basic credentials and
// do their job with them; /ping stays open.
func TestInvokerAdminAPIRequiresAuth(t *testing.T) {
	t.Parallel()
	sys := reliability.NewSystem(t, bins, reliability.SystemConfig{})
	inv := sys.StartInvoker(reliability.InvokerConfig{AdminUser: "ops", AdminPassword: "s3cret-" + reliability.UniqueMarker()})
	call := func(method, path, user, password string) (int, string, http.Header) {
		t.Helper()
		req, _ := http.NewRequest(method, inv.Admin+path, nil)
		if user != "" || password != "" {
			req.SetBasicAuth(user, password)
		}
		resp, err := http.DefaultTransport.RoundTrip(req)
		if err != nil {
			t.Fatalf("%s %s: %v", method, path, err)
		}
		defer resp.Body.Close()
		var b strings.Builder
		buf := make([]byte, 4096)
		for {
			n, err := resp.Body.Read(buf)
			b.Write(buf[:n])
			if err != nil {
				break
			}
		}
		return resp.StatusCode, b.String(), resp.Header
	}
	good := inv.Cfg.AdminPassword
	for _, ep := range []struct{ method, path string }{
		{http.MethodGet, "/isEnabled"}, {http.MethodGet, "/status"}, {http.MethodPost, "/disable"}, {http.MethodPost, "/enable"},
	} {
		for _, cred := range []struct{ name, user, password string }{
			{"none", "", ""}, {"wrong password", "ops", good + "x"}, {"wrong user", "admin", good}, {"default credentials", "invoker.user", "invoker.pass"},
		} {
			code, _, h := call(ep.method, ep.path, cred.user, cred.password)
			if code != http.StatusUnauthorized || !strings.HasPrefix(h.Get("WWW-Authenticate"), "Basic") {
				t.Errorf("%s %s with %s credentials: %d, want 401 with a Basic challenge", ep.method, ep.path, cred.name, code)
			}
		}
	}
	for _, step := range []struct {
		method, path, want string
	}{
		{http.MethodGet, "/isEnabled", `{"enabled":true}`},
		{http.MethodPost, "/disable", ""},
		{http.MethodGet, "/isEnabled", `{"enabled":false}`},
		{http.MethodPost, "/enable", ""},
		{http.MethodGet, "/isEnabled", `{"enabled":true}`},
	} {
		code, body, _ := call(step.method, step.path, "ops", good)
		if code != http.StatusOK || step.want != "" && strings.TrimSpace(body) != step.want {
			t.Errorf("%s %s with the right credentials: %d %q, want 200 %q", step.method, step.path, code, body, step.want)
		}
	}
	if code, body, _ := call(http.MethodGet, "/ping", "", ""); code != http.StatusOK || body != "pong" {
		t.Errorf("GET /ping: %d %q", code, body)
	}
	// The admin password is a secret too.
	if strings.Contains(inv.Logs(), good) {
		t.Errorf("the invoker logged its admin password")
	}
}
