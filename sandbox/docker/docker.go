// Package docker is the sandbox's Docker Engine API edge: it creates and starts action
// containers with OpenWhisk's run flags (spec §8.1), pauses, resumes, resizes and removes
// them, lists the ones an invoker owns, and opens their json-file logs.
//
// It decides nothing: which container to start or reuse is the pool's job (package pool).
// Errors are classified for the caller: ErrProvision (the engine could not create or start
// the container: a whisk error), ErrImage (a blackbox image is missing or cannot be pulled:
// a developer error), ErrNotFound (the container is gone).
package docker

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/events"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/image"
	"github.com/docker/docker/api/types/network"
	"github.com/docker/docker/client"
	"github.com/docker/go-units"
	"go.uber.org/zap"
)

// Errors returned (wrapped) by Client methods.
var (
	// ErrProvision: the engine failed to create, start or address a container.
	ErrProvision = errors.New("docker: failed to provision container")
	// ErrImage: the image does not exist locally and could not be pulled.
	ErrImage = errors.New("docker: image not available")
	// ErrNotFound: the container does not exist (any more).
	ErrNotFound = errors.New("docker: container not found")
)

// Config configures a Client. Zero values take OpenWhisk's defaults.
type Config struct {
	// Host is the engine's address (default: DOCKER_HOST or the local socket).
	Host string
	// Network the action containers join (whisk.container-factory.container-args.network).
	Network    string // default "bridge"
	DNSServers []string
	DNSSearch  []string
	DNSOptions []string
	// ExtraEnv is added to every container ("KEY=VALUE"), e.g. __OW_ALLOW_CONCURRENT=true.
	ExtraEnv []string
	// APIHost becomes __OW_API_HOST in every container (normalised URI), if set.
	APIHost string
	// PidsLimit per container (default 1024).
	PidsLimit int64
	// NoNewPrivileges adds the no-new-privileges security option (default on; our hardening,
	// OpenWhisk does not set it). Set KeepNewPrivileges to turn it off.
	KeepNewPrivileges bool
	// LogRoot, when set, replaces the engine's "<docker root>/containers" prefix of log paths
	// (the invoker in a container sees the host's /var/lib/docker/containers at /containers).
	LogRoot string
	// ParallelRuns bounds concurrent create+start (whisk.docker.client.parallel-runs, 10).
	ParallelRuns int
	// CgroupRoot is where the host's cgroup filesystem is mounted (default /sys/fs/cgroup).
	CgroupRoot string
}

// Client talks to one Docker engine.
type Client struct {
	cfg  Config
	api  *client.Client
	log  *zap.Logger
	runs chan struct{}
}

// New connects lazily to the engine (with API version negotiation: the engine here speaks
// 1.41) and validates cfg.
func New(cfg Config, log *zap.Logger) (*Client, error) {
	if cfg.Network == "" {
		cfg.Network = "bridge"
	}
	if cfg.PidsLimit <= 0 {
		cfg.PidsLimit = 1024
	}
	if cfg.ParallelRuns <= 0 {
		cfg.ParallelRuns = 10
	}
	opts := []client.Opt{client.FromEnv, client.WithAPIVersionNegotiation()}
	if cfg.Host != "" {
		opts = append(opts, client.WithHost(cfg.Host))
	}
	api, err := client.NewClientWithOpts(opts...)
	if err != nil {
		return nil, fmt.Errorf("docker client: %w", err)
	}
	return &Client{cfg: cfg, api: api, log: log.Named("docker"), runs: make(chan struct{}, cfg.ParallelRuns)}, nil
}

// Close releases the client's connections.
func (c *Client) Close() error { return c.api.Close() }

// Ping checks that the engine answers.
func (c *Client) Ping(ctx context.Context) error {
	if _, err := c.api.Ping(ctx); err != nil {
		return fmt.Errorf("docker ping: %w", err)
	}
	return nil
}

// Scratch is a container's writable scratch directory: in memory (tmpfs of SizeBytes) or on
// disk (HostDir bind-mounted).
type Scratch struct {
	Target    string // path inside the container, e.g. /tmp
	SizeBytes int64  // tmpfs size; required for tmpfs
	HostDir   string // when set, a bind mount of this directory instead of tmpfs
}

