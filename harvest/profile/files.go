package profile

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// FileSource reads the cgroup files of the containers it tracks. Files are opened once in Add and
// re-read from offset 0 (pread) on every Read, which costs about half of open/read/close.
//
// Which files, given a container's Cgroup:
//
//	CPU time     v1 cpuacct.usage (ns)                 else v2 cpu.stat usage_usec
//	throttling   v1 cpu.stat nr_throttled/throttled_time else v2 cpu.stat nr_throttled/throttled_usec
//	memory       v1 memory.usage_in_bytes              else v2 memory.current
//	window peak  v1 memory.max_usage_in_bytes, reset by writing "0" after each read;
//	             v2 memory.peak, reset by a write to our own fd (Linux 6.12+)
//
// Memory is the page counter the limit acts on: it includes page cache and tmpfs (our scratch
// space), and is not reduced by the cache. The peak watermark cannot be split by kind, so usage is
// reported the same way; sizing from it errs on the large side, never the small one.
// When the peak cannot be reset it is reported as 0 and the Tracker uses the usage instead.
//
// Safe for concurrent use.
type FileSource struct {
	mu   sync.Mutex
	ctrs map[string]*fileSet
	buf  []byte
}

var _ CPUSource = (*FileSource)(nil)

// fileSet holds one container's open files. A nil file is not read.
type fileSet struct {
	usage     *os.File // CPU time
	usageV2   bool     // usage is v2 cpu.stat (usage_usec) rather than cpuacct.usage
	stat      *os.File // throttling; may be the same file as usage
	mem       *os.File
	peak      *os.File
	peakReset []byte // written to peak to reset it; nil when it cannot be reset
}

// NewFileSource returns an empty FileSource.
func NewFileSource() *FileSource {
	return &FileSource{ctrs: make(map[string]*fileSet), buf: make([]byte, 1024)}
}

// Add opens the files of a container. It fails when neither the CPU time nor the memory usage
// file can be opened.
func (s *FileSource) Add(id string, cg Cgroup) error {
	return s.add(id, cg, true)
}

// add opens the container's files; withCPU false leaves the CPU time file out (another source
// measures CPU).
func (s *FileSource) add(id string, cg Cgroup, withCPU bool) error {
	fs, err := openFileSet(cg, withCPU)
	if err != nil {
		return fmt.Errorf("profile: container %s: %w", id, err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if old := s.ctrs[id]; old != nil {
		old.close()
	}
	s.ctrs[id] = fs
	return nil
}

func openFileSet(cg Cgroup, withCPU bool) (*fileSet, error) {
	fs := &fileSet{}
	var v2stat *os.File
	openV2Stat := func() *os.File {
		if v2stat == nil && cg.V2 != "" {
			v2stat, _ = os.Open(filepath.Join(cg.V2, "cpu.stat"))
		}
		return v2stat
	}
	var err error
	if withCPU {
		switch {
		case cg.CPUAcct != "":
			fs.usage, err = os.Open(filepath.Join(cg.CPUAcct, "cpuacct.usage"))
		case cg.V2 != "":
			if fs.usage = openV2Stat(); fs.usage == nil {
				err = fmt.Errorf("open %s: no cpu.stat", cg.V2)
			}
			fs.usageV2 = true
		default:
			err = errors.New("no cpuacct or cgroup v2 directory")
		}
		if err != nil {
			return nil, fmt.Errorf("cpu usage: %w", err)
		}
	}
	// Throttling is optional: a v2 cgroup without the cpu controller has no throttled_usec.
	if cg.CPU != "" {
		fs.stat, _ = os.Open(filepath.Join(cg.CPU, "cpu.stat"))
	}
	if fs.stat == nil {
		fs.stat = openV2Stat()
	}
	switch {
	case cg.Memory != "":
		fs.mem, err = os.Open(filepath.Join(cg.Memory, "memory.usage_in_bytes"))
		if err == nil {
			fs.peak, fs.peakReset = openPeak(filepath.Join(cg.Memory, "memory.max_usage_in_bytes"), []byte("0"))
		}
	case cg.V2 != "":
		fs.mem, err = os.Open(filepath.Join(cg.V2, "memory.current"))
		if err == nil {
			fs.peak, fs.peakReset = openPeak(filepath.Join(cg.V2, "memory.peak"), []byte("reset\n"))
		}
	default:
		err = errors.New("no memory or cgroup v2 directory")
	}
	if err != nil {
		fs.close()
		return nil, fmt.Errorf("memory usage: %w", err)
	}
	return fs, nil
}

// openPeak opens a watermark file for reading and resetting. A file that cannot be opened for
// writing, or rejects the reset (v2 before Linux 6.12), is not used: a lifetime peak says
// nothing about a window.
func openPeak(path string, reset []byte) (*os.File, []byte) {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return nil, nil
	}
	if _, err := f.WriteAt(reset, 0); err != nil {
		f.Close()
		return nil, nil
	}
	return f, reset
}

// Remove closes the files of a container. Unknown ids are ignored.
func (s *FileSource) Remove(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if fs := s.ctrs[id]; fs != nil {
		fs.close()
		delete(s.ctrs, id)
	}
}

// Read fills dst[id] for every tracked container with its counters; At is left zero. A container
// whose files fail (typically removed before Remove was called) is left out of dst, and its error
// is part of the joined error returned.
func (s *FileSource) Read(dst map[string]Reading) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	var errs []error
	for id, fs := range s.ctrs {
		var r Reading
		if err := s.readSet(fs, &r); err != nil {
			errs = append(errs, fmt.Errorf("container %s: %w", id, err))
			continue
		}
		dst[id] = r
	}
	return errors.Join(errs...)
}

