package trace

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"slices"
	"strings"
)

// JoinOptions controls Join.
type JoinOptions struct {
	// SplitAppMemory divides a per-application memory row evenly among the
	// application's functions in the trace, as In-Vitro's preprocessing
	// does. By default every function gets its application's values as
	// they are. Per-function rows are never divided.
	SplitAppMemory bool
	// DropIncomplete drops functions lacking a duration or a memory row, as
	// Libra's and In-Vitro's samplers do. By default they are kept with a
	// nil Duration or Memory. Either way the report lists them.
	DropIncomplete bool
}

// JoinReport says how the files fitted together.
type JoinReport struct {
	Functions int // functions in the resulting trace
	// DuplicateFunctions lists invocation rows dropped because an earlier
	// row had the same key (the real 2019 data has a few).
	DuplicateFunctions []Key
	// DuplicateDurations and DuplicateMemory count rows dropped because an
	// earlier row had the same key.
	DuplicateDurations, DuplicateMemory int
	// MissingDuration and MissingMemory list the functions without a row
	// (dropped when DropIncomplete is set, else kept with nil stats).
	MissingDuration, MissingMemory []Key
	Dropped                        int
	// UnusedDurations and UnusedMemory count rows matching no function.
	UnusedDurations, UnusedMemory int
}

// String summarises the report on one line.
func (r *JoinReport) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d functions", r.Functions)
	add := func(n int, what string) {
		if n > 0 {
			fmt.Fprintf(&b, ", %d %s", n, what)
		}
	}
	add(len(r.DuplicateFunctions), "duplicate invocation rows dropped")
	add(r.DuplicateDurations, "duplicate duration rows dropped")
	add(r.DuplicateMemory, "duplicate memory rows dropped")
	add(len(r.MissingDuration), "without duration")
	add(len(r.MissingMemory), "without memory")
	add(r.Dropped, "dropped as incomplete")
	add(r.UnusedDurations, "unused duration rows")
	add(r.UnusedMemory, "unused memory rows")
	return b.String()
}

// Join builds a Trace from an invocations table and its duration and memory
// rows. Durations join on the full Key. Memory joins on the full Key when
// its rows are per function (In-Vitro, Libra) and on HashApp alone when they
// are per application (the original 2019 file), as the dataset prescribes.
// durs and mems may be nil. Functions keep the invocation file's order.
// Join fails only on rows that contradict each other (a mix of per-app and
// per-function memory rows); gaps are reported, not fatal.
func Join(inv *InvocationTable, durs []DurationRow, mems []MemoryRow, opt JoinOptions) (*Trace, *JoinReport, error) {
	if inv == nil {
		return nil, nil, errors.New("join: no invocation table")
	}
	rep := &JoinReport{}

	durBy := make(map[Key]*DurationStats, len(durs))
	for i := range durs {
		if _, dup := durBy[durs[i].Key]; dup {
			rep.DuplicateDurations++
			continue
		}
		durBy[durs[i].Key] = &durs[i].Stats
	}
	perFunction := len(mems) > 0 && mems[0].PerFunction
	memBy := make(map[Key]*MemoryStats, len(mems))
	for i := range mems {
		m := &mems[i]
		if m.PerFunction != perFunction {
			return nil, nil, fmt.Errorf("join: memory row %d (%s) is per %s, earlier rows are per %s", i+1, m.Key, scope(m.PerFunction), scope(perFunction))
		}
		k := m.Key
		if !perFunction {
			k = Key{App: m.App}
		}
		if _, dup := memBy[k]; dup {
			rep.DuplicateMemory++
			continue
		}
		memBy[k] = &m.Stats
	}

	seen := make(map[Key]bool, len(inv.Rows))
	usedDur := map[Key]bool{}
	usedMem := map[Key]bool{}
	var fns []Function
	for _, row := range inv.Rows {
		if seen[row.Key] {
			rep.DuplicateFunctions = append(rep.DuplicateFunctions, row.Key)
			continue
		}
		seen[row.Key] = true
		f := Function{Key: row.Key, Trigger: row.Trigger, Counts: row.Counts}
		if d, ok := durBy[row.Key]; ok {
			f.Duration = d
			usedDur[row.Key] = true
		} else {
			rep.MissingDuration = append(rep.MissingDuration, row.Key)
		}
		mk := row.Key
		if !perFunction {
			mk = Key{App: row.App}
		}
		if m, ok := memBy[mk]; ok {
			f.Memory = m
			usedMem[mk] = true
		} else {
			rep.MissingMemory = append(rep.MissingMemory, row.Key)
		}
		if opt.DropIncomplete && (f.Duration == nil || f.Memory == nil) {
			rep.Dropped++
			continue
		}
		fns = append(fns, f)
	}
	rep.UnusedDurations = len(durBy) - len(usedDur)
	rep.UnusedMemory = len(memBy) - len(usedMem)

	if !perFunction {
		perApp := map[string]int{}
		for i := range fns {
			if fns[i].Memory != nil {
				perApp[fns[i].App]++
			}
		}
		for i := range fns {
			if fns[i].Memory == nil {
				continue
			}
			m := *fns[i].Memory // copy: functions of one app must not share a row they may divide
			m.AppFunctions = perApp[fns[i].App]
			if opt.SplitAppMemory && m.AppFunctions > 1 {
				n := float64(m.AppFunctions)
				m.AverageMB /= n
				p := make(Percentiles, len(m.Percentiles))
				for k, pt := range m.Percentiles {
					p[k] = Point{Q: pt.Q, Value: pt.Value / n}
				}
				m.Percentiles = p
				m.Divided = true
			}
			fns[i].Memory = &m
		}
	}
	rep.Functions = len(fns)
	return &Trace{FirstMinute: inv.FirstMinute, Functions: fns}, rep, nil
}

