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
