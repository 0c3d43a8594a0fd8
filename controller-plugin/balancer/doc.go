// Package balancer picks the invoker an activation goes to, the way OpenWhisk's
// ShardingContainerPoolBalancer does, and keeps the controller's books on what each
// invoker is running.
//
// # Placement
//
// Every (invoking namespace, action) pair hashes to a home invoker and a step size
// (see [Hash] and [StepSizes]). The balancer probes the home invoker, then every
// step-th invoker after it, and takes the first healthy one whose memory semaphore
// grants the action's memory. When none does, it forces the activation onto a
// healthy invoker chosen uniformly at random ([Placement.Forced]); when no invoker is
// healthy, [Balancer.Schedule] returns [ErrNoInvokers], which the controller answers
// with 503. Blackbox actions use only the last invokers of the list and all other
// actions only the first ones (Config.ManagedFraction and Config.BlackboxFraction).
//
// Which of the probed invokers wins is a [Policy]. [Sharding] is OpenWhisk's rule
// (first with room). [Harvest] prefers, in the same order, the first invoker whose
// reported lendable CPU and memory cover the activation's predicted extra demand, and
// falls back to OpenWhisk's rule otherwise.
//
// # Accounting
//
// Each invoker has a semaphore of memory permits in MB (its user memory divided by the
// number of controllers). An activation of an action with concurrency 1 holds its
// memory until it completes. Actions with concurrency c > 1 are counted per container:
// ceil(in-flight / c) × memory.
//
// # The caller's duties
//
//   - Call [Balancer.UpdateInvokers] with the whole invoker list whenever the health
//     supervisor reports a change, and with fresh lendable figures when pings bring them.
//   - Call [Balancer.Release] when a completion (or combined) acknowledgement arrives.
//     It reports false for ids it does not hold: health test actions and acks that
//     arrive after a forced completion.
//   - Call [Balancer.Expire] periodically (at [Balancer.NextDeadline] at the latest).
//     It releases activations whose completion ack is overdue; the caller fails their
//     blocking waits and reports a Timeout outcome for their invoker.
//
// The package does no IO and keeps time only through the now arguments. A Balancer is
// safe for concurrent use.
package balancer
