package reconcile

import (
	"context"
	"errors"

	"github.com/berth-dev/berth/pkg/index"
	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the reconciler's Prometheus metrics.
type Metrics struct {
	reconciles *prometheus.CounterVec
	duration   prometheus.Histogram
	errors     *prometheus.CounterVec
	entities   *prometheus.GaugeVec
	appliedAt  prometheus.Gauge
	restarts   prometheus.Counter
}

// NewMetrics creates the reconciler's metrics and registers them with reg.
func NewMetrics(reg prometheus.Registerer) (*Metrics, error) {
	m := &Metrics{
		reconciles: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "berth_reconcile_total",
			Help: "Reconciles by outcome: applied, failed, held, up_to_date, error."}, []string{"status"}),
		duration: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "berth_reconcile_duration_seconds",
			Help: "Duration of reconciles that did work.", Buckets: prometheus.ExponentialBuckets(0.005, 2, 14)}),
		errors: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "berth_reconcile_errors_total",
			Help: "Reconciles that failed for reasons other than the catalog, by kind: transient, config (missing branch or catalog directory), storage."}, []string{"kind"}),
		entities: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "berth_entities",
			Help: "Entities in the applied revision, per blueprint."}, []string{"blueprint"}),
		appliedAt: prometheus.NewGauge(prometheus.GaugeOpts{Name: "berth_applied_revision_timestamp_seconds",
			Help: "Commit time of the applied revision (subtract from time() for its age)."}),
		restarts: prometheus.NewCounter(prometheus.CounterOpts{Name: "berth_reconciler_restarts_total",
			Help: "Times berth serve started its reconciler process again after it exited."}),
	}
	for _, c := range []prometheus.Collector{m.reconciles, m.duration, m.errors, m.entities, m.appliedAt, m.restarts} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}

// SetMetrics attaches metrics to r; call before Run.
func (r *Reconciler) SetMetrics(m *Metrics) { r.metrics = m }

// observation is a finished reconcile as the metrics count it: an
// outcome (a Result's status, up_to_date or error), its duration when it
// did work, and the kind of error.
type observation struct {
	Outcome string  `json:"outcome"`
	Seconds float64 `json:"seconds,omitempty"`
	ErrKind string  `json:"errKind,omitempty"`
}

// observationOf is what the metrics count of a reconcile's res and err.
func observationOf(res Result, err error) observation {
	switch {
	case err != nil:
		kind := "storage"
		switch {
		case errors.Is(err, ErrTransient):
			kind = "transient"
		case misconfigured(err):
			kind = "config"
		}
		return observation{Outcome: "error", ErrKind: kind}
	case res.UpToDate:
		return observation{Outcome: "up_to_date"}
	}
	return observation{Outcome: string(res.Status), Seconds: res.Duration.Seconds()}
}

func (m *Metrics) observe(o observation) {
	if m == nil {
		return
	}
	m.reconciles.WithLabelValues(o.Outcome).Inc()
	switch {
	case o.ErrKind != "":
		m.errors.WithLabelValues(o.ErrKind).Inc()
	case o.Outcome != "up_to_date":
		m.duration.Observe(o.Seconds)
	}
}

// restarted counts a restart of the reconciler process.
func (m *Metrics) restarted() {
	if m != nil {
		m.restarts.Inc()
	}
}

// Refresh updates the gauges read from the index (entities per blueprint,
// applied revision time); /metrics calls it on scrape.
func (r *Reconciler) Refresh(ctx context.Context) error { return r.metrics.refresh(ctx, r.db) }

// refresh updates the gauges read from db.
func (m *Metrics) refresh(ctx context.Context, db *index.DB) error {
	if m == nil {
		return nil
	}
	counts, err := db.EntityCountsByBlueprint(ctx)
	if err != nil {
		return err
	}
	m.entities.Reset()
	for bp, n := range counts {
		m.entities.WithLabelValues(bp).Set(float64(n))
	}
	st, err := db.State(ctx)
	if err != nil {
		return err
	}
	if st.Applied != nil && st.Applied.Status == index.StatusApplied {
		m.appliedAt.Set(float64(st.Applied.CommittedAt.Unix()))
	}
	return nil
}
