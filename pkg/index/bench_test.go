package index_test

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/berth-dev/berth/pkg/index"
)

// BenchmarkApplyCold applies a whole catalog to an empty index: the
// database side of a cold `berth index`. The 100k case is the issue's
// scale; `make bench` runs it.
func BenchmarkApplyCold(b *testing.B) {
	for _, bc := range []struct {
		n      int
		scored bool
	}{{10_000, false}, {10_000, true}, {100_000, false}} {
		n := bc.n
		name := fmt.Sprintf("%dk", n/1000)
		if bc.scored {
			name += "-scored"
		}
		b.Run(name, func(b *testing.B) {
			ctx := context.Background()
			s := snapshot(n, 1)
			if bc.scored {
				s.Scores = scores(n)
			}
			b.ReportAllocs()
			b.ResetTimer()
			for i := range b.N {
				b.StopTimer()
				db, err := index.Open(ctx, filepath.Join(b.TempDir(), fmt.Sprintf("cold-%d.db", i)))
				if err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
				if _, err := db.Apply(ctx, rev(1), s); err != nil {
					b.Fatal(err)
				}
				b.StopTimer()
				if err := db.Close(); err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
			}
			b.ReportMetric(float64(len(s.Upserts)*b.N)/b.Elapsed().Seconds(), "entities/s")
		})
	}
}

// BenchmarkApplyIncremental10 applies a commit changing 10 entities of a
// 10k-entity index.
func BenchmarkApplyIncremental10(b *testing.B) {
	ctx := context.Background()
	const n = 10_000
	db := openDB(b)
	mustApply(b, db, rev(1), snapshot(n, 1))
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		s := index.Snapshot{Blueprints: blueprints()}
		for j := range 10 {
			s.Upserts = append(s.Upserts, index.Upsert{Entity: service((i*10+j)%n, n, i+2)})
		}
		res, err := db.Apply(ctx, rev(i+2), s)
		if err != nil {
			b.Fatal(err)
		}
		if res.Updated != 10 {
			b.Fatalf("updated %d, want 10", res.Updated)
		}
	}
	b.ReportMetric(float64(10*b.N)/b.Elapsed().Seconds(), "entities/s")
}

// scores gives every service results on two scorecards of six rules.
func scores(n int) []index.EntityScores {
	out := make([]index.EntityScores, n)
	for i := range n {
		out[i].Key = key("service", fmt.Sprintf("svc-%06d", i))
		for _, sc := range []string{"production_readiness", "security_compliance"} {
			r := index.ScorecardResult{Scorecard: sc, Level: "Silver", LevelIndex: 2, Total: 6, Passed: 5}
			for j := range 6 {
				st := "SUCCESS"
				if j == i%6 {
					st = "FAILURE"
				}
				r.Rules = append(r.Rules, index.RuleResult{Rule: fmt.Sprintf("rule-%d", j), Status: st})
			}
			out[i].Results = append(out[i].Results, r)
		}
	}
	return out
}
