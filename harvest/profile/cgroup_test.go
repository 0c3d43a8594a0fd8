package profile

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/tools/txtar"
)

var update = flag.Bool("update", false, "rewrite the want sections of testdata/layout")

// TestLayoutResolve runs every testdata/layout/*.txt: a mountinfo, a /proc/<pid>/cgroup, and the
// directories (or the error) wanted. -update rewrites the want sections.
func TestLayoutResolve(t *testing.T) {
	files, err := filepath.Glob("testdata/layout/*.txt")
	if err != nil || len(files) == 0 {
		t.Fatalf("no fixtures: %v", err)
	}
	for _, path := range files {
		t.Run(strings.TrimSuffix(filepath.Base(path), ".txt"), func(t *testing.T) {
			ar, err := txtar.ParseFile(path)
			if err != nil {
				t.Fatal(err)
			}
			sec := map[string][]byte{}
			for _, f := range ar.Files {
				sec[f.Name] = f.Data
			}
			mounts, err := parseMountInfo(bytes.NewReader(sec["mountinfo"]))
			if err != nil {
				t.Fatalf("parse mountinfo: %v", err)
			}
			l := &Layout{mounts: mounts}
			got := formatCgroup(l.resolve(sec["cgroup"]))
			if *update {
				for i := range ar.Files {
					if ar.Files[i].Name == "want" {
						ar.Files[i].Data = []byte(got)
					}
				}
				if err := os.WriteFile(path, txtar.Format(ar), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			if want := string(sec["want"]); got != want {
				t.Errorf("resolve(%s):\ngot:\n%swant:\n%s", path, got, want)
			}
		})
	}
}

func formatCgroup(cg Cgroup, err error) string {
	if err != nil {
		return fmt.Sprintf("error: %v\n", err)
	}
	return fmt.Sprintf("v2: %s\ncpu: %s\ncpuacct: %s\nmemory: %s\n", cg.V2, cg.CPU, cg.CPUAcct, cg.Memory)
}

func TestParseMountInfoErrors(t *testing.T) {
	for _, in := range []string{
		"41 31 0:38 / /sys/fs/cgroup/unified rw,relatime cgroup2 cgroup2 rw\n", // no separator
		"41 31 0:38 / - cgroup2\n",
	} {
		if _, err := parseMountInfo(strings.NewReader(in)); err == nil {
			t.Errorf("parseMountInfo(%q) = nil error, want one", in)
		}
	}
}

func TestUnescapeMount(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{`/sys/fs/cgroup`, `/sys/fs/cgroup`},
		{`/mnt/a\040b`, `/mnt/a b`},
		{`/mnt/tab\011x\134y`, "/mnt/tab\tx\\y"},
		{`/mnt/trailing\04`, `/mnt/trailing\04`},
		{`/mnt/bad\09x`, `/mnt/bad\09x`},
	} {
		if got := unescapeMount(tc.in); got != tc.want {
			t.Errorf("unescapeMount(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

// TestLayoutFindSelf resolves this test process's own cgroups on the real host.
func TestLayoutFindSelf(t *testing.T) {
	l, err := NewLayout("")
	if err != nil {
		t.Fatal(err)
	}
	cg, err := l.Find(os.Getpid())
	if err != nil {
		t.Skipf("no cgroup hierarchy visible: %v", err)
	}
	for _, dir := range []string{cg.V2, cg.CPU, cg.CPUAcct, cg.Memory} {
		if dir == "" {
			continue
		}
		if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
			t.Errorf("Find(self) gave %q, not a directory: %v", dir, err)
		}
	}
	if _, err := l.Find(0); err == nil {
		t.Error("Find(0) = nil error, want one")
	}
}
