package invoker

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// metrics are the invoker's Prometheus series, on a registry of its own (no global state).
type metrics struct {
	reg         *prometheus.Registry
	activations *prometheus.CounterVec // by status
	starts      *prometheus.CounterVec // cold, prewarm, warm
	acks        labeled
	ackRetries  prometheus.Counter
	records     *prometheus.CounterVec // stored, skipped, conflict
	recordRetry prometheus.Counter
	malformed   prometheus.Counter
	fpcDropped  prometheus.Counter
	redelivered prometheus.Counter
	inflight    prometheus.Gauge
	duration    *prometheus.HistogramVec // by phase: wait, init, run, overhead
}

// labeled is a CounterVec with one label, read as WithLabel(value).
type labeled struct{ *prometheus.CounterVec }

func (l labeled) WithLabel(v string) prometheus.Counter { return l.WithLabelValues(v) }

func newMetrics() *metrics {
	m := &metrics{
		reg: prometheus.NewRegistry(),
		activations: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "owinvoker", Name: "activations_total",
			Help: "Activations finished, by response status."}, []string{"status"}),
		starts: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "owinvoker", Name: "container_starts_total",
			Help: "Activations by how their container was obtained: cold, prewarm (stem cell) or warm."}, []string{"start"}),
		acks: labeled{prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "owinvoker", Name: "acks_total",
			Help: "Acknowledgements sent, by shape."}, []string{"kind"})},
		ackRetries: prometheus.NewCounter(prometheus.CounterOpts{Namespace: "owinvoker", Name: "ack_retries_total",
			Help: "Acknowledgement sends that failed and were retried."}),
		records: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "owinvoker", Name: "activation_records_total",
			Help: "Activation records by outcome: stored, skipped (store policy), existing."}, []string{"outcome"}),
		recordRetry: prometheus.NewCounter(prometheus.CounterOpts{Namespace: "owinvoker", Name: "activation_record_retries_total",
			Help: "Activation record writes that failed and were retried."}),
		malformed: prometheus.NewCounter(prometheus.CounterOpts{Namespace: "owinvoker", Name: "malformed_messages_total",
			Help: "Records on the invoker topic that could not be parsed and were skipped."}),
		fpcDropped: prometheus.NewCounter(prometheus.CounterOpts{Namespace: "owinvoker", Name: "fpc_messages_dropped_total",
			Help: "FPC container messages found on the invoker topic and dropped."}),
		redelivered: prometheus.NewCounter(prometheus.CounterOpts{Namespace: "owinvoker", Name: "redelivered_completed_total",
			Help: "Redelivered activations that had already completed and were acknowledged from their records."}),
		inflight: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: "owinvoker", Name: "activations_in_flight",
			Help: "Activations accepted and not yet finished."}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: "owinvoker", Name: "activation_phase_seconds",
			Help:    "Time spent per activation phase.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60}}, []string{"phase"}),
	}
	m.reg.MustRegister(m.activations, m.starts, m.acks, m.ackRetries, m.records, m.recordRetry, m.malformed,
		m.fpcDropped, m.redelivered, m.inflight, m.duration,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}
