package profile

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// Cgroup locates one container's cgroup directories. An empty field means that hierarchy is not
// mounted (or the task is not in it). On a cgroup v1+v2 hybrid host every field is set: the
// controllers live in v1, and the unified directory still gives the cgroup id that eBPF sees and
// a controller-less cpu.stat.
type Cgroup struct {
	V2      string // directory in the unified (v2) hierarchy
	CPU     string // v1 cpu controller directory (cpu.stat with throttling)
	CPUAcct string // v1 cpuacct controller directory (cpuacct.usage)
	Memory  string // v1 memory controller directory
}

// Layout knows where the cgroup hierarchies are mounted, and turns a task's /proc/<pid>/cgroup
// into its directories. It works for the cgroupfs (/docker/<id>) and systemd
// (/system.slice/docker-<id>.scope) drivers alike, since it never guesses a path. The daemon must
// see the host's cgroup and pid namespaces.
type Layout struct {
	procRoot string
	mounts   []cgroupMount
}

// cgroupMount is one cgroup mount from mountinfo.
type cgroupMount struct {
	dir   string   // mount point
	root  string   // the hierarchy's path mounted there ("/" on the host)
	v2    bool     // cgroup2
	ctrls []string // v1: controllers and name=… from the super options
}

// NewLayout reads <procRoot>/self/mountinfo.
func NewLayout(procRoot string) (*Layout, error) {
	if procRoot == "" {
		procRoot = DefaultProcRoot
	}
	f, err := os.Open(filepath.Join(procRoot, "self", "mountinfo"))
	if err != nil {
		return nil, fmt.Errorf("profile: read mounts: %w", err)
	}
	defer f.Close()
	mounts, err := parseMountInfo(f)
	if err != nil {
		return nil, fmt.Errorf("profile: read mounts: %w", err)
	}
	return &Layout{procRoot: procRoot, mounts: mounts}, nil
}

// HasV2 reports whether a cgroup v2 hierarchy is mounted (which the eBPF source needs).
func (l *Layout) HasV2() bool {
	for _, m := range l.mounts {
		if m.v2 {
			return true
		}
	}
	return false
}

// Find returns the cgroup directories of the task pid (for a container, its init process:
// docker inspect State.Pid).
func (l *Layout) Find(pid int) (Cgroup, error) {
	if pid <= 0 {
		return Cgroup{}, fmt.Errorf("profile: find cgroup: invalid pid %d", pid)
	}
	b, err := os.ReadFile(filepath.Join(l.procRoot, strconv.Itoa(pid), "cgroup"))
	if err != nil {
		return Cgroup{}, fmt.Errorf("profile: find cgroup of pid %d: %w", pid, err)
	}
	cg, err := l.resolve(b)
	if err != nil {
		return Cgroup{}, fmt.Errorf("profile: find cgroup of pid %d: %w", pid, err)
	}
	return cg, nil
}

// resolve maps the lines of a /proc/<pid>/cgroup file onto the mounts.
func (l *Layout) resolve(procCgroup []byte) (Cgroup, error) {
	lines, err := parseProcCgroup(procCgroup)
	if err != nil {
		return Cgroup{}, err
	}
	var cg Cgroup
	for _, ln := range lines {
		if ln.v2 {
			cg.V2 = l.dir(true, "", ln.path)
			continue
		}
		for _, c := range ln.ctrls {
			switch c {
			case "cpu":
				cg.CPU = l.dir(false, c, ln.path)
			case "cpuacct":
				cg.CPUAcct = l.dir(false, c, ln.path)
			case "memory":
				cg.Memory = l.dir(false, c, ln.path)
			}
		}
	}
	if cg == (Cgroup{}) {
		return Cgroup{}, errors.New("no mounted cgroup hierarchy holds the task")
	}
	return cg, nil
}

// dir returns the directory of path in the hierarchy (v2, or the v1 one holding ctrl), or ""
// when no mount exposes it.
func (l *Layout) dir(v2 bool, ctrl, path string) string {
	for _, m := range l.mounts {
		if m.v2 != v2 || (!v2 && !contains(m.ctrls, ctrl)) {
			continue
		}
		rel, ok := under(path, m.root)
		if !ok {
			continue
		}
		return filepath.Join(m.dir, rel)
	}
	return ""
}

// under returns path relative to root, if path is root or below it.
func under(path, root string) (string, bool) {
	if root == "/" {
		return path, true
	}
	if path == root {
		return "/", true
	}
	if rest, ok := strings.CutPrefix(path, root); ok && strings.HasPrefix(rest, "/") {
		return rest, true
	}
	return "", false
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// parseMountInfo returns the cgroup and cgroup2 mounts of a mountinfo file (proc(5)).
func parseMountInfo(r io.Reader) ([]cgroupMount, error) {
	var mounts []cgroupMount
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		// id parent major:minor root mountpoint options [optional...] - fstype source superopts
		fields := strings.Fields(sc.Text())
		sep := -1
		for i, f := range fields {
			if f == "-" {
				sep = i
				break
			}
		}
		if sep < 5 || len(fields) < sep+3 {
			return nil, fmt.Errorf("malformed mountinfo line %q", sc.Text())
		}
		fstype := fields[sep+1]
		if fstype != "cgroup" && fstype != "cgroup2" {
			continue
		}
		m := cgroupMount{dir: unescapeMount(fields[4]), root: unescapeMount(fields[3]), v2: fstype == "cgroup2"}
		if !m.v2 {
			for _, o := range strings.Split(fields[sep+3], ",") {
				if isControllerOption(o) {
					m.ctrls = append(m.ctrls, o)
				}
			}
		}
		mounts = append(mounts, m)
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	return mounts, nil
}

// isControllerOption tells controller names (and name=…) from the other cgroup v1 mount options.
func isControllerOption(o string) bool {
	switch o {
	case "", "rw", "ro", "noprefix", "clone_children", "xattr", "cpuset_v2_mode", "favordynmods", "none":
		return false
	}
	return !strings.HasPrefix(o, "release_agent=")
}

// unescapeMount undoes the octal escapes (\040 for a space, …) of mountinfo paths.
func unescapeMount(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			if v, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(v))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// procCgroupLine is one line of /proc/<pid>/cgroup: "hierarchy-id:controllers:path".
type procCgroupLine struct {
	v2    bool
	ctrls []string
	path  string
}

func parseProcCgroup(b []byte) ([]procCgroupLine, error) {
	var lines []procCgroupLine
	for raw := range bytes.SplitSeq(b, []byte{'\n'}) {
		s := strings.TrimSpace(string(raw))
		if s == "" {
			continue
		}
		id, rest, ok1 := strings.Cut(s, ":")
		ctrls, path, ok2 := strings.Cut(rest, ":")
		if !ok1 || !ok2 || !strings.HasPrefix(path, "/") {
			return nil, fmt.Errorf("malformed cgroup line %q", s)
		}
		path = strings.TrimSuffix(path, " (deleted)")
		ln := procCgroupLine{path: path}
		if id == "0" && ctrls == "" {
			ln.v2 = true
		} else {
			ln.ctrls = strings.Split(ctrls, ",")
		}
		lines = append(lines, ln)
	}
	if len(lines) == 0 {
		return nil, errors.New("empty cgroup file")
	}
	return lines, nil
}
