// Package replay sends a workload.Plan to an OpenWhisk API host — ours or a
// real one — through the REST API the wsk CLI uses, open loop: every
// invocation leaves at its planned time whether or not earlier ones have
// answered. Each invocation becomes a Row (the CSV owreplay writes), and a
// run's rows become a Summary.
//
// Invocations are blocking (?blocking=true), so the answer carries the whole
// activation: start, end, duration, waitTime and initTime annotations, the
// response status and, from owinvoker, the harvest.* annotations with the
// invocation's profile and what it lent or borrowed. An answer of 202 (the
// controller's blocking wait ran out) is followed by polling the activation
// by id until the record appears.
//
// Row times are milliseconds since the replay started: Scheduled (planned),
// Submit (request sent), Response (answer received), Start and End (the
// activation record's, converted from epoch milliseconds; they come from
// the invoker's clock, which on one host is the same clock).
//
// # Summary
//
// Latency is the client's: answer received − request sent. A cold start is
// an activation with an initTime annotation. An OOM kill is a developer
// error whose message is OpenWhisk's "exhausted its memory"; a timeout
// carries the timeout annotation. Utilisation is computed over the replay
// in one-second buckets from the rows: CPU used is what the action measured
// itself (its cpuMs result, so it works against any OpenWhisk), spread
// evenly over the activation; CPU allocated is the container's quota from
// harvest.allocCpuMillis, or the declared memory's share of the capacity
// (Capacity) when the invoker does not say; memory used is the profile's
// peak (harvest.peakMemMB), or the touched memory plus the runtime's base;
// memory allocated is the declared limit. The harvested share is the part
// of the allocated CPU and memory time that was lent.
package replay
