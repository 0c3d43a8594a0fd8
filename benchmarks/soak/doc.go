// Package soak runs long fault campaigns with the reliability harness: an owinvoker under
// steady load is killed (SIGKILL) and restarted at random moments, in both delivery modes,
// and every activation is counted (sent, recorded, acked, lost, run twice, rerun after its
// record). The tests skip unless OW_SOAK names a duration:
//
//	OW_SOAK=15m go test -v -timeout 2h ./benchmarks/soak/
//
// They need what `make test` starts (deploy/dev/services.sh up) and the runtime images.
// RELIABILITY.md reports their results.
package soak
