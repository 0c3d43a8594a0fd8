package trace

import (
	"fmt"
	"io"
	"strings"
)

// InvocationTable is a parsed invocations file: one row per line, in file
// order (duplicates kept; Join reports and drops them).
type InvocationTable struct {
	// FirstMinute is the label of the first minute column (1 in the
	// original files, 480 in the In-Vitro 100-function excerpt).
	FirstMinute int
	Rows        []InvocationRow
}

// InvocationRow is one function's per-minute invocation counts.
type InvocationRow struct {
	Key
	Trigger Trigger
	Counts  []int
}

// DurationRow is one line of a durations file.
type DurationRow struct {
	Key
	Stats DurationStats
}

// MemoryRow is one line of a memory file. In the original 2019 layout the
// row describes a whole application and Key.Function is empty.
type MemoryRow struct {
	Key
	PerFunction bool
	Stats       MemoryStats
}

// Column names of the files.
const (
	colOwner    = "HashOwner"
	colApp      = "HashApp"
	colFunction = "HashFunction"
	colTrigger  = "Trigger"
)

func durationColumns() []string {
	return []string{"Average", "Count", "Minimum", "Maximum",
		"percentile_Average_0", "percentile_Average_1", "percentile_Average_25", "percentile_Average_50",
		"percentile_Average_75", "percentile_Average_99", "percentile_Average_100"}
}

func memoryColumns() []string {
	return []string{"SampleCount", "AverageAllocatedMb",
		"AverageAllocatedMb_pct1", "AverageAllocatedMb_pct5", "AverageAllocatedMb_pct25", "AverageAllocatedMb_pct50",
		"AverageAllocatedMb_pct75", "AverageAllocatedMb_pct95", "AverageAllocatedMb_pct99", "AverageAllocatedMb_pct100"}
}

// Parse2019Invocations parses invocations_per_function_md.anon.dNN.csv:
// HashOwner,HashApp,HashFunction,Trigger and then one column per minute.
// The minute labels must be consecutive integers from 1 or above (1..1440
// in the original; In-Vitro excerpts start later). name is used in errors.
func Parse2019Invocations(name string, r io.Reader) (*InvocationTable, error) {
	return parseInvocations(name, r, []string{colOwner, colApp, colFunction}, false)
}

// Parse2019Durations parses function_durations_percentiles.anon.dNN.csv:
// HashOwner,HashApp,HashFunction,Average,Count,Minimum,Maximum and the
// percentile_Average_{0,1,25,50,75,99,100} columns, in milliseconds.
// Minimum and Maximum may be empty (the dataset notes they sometimes are);
// every other field must be present.
func Parse2019Durations(name string, r io.Reader) ([]DurationRow, error) {
	return parseDurations(name, r, []string{colOwner, colApp, colFunction})
}

// Parse2019Memory parses app_memory_percentiles.anon.dNN.csv: HashOwner,
// HashApp,SampleCount,AverageAllocatedMb and AverageAllocatedMb_pct{1,5,25,
// 50,75,95,99,100}, in MB, one row per application.
func Parse2019Memory(name string, r io.Reader) ([]MemoryRow, error) {
	return parseMemory(name, r, [][]string{{colOwner, colApp}}, false)
}

// ParseInVitroMemory parses the per-function memory files of the In-Vitro
// samples: the 2019 memory columns preceded by HashFunction,HashOwner,HashApp
// (data/traces/100, whose values are the app's divided evenly among its
// functions) or by HashOwner,HashApp,HashFunction (data/traces/10).
func ParseInVitroMemory(name string, r io.Reader) ([]MemoryRow, error) {
	return parseMemory(name, r, [][]string{
		{colFunction, colOwner, colApp},
		{colOwner, colApp, colFunction},
	}, true)
}

// ParseLibraInvocations parses Libra's and Freyr's
// <prefix>_invocation_traces_<exp>.csv: HashFunction (the benchmark app's
// name),Trigger,1..M.
func ParseLibraInvocations(name string, r io.Reader) (*InvocationTable, error) {
	return parseInvocations(name, r, []string{colFunction}, true)
}

// ParseLibraDurations parses <prefix>_duration_traces_<exp>.csv: the 2019
// duration columns keyed by HashFunction (the benchmark app's name).
func ParseLibraDurations(name string, r io.Reader) ([]DurationRow, error) {
	return parseDurations(name, r, []string{colFunction})
}

// ParseLibraMemory parses <prefix>_memory_traces_<exp>.csv: the 2019 memory
// columns from SampleCount on, keyed by HashFunction (the benchmark app's
// name). The rows are taken as per function.
func ParseLibraMemory(name string, r io.Reader) ([]MemoryRow, error) {
	return parseMemory(name, r, [][]string{{colFunction}}, true)
}

// ParseLibraInputSizes parses <prefix>_input_size_traces_<exp>.csv: a header
// 1..N and exactly one row of N integer input sizes, one per generated
// event (see Trace.WithInputSizes for their order).
func ParseLibraInputSizes(name string, r io.Reader) ([]int64, error) {
	t := newTable(name, r)
	header, err := t.readHeader()
	if err != nil {
		return nil, err
	}
	if _, err := t.labelColumns(header, 0, true, "event"); err != nil {
		return nil, err
	}
	fields, err := t.next()
	if err == io.EOF {
		return nil, t.lineErr(2, fmt.Errorf("no data line, want one row of %d input sizes", len(header)))
	}
	if err != nil {
		return nil, err
	}
	if err := t.expectFields(fields); err != nil {
		return nil, err
	}
	sizes := make([]int64, len(fields))
	for i := range fields {
		n, err := t.count(fields, i)
		if err != nil {
			return nil, err
		}
		sizes[i] = int64(n)
	}
	if _, err := t.next(); err != io.EOF {
		if err != nil {
			return nil, err
		}
		return nil, t.lineErr(t.line, fmt.Errorf("more than one data line"))
	}
	return sizes, nil
}