// ReadCPU fills dst[id] with the cumulative CPU time of every container opened with its CPU
// file.
func (s *FileSource) ReadCPU(dst map[string]time.Duration) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	var errs []error
	for id, fs := range s.ctrs {
		if fs.usage == nil {
			continue
		}
		b, err := s.pread(fs.usage)
		if err == nil {
			var d time.Duration
			d, err = parseUsage(b, fs.usageV2)
			dst[id] = d
		}
		if err != nil {
			delete(dst, id)
			errs = append(errs, fmt.Errorf("container %s: cpu usage: %w", id, err))
		}
	}
	return errors.Join(errs...)
}

func parseUsage(b []byte, v2 bool) (time.Duration, error) {
	if !v2 {
		ns, err := parseUint(b)
		return time.Duration(ns), err
	}
	st, err := parseCPUStat(b)
	return st.usage, err
}

// readSet reads one container's files into r (CPU fields only when the CPU file is open).
func (s *FileSource) readSet(fs *fileSet, r *Reading) error {
	if fs.usage != nil {
		b, err := s.pread(fs.usage)
		if err != nil {
			return fmt.Errorf("cpu usage: %w", err)
		}
		if fs.usageV2 {
			st, err := parseCPUStat(b)
			if err != nil {
				return fmt.Errorf("cpu usage: %w", err)
			}
			r.CPU = st.usage
			if fs.stat == fs.usage {
				r.Throttled, r.ThrottledPeriods = st.throttled, st.nrThrottled
			}
		} else if r.CPU, err = parseUsage(b, false); err != nil {
			return fmt.Errorf("cpu usage: %w", err)
		}
	}
	if fs.stat != nil && fs.stat != fs.usage {
		b, err := s.pread(fs.stat)
		if err != nil {
			return fmt.Errorf("cpu.stat: %w", err)
		}
		st, err := parseCPUStat(b)
		if err != nil {
			return fmt.Errorf("cpu.stat: %w", err)
		}
		r.Throttled, r.ThrottledPeriods = st.throttled, st.nrThrottled
	}
	b, err := s.pread(fs.mem)
	if err != nil {
		return fmt.Errorf("memory usage: %w", err)
	}
	if r.Memory, err = parseUint(b); err != nil {
		return fmt.Errorf("memory usage: %w", err)
	}
	// Usage first, then the peak, then the reset: growth after the reset falls in the next window.
	if fs.peak != nil {
		b, err := s.pread(fs.peak)
		if err != nil {
			return fmt.Errorf("memory peak: %w", err)
		}
		if r.MemoryPeak, err = parseUint(b); err != nil {
			return fmt.Errorf("memory peak: %w", err)
		}
		if _, err := fs.peak.WriteAt(fs.peakReset, 0); err != nil {
			return fmt.Errorf("reset memory peak: %w", err)
		}
	}
	return nil
}

