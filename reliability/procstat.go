package reliability

import (
	"bufio"
	"fmt"
	"os"
	"strconv"
	"strings"
)

// ProcStat is what /proc says of one process: the figures a soak run watches for growth.
type ProcStat struct {
	RSS     uint64 // resident set, bytes (VmRSS)
	Threads int
	FDs     int // open file descriptors
}

// ReadProcStat reads /proc/<pid>/status and counts /proc/<pid>/fd.
func ReadProcStat(pid int) (ProcStat, error) {
	dir := "/proc/" + strconv.Itoa(pid)
	f, err := os.Open(dir + "/status")
	if err != nil {
		return ProcStat{}, fmt.Errorf("process %d: %w", pid, err)
	}
	defer f.Close()
	var st ProcStat
	seen := 0
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		fields := strings.Fields(v)
		if len(fields) == 0 {
			continue
		}
		switch k {
		case "VmRSS": // "123456 kB"
			kb, err := strconv.ParseUint(fields[0], 10, 64)
			if err != nil {
				return ProcStat{}, fmt.Errorf("%s/status: VmRSS %q: %w", dir, v, err)
			}
			st.RSS = kb << 10
			seen++
		case "Threads":
			n, err := strconv.Atoi(fields[0])
			if err != nil {
				return ProcStat{}, fmt.Errorf("%s/status: Threads %q: %w", dir, v, err)
			}
			st.Threads = n
			seen++
		}
	}
	if err := sc.Err(); err != nil {
		return ProcStat{}, fmt.Errorf("%s/status: %w", dir, err)
	}
	if seen < 2 {
		return ProcStat{}, fmt.Errorf("%s/status: no VmRSS or Threads (a zombie?)", dir)
	}
	fds, err := os.ReadDir(dir + "/fd")
	if err != nil {
		return ProcStat{}, fmt.Errorf("process %d: %w", pid, err)
	}
	st.FDs = len(fds)
	return st, nil
}

// Pid is the process id of the current run, 0 when it is not running.
func (p *Process) Pid() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd == nil || p.exited() {
		return 0
	}
	return p.cmd.Process.Pid
}
