package profile

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func readFixture(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "files", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestParseCPUStat(t *testing.T) {
	for _, tc := range []struct {
		file    string
		want    cpuStat
		wantErr bool
	}{
		{file: "v1_cpu.stat", want: cpuStat{throttled: 36512983311, nrThrottled: 731}},
		{file: "v1_old_cpu.stat", want: cpuStat{}},
		{file: "v2_nocontroller_cpu.stat", want: cpuStat{usage: 1054019 * time.Microsecond}},
		{file: "v2_cpu.stat", want: cpuStat{usage: 8713542 * time.Microsecond, throttled: 24873711 * time.Microsecond, nrThrottled: 502}},
		{file: "bad_cpu.stat", wantErr: true},
		{file: "memory.max", wantErr: true},
	} {
		got, err := parseCPUStat(readFixture(t, tc.file))
		if (err != nil) != tc.wantErr || got != tc.want {
			t.Errorf("parseCPUStat(%s) = %+v, %v; want %+v, error %v", tc.file, got, err, tc.want, tc.wantErr)
		}
	}
}

func TestParseUint(t *testing.T) {
	for _, tc := range []struct {
		file    string
		want    uint64
		wantErr bool
	}{
		{file: "cpuacct.usage", want: 1640996221596},
		{file: "memory.usage_in_bytes", want: 1407647744},
		{file: "memory.max", wantErr: true},
		{file: "empty", wantErr: true},
		{file: "overflow", wantErr: true},
	} {
		got, err := parseUint(readFixture(t, tc.file))
		if (err != nil) != tc.wantErr || got != tc.want {
			t.Errorf("parseUint(%s) = %d, %v; want %d, error %v", tc.file, got, err, tc.want, tc.wantErr)
		}
	}
	if got, err := parseUint([]byte("18446744073709551615\n")); err != nil || got != 1<<64-1 {
		t.Errorf("parseUint(max uint64) = %d, %v", got, err)
	}
}

// fakeTree writes cgroup files under a temporary directory and returns its root.
func fakeTree(t *testing.T, files map[string]string) string {
	t.Helper()
	root := t.TempDir()
	for name, content := range files {
		p := filepath.Join(root, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

func TestFileSourceLayouts(t *testing.T) {
	v1stat := string(readFixture(t, "v1_cpu.stat"))
	v2stat := string(readFixture(t, "v2_cpu.stat"))
	for _, tc := range []struct {
		name      string
		files     map[string]string
		cg        func(root string) Cgroup
		withCPU   bool
		want      Reading
		wantPeak  string // first bytes of the peak file after Read: the reset was written
		wantAddEr bool
	}{
		{
			name: "hybrid",
			files: map[string]string{
				"cpuacct/c/cpuacct.usage":                "5000000000\n",
				"cpu/c/cpu.stat":                         v1stat,
				"memory/c/memory.usage_in_bytes":         "104857600\n",
				"memory/c/memory.max_usage_in_bytes":     "          \n", // reset at Add; the test rewrites it
				"unified/c/cpu.stat":                     string(readFixture(t, "v2_nocontroller_cpu.stat")),
				"memory/c/memory.limit_in_bytes_ignored": "1\n",
			},
			cg: func(r string) Cgroup {
				return Cgroup{V2: r + "/unified/c", CPU: r + "/cpu/c", CPUAcct: r + "/cpuacct/c", Memory: r + "/memory/c"}
			},
			withCPU:  true,
			want:     Reading{CPU: 5 * time.Second, Throttled: 36512983311, ThrottledPeriods: 731, Memory: 104857600, MemoryPeak: 209715200},
			wantPeak: "0",
		},
		{
			name: "hybrid without cpu (ebpf measures it)",
			files: map[string]string{
				"cpu/c/cpu.stat":                     v1stat,
				"memory/c/memory.usage_in_bytes":     "104857600\n",
				"memory/c/memory.max_usage_in_bytes": "          \n",
			},
			cg: func(r string) Cgroup {
				return Cgroup{V2: r + "/unified/c", CPU: r + "/cpu/c", CPUAcct: r + "/cpuacct/c", Memory: r + "/memory/c"}
			},
			want:     Reading{Throttled: 36512983311, ThrottledPeriods: 731, Memory: 104857600, MemoryPeak: 209715200},
			wantPeak: "0",
		},
		{
			name: "v2 unified: one cpu.stat for usage and throttling",
			files: map[string]string{
				"c/cpu.stat":       v2stat,
				"c/memory.current": "52428800\n",
				"c/memory.peak":    "          \n",
			},
			cg:       func(r string) Cgroup { return Cgroup{V2: r + "/c"} },
			withCPU:  true,
			want:     Reading{CPU: 8713542 * time.Microsecond, Throttled: 24873711 * time.Microsecond, ThrottledPeriods: 502, Memory: 52428800, MemoryPeak: 209715200},
			wantPeak: "reset\n",
		},
		{
			name: "v2 without memory.peak: peak unknown",
			files: map[string]string{
				"c/cpu.stat":       v2stat,
				"c/memory.current": "52428800\n",
			},
			cg:      func(r string) Cgroup { return Cgroup{V2: r + "/c"} },
			withCPU: true,
			want:    Reading{CPU: 8713542 * time.Microsecond, Throttled: 24873711 * time.Microsecond, ThrottledPeriods: 502, Memory: 52428800},
		},
		{
			name: "v1 without cpu controller mount: throttling unknown",
			files: map[string]string{
				"cpuacct/c/cpuacct.usage":        "7\n",
				"memory/c/memory.usage_in_bytes": "4096\n",
			},
			cg:      func(r string) Cgroup { return Cgroup{CPUAcct: r + "/cpuacct/c", Memory: r + "/memory/c"} },
			withCPU: true,
			want:    Reading{CPU: 7, Memory: 4096},
		},
		{
			name:      "no memory file",
			files:     map[string]string{"cpuacct/c/cpuacct.usage": "7\n"},
			cg:        func(r string) Cgroup { return Cgroup{CPUAcct: r + "/cpuacct/c", Memory: r + "/memory/c"} },
			withCPU:   true,
			wantAddEr: true,
		},
		{
			name:      "no cpu file",
			files:     map[string]string{"memory/c/memory.usage_in_bytes": "4096\n"},
			cg:        func(r string) Cgroup { return Cgroup{Memory: r + "/memory/c"} },
			withCPU:   true,
			wantAddEr: true,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			root := fakeTree(t, tc.files)
			s := NewFileSource()
			defer s.Close()
			err := s.add("c", tc.cg(root), tc.withCPU)
			if tc.wantAddEr {
				if err == nil {
					t.Fatal("add = nil error, want one")
				}
				return
			}
			if err != nil {
				t.Fatalf("add: %v", err)
			}
			// The kernel would now report the window's high-water mark; a regular file keeps what we write.
			for _, p := range []string{"memory/c/memory.max_usage_in_bytes", "c/memory.peak"} {
				if _, err := os.Stat(filepath.Join(root, p)); err == nil {
					if err := os.WriteFile(filepath.Join(root, p), []byte("209715200\n"), 0o644); err != nil {
						t.Fatal(err)
					}
				}
			}
			got := map[string]Reading{}
			if err := s.Read(got); err != nil {
				t.Fatalf("Read: %v", err)
			}
			if got["c"] != tc.want {
				t.Errorf("Read = %+v\nwant   %+v", got["c"], tc.want)
			}
			for _, p := range []string{"memory/c/memory.max_usage_in_bytes", "c/memory.peak"} {
				if b, err := os.ReadFile(filepath.Join(root, p)); err == nil && !strings.HasPrefix(string(b), tc.wantPeak) {
					t.Errorf("%s after Read = %q, want the reset %q written at offset 0", p, b, tc.wantPeak)
				}
			}
			cpu := map[string]time.Duration{}
			if err := s.ReadCPU(cpu); err != nil {
				t.Fatalf("ReadCPU: %v", err)
			}
			if d, ok := cpu["c"]; ok != tc.withCPU || d != tc.want.CPU {
				t.Errorf("ReadCPU = %v (present %v), want %v (present %v)", d, ok, tc.want.CPU, tc.withCPU)
			}
		})
	}
}

// TestFileSourceVanished: a container whose files fail is left out and named in the error; the
// others are still read; Remove forgets it.
func TestFileSourceVanished(t *testing.T) {
	root := fakeTree(t, map[string]string{
		"a/cpu.stat": "usage_usec 1\n", "a/memory.current": "1\n",
		"b/cpu.stat": "usage_usec 2\n", "b/memory.current": "2\n",
	})
	s := NewFileSource()
	defer s.Close()
	for _, id := range []string{"a", "b"} {
		if err := s.Add(id, Cgroup{V2: filepath.Join(root, id)}); err != nil {
			t.Fatal(err)
		}
	}
	// A garbled counter stands in for a file the kernel no longer serves.
	if err := os.WriteFile(filepath.Join(root, "b", "memory.current"), []byte("gone\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	got := map[string]Reading{}
	err := s.Read(got)
	if err == nil || !strings.Contains(err.Error(), "container b") {
		t.Errorf("Read error = %v, want one naming container b", err)
	}
	if _, ok := got["b"]; ok {
		t.Error("Read kept the failed container b")
	}
	if got["a"].Memory != 1 {
		t.Errorf("Read a = %+v, want memory 1", got["a"])
	}
	s.Remove("b")
	s.Remove("never-added")
	clear(got)
	if err := s.Read(got); err != nil || len(got) != 1 {
		t.Errorf("after Remove: Read = %v, %v; want only a", got, err)
	}
}

func TestFileSourcePreadGrowsBuffer(t *testing.T) {
	long := "usage_usec 42\n" + strings.Repeat("padding_key 1\n", 200)
	root := fakeTree(t, map[string]string{"c/cpu.stat": long, "c/memory.current": "1\n"})
	s := NewFileSource()
	defer s.Close()
	if err := s.Add("c", Cgroup{V2: filepath.Join(root, "c")}); err != nil {
		t.Fatal(err)
	}
	got := map[string]Reading{}
	if err := s.Read(got); err != nil || got["c"].CPU != 42*time.Microsecond {
		t.Errorf("Read of a %d-byte cpu.stat = %+v, %v; want cpu 42µs", len(long), got["c"], err)
	}
}

func TestConfigValidate(t *testing.T) {
	var c Config
	if err := c.validate(); err != nil {
		t.Fatal(err)
	}
	if c.Period != 100*time.Millisecond || c.CPU != CPUAuto || c.FlushHz != 100 || c.History != 600 || c.MapEntries != 16384 || c.ProcRoot != "/proc" {
		t.Errorf("defaults = %+v", c)
	}
	for _, bad := range []Config{
		{Period: time.Millisecond},
		{Period: time.Minute},
		{CPU: "perf"},
		{FlushHz: 5000},
		{MapEntries: 3},
		{History: 1},
	} {
		if err := bad.validate(); err == nil {
			t.Errorf("validate(%+v) = nil, want an error", bad)
		}
	}
	off := Config{FlushHz: -1}
	if err := off.validate(); err != nil || off.FlushHz != -1 {
		t.Errorf("FlushHz -1 = %d, %v; want it kept (flush off)", off.FlushHz, err)
	}
}
