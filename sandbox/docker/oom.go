package docker

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// OOMKills returns how many processes the kernel's OOM killer has killed in the container's
// memory cgroup. The engine's own OOMKilled flag is set only when the container's main process
// dies; an action process killed under a live action proxy shows here only.
func (c *Client) OOMKills(ctx context.Context, id string) (int, error) {
	st, err := c.Inspect(ctx, id)
	if err != nil {
		return 0, err
	}
	if st.OOMKilled {
		return 1, nil
	}
	if st.PID == 0 {
		return 0, fmt.Errorf("oom kills of %s: container not running", short(id))
	}
	return oomKills(c.cgroupRoot(), fmt.Sprintf("/proc/%d/cgroup", st.PID))
}

func (c *Client) cgroupRoot() string {
	if c.cfg.CgroupRoot != "" {
		return c.cfg.CgroupRoot
	}
	return "/sys/fs/cgroup"
}

// SetOOMKiller turns the kernel's OOM killer on or off for the container's memory cgroup
// (cgroup v1 memory.oom_control). With it off, a process that reaches the limit waits
// instead of being killed until the limit is raised: the harvester turns it off while a
// container lends memory, so that its safeguard can give the memory back in time, and on
// again once the container has its full allocation. Cgroup v2 has no such switch:
// ErrNoOOMControl.
func (c *Client) SetOOMKiller(ctx context.Context, id string, on bool) error {
	st, err := c.Inspect(ctx, id)
	if err != nil {
		return err
	}
	if st.PID == 0 {
		return fmt.Errorf("oom killer of %s: container not running", short(id))
	}
	path, err := memoryCgroupFile(c.cgroupRoot(), fmt.Sprintf("/proc/%d/cgroup", st.PID), "memory.oom_control")
	if err != nil {
		return err
	}
	v := "1"
	if on {
		v = "0"
	}
	if err := os.WriteFile(path, []byte(v), 0); err != nil {
		return fmt.Errorf("oom killer of %s: %w", short(id), err)
	}
	return nil
}

// ErrNoOOMControl: the container's memory cgroup has no OOM-killer switch (cgroup v2).
var ErrNoOOMControl = errors.New("docker: no oom_control in this memory cgroup")

// memoryCgroupFile returns a file of the v1 memory cgroup named in /proc/<pid>/cgroup.
func memoryCgroupFile(root, procCgroup, name string) (string, error) {
	data, err := os.ReadFile(procCgroup)
	if err != nil {
		return "", fmt.Errorf("memory cgroup: %w", err)
	}
	for _, line := range strings.Split(string(data), "\n") {
		parts := strings.SplitN(line, ":", 3)
		if len(parts) != 3 {
			continue
		}
		for _, ctrl := range strings.Split(parts[1], ",") {
			if ctrl == "memory" {
				return filepath.Join(root, "memory", parts[2], name), nil
			}
		}
	}
	return "", ErrNoOOMControl
}

// oomKills reads the oom_kill counter of the memory cgroup named in a /proc/<pid>/cgroup file:
// cgroup v1 memory.oom_control, or v2 memory.events.
func oomKills(root, procCgroup string) (int, error) {
	f, err := os.Open(procCgroup)
	if err != nil {
		return 0, fmt.Errorf("oom kills: %w", err)
	}
	defer f.Close()
	var v1, v2 string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		parts := strings.SplitN(sc.Text(), ":", 3)
		if len(parts) != 3 {
			continue
		}
		if parts[0] == "0" && parts[1] == "" {
			v2 = parts[2]
		}
		for _, ctrl := range strings.Split(parts[1], ",") {
			if ctrl == "memory" {
				v1 = parts[2]
			}
		}
	}
	if v1 != "" {
		return counter(filepath.Join(root, "memory", v1, "memory.oom_control"), "oom_kill")
	}
	if v2 != "" {
		return counter(filepath.Join(root, v2, "memory.events"), "oom_kill")
	}
	return 0, fmt.Errorf("oom kills: no memory cgroup in %s", procCgroup)
}

func counter(path, key string) (int, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return 0, fmt.Errorf("oom kills: %w", err)
	}
	for _, line := range strings.Split(string(data), "\n") {
		if k, v, ok := strings.Cut(line, " "); ok && k == key {
			n, err := strconv.Atoi(strings.TrimSpace(v))
			if err != nil {
				return 0, fmt.Errorf("oom kills: %s: %q", path, line)
			}
			return n, nil
		}
	}
	return 0, fmt.Errorf("oom kills: no %s in %s", key, path)
}
