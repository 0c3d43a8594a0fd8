// Package trace parses and samples Azure Functions traces and turns them into
// timed arrivals for a replay against OpenWhisk.
//
// # Data and attribution
//
// The Azure Functions traces are published by Microsoft in
// Azure/AzurePublicDataset under CC-BY 4.0. Any use must cite:
//
//   - Azure Functions Trace 2019: M. Shahrad et al., "Serverless in the
//     Wild: Characterizing and Optimizing the Serverless Workload at a Large
//     Cloud Provider", USENIX ATC 2020.
//   - Azure Functions Invocation Trace 2021: Y. Zhang et al., "Faster and
//     Cheaper Serverless Computing on Harvested Resources", SOSP 2021.
//
// The samples under testdata/ are byte-for-byte copies of data files from
// IntelliSys-Lab/Libra-HPDC23, IntelliSys-Lab/Freyr-WWW22 and
// vhive-serverless/invitro; testdata/SOURCE.md gives repository, commit,
// path and checksum of each, and testdata/README.md repeats the attribution.
//
// # Formats
//
// Each parser takes a name (used in errors) and an io.Reader. Parsers
// accept LF or CRLF line ends and ignore empty lines at the end of a file;
// everything else is strict: the header must match exactly, every line must
// have the header's column count, identifiers must be non-empty, counts are
// non-negative decimal integers, other numbers non-negative finite decimals,
// percentiles non-decreasing, and triggers one of the seven groups. Bad
// input yields a *ParseError such as
//
//	invocations.csv:12: column 7 "x": not an integer
//
// Azure 2019 ("Serverless in the Wild", one file per day):
//
//   - Parse2019Invocations: invocations_per_function_md.anon.dNN.csv,
//     HashOwner,HashApp,HashFunction,Trigger,1..1440 (invocations per
//     minute, logged after execution). Excerpts with other consecutive
//     minute labels (In-Vitro's 480..959) are accepted; FirstMinute keeps
//     the first label.
//   - Parse2019Durations: function_durations_percentiles.anon.dNN.csv,
//     HashOwner,HashApp,HashFunction,Average,Count,Minimum,Maximum,
//     percentile_Average_{0,1,25,50,75,99,100}, in ms, excluding cold
//     starts. The percentiles are weighted percentiles of 30-second
//     averages, not per-invocation percentiles; Count comes from other logs
//     than the invocation counts and may disagree with them; Minimum and
//     Maximum may be empty.
//   - Parse2019Memory: app_memory_percentiles.anon.dNN.csv, HashOwner,
//     HashApp,SampleCount,AverageAllocatedMb,AverageAllocatedMb_pct{1,5,25,
//     50,75,95,99,100}: committed memory in MB per application.
//   - ParseInVitroMemory: In-Vitro's per-function memory files, the same
//     columns preceded by HashFunction,HashOwner,HashApp or by HashOwner,
//     HashApp,HashFunction.
//
// Join combines the three: durations on (HashOwner, HashApp, HashFunction),
// per-application memory on HashApp alone, per-function memory on the full
// key. Functions without a duration or memory row are kept with nil stats or
// dropped (JoinOptions.DropIncomplete); either way JoinReport lists them,
// along with duplicate and unused rows. Application memory is given to each
// function as is, or divided evenly among the app's functions
// (JoinOptions.SplitAppMemory, In-Vitro's choice). Load2019 does all of this
// from an fs.FS.
//
// Libra and Freyr (IntelliSys-Lab) rename sampled Azure functions after
// their benchmark apps: ParseLibraInvocations (HashFunction,Trigger,1..M),
// ParseLibraDurations and ParseLibraMemory (the 2019 columns keyed by
// HashFunction = app name) and ParseLibraInputSizes (header 1..N, one row of
// N sizes, one per generated event, minute-major then file-row order; see
// Trace.WithInputSizes). LoadLibra and LibraNames load a whole experiment.
//
// Azure 2021 (Parse2021): app,func,end_timestamp,duration in seconds, one
// line per call, not guaranteed sorted; func is unique only within app. From2021 keys
// functions on (app, func), starts each call at end - duration, bins the
// starts per minute and computes duration percentiles from the calls. There
// is no memory and no trigger.
//
// # Model, sampling, arrivals
//
// A Trace is a list of Functions over a common run of minutes, each with its
// per-minute Counts, optional Duration (ms) and Memory (MB) percentiles,
// optional per-invocation InputSizes and, for 2021, the exact Invocations.
// Trace.Window cuts an excerpt, Trace.Filter keeps functions by a predicate
// (Libra's count bounds), and Trace.Sample draws N functions with a seeded
// math/rand/v2 PCG; samples are nested (a smaller sample is a prefix of a
// larger one with the same seed).
//
// Trace.Arrivals lays every invocation out in time as a sorted []Arrival.
// A minute's n calls are spread Even (i·60 s/n, Libra's pattern without its
// whole-second rounding, optionally phase-shifted per function), LibraEven
// (Libra's floor(60/n)·i seconds exactly), Uniform (independent uniform
// times), Poisson (normalised exponential gaps, In-Vitro's default; as a
// Poisson process conditioned on n arrivals it has the same distribution as
// Uniform) or Exact (2021 start times). Every spread keeps the per-minute
// counts exactly, also under time compression: with factor c a trace minute
// lasts 60 s/c and minute m's arrivals lie in [m·60 s/c, (m+1)·60 s/c).
// Each function draws from its own stream derived from the seed and its key,
// so its arrivals do not depend on which other functions were sampled.
//
// # Synthetic parameters
//
// Percentiles.Draw draws a value the way In-Vitro draws run time and memory:
// a uniform quantile picks the bracket between adjacent percentiles (each
// bracket with probability equal to its quantile width) and the value is
// interpolated linearly inside the bracket; below the first percentile (p1
// for memory) the first value is returned. DurationStats.Draw clamps to
// [1 ms, 60 s] and MemoryStats.Draw to [1, 10240] MB, as In-Vitro does.
//
// # Declared memory limits
//
// Users rarely declare the memory their functions need. Trace.DeclareLimits
// reproduces that: each function gets a class, over-provisioned,
// under-provisioned or right-sized, and a declared limit of need × factor,
// where need is its memory percentile at LimitConfig.Quantile (p99 by
// default) and factor is uniform in the class's range. DefaultLimitConfig is
// 60 % over at 2–4×, 20 % under at 0.5–0.9× and 20 % right-sized at
// 1–1.25×. Declared values are restricted to OpenWhisk's range, 128 to 512
// MB by default, in steps of 32 MB (13 values): the value nearest to
// need × factor within the class's range is taken.
//
// The class counts are apportioned exactly (largest remainder) and assigned
// in a seeded random order, most constrained class first, each only to
// functions for which some allowed value lies in its range. That range
// restriction matters: with a 128 MB floor a function needing less than
// 128/0.9 ≈ 142 MB cannot be under-provisioned and one needing less than
// 102 MB cannot be right-sized at ≤ 1.25×, and one needing less than 32 MB
// cannot even be over-provisioned at ≤ 4×; with a 512 MB ceiling one
// needing more than 256 MB cannot be over-provisioned at ≥ 2×. Functions
// left over go to a class they fit that is furthest below its share; a
// function that fits no class is forced into the one furthest below its
// share with the nearest allowed value and flagged Limit.Forced. So the
// realised mix can differ from the requested one when the trace's needs do
// not allow it; the returned Limits say exactly what was drawn.
//
// Everything here is a pure function of its inputs and seeds; nothing reads
// the clock or global randomness.
package trace
