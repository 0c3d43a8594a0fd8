package trace_test

import (
	"fmt"
	"log"
	"math/rand/v2"
	"os"

	"github.com/owinvoker/owinvoker/benchmarks/trace"
)

// Replay plan for Freyr's 60-minute trace: three of its functions, the
// trace run 60 times faster, invocations spread Poisson-like within each
// minute, with synthetic run times and declared memory limits.
func Example() {
	tr, rep, err := trace.LoadLibra(os.DirFS("testdata"), trace.LibraFiles{
		Invocations: "freyr-60min/exp_openwhisk_invocation_traces_0.csv",
		Durations:   "freyr-60min/exp_openwhisk_duration_traces_0.csv",
		Memory:      "freyr-60min/exp_openwhisk_memory_traces_0.csv",
	}, trace.JoinOptions{})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("loaded:", rep)

	sample, err := tr.Sample(3, 1)
	if err != nil {
		log.Fatal(err)
	}
	arrivals, err := sample.Arrivals(trace.ArrivalOptions{Spread: trace.Poisson, Compression: 60, Seed: 1})
	if err != nil {
		log.Fatal(err)
	}
	limits, err := sample.DeclareLimits(trace.DefaultLimitConfig(), 1)
	if err != nil {
		log.Fatal(err)
	}
	for i, f := range sample.Functions {
		fmt.Printf("%-3s %3d calls, needs %3.0f MB, declared %d MB (%s)\n", f.Function, f.Total(), limits[i].NeedMB, limits[i].DeclaredMB, limits[i].Class)
	}
	r := rand.New(rand.NewPCG(1, 0))
	for _, a := range arrivals[:4] {
		f := sample.Functions[a.Function]
		fmt.Printf("at %-12v %-3s runs %v\n", a.At, f.Function, f.Duration.Draw(r))
	}
	// Output:
	// loaded: 10 functions
	// ir   22 calls, needs 135 MB, declared 480 MB (over)
	// ms   34 calls, needs 166 MB, declared 128 MB (under)
	// knn  20 calls, needs 113 MB, declared 352 MB (over)
	// at 737.864353ms knn runs 203.36ms
	// at 1.192137054s ms  runs 42.155ms
	// at 1.924484939s ms  runs 15.5ms
	// at 1.996979267s ms  runs 41.41ms
}