// Spec is one action container to run.
type Spec struct {
	Name     string
	Image    string
	MemoryMB int // --memory and --memory-swap
	// CPUShares is --cpu-shares; CPUs, when > 0, is --cpus (a CFS quota).
	CPUShares int64
	CPUs      float64
	Env       []string // on top of Config.ExtraEnv and __OW_API_HOST
	Labels    map[string]string
	Scratch   []Scratch
	// Pull asks for `docker pull` first (user blackbox images). PullRequired makes a pull
	// failure fatal (tag "latest" or none, as OpenWhisk does); otherwise a local image is tried.
	Pull         bool
	PullRequired bool
}

// Container is a running container.
type Container struct {
	ID      string
	Name    string
	IP      string // on Config.Network; the action proxy listens on IP:8080
	LogPath string // the json-file log, as the invoker can open it
}

// CPUShares is OpenWhisk's --cpu-shares for an action: 1024 divided by how many containers of
// this size fit in the user memory, at least 2.
func CPUShares(userMemoryMB, actionMemoryMB int) int64 {
	if actionMemoryMB <= 0 || userMemoryMB < actionMemoryMB {
		return 1024
	}
	return max(int64(1024/(userMemoryMB/actionMemoryMB)), 2)
}

// CPUs is OpenWhisk's --cpus when whisk.container-pool.user-cpus is set: userCPUs divided by
// how many containers of this size fit, rounded to 5 decimals, at least 0.01.
func CPUs(userCPUs float64, userMemoryMB, actionMemoryMB int) float64 {
	if userCPUs <= 0 || actionMemoryMB <= 0 {
		return 0
	}
	n := max(userMemoryMB/actionMemoryMB, 1)
	return max(math.Round(userCPUs/float64(n)*1e5)/1e5, 0.01)
}

// Run creates and starts a container and finds its address. On any failure after create the
// container is removed again.
func (c *Client) Run(ctx context.Context, spec Spec) (Container, error) {
	if spec.Pull {
		if err := c.pull(ctx, spec.Image); err != nil {
			if spec.PullRequired {
				return Container{}, err
			}
			c.log.Info("pull failed, trying the local image", zap.String("image", spec.Image), zap.Error(err))
		}
	}
	select {
	case c.runs <- struct{}{}:
		defer func() { <-c.runs }()
	case <-ctx.Done():
		return Container{}, fmt.Errorf("run %s: %w", spec.Name, ctx.Err())
	}
	cfg, host := c.containerConfig(spec)
	created, err := c.api.ContainerCreate(ctx, cfg, host, &network.NetworkingConfig{}, nil, spec.Name)
	if err != nil {
		if cerrdefs.IsNotFound(err) {
			return Container{}, fmt.Errorf("create %s from %s: %w: %v", spec.Name, spec.Image, ErrImage, err)
		}
		return Container{}, fmt.Errorf("create %s: %w: %v", spec.Name, ErrProvision, err)
	}
	fail := func(step string, err error) (Container, error) {
		rmCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
		defer cancel()
		if rmErr := c.Remove(rmCtx, created.ID); rmErr != nil {
			c.log.Warn("remove broken container", zap.String("container", spec.Name), zap.Error(rmErr))
		}
		return Container{}, fmt.Errorf("%s %s: %w: %v", step, spec.Name, ErrProvision, err)
	}
	if err := c.api.ContainerStart(ctx, created.ID, container.StartOptions{}); err != nil {
		return fail("start", err)
	}
	info, err := c.api.ContainerInspect(ctx, created.ID)
	if err != nil {
		return fail("inspect", err)
	}
	ip := ""
	if info.NetworkSettings != nil {
		if n, ok := info.NetworkSettings.Networks[c.cfg.Network]; ok && n != nil {
			ip = n.IPAddress
		}
	}
	if ip == "" {
		return fail("address", fmt.Errorf("no IP address on network %s", c.cfg.Network))
	}
	return Container{ID: created.ID, Name: spec.Name, IP: ip, LogPath: c.logPath(info.LogPath)}, nil
}

