// Command owreport turns owreplay CSVs into the published comparison: a markdown
// table of ratios against the first run, latency CDFs, CPU utilisation over time and
// per-function speed-ups as PNGs, and optionally a table of `go test -bench` results.
//
//	owreport --out benchmarks/results/trace --cores 2 --memory 2048 \
//	    none=none.csv harvest=harvest.csv "harvest+balancer=hb.csv"
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/owinvoker/owinvoker/benchmarks/replay"
	"github.com/owinvoker/owinvoker/benchmarks/report"
	"github.com/owinvoker/owinvoker/benchmarks/workload"
)

func main() {
	if err := run(os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "owreport:", err)
		os.Exit(1)
	}
}

func run(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("owreport", flag.ContinueOnError)
	fs.SetOutput(stderr)
	out := fs.String("out", "", "directory for table.md and the PNGs (required)")
	cores := fs.Float64("cores", 2, "CPU cores of the system under test")
	memory := fs.Int("memory", 2048, "user memory of the system under test, MB")
	bench := fs.String("bench", "", "`go test -bench` output to tabulate into bench.md")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *out == "" {
		return errors.New("--out is required")
	}
	if fs.NArg() == 0 && *bench == "" {
		return errors.New("nothing to report: give label=rows.csv runs and/or --bench")
	}
	if err := os.MkdirAll(*out, 0o755); err != nil {
		return err
	}
	capacity := replay.Capacity{Cores: *cores, MemoryMB: *memory, RuntimeBaseMB: workload.DefaultRuntimeBaseMB}
	var runs []report.Run
	for _, arg := range fs.Args() {
		label, path, ok := strings.Cut(arg, "=")
		if !ok || label == "" || path == "" {
			return fmt.Errorf("run %q: want label=rows.csv", arg)
		}
		f, err := os.Open(path)
		if err != nil {
			return err
		}
		rows, err := replay.ReadCSV(path, f)
		f.Close()
		if err != nil {
			return err
		}
		runs = append(runs, report.Run{Label: label, Rows: rows, Summary: replay.Summarize(label, rows, capacity), Capacity: capacity})
	}
	if len(runs) > 0 {
		if err := write(filepath.Join(*out, "table.md"), func(w io.Writer) error { return report.Table(w, runs) }); err != nil {
			return err
		}
		if err := report.LatencyCDF(filepath.Join(*out, "latency-cdf.png"), runs); err != nil {
			return err
		}
		if err := report.Utilisation(filepath.Join(*out, "cpu-utilisation.png"), runs); err != nil {
			return err
		}
		if len(runs) > 1 {
			if err := report.Speedup(filepath.Join(*out, "speedup.png"), runs); err != nil {
				return err
			}
		}
		for _, r := range runs {
			if err := r.Summary.Write(stdout); err != nil {
				return err
			}
		}
		if err := report.Table(stdout, runs); err != nil {
			return err
		}
	}
	if *bench != "" {
		f, err := os.Open(*bench)
		if err != nil {
			return err
		}
		bs, err := report.ParseBench(f)
		f.Close()
		if err != nil {
			return fmt.Errorf("%s: %w", *bench, err)
		}
		if err := write(filepath.Join(*out, "bench.md"), func(w io.Writer) error { return report.BenchTable(w, bs) }); err != nil {
			return err
		}
	}
	return nil
}

func write(path string, fn func(io.Writer) error) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := fn(f); err != nil {
		f.Close()
		return fmt.Errorf("%s: %w", path, err)
	}
	return f.Close()
}