// setKey stores field value v of column col into k.
func setKey(k *Key, col, v string) {
	switch col {
	case colOwner:
		k.Owner = v
	case colApp:
		k.App = v
	case colFunction:
		k.Function = v
	}
}

func (t *table) key(fields []string, cols []string) (Key, error) {
	var k Key
	for i, c := range cols {
		v, err := t.id(fields, i)
		if err != nil {
			return Key{}, err
		}
		setKey(&k, c, v)
	}
	return k, nil
}

func parseInvocations(name string, r io.Reader, keyCols []string, first1 bool) (*InvocationTable, error) {
	t := newTable(name, r)
	header, err := t.readHeader()
	if err != nil {
		return nil, err
	}
	fixed := append(append([]string(nil), keyCols...), colTrigger)
	if err := t.expectHeader(header, fixed, false); err != nil {
		return nil, err
	}
	first, err := t.minuteColumns(header, len(fixed), first1)
	if err != nil {
		return nil, err
	}
	out := &InvocationTable{FirstMinute: first}
	minutes := len(header) - len(fixed)
	for {
		fields, err := t.next()
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return nil, err
		}
		if err := t.expectFields(fields); err != nil {
			return nil, err
		}
		k, err := t.key(fields, keyCols)
		if err != nil {
			return nil, err
		}
		tr, err := t.trigger(fields, len(keyCols))
		if err != nil {
			return nil, err
		}
		counts := make([]int, minutes)
		for m := range counts {
			if counts[m], err = t.count(fields, len(fixed)+m); err != nil {
				return nil, err
			}
		}
		out.Rows = append(out.Rows, InvocationRow{Key: k, Trigger: tr, Counts: counts})
	}
}

func parseDurations(name string, r io.Reader, keyCols []string) ([]DurationRow, error) {
	t := newTable(name, r)
	header, err := t.readHeader()
	if err != nil {
		return nil, err
	}
	if err := t.expectHeader(header, append(append([]string(nil), keyCols...), durationColumns()...), true); err != nil {
		return nil, err
	}
	k0 := len(keyCols)
	var out []DurationRow
	for {
		fields, err := t.next()
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return nil, err
		}
		if err := t.expectFields(fields); err != nil {
			return nil, err
		}
		k, err := t.key(fields, keyCols)
		if err != nil {
			return nil, err
		}
		var s DurationStats
		if s.AverageMs, err = t.number(fields, k0); err != nil {
			return nil, err
		}
		if s.Count, err = t.count(fields, k0+1); err != nil {
			return nil, err
		}
		if fields[k0+2] != "" {
			if s.MinimumMs, err = t.number(fields, k0+2); err != nil {
				return nil, err
			}
			s.HasMinimum = true
		}
		if fields[k0+3] != "" {
			if s.MaximumMs, err = t.number(fields, k0+3); err != nil {
				return nil, err
			}
			s.HasMaximum = true
		}
		if s.HasMinimum && s.HasMaximum && s.MaximumMs < s.MinimumMs {
			return nil, t.fieldErr(k0+3, fields[k0+3], fmt.Errorf("maximum below minimum (%s)", fields[k0+2]))
		}
		if s.Percentiles, err = t.percentiles(fields, k0+4, durationQuantiles()); err != nil {
			return nil, err
		}
		out = append(out, DurationRow{Key: k, Stats: s})
	}
}

// parseMemory accepts one of layouts, chosen by the first header column.
func parseMemory(name string, r io.Reader, layouts [][]string, perFunction bool) ([]MemoryRow, error) {
	t := newTable(name, r)
	header, err := t.readHeader()
	if err != nil {
		return nil, err
	}
	keyCols := layouts[0]
	if len(layouts) > 1 {
		keyCols = nil
		var firsts []string
		for _, l := range layouts {
			if header[0] == l[0] {
				keyCols = l
				break
			}
			firsts = append(firsts, fmt.Sprintf("%q", l[0]))
		}
		if keyCols == nil {
			return nil, t.fieldErr(0, header[0], fmt.Errorf("want %s", strings.Join(firsts, " or ")))
		}
	}
	if err := t.expectHeader(header, append(append([]string(nil), keyCols...), memoryColumns()...), true); err != nil {
		return nil, err
	}
	k0 := len(keyCols)
	var out []MemoryRow
	for {
		fields, err := t.next()
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return nil, err
		}
		if err := t.expectFields(fields); err != nil {
			return nil, err
		}
		k, err := t.key(fields, keyCols)
		if err != nil {
			return nil, err
		}
		var s MemoryStats
		if s.SampleCount, err = t.count(fields, k0); err != nil {
			return nil, err
		}
		if s.AverageMB, err = t.number(fields, k0+1); err != nil {
			return nil, err
		}
		if s.Percentiles, err = t.percentiles(fields, k0+2, memoryQuantiles()); err != nil {
			return nil, err
		}
		out = append(out, MemoryRow{Key: k, PerFunction: perFunction, Stats: s})
	}
}
