// Package scratch benchmarks in-memory scratch (a sized tmpfs, what sandbox gives every
// action) against the container's overlay writable layer, with the M-series of
// shared/research/ephemera-pagurus.md §4 that matter most, inside real action containers.
//
//	go test -run '^$' -bench Scratch -benchtime 1x ./benchmarks/scratch/
//
// writes benchmarks/results/scratch/scratch.csv and README.md (a table of ratios).
package scratch
