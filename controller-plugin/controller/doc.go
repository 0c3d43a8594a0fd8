// Package controller is owinvoker's lean OpenWhisk controller: the REST API subset the
// wsk CLI uses, placement of activations on invokers over Kafka, and invoker health
// supervision (shared/spec/openwhisk-controller-api.md).
//
// # What it serves
//
//   - GET / and GET /api/v1: controller and API information (no credentials);
//   - GET /api/v1/namespaces: the caller's namespace;
//   - actions: PUT (create, or update with overwrite=true), GET (code=false omits the
//     code), list (limit, skip, count), DELETE, and POST to invoke (blocking, result,
//     timeout);
//   - activations: list (name, limit, skip, since, upto, docs, count), get, logs, result;
//   - packages, triggers and rules: empty lists, so that `wsk list` works;
//   - GET /invokers, /invokers/healthy/count and /invokers/ready, optionally behind
//     admin credentials (Config.AdminUser).
//
// Requests authenticate with HTTP basic auth against the subjects database, whose
// documents are OpenWhisk's: {"_id": subject, "subject", "namespaces": [{"name", "uuid",
// "key"}]}, with a namespace's limits in "<namespace>/limits". Errors are OpenWhisk's
// {"error": text, "code": transaction id}, with its texts and statuses. Entities live in
// the whisks database with CouchDB revisions; activation records are read from the
// activations database ("<namespace>/<activation id>"), where invokers write them.
// Sequences, packages, triggers, rules and web actions are not supported.
//
// # Placement
//
// An invoke builds the ActivationMessage as OpenWhisk's controller does, places it with
// package balancer (policy "sharding", OpenWhisk's, or "harvest") and publishes it on
// invoker<N>. Acks on completed<C> resolve blocking invokes (a shrunk ack makes the
// controller read the record from the database) and free the balancer's slots; the
// balancer's completion deadlines force the release of slots whose ack never comes.
// Pings on health drive package supervisor, whose health test actions
// (whisk.system/invokerHealthTestAction<C>, written at start) bring new invokers up,
// and carry the invokers' lendable resources to the harvest policy. The harvest policy
// learns each action's predicted extra demand from the harvest annotations
// (AnnotationPeakMemMB, AnnotationPeakCPUMillis, AnnotationAllocCPUMillis) of the
// activations it sees; without them the prediction is zero and the harvest policy
// places exactly as sharding does.
//
// # Wiring
//
//	c, err := controller.New(cfg, log) // validates, no IO
//	defer c.Close()
//	err = c.Run(ctx)                   // or c.Serve(ctx, listener); returns when ctx ends
//
// Handler and Init serve the API without the Kafka side, for tests and embedding.
package controller
