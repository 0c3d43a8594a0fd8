package sandbox

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/owinvoker/owinvoker/memfs"
	"github.com/owinvoker/owinvoker/sandbox/docker"
)

// ScratchConfig gives every action container a writable scratch directory in memory (a tmpfs
// sized by the per-tenant ledger of package memfs), or on disk when the memory budget is spent.
type ScratchConfig struct {
	// Path is the scratch directory inside containers (default /tmp); PathByKind overrides
	// it per runtime kind.
	Path       string
	PathByKind map[string]string
	// DiskRoot holds the per-container directories of disk-backed scratch (default
	// /var/lib/owinvoker/scratch); each is created with its container and removed with it.
	DiskRoot string
	// Ledger configures the budgets (HostBytes is required). The sandbox cannot resize a
	// running container's tmpfs, so Ledger.NoShrink is always set.
	Ledger memfs.Config
}

// scratch is the sandbox's scratch edge: the ledger and the disk directories it created.
type scratch struct {
	cfg ScratchConfig
	log *zap.Logger

	mu     sync.Mutex // the ledger is not safe for concurrent use
	ledger *memfs.Ledger
	dirs   map[string]string // container name → disk directory
}

func newScratch(cfg ScratchConfig, log *zap.Logger) (*scratch, error) {
	if cfg.Path == "" {
		cfg.Path = "/tmp"
	}
	if cfg.DiskRoot == "" {
		cfg.DiskRoot = "/var/lib/owinvoker/scratch"
	}
	cfg.Ledger.NoShrink = true
	l, err := memfs.New(cfg.Ledger)
	if err != nil {
		return nil, fmt.Errorf("scratch: %w", err)
	}
	return &scratch{cfg: cfg, log: log.Named("scratch"), ledger: l, dirs: map[string]string{}}, nil
}

// reserve decides a new container's scratch and prepares its backing. tenant is the invoking
// namespace ("" for a stem cell, whose scratch counts against the prewarm pool's budget).
func (sc *scratch) reserve(name, tenant, kind string, memoryMB int) ([]docker.Scratch, []string, error) {
	sc.mu.Lock()
	d, err := sc.ledger.Reserve(time.Now(), memfs.Request{Tenant: tenant, ContainerID: name, ActionMemoryMB: memoryMB})
	sc.mu.Unlock()
	if err != nil {
		return nil, nil, fmt.Errorf("scratch of %s: %w", name, err)
	}
	path := sc.cfg.Path
	if p, ok := sc.cfg.PathByKind[kind]; ok {
		path = p
	}
	env := []string{"__OW_SCRATCH_DIR=" + path, "__OW_SCRATCH_BACKING=" + d.Backing.String()}
	if d.Backing == memfs.Memory {
		env = append(env, "__OW_SCRATCH_BYTES="+strconv.FormatInt(d.SizeBytes, 10))
		return []docker.Scratch{{Target: path, SizeBytes: d.SizeBytes}}, env, nil
	}
	dir := filepath.Join(sc.cfg.DiskRoot, name)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		sc.release(name)
		return nil, nil, fmt.Errorf("scratch directory %s: %w", dir, err)
	}
	if err := os.Chmod(dir, 0o1777); err != nil {
		sc.release(name)
		return nil, nil, fmt.Errorf("scratch directory %s: %w", dir, err)
	}
	sc.mu.Lock()
	sc.dirs[name] = dir
	sc.mu.Unlock()
	sc.log.Info("disk scratch", zap.String("container", name), zap.String("tenant", tenant), zap.String("reason", d.Reason.String()))
	return []docker.Scratch{{Target: path, HostDir: dir}}, env, nil
}

// release gives a removed container's scratch back and deletes its disk directory.
func (sc *scratch) release(name string) {
	sc.mu.Lock()
	sc.ledger.Release(name)
	dir := sc.dirs[name]
	delete(sc.dirs, name)
	sc.mu.Unlock()
	if dir == "" {
		return
	}
	// Only ever a directory this scratch created, under its root.
	if rel, err := filepath.Rel(sc.cfg.DiskRoot, dir); err != nil || strings.HasPrefix(rel, "..") || rel == "." {
		sc.log.Error("refusing to remove a scratch directory outside the root", zap.String("dir", dir))
		return
	}
	if err := os.RemoveAll(dir); err != nil {
		sc.log.Warn("remove scratch directory", zap.String("dir", dir), zap.Error(err))
	}
}

// ScratchSnapshot returns the scratch ledger's state (reserved and used bytes per tenant,
// disk fall-backs, ENOSPC events) for metrics; ok is false when scratch is off.
func (s *Sandbox) ScratchSnapshot() (memfs.Snapshot, bool) {
	if s.scratch == nil {
		return memfs.Snapshot{}, false
	}
	s.scratch.mu.Lock()
	defer s.scratch.mu.Unlock()
	return s.scratch.ledger.Snapshot(), true
}

// memoryScratchMB is the in-memory scratch of a container spec, in MB.
func memoryScratchMB(spec docker.Spec) int {
	n := 0
	for _, sc := range spec.Scratch {
		if sc.HostDir == "" {
			n += int(sc.SizeBytes >> 20)
		}
	}
	return n
}
