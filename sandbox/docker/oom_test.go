package docker

import (
	"os"
	"path/filepath"
	"testing"
)

func TestOOMKillsFromCgroupFiles(t *testing.T) {
	root := t.TempDir()
	write := func(rel, data string) string {
		p := filepath.Join(root, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	write("memory/docker/abc/memory.oom_control", "oom_kill_disable 0\nunder_oom 0\noom_kill 2\n")
	write("system.slice/docker-def.scope/memory.events", "low 0\nhigh 0\nmax 4\noom 1\noom_kill 1\n")
	hybrid := write("proc/1/cgroup", "12:memory:/docker/abc\n11:cpu,cpuacct:/docker/abc\n0::/docker/abc\n")
	unified := write("proc/2/cgroup", "0::/system.slice/docker-def.scope\n")
	none := write("proc/3/cgroup", "1:name=systemd:/\n")
	for _, tc := range []struct {
		file string
		want int
		err  bool
	}{{hybrid, 2, false}, {unified, 1, false}, {none, 0, true}} {
		got, err := oomKills(root, tc.file)
		if got != tc.want || (err != nil) != tc.err {
			t.Errorf("oomKills(%s) = %d, %v; want %d, error %v", tc.file, got, err, tc.want, tc.err)
		}
	}
}

func TestMemoryCgroupFile(t *testing.T) {
	dir := t.TempDir()
	hybrid := filepath.Join(dir, "hybrid")
	unified := filepath.Join(dir, "unified")
	_ = os.WriteFile(hybrid, []byte("12:memory:/docker/abc\n0::/docker/abc\n"), 0o644)
	_ = os.WriteFile(unified, []byte("0::/system.slice/docker-def.scope\n"), 0o644)
	if got, err := memoryCgroupFile("/sys/fs/cgroup", hybrid, "memory.oom_control"); err != nil || got != "/sys/fs/cgroup/memory/docker/abc/memory.oom_control" {
		t.Errorf("hybrid: %q, %v", got, err)
	}
	if _, err := memoryCgroupFile("/sys/fs/cgroup", unified, "memory.oom_control"); err != ErrNoOOMControl {
		t.Errorf("unified: %v, want ErrNoOOMControl", err)
	}
}
