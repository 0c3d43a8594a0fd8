// Package report turns replay runs into the figures we publish: a markdown table
// comparing each configuration with the first (the baseline), PNG plots (latency
// CDFs on one figure, CPU utilisation over time, per-function speed-up), and a
// table of micro-benchmark results parsed from `go test -bench` output.
package report
