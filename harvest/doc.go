// Package harvest decides, per invoker, how big each action container should be: Libra-style
// harvesting of CPU and memory that activations were allocated but are not predicted to use.
//
// # Model
//
// Every activation has an allocation: the action's memory limit and, when the invoker sets CPU
// quotas, a CPU quota proportional to it. Its Prediction (predict.Prediction, carried with the
// Activation from admission; never looked up again by action name) says what it will use. Per
// resource:
//
//   - a lender (predicted need < allocation) gets a container sized to the predicted need and
//     lends the difference to the invoker's pool;
//   - a borrower (predicted need > allocation) gets its allocation plus what the pool can give;
//   - without a prediction the container gets its allocation.
//
// The predicted need is the prediction with head-room, raised if needed so that the predicted
// peak stays below the safeguard threshold; for memory it adds the container's scratch (tmpfs)
// size, which is charged to the container's memory and is never lendable. A lender is never
// shrunk below Config.MinMemoryMB / MinCPUMillis.
//
// The pool is not a separate store: what each container lends (allocation − limit) or borrows
// (limit − allocation) follows from its limits, so the ledger cannot drift from them. Free is
// Σ lent − Σ borrowed − Σ admitted, where admitted is memory the invoker admitted work on
// (Config.AdmitOnHarvest, off by default; AdmissibleMB and Activation.HarvestedMB).
//
// CPU is harvested freely: the worst a lender suffers is throttling, and a running CPU lender at
// the CPU safeguard is restored. Memory is harvested only with the safeguard: a lender whose use
// (or window peak) reaches Config.MemorySafeguard of its reduced limit is restored to its full
// allocation at once (raising a limit always succeeds), and so is a running lender whose samples
// stop for Config.StaleAfter.
//
// # Reclaim and overcommit debt
//
// Restoring a lender, growing a reused lender, removing a lender's container, or rolling back a
// failed shrink takes its loan out of the pool. If the free part of the pool does not cover it,
// the shortfall is reclaimed from borrowers: idle borrowers first (a finished borrower always
// gives back what it borrowed), then running ones, the most recently grown first. CPU is taken at
// once. Memory is taken from a borrower only down to its last observed use plus
// Config.HeadroomMB (a memory limit below use is refused on cgroup v1 and OOM-kills on v2), and
// never from a container whose use was never sampled. The lender is restored at once regardless,
// so the pool can go negative: that is the overcommit debt (Stats().Memory.Debt). Invariant:
//
//	Σ borrowed + Σ admitted = Σ lent + Free − Debt, Free ≥ 0, Debt ≥ 0, Free·Debt = 0
//
// and the debt only grows when a loan leaves the pool as above, never by borrowing: while there is
// debt nothing is free, so no borrower grows. Deferred reclaims are retried on every Tick (and
// after every ledger change) until the debt is paid. No container's memory limit is ever lowered
// below its observed use plus head-room, and a lender is never sized so that its observed use
// would trip the safeguard.
//
// # Caller's duties
//
// The Harvester is a pure core: it does no IO, takes time as an argument and is not safe for
// concurrent use. The edge (the invoker) serialises calls and:
//
//   - calls Predict at admission and carries the result in Activation.Prediction; calls Start
//     before the activation runs (for a new container, before creating it: the returned Size is
//     its create-time limits); End with the profile when it finishes; Remove when the container
//     is removed; Sample for every profiler sample (every 100 ms); Tick periodically (every
//     100 ms to 1 s);
//   - drains Ready after each call (or batch of calls) and applies every Resize to the running
//     container (ContainerUpdate of CPU quota, memory and memory+swap); reports each failure
//     with UpdateFailed before draining the next Ready, which rolls the ledger back;
//   - sends Lendable in its health pings and, only with AdmitOnHarvest, admits up to
//     AdmissibleMB and passes the excess in Activation.HarvestedMB.
//
// # Compared with Libra's public code
//
// Predictions travel with the activation instead of through a store keyed by function name;
// warm containers are re-sized on every reuse; memory is never reclaimed below a borrower's use;
// admission on harvested memory is an explicit option with its own reservation; learning is
// online (harvest/predict) and a peak cut off by a lender's reduced limit is learnt as the
// allocation, so predictions can grow again.
package harvest
