package harvest

import (
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/owinvoker/owinvoker/harvest/predict"
)

// Config tunes a Harvester. The zero value harvests CPU and memory with the defaults below and
// admits no work on harvested memory.
type Config struct {
	// DisableCPU and DisableMemory turn harvesting of that resource off: containers keep their
	// allocation of it.
	DisableCPU    bool
	DisableMemory bool

	// MemorySafeguard is the fraction of a memory lender's reduced limit at which it is
	// restored to its full allocation. In (0, 1); default 0.8.
	MemorySafeguard float64
	// CPUSafeguard is the same for CPU, in (0, 1]; default 0.8. It only applies while an
	// activation runs, and DisableCPUSafeguard turns it off (a CPU lender is then only
	// throttled). It also marks a CPU peak as cut off by the limit when a sample is learnt.
	CPUSafeguard        float64
	DisableCPUSafeguard bool

	// HeadroomMB is the memory kept above a container's observed use: no container's memory
	// limit is lowered below its last observed use plus HeadroomMB (nor so low that that use
	// would trip the safeguard). Default 32.
	HeadroomMB int
	// MinMemoryMB and MinCPUMillis are the least a lender is shrunk to. Defaults 64 MB and 50
	// millicores.
	MinMemoryMB  int
	MinCPUMillis int

	// StaleAfter: a running lender with no sample for this long is restored, because nothing
	// would see it reach its limit. Default 2 s.
	StaleAfter time.Duration

	// AdmitOnHarvest lets the invoker admit activations beyond its user memory on harvested
	// memory (AdmissibleMB, Activation.HarvestedMB). Off by default.
	AdmitOnHarvest bool

	// Predict configures the predictor the harvester learns with.
	Predict predict.Config
}

// Defaults of Config.
const (
	DefaultSafeguard    = 0.8
	DefaultHeadroomMB   = 32
	DefaultMinMemoryMB  = 64
	DefaultMinCPUMillis = 50
	DefaultStaleAfter   = 2 * time.Second
)

// Validate fills in the defaults and rejects contradictions.
func (c Config) Validate() (Config, error) {
	if c.MemorySafeguard == 0 {
		c.MemorySafeguard = DefaultSafeguard
	}
	if c.CPUSafeguard == 0 {
		c.CPUSafeguard = DefaultSafeguard
	}
	if c.HeadroomMB == 0 {
		c.HeadroomMB = DefaultHeadroomMB
	}
	if c.MinMemoryMB == 0 {
		c.MinMemoryMB = DefaultMinMemoryMB
	}
	if c.MinCPUMillis == 0 {
		c.MinCPUMillis = DefaultMinCPUMillis
	}
	if c.StaleAfter == 0 {
		c.StaleAfter = DefaultStaleAfter
	}
	var errs []error
	if !(c.MemorySafeguard > 0 && c.MemorySafeguard < 1) {
		errs = append(errs, fmt.Errorf("memory safeguard %v not in (0, 1)", c.MemorySafeguard))
	}
	if !(c.CPUSafeguard > 0 && c.CPUSafeguard <= 1) {
		errs = append(errs, fmt.Errorf("cpu safeguard %v not in (0, 1]", c.CPUSafeguard))
	}
	if c.HeadroomMB < 0 {
		errs = append(errs, fmt.Errorf("head-room %d MB < 0", c.HeadroomMB))
	}
	if c.MinMemoryMB < 0 {
		errs = append(errs, fmt.Errorf("min memory %d MB < 0", c.MinMemoryMB))
	}
	if c.MinCPUMillis < 0 {
		errs = append(errs, fmt.Errorf("min cpu %d millicores < 0", c.MinCPUMillis))
	}
	if c.StaleAfter < 0 {
		errs = append(errs, fmt.Errorf("stale-after %v < 0", c.StaleAfter))
	}
	if c.AdmitOnHarvest && c.DisableMemory {
		errs = append(errs, errors.New("admission on harvested memory needs memory harvesting"))
	}
	p, err := c.Predict.Validate()
	if err != nil {
		errs = append(errs, err)
	}
	c.Predict = p
	if err := errors.Join(errs...); err != nil {
		return c, fmt.Errorf("harvest config: %w", err)
	}
	return c, nil
}

// above is the least limit L with x < t·L: a container using x stays below the safeguard t.
func above(x int, t float64) int {
	l := int(math.Floor(float64(x)/t)) + 1
	for float64(x) >= t*float64(l) {
		l++
	}
	return max(l, 0)
}