func (c *Client) containerConfig(spec Spec) (*container.Config, *container.HostConfig) {
	env := append([]string{}, c.cfg.ExtraEnv...)
	if c.cfg.APIHost != "" {
		env = append(env, "__OW_API_HOST="+c.cfg.APIHost)
	}
	env = append(env, spec.Env...)
	mem := int64(spec.MemoryMB) << 20
	pids := c.cfg.PidsLimit
	host := &container.HostConfig{
		NetworkMode: container.NetworkMode(c.cfg.Network),
		DNS:         c.cfg.DNSServers,
		DNSSearch:   c.cfg.DNSSearch,
		DNSOptions:  c.cfg.DNSOptions,
		// OpenWhisk drops NET_RAW and NET_ADMIN. We also drop what no action runtime needs
		// of Docker's default set: device nodes, audit records, file and process capability
		// changes, chroot, ports below 1024 (the proxy listens on 8080). Kept: CHOWN,
		// DAC_OVERRIDE, FOWNER, FSETID, KILL, SETGID, SETUID, which user images use to own
		// files and to run a process as another user; no-new-privileges stops those from
		// gaining anything through set-user-ID binaries.
		CapDrop:   []string{"NET_RAW", "NET_ADMIN", "MKNOD", "AUDIT_WRITE", "SETFCAP", "SETPCAP", "SYS_CHROOT", "NET_BIND_SERVICE"},
		LogConfig: container.LogConfig{Type: "json-file"},
		Resources: container.Resources{
			Memory:     mem,
			MemorySwap: mem,
			CPUShares:  spec.CPUShares,
			PidsLimit:  &pids,
			Ulimits:    []*units.Ulimit{{Name: "nofile", Soft: 1024, Hard: 1024}},
		},
	}
	if spec.CPUs > 0 {
		// --cpus as a CFS quota over a 100 ms period (not NanoCPUs: the engine refuses to
		// update the quota of a container created with NanoCPUs, and harvesting resizes it).
		host.Resources.CPUPeriod = 100000
		host.Resources.CPUQuota = int64(math.Round(spec.CPUs * 100000))
	}
	if !c.cfg.KeepNewPrivileges {
		host.SecurityOpt = []string{"no-new-privileges"}
	}
	for _, s := range spec.Scratch {
		if s.HostDir != "" {
			host.Binds = append(host.Binds, s.HostDir+":"+s.Target+":rw")
			continue
		}
		if host.Tmpfs == nil {
			host.Tmpfs = map[string]string{}
		}
		// Explicit size (never unset: unset means half the host's RAM) and the options
		// Docker adds to --tmpfs mounts.
		host.Tmpfs[s.Target] = "rw,noexec,nosuid,nodev,size=" + strconv.FormatInt(s.SizeBytes, 10) + ",mode=1777"
	}
	return &container.Config{Image: spec.Image, Env: env, Labels: spec.Labels}, host
}

func (c *Client) pull(ctx context.Context, ref string) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Minute)
	defer cancel()
	rc, err := c.api.ImagePull(ctx, ref, image.PullOptions{})
	if err != nil {
		return fmt.Errorf("pull %s: %w: %v", ref, ErrImage, err)
	}
	defer rc.Close()
	// The pull ends when its progress stream does; an error shows as a JSON message in it.
	out, err := io.ReadAll(rc)
	if err != nil {
		return fmt.Errorf("pull %s: %w: %v", ref, ErrImage, err)
	}
	if strings.Contains(string(out), `"error"`) {
		return fmt.Errorf("pull %s: %w: %s", ref, ErrImage, lastLine(out))
	}
	return nil
}

func lastLine(b []byte) string {
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	return lines[len(lines)-1]
}

func (c *Client) logPath(p string) string {
	if c.cfg.LogRoot == "" || p == "" {
		return p
	}
	// <root>/containers/<id>/<id>-json.log → LogRoot/<id>/<id>-json.log
	return filepath.Join(c.cfg.LogRoot, filepath.Base(filepath.Dir(p)), filepath.Base(p))
}

func (c *Client) wrap(op, id string, err error) error {
	if err == nil {
		return nil
	}
	if cerrdefs.IsNotFound(err) {
		return fmt.Errorf("%s %s: %w", op, short(id), ErrNotFound)
	}
	return fmt.Errorf("%s %s: %w", op, short(id), err)
}

func short(id string) string {
	if len(id) > 12 {
		return id[:12]
	}
	return id
}

// Pause freezes a container (docker pause).
func (c *Client) Pause(ctx context.Context, id string) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	return c.wrap("pause", id, c.api.ContainerPause(ctx, id))
}

