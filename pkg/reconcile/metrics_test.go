package reconcile_test

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/berth-dev/berth/pkg/reconcile"
)

// gather returns the berth_ metrics of reg as "name{label="value"}" →
// value; a histogram gives its _count (and, as _sum, whether its sum is
// positive: 1 or 0, so that durations need not be known).
func gather(t *testing.T, reg *prometheus.Registry) map[string]float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]float64{}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			var labels []string
			for _, l := range m.GetLabel() {
				labels = append(labels, fmt.Sprintf("%s=%q", l.GetName(), l.GetValue()))
			}
			name := mf.GetName()
			if len(labels) > 0 {
				name += "{" + strings.Join(labels, ",") + "}"
			}
			switch {
			case m.Histogram != nil:
				out[name+"_count"] = float64(m.Histogram.GetSampleCount())
				out[name+"_sum"] = 0
				if m.Histogram.GetSampleSum() > 0 {
					out[name+"_sum"] = 1
				}
			case m.Counter != nil:
				out[name] = m.Counter.GetValue()
			case m.Gauge != nil:
				out[name] = m.Gauge.GetValue()
			}
		}
	}
	return out
}

// TestMetrics follows the reconciler's metrics, as a scrape sees them,
// through applied, up-to-date, failed and unreachable reconciles.
func TestMetrics(t *testing.T) {
	ctx := context.Background()
	files := base()
	files["blueprints/app.yaml"] = []byte("identifier: app\ntitle: App\nschema: {properties: {}}\n")
	files["entities/app/x.yaml"] = []byte("identifier: x\n")
	f := newFixture(t, files, reconcile.Options{})
	reg := prometheus.NewRegistry()
	m, err := reconcile.NewMetrics(reg)
	if err != nil {
		t.Fatal(err)
	}
	f.rec.SetMetrics(m)
	first := f.when.Unix()
	hidden := f.remote + ".away"

	// want holds the metrics after each step; a step changes some of them.
	// The restart count is berth serve's (see TestProcess).
	want := map[string]float64{"berth_reconciler_restarts_total": 0}
	steps := []struct {
		name   string
		do     func(t *testing.T)
		change map[string]float64
		gone   []string // metrics no longer exported
	}{
		{"InitialImport", func(t *testing.T) { f.reconcile() }, map[string]float64{
			`berth_reconcile_total{status="applied"}`:  1,
			"berth_reconcile_duration_seconds_count":   1,
			"berth_reconcile_duration_seconds_sum":     1,
			`berth_entities{blueprint="service"}`:      3,
			`berth_entities{blueprint="app"}`:          1,
			"berth_applied_revision_timestamp_seconds": float64(first),
		}, nil},
		{"UpToDate", func(t *testing.T) { f.reconcile() }, map[string]float64{
			`berth_reconcile_total{status="up_to_date"}`: 1,
		}, nil},
		{"InvalidCommit", func(t *testing.T) {
			f.commit("typo", map[string][]byte{"entities/service/a.yaml": []byte("identifier: a\nproperties: {tier: platinum}\n")})
			f.reconcile()
		}, map[string]float64{
			// The catalog's fault: counted as failed, not as an error;
			// the index still serves the first commit.
			`berth_reconcile_total{status="failed"}`: 1,
			"berth_reconcile_duration_seconds_count": 2,
		}, nil},
		{"RemoteGone", func(t *testing.T) {
			if err := os.Rename(f.remote, hidden); err != nil {
				t.Fatal(err)
			}
			if _, err := f.rec.Reconcile(ctx); !errors.Is(err, reconcile.ErrTransient) {
				t.Fatalf("err = %v, want ErrTransient", err)
			}
		}, map[string]float64{
			`berth_reconcile_errors_total{kind="transient"}`: 1,
			`berth_reconcile_total{status="error"}`:          1,
		}, nil},
		{"Fixed", func(t *testing.T) {
			if err := os.Rename(hidden, f.remote); err != nil {
				t.Fatal(err)
			}
			f.commit("fix, drop x", map[string][]byte{"entities/service/a.yaml": entity("a", "gold", 2), "entities/app/x.yaml": nil})
			f.reconcile()
		}, map[string]float64{
			`berth_reconcile_total{status="applied"}`: 2,
			"berth_reconcile_duration_seconds_count":  3,
			// The fix is the second commit after the first, an hour apart.
			"berth_applied_revision_timestamp_seconds": float64(first + 2*3600),
		}, []string{`berth_entities{blueprint="app"}`}},
	}
	for _, s := range steps {
		t.Run(s.name, func(t *testing.T) {
			s.do(t)
			if err := f.rec.Refresh(ctx); err != nil {
				t.Fatal(err)
			}
			maps.Copy(want, s.change)
			for _, k := range s.gone {
				delete(want, k)
			}
			if diff := cmp.Diff(want, gather(t, reg)); diff != "" {
				t.Errorf("metrics (-want +got):\n%s", diff)
			}
		})
	}
}
