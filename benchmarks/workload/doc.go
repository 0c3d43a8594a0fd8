// Package workload turns an Azure Functions trace into a replay plan: the
// OpenWhisk actions to create and every invocation to send, with the run
// time, memory and CPU each invocation must reproduce.
//
// # Synthetic actions
//
// Every sampled function becomes one action running the same Node.js code
// (ActionCode). Each invocation passes {ms, mb, cpu}: the action runs for ms
// milliseconds, spending the fraction cpu of that time on one core (paced by
// its own CPU clock, process.cpuUsage) and sleeping the rest, while its memory
// grows to mb MB of filled buffers over the first half of the run, held to the
// end. An invocation that gets
// less CPU than it asks for — throttled by its container's quota, or
// sharing a busy host — takes longer than ms: that is the effect harvesting
// is meant to remove.
//
// Run time and memory are drawn per invocation from the function's
// percentile rows the way In-Vitro draws them (trace.Percentiles.Draw):
// run time from the duration percentiles, clamped to Options.MaxDuration;
// memory from the memory percentiles, less Options.RuntimeBaseMB, the
// memory the Node.js runtime itself holds, so that the container's peak
// is close to the drawn value.
//
// The trace has no CPU figures. Each function draws a busy fraction once,
// uniformly in [Options.CPU.Low, Options.CPU.High] (default 0.05–0.5 of a
// core: most functions of the trace are short and spend much of their time
// waiting on I/O), from a stream of its own; the same seed gives the same
// fractions. Under OpenWhisk's memory-proportional CPU shares this makes a
// function with a generous memory limit use less CPU than it is given and
// one with a tight limit need more: the mismatch harvesting works on.
//
// # Declared limits
//
// The memory limit each action declares is drawn by
// trace.Trace.DeclareLimits: by default 60 % of the functions
// over-provisioned (2–4× their p99 memory), 20 % under-provisioned
// (0.5–0.9×) and 20 % right-sized (1–1.25×), in OpenWhisk's 128–512 MB
// range. The realised mix is in Plan.Functions (Class, Forced).
//
// Everything here is a pure function of the trace and the options.
package workload