// Unpause resumes a paused container.
func (c *Client) Unpause(ctx context.Context, id string) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	return c.wrap("unpause", id, c.api.ContainerUnpause(ctx, id))
}

// Remove force-removes a container and its anonymous volumes; a missing one is not an error.
func (c *Client) Remove(ctx context.Context, id string) error {
	err := c.api.ContainerRemove(ctx, id, container.RemoveOptions{Force: true, RemoveVolumes: true})
	if err != nil && !cerrdefs.IsNotFound(err) {
		return c.wrap("remove", id, err)
	}
	return nil
}

// Resize changes a running container's memory limit (and swap with it, so there is none) and
// its CPU quota. memoryMB 0 leaves memory alone; cpus 0 leaves the quota alone.
func (c *Client) Resize(ctx context.Context, id string, memoryMB int, cpus float64) error {
	var r container.Resources
	if memoryMB > 0 {
		r.Memory = int64(memoryMB) << 20
		r.MemorySwap = r.Memory
	}
	if cpus > 0 {
		r.CPUPeriod = 100000
		r.CPUQuota = int64(math.Round(cpus * 100000))
	}
	_, err := c.api.ContainerUpdate(ctx, id, container.UpdateConfig{Resources: r})
	return c.wrap("update", id, err)
}

// State is what the engine knows of a container's life.
type State struct {
	Running   bool
	Paused    bool
	OOMKilled bool
	ExitCode  int
	PID       int
}

// Inspect returns a container's state.
func (c *Client) Inspect(ctx context.Context, id string) (State, error) {
	info, err := c.api.ContainerInspect(ctx, id)
	if err != nil {
		return State{}, c.wrap("inspect", id, err)
	}
	if info.State == nil {
		return State{}, nil
	}
	return State{Running: info.State.Running, Paused: info.State.Paused, OOMKilled: info.State.OOMKilled,
		ExitCode: info.State.ExitCode, PID: info.State.Pid}, nil
}

// Listed is one container found by List.
type Listed struct {
	ID     string
	Name   string
	Labels map[string]string
	State  string
}

// List returns every container (running or not) that carries label=value.
func (c *Client) List(ctx context.Context, label, value string) ([]Listed, error) {
	f := filters.NewArgs(filters.Arg("label", label+"="+value))
	cs, err := c.api.ContainerList(ctx, container.ListOptions{All: true, Filters: f})
	if err != nil {
		return nil, fmt.Errorf("list containers %s=%s: %w", label, value, err)
	}
	out := make([]Listed, 0, len(cs))
	for _, s := range cs {
		name := ""
		if len(s.Names) > 0 {
			name = strings.TrimPrefix(s.Names[0], "/")
		}
		out = append(out, Listed{ID: s.ID, Name: name, Labels: s.Labels, State: s.State})
	}
	return out, nil
}

// Watch streams the IDs of the containers labelled label=value that die or are destroyed,
// whoever caused it, until ctx ends or the stream breaks; then it closes ids and sends the
// error (nil when ctx ended) on errc. Events between two Watch calls are not replayed:
// reconcile with List after (re)subscribing.
func (c *Client) Watch(ctx context.Context, label, value string) (ids <-chan string, errc <-chan error) {
	f := filters.NewArgs(filters.Arg("type", string(events.ContainerEventType)), filters.Arg("event", string(events.ActionDie)),
		filters.Arg("event", string(events.ActionDestroy)), filters.Arg("label", label+"="+value))
	msgs, errs := c.api.Events(ctx, events.ListOptions{Filters: f})
	out, outErr := make(chan string), make(chan error, 1)
	go func() {
		defer close(out)
		for {
			select {
			case m := <-msgs:
				select {
				case out <- m.Actor.ID:
				case <-ctx.Done():
					outErr <- nil
					return
				}
			case err := <-errs:
				if ctx.Err() != nil {
					err = nil
				} else if err != nil {
					err = fmt.Errorf("container events: %w", err)
				}
				outErr <- err
				return
			}
		}
	}()
	return out, outErr
}

// OpenLog opens a container's json-file log at offset.
func OpenLog(path string, offset int64) (*os.File, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("open log: %w", err)
	}
	if _, err := f.Seek(offset, io.SeekStart); err != nil {
		f.Close()
		return nil, fmt.Errorf("seek log to %d: %w", offset, err)
	}
	return f, nil
}
