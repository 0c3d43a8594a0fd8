package harvest_test

import (
	"fmt"
	"time"

	"github.com/owinvoker/owinvoker/harvest"
	"github.com/owinvoker/owinvoker/harvest/predict"
)

// The edge's loop, reduced to its calls: size at start, apply Ready, feed samples and the
// profile, and hand back failed updates.
func Example() {
	h, err := harvest.New(harvest.Config{})
	if err != nil {
		panic(err)
	}
	now := time.Unix(0, 0)
	apply := func() {
		rd := h.Ready()
		for _, r := range rd.Resizes {
			fmt.Printf("update %s: %dm, %d MB (%s)\n", r.ContainerID, r.CPUMillis, r.MemoryMB, r.Reason)
			// err := docker.ContainerUpdate(ctx, r.ContainerID, …); on error:
			// h.UpdateFailed(now, r)
		}
	}

	// A lender: the prediction travels with the activation.
	lender := harvest.Activation{ID: "a1", ContainerID: "c1", AllocMemoryMB: 512, AllocCPUMillis: 1000,
		Key:        predict.Key{Namespace: "guest", Action: "resize", Revision: "1-x"},
		Prediction: predict.Prediction{OK: true, CPUMillis: 300, MemoryMB: 150, PeakCPUMillis: 250, PeakMemoryMB: 120}}
	size, _ := h.Start(now, lender) // a new container: create it with this size
	fmt.Printf("create c1: %dm, %d MB\n", size.CPUMillis, size.MemoryMB)
	cpu, mem := h.Lendable()
	fmt.Printf("lendable: %dm, %d MB\n", cpu, mem)

	// A borrower in an existing container takes from the pool.
	h.Sample(now, "c2", 0, 0, 0) // unknown yet: ignored
	borrower := harvest.Activation{ID: "a2", ContainerID: "c2", AllocMemoryMB: 128, AllocCPUMillis: 250,
		Prediction: predict.Prediction{OK: true, CPUMillis: 900, MemoryMB: 300}}
	size, _ = h.Start(now, borrower)
	fmt.Printf("create c2: %dm, %d MB\n", size.CPUMillis, size.MemoryMB)

	// The lender nears its reduced limit: restored at once; the borrower gives back what its
	// use allows.
	now = now.Add(100 * time.Millisecond)
	h.Sample(now, "c2", 700, 120, 130)
	h.Sample(now, "c1", 200, 140, 160)
	apply()
	fmt.Printf("memory debt: %d MB\n", h.Stats().Memory.Debt)

	_ = h.End(now, "a1", harvest.Profile{PeakCPUMillis: 250, PeakMemoryMB: 160, Samples: 3})
	_ = h.End(now, "a2", harvest.Profile{PeakCPUMillis: 900, PeakMemoryMB: 130, Samples: 3})
	apply()
	// c1 lends 687m and 361 MB: its predicted peaks 250m and 120 MB stay below 80 % of its
	// limits. c2 borrows 650m and 172 MB. When c1 is restored, c2 (using 130 MB) can only go
	// down to 162 MB, so 34 MB stay as debt until its use allows more; its CPU comes back in
	// full when it ends.

	// Output:
	// create c1: 313m, 151 MB
	// lendable: 687m, 361 MB
	// create c2: 900m, 300 MB
	// update c1: 313m, 512 MB (safeguard)
	// update c2: 900m, 162 MB (reclaim)
	// memory debt: 34 MB
	// update c2: 250m, 162 MB (reclaim)
}