// pread reads the whole of a (small) cgroup file from offset 0 into the shared buffer.
func (s *FileSource) pread(f *os.File) ([]byte, error) {
	for {
		n, err := f.ReadAt(s.buf, 0)
		if n < len(s.buf) {
			if err != nil && !errors.Is(err, io.EOF) {
				return nil, err
			}
			return s.buf[:n], nil
		}
		s.buf = make([]byte, 2*len(s.buf))
	}
}

// Close closes the files of every container.
func (s *FileSource) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for id, fs := range s.ctrs {
		fs.close()
		delete(s.ctrs, id)
	}
	return nil
}

func (fs *fileSet) close() {
	for _, f := range []*os.File{fs.usage, fs.mem, fs.peak} {
		if f != nil {
			f.Close()
		}
	}
	if fs.stat != nil && fs.stat != fs.usage {
		fs.stat.Close()
	}
}

// cpuStat holds the fields we use of a cpu.stat file, in either version.
type cpuStat struct {
	usage       time.Duration // v2 usage_usec
	throttled   time.Duration // v1 throttled_time (ns), v2 throttled_usec
	nrThrottled uint64
}

// parseCPUStat parses a v1 or v2 cpu.stat file ("key value" lines; unknown keys ignored).
func parseCPUStat(b []byte) (cpuStat, error) {
	var st cpuStat
	for len(b) > 0 {
		line := b
		if i := bytes.IndexByte(b, '\n'); i >= 0 {
			line, b = b[:i], b[i+1:]
		} else {
			b = nil
		}
		if len(line) == 0 {
			continue
		}
		sp := bytes.IndexByte(line, ' ')
		if sp <= 0 {
			return cpuStat{}, fmt.Errorf("malformed cpu.stat line %q", line)
		}
		key, val := line[:sp], line[sp+1:]
		var dst *time.Duration
		var unit time.Duration
		switch string(key) {
		case "usage_usec":
			dst, unit = &st.usage, time.Microsecond
		case "throttled_usec":
			dst, unit = &st.throttled, time.Microsecond
		case "throttled_time":
			dst, unit = &st.throttled, time.Nanosecond
		case "nr_throttled":
			v, err := parseUint(val)
			if err != nil {
				return cpuStat{}, fmt.Errorf("cpu.stat %s: %w", key, err)
			}
			st.nrThrottled = v
			continue
		default:
			continue
		}
		v, err := parseUint(val)
		if err != nil {
			return cpuStat{}, fmt.Errorf("cpu.stat %s: %w", key, err)
		}
		*dst = time.Duration(v) * unit
	}
	return st, nil
}

// parseUint parses a decimal counter followed by optional white space, without allocating.
// "max" (an unlimited v2 value) is not a counter and is rejected.
func parseUint(b []byte) (uint64, error) {
	for len(b) > 0 && (b[len(b)-1] == '\n' || b[len(b)-1] == ' ') {
		b = b[:len(b)-1]
	}
	if len(b) == 0 {
		return 0, errors.New("empty value")
	}
	var v uint64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, fmt.Errorf("not a counter: %q", b)
		}
		d := uint64(c - '0')
		if v > (1<<64-1-d)/10 {
			return 0, fmt.Errorf("counter overflows: %q", b)
		}
		v = v*10 + d
	}
	return v, nil
}
