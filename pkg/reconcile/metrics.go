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
	}
	for _, c := range []prometheus.Collector{m.reconciles, m.duration, m.errors, m.entities, m.appliedAt} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}

// SetMetrics attaches metrics to r; call before Run.
func (r *Reconciler) SetMetrics(m *Metrics) { r.metrics = m }

func (m *Metrics) observe(res Result, err error) {
	if m == nil {
		return
	}
	switch {
	case err != nil:
		kind := "storage"
		switch {
		case errors.Is(err, ErrTransient):
			kind = "transient"
		case misconfigured(err):
			kind = "config"
		}
		m.errors.WithLabelValues(kind).Inc()
		m.reconciles.WithLabelValues("error").Inc()
	case res.UpToDate:
		m.reconciles.WithLabelValues("up_to_date").Inc()
	default:
		m.reconciles.WithLabelValues(string(res.Status)).Inc()
		m.duration.Observe(res.Duration.Seconds())
	}
}

// Refresh updates the gauges read from the index (entities per blueprint,
// applied revision time); /metrics calls it on scrape.
func (r *Reconciler) Refresh(ctx context.Context) error {
	m := r.metrics
	if m == nil {
		return nil
	}
	counts, err := r.db.EntityCountsByBlueprint(ctx)
	if err != nil {
		return err
	}
	m.entities.Reset()
	for bp, n := range counts {
		m.entities.WithLabelValues(bp).Set(float64(n))
	}
	st, err := r.db.State(ctx)
	if err != nil {
		return err
	}
	if st.Applied != nil && st.Applied.Status == index.StatusApplied {
		m.appliedAt.Set(float64(st.Applied.CommittedAt.Unix()))
	}
	return nil
}
