//go:build !linux

package profile

import (
	"fmt"
	"time"

	"go.uber.org/zap"
)

// BPFSource is only available on Linux; elsewhere NewBPFSource returns ErrNotSupported.
type BPFSource struct{}

var _ CPUSource = (*BPFSource)(nil)

// BPFStats is the kernel's account of the eBPF programs' own run time.
type BPFStats struct {
	Runtime  time.Duration
	RunCount uint64
	Switch   ProgramStats
	Flush    ProgramStats
}

// ProgramStats is the run time of one program.
type ProgramStats struct {
	Runtime         time.Duration
	RunCount        uint64
	RecursionMisses uint64
}

// PerRun returns the mean run time per program run.
func (s BPFStats) PerRun() time.Duration {
	if s.RunCount == 0 {
		return 0
	}
	return s.Runtime / time.Duration(s.RunCount)
}

// NewBPFSource returns ErrNotSupported outside Linux.
func NewBPFSource(Config, *zap.Logger) (*BPFSource, error) {
	return nil, fmt.Errorf("%w: ebpf needs linux", ErrNotSupported)
}

// CgroupID returns ErrNotSupported outside Linux.
func CgroupID(string) (uint64, error) {
	return 0, fmt.Errorf("%w: cgroup ids need linux", ErrNotSupported)
}

func (*BPFSource) Add(string, Cgroup) error               { return ErrNotSupported }
func (*BPFSource) Remove(string)                          {}
func (*BPFSource) ReadCPU(map[string]time.Duration) error { return ErrNotSupported }
func (*BPFSource) Stats() (BPFStats, error)               { return BPFStats{}, ErrNotSupported }
func (*BPFSource) Close() error                           { return nil }
