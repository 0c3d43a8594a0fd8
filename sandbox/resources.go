package sandbox

import (
	"context"
	"fmt"

	"github.com/owinvoker/owinvoker/sandbox/docker"
)

// Resize sets a running (or paused) container's memory limit and CPU quota: the harvester's
// decisions reach Docker through here. cpus 0 leaves the quota alone.
func (s *Sandbox) Resize(ctx context.Context, containerID string, memoryMB int, cpus float64) error {
	return s.docker.Resize(ctx, containerID, memoryMB, cpus)
}

// Live returns the ids of the containers in the pool (started, not being removed), so that
// the invoker can forget the ones that are gone.
func (s *Sandbox) Live() map[string]bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	live := make(map[string]bool, len(s.entries))
	for e := range s.entries {
		if e.ctr.ID != "" {
			live[e.ctr.ID] = true
		}
	}
	return live
}

// CPUQuota is the CPU quota, in cores, the sandbox gives a container of memoryMB (0 when
// containers get no quota): OpenWhisk's --cpus from Config.UserCPUs.
func (s *Sandbox) CPUQuota(memoryMB int) float64 {
	return docker.CPUs(s.cfg.UserCPUs, s.cfg.UserMemoryMB, memoryMB)
}

// PID returns the container's init process id, for the profiler.
func (l *Lease) PID(ctx context.Context) (int, error) {
	st, err := l.s.docker.Inspect(ctx, l.ID)
	if err != nil {
		return 0, err
	}
	if st.PID == 0 {
		return 0, fmt.Errorf("container %s: not running", l.Name)
	}
	return st.PID, nil
}

// SetOOMKiller turns the OOM killer of a container's memory cgroup on or off (cgroup v1); see
// docker.Client.SetOOMKiller.
func (s *Sandbox) SetOOMKiller(ctx context.Context, containerID string, on bool) error {
	return s.docker.SetOOMKiller(ctx, containerID, on)
}
