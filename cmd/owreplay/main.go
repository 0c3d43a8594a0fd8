// Command owreplay replays an Azure Functions trace against an OpenWhisk API host
// (owstandalone, owcontroller or a real OpenWhisk) through the REST API, open loop,
// and writes one CSV row per invocation and a summary.
//
//	owreplay --apihost http://127.0.0.1:3233 --functions 10 --compress 12 --out run.csv
//
// The trace data is Microsoft's Azure Functions trace (CC-BY 4.0); see
// benchmarks/trace/testdata/README.md for the attribution to keep.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"time"

	"github.com/owinvoker/owinvoker/benchmarks/replay"
	"github.com/owinvoker/owinvoker/benchmarks/trace"
	"github.com/owinvoker/owinvoker/benchmarks/workload"
	"github.com/owinvoker/owinvoker/controller-plugin/controller"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "owreplay:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("owreplay", flag.ContinueOnError)
	fs.SetOutput(stderr)
	apiHost := fs.String("apihost", envOr("OW_APIHOST", "http://127.0.0.1:3233"), "OpenWhisk API host ($OW_APIHOST)")
	auth := fs.String("auth", envOr("OW_AUTH", controller.GuestKey), "uuid:key ($OW_AUTH; default the guest key)")
	namespace := fs.String("namespace", "_", "namespace")
	traceSpec := fs.String("trace", "libra:benchmarks/trace/testdata/freyr-60min/exp_openwhisk",
		"trace: libra:DIR/PREFIX (Libra/Freyr files), azure2019:INVOCATIONS,DURATIONS,MEMORY (2019 or In-Vitro layout)")
	splitMemory := fs.Bool("split-app-memory", false, "divide a 2019 application's memory among its functions (In-Vitro)")
	functions := fs.Int("functions", 0, "functions to sample (0: all)")
	seed := fs.Uint64("seed", 1, "seed of every random draw")
	from := fs.Int("from", 0, "first trace minute (index)")
	minutes := fs.Int("minutes", 0, "trace minutes to replay (0: to the end)")
	compress := fs.Float64("compress", 1, "time compression: a trace minute lasts 60 s / compress")
	spread := fs.String("spread", "even", "arrivals within a minute: even, libra-even, uniform, poisson")
	maxDuration := fs.Duration("max-duration", workload.DefaultMaxDuration, "clamp of drawn run times")
	cpuLow := fs.Float64("cpu-low", workload.DefaultCPU.Low, "lowest busy fraction of a function")
	cpuHigh := fs.Float64("cpu-high", workload.DefaultCPU.High, "highest busy fraction of a function")
	prefix := fs.String("prefix", workload.DefaultPrefix, "action name prefix")
	waitInvokers := fs.Int("wait-invokers", 1, "wait for this many healthy invokers first (0: do not wait)")
	cores := fs.Float64("capacity-cores", 0, "CPU cores of the system under test, for utilisation (0: this host's)")
	memory := fs.Int("capacity-memory", 0, "user memory of the system under test in MB, for allocations the invoker does not report")
	out := fs.String("out", "", "per-invocation CSV (default: none)")
	summaryJSON := fs.String("summary-json", "", "summary as JSON (default: none)")
	label := fs.String("label", "replay", "label of this run in summaries and reports")
	clean := fs.Bool("clean", false, "delete the actions afterwards")
	quiet := fs.Bool("quiet", false, "no progress line")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unknown argument %q", fs.Arg(0))
	}
	tr, err := loadTrace(*traceSpec, *splitMemory)
	if err != nil {
		return err
	}
	sp, err := trace.ParseSpread(*spread)
	if err != nil {
		return err
	}
	if sp == trace.Exact {
		return errors.New("spread exact needs the 2021 trace, which has no memory figures to reproduce")
	}
	plan, err := workload.Build(tr, workload.Options{Functions: *functions, Seed: *seed, FromMinute: *from, Minutes: *minutes,
		Compression: *compress, Spread: sp, MaxDuration: *maxDuration, CPU: workload.CPURange{Low: *cpuLow, High: *cpuHigh}, Prefix: *prefix})
	if err != nil {
		return err
	}
	fmt.Fprintf(stderr, "owreplay: %d functions, %d invocations over %v, %.0f CPU-seconds offered\n",
		len(plan.Functions), len(plan.Invocations), plan.Span, plan.OfferedCPUSeconds())
	cfg := replay.Config{APIHost: *apiHost, Auth: *auth, Namespace: *namespace}
	if !*quiet {
		cfg.Progress = stderr
	}
	r, err := replay.New(cfg, plan)
	if err != nil {
		return err
	}
	if *waitInvokers > 0 {
		wctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
		err := r.WaitInvokers(wctx, *waitInvokers)
		cancel()
		if err != nil {
			return err
		}
	}
	if err := r.Deploy(ctx); err != nil {
		return err
	}
	rows, _, err := r.Run(ctx)
	if err != nil {
		return err
	}
	if *clean {
		cctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		if err := r.Clean(cctx); err != nil {
			fmt.Fprintln(stderr, "owreplay: clean:", err)
		}
		cancel()
	}
	if *out != "" {
		if err := writeFile(*out, func(w io.Writer) error { return replay.WriteCSV(w, rows) }); err != nil {
			return err
		}
	}
	c := *cores
	if c == 0 {
		c = float64(runtime.NumCPU())
	}
	s := replay.Summarize(*label, rows, replay.Capacity{Cores: c, MemoryMB: *memory, RuntimeBaseMB: workload.DefaultRuntimeBaseMB})
	if *summaryJSON != "" {
		if err := writeFile(*summaryJSON, func(w io.Writer) error {
			e := json.NewEncoder(w)
			e.SetIndent("", "  ")
			return e.Encode(s)
		}); err != nil {
			return err
		}
	}
	return s.Write(stdout)
}

// loadTrace reads the trace a --trace value names.
func loadTrace(spec string, split bool) (*trace.Trace, error) {
	kind, arg, ok := strings.Cut(spec, ":")
	if !ok {
		return nil, fmt.Errorf("trace %q: want kind:path", spec)
	}
	opt := trace.JoinOptions{DropIncomplete: true, SplitAppMemory: split}
	switch kind {
	case "libra":
		dir, prefix := filepath.Split(arg)
		if dir == "" {
			dir = "."
		}
		files := trace.LibraNames(prefix, 0)
		if _, err := os.Stat(filepath.Join(dir, files.InputSizes)); err != nil {
			files.InputSizes = ""
		}
		tr, _, err := trace.LoadLibra(os.DirFS(dir), files, opt)
		return tr, err
	case "azure2019":
		parts := strings.Split(arg, ",")
		if len(parts) != 3 {
			return nil, fmt.Errorf("trace %q: want azure2019:INVOCATIONS,DURATIONS,MEMORY", spec)
		}
		tr, _, err := trace.Load2019(os.DirFS("/"), trace.Files2019{Invocations: rel(parts[0]), Durations: rel(parts[1]), Memory: rel(parts[2])}, opt)
		return tr, err
	}
	return nil, fmt.Errorf("trace kind %q: want libra or azure2019", kind)
}

// rel makes a path relative to / for os.DirFS("/").
func rel(p string) string {
	a, err := filepath.Abs(p)
	if err != nil {
		a = p
	}
	return strings.TrimPrefix(a, "/")
}

func writeFile(path string, write func(io.Writer) error) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := write(f); err != nil {
		f.Close()
		return fmt.Errorf("%s: %w", path, err)
	}
	return f.Close()
}

func envOr(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}
