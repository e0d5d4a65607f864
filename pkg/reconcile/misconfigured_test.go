package reconcile_test

import (
	"context"
	"errors"
	"path/filepath"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/berth-dev/berth/pkg/gitsource"
	"github.com/berth-dev/berth/pkg/reconcile"
)

// TestReconcile_Misconfigured: a branch or catalog directory that is not in
// the repository is the configuration's fault. The error wraps the
// source's sentinel, not ErrTransient (retrying does not fix it), and
// counts as a "config" error in the metrics.
func TestReconcile_Misconfigured(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name string
		opts gitsource.Options
		want error
	}{
		{"Branch", gitsource.Options{Branch: "nope"}, gitsource.ErrBranchNotFound},
		{"Dir", gitsource.Options{Dir: "nope"}, gitsource.ErrDirNotFound},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, base(), reconcile.Options{})
			opts := tc.opts
			opts.URL, opts.DataDir = f.remote, t.TempDir()
			_, _, rec := openReconciler(t, opts, filepath.Join(t.TempDir(), "berth.db"), reconcile.Options{})
			reg := prometheus.NewRegistry()
			m, err := reconcile.NewMetrics(reg)
			if err != nil {
				t.Fatal(err)
			}
			rec.SetMetrics(m)
			_, err = rec.Reconcile(ctx)
			if !errors.Is(err, tc.want) || errors.Is(err, reconcile.ErrTransient) {
				t.Fatalf("err = %v, want %v and not ErrTransient", err, tc.want)
			}
			mfs, err := reg.Gather()
			if err != nil {
				t.Fatal(err)
			}
			kinds := map[string]float64{}
			for _, mf := range mfs {
				if mf.GetName() != "berth_reconcile_errors_total" {
					continue
				}
				for _, m := range mf.GetMetric() {
					kinds[m.GetLabel()[0].GetValue()] = m.GetCounter().GetValue()
				}
			}
			if len(kinds) != 1 || kinds["config"] != 1 {
				t.Errorf("errors by kind %v, want config 1", kinds)
			}
		})
	}
}
