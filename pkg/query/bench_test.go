package query_test

import (
	"os"
	"strconv"
	"testing"

	"github.com/berth-dev/berth/pkg/query"
)

// benchSize is the number of services of the benchmark catalog (domains
// and deployments scale with it); BERTH_BENCH_SERVICES=40000 gives about
// 100k entities.
func benchSize() int {
	if n, err := strconv.Atoi(os.Getenv("BERTH_BENCH_SERVICES")); err == nil && n > 0 {
		return n
	}
	return 2000
}

var benchQueries = []struct{ name, json string }{
	{"TwoProperties", `{"combinator": "and", "rules": [{"property": "$blueprint", "operator": "=", "value": "service"}, {"property": "lang", "operator": "=", "value": "Go"}, {"property": "score", "operator": ">=", "value": 1}]}`},
	{"RelatedTo", `{"combinator": "and", "rules": [{"operator": "relatedTo", "blueprint": "domain", "value": "dom-3", "direction": "downstream"}]}`},
	{"MatchAny3Hops", `{"combinator": "and", "rules": [{"property": "$blueprint", "operator": "=", "value": "deployment"}, {"operator": "matchAny", "property": {"path": ["service", "domain", "parent"]}, "value": "dom-1"}]}`},
}

// BenchmarkSearch runs compiled searches against a real index, the way the
// API does: SELECT e.doc ... ORDER BY e.id LIMIT 200.
func BenchmarkSearch(b *testing.B) {
	n := benchSize()
	w := newWorld(b, 1, [3]int{n / 10, n, n + n/4})
	for _, bq := range benchQueries {
		q, err := query.ParseJSON([]byte(bq.json))
		if err != nil {
			b.Fatal(err)
		}
		b.Run(bq.name, func(b *testing.B) {
			for b.Loop() {
				where, args, err := query.Compile(q, query.CompileOptions{Now: testNow})
				if err != nil {
					b.Fatal(err)
				}
				rows, err := w.db.Query("SELECT e.doc FROM entities e WHERE "+where+" ORDER BY e.id LIMIT 200", args...)
				if err != nil {
					b.Fatal(err)
				}
				for rows.Next() {
					var doc []byte
					if err := rows.Scan(&doc); err != nil {
						b.Fatal(err)
					}
				}
				if err := rows.Close(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkEval is the scorecard engine's path: one parsed query over
// every entity of the catalog in memory.
func BenchmarkEval(b *testing.B) {
	n := benchSize()
	w := newWorld(b, 1, [3]int{n / 10, n, n + n/4})
	for _, bq := range benchQueries {
		q, err := query.ParseJSON([]byte(bq.json))
		if err != nil {
			b.Fatal(err)
		}
		b.Run(bq.name, func(b *testing.B) {
			for b.Loop() {
				for _, e := range w.cat.Entities {
					if _, err := q.Eval(w.env, e); err != nil {
						b.Fatal(err)
					}
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(w.cat.Entities)), "ns/entity")
		})
	}
}
