package reliability_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/owinvoker/owinvoker/reliability"
)

func TestReadProcStat(t *testing.T) {
	before, err := reliability.ReadProcStat(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if before.RSS < 1<<20 || before.Threads < 1 || before.FDs < 3 {
		t.Fatalf("implausible figures for this test process: %+v", before)
	}
	f, err := os.Create(filepath.Join(t.TempDir(), "held"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	after, err := reliability.ReadProcStat(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if after.FDs < before.FDs+1 {
		t.Errorf("open files %d after opening one more, %d before", after.FDs, before.FDs)
	}
	if _, err := reliability.ReadProcStat(1 << 30); err == nil {
		t.Error("a process that does not exist read without error")
	}
}
