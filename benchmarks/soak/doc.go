// Package soak runs long campaigns with the reliability harness. TestSoakSteady drives a
// mixed load (warm, cold, background, failing actions) through owcontroller's REST API into
// an owinvoker and samples both processes' resident memory, threads and open files, the
// invoker's goroutines and its containers; every series must end flat (CheckFlat).
// TestSoakKillInvoker kills (SIGKILL) and restarts an owinvoker under steady load at random
// moments, in both delivery modes, and counts every activation (sent, recorded, acked, lost,
// run twice, rerun after its record). The tests skip unless OW_SOAK names a duration:
//
//	make soak                  # OW_SOAK=10m, samples in benchmarks/results/soak
//	OW_SOAK=15m go test -v -timeout 2h ./benchmarks/soak/
//
// They need what `make test` starts (deploy/dev/services.sh up) and the runtime images.
// RELIABILITY.md reports their results.
package soak