func scope(perFunction bool) string {
	if perFunction {
		return "function"
	}
	return "application"
}

// Files2019 names the three files of a 2019 trace inside a file system.
type Files2019 struct {
	Invocations, Durations, Memory string
}

// Load2019 parses and joins the three files of a 2019 trace (original or
// In-Vitro layouts). The memory layout is chosen by its header: the
// per-application file of the dataset, or an In-Vitro per-function file.
// Errors name the file as given in files.
func Load2019(fsys fs.FS, files Files2019, opt JoinOptions) (*Trace, *JoinReport, error) {
	inv, err := parseFile(fsys, files.Invocations, Parse2019Invocations)
	if err != nil {
		return nil, nil, err
	}
	durs, err := parseFile(fsys, files.Durations, Parse2019Durations)
	if err != nil {
		return nil, nil, err
	}
	header, err := headerOf(fsys, files.Memory)
	if err != nil {
		return nil, nil, err
	}
	memParser := Parse2019Memory
	if slices.Contains(header[:min(3, len(header))], colFunction) {
		memParser = ParseInVitroMemory
	}
	mems, err := parseFile(fsys, files.Memory, memParser)
	if err != nil {
		return nil, nil, err
	}
	return Join(inv, durs, mems, opt)
}

// LibraFiles names the files of a Libra/Freyr trace inside a file system.
// InputSizes may be empty (Freyr's traces have none).
type LibraFiles struct {
	Invocations, Durations, Memory, InputSizes string
}

// LibraNames returns Libra's file names for an experiment: for prefix
// "demo_1" and exp 0, demo_1_invocation_traces_0.csv and so on.
func LibraNames(prefix string, exp int) LibraFiles {
	n := func(kind string) string { return fmt.Sprintf("%s_%s_traces_%d.csv", prefix, kind, exp) }
	return LibraFiles{
		Invocations: n("invocation"),
		Durations:   n("duration"),
		Memory:      n("memory"),
		InputSizes:  n("input_size"),
	}
}

// LoadLibra parses and joins a Libra/Freyr trace. When files.InputSizes is
// set, its sizes are attached with Trace.WithInputSizes. Libra keeps the
// duration and memory rows for reference only; they are joined here by app
// name all the same.
func LoadLibra(fsys fs.FS, files LibraFiles, opt JoinOptions) (*Trace, *JoinReport, error) {
	inv, err := parseFile(fsys, files.Invocations, ParseLibraInvocations)
	if err != nil {
		return nil, nil, err
	}
	durs, err := parseFile(fsys, files.Durations, ParseLibraDurations)
	if err != nil {
		return nil, nil, err
	}
	mems, err := parseFile(fsys, files.Memory, ParseLibraMemory)
	if err != nil {
		return nil, nil, err
	}
	tr, rep, err := Join(inv, durs, mems, opt)
	if err != nil {
		return nil, nil, err
	}
	if files.InputSizes == "" {
		return tr, rep, nil
	}
	sizes, err := parseFile(fsys, files.InputSizes, ParseLibraInputSizes)
	if err != nil {
		return nil, nil, err
	}
	if tr, err = tr.WithInputSizes(sizes); err != nil {
		return nil, nil, fmt.Errorf("%s: %w", files.InputSizes, err)
	}
	return tr, rep, nil
}

// Load2021 parses a 2021 trace file and converts it with From2021.
func Load2021(fsys fs.FS, name string) (*Trace, Report2021, error) {
	recs, err := parseFile(fsys, name, Parse2021)
	if err != nil {
		return nil, Report2021{}, err
	}
	tr, rep := From2021(recs)
	return tr, rep, nil
}

func parseFile[T any](fsys fs.FS, name string, parse func(string, io.Reader) (T, error)) (T, error) {
	var zero T
	f, err := fsys.Open(name)
	if err != nil {
		return zero, fmt.Errorf("open trace file: %w", err)
	}
	defer f.Close()
	return parse(name, f)
}

// headerOf returns the header columns of a file.
func headerOf(fsys fs.FS, name string) ([]string, error) {
	f, err := fsys.Open(name)
	if err != nil {
		return nil, fmt.Errorf("open trace file: %w", err)
	}
	defer f.Close()
	return newTable(name, f).readHeader()
}
