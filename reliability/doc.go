// Package reliability injects faults into a running owinvoker system and counts what every
// activation got. Its tests (run by `make test`) are the fault matrix of RELIABILITY.md;
// benchmarks/soak uses the same harness for long runs.
//
// Everything is real: the owinvoker and owcontroller binaries are built and started as
// processes (so that `kill -9` is a real crash), against Apache Kafka, a CouchDB-API server
// (pouchdb-server) and the Docker engine from deploy/dev. Faults that stop a service use a
// private instance of it (PrivateKafka, PrivateCouchDB), never the shared one.
//
// A System plays the controller's part towards an invoker: it writes action documents,
// publishes ActivationMessages on invoker<N>, reads every ack on completed<C> and reads the
// activation records. A Sink, an HTTP server on the Docker bridge that the test actions
// call when they start and when they finish, counts how often each activation actually
// ran. Tally joins the three into the counts RELIABILITY.md reports: sent, recorded, acked,
// lost, run twice.
package reliability
