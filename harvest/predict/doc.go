// Package predict estimates, online, how much CPU and memory the next activation of an action
// will need, from the peaks its earlier activations reached.
//
// # Contract
//
// A Predictor keeps, per action (Key: namespace, action, revision), a bounded window of the most
// recent Samples (peak CPU in millicores, peak memory in MB, input size in bytes). Predict returns
// a high quantile (Config.Quantile, p95 by default, nearest rank) of the peaks in the window, plus
// head-room: the larger of a fraction of the quantile and an absolute minimum. Until the window
// holds Config.MinSamples samples, Predict returns a Prediction with OK false: no prediction, and
// the caller runs the activation at its allocation.
//
// Input size: samples are also kept per log2 bucket of the input size (bucket b holds sizes in
// [2^(b-1), 2^b), bucket 0 the empty input). Predict uses the bucket of the input it is asked
// about when that bucket alone holds MinSamples samples, and the whole window of the action
// otherwise. A negative input size means unknown and always uses the whole window. Each action
// keeps at most Config.MaxBuckets buckets, dropping the least recently observed one.
//
// Revisions: only the newest revision of an action is kept. A sample or a prediction request for
// a newer revision forgets everything learnt about the older one (new code, new behaviour); a
// sample of an older revision (an activation of the old code that finishes late) is dropped.
// Revisions in CouchDB's "N-hash" form are ordered by N; any other revision string that differs
// from the current one counts as newer.
//
// Memory is bounded: at most Config.MaxActions actions are tracked, the least recently used one
// (observed or predicted) is forgotten first, and each keeps at most Config.Window samples per
// history.
//
// A Predictor is a pure core: no IO, no clock, no goroutines. It is not safe for concurrent use;
// the caller serialises access (harvest.Harvester owns one).
package predict
