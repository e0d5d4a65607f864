package validate_test

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/berth-dev/berth/pkg/gen"
	"github.com/berth-dev/berth/pkg/schema"
	"github.com/berth-dev/berth/pkg/validate"
	"gopkg.in/yaml.v3"
)

// benchSizes are the catalog sizes benchmarked; 100k runs only with
// BERTH_BENCH_LARGE=1 (it takes a minute to generate and validate).
func benchSizes() []int {
	sizes := []int{1000, 10000}
	if os.Getenv("BERTH_BENCH_LARGE") != "" {
		sizes = append(sizes, 100000)
	}
	return sizes
}

// catalogDir writes a generated catalog of n entities once per run.
func catalogDir(b *testing.B, n int) string {
	b.Helper()
	dir := filepath.Join(os.TempDir(), "berth-bench", strconv.Itoa(n))
	if _, err := os.Stat(filepath.Join(dir, "berth.yaml")); err == nil {
		if real, err := filepath.EvalSymlinks(dir); err == nil {
			return real // a pre-generated catalog linked in place
		}
		return dir
	}
	if err := os.RemoveAll(dir); err != nil {
		b.Fatal(err)
	}
	if err := gen.Write(dir, gen.Options{Entities: n, Seed: 1}); err != nil {
		b.Fatal(err)
	}
	return dir
}

// BenchmarkValidate runs every validation layer over generated catalogs,
// reporting entities/s.
func BenchmarkValidate(b *testing.B) {
	v, err := schema.New()
	if err != nil {
		b.Fatal(err)
	}
	for _, n := range benchSizes() {
		dir := catalogDir(b, n)
		b.Run(fmt.Sprintf("entities=%d", n), func(b *testing.B) {
			for b.Loop() {
				res, err := validate.Run(context.Background(), v, os.DirFS(dir), validate.Options{})
				if err != nil {
					b.Fatal(err)
				}
				if res.Diagnostics.HasErrors() {
					b.Fatalf("generated catalog has errors: %v", res.Diagnostics[:1])
				}
			}
			b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "entities/s")
		})
	}
}

// BenchmarkDecodeFloor reads and decodes the same files with yaml.v3 and
// nothing else: the floor validation is measured against.
func BenchmarkDecodeFloor(b *testing.B) {
	for _, n := range benchSizes() {
		dir := catalogDir(b, n)
		b.Run(fmt.Sprintf("entities=%d", n), func(b *testing.B) {
			for b.Loop() {
				err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
					if err != nil || d.IsDir() {
						return err
					}
					data, err := os.ReadFile(p)
					if err != nil {
						return err
					}
					var v any
					return yaml.Unmarshal(data, &v)
				})
				if err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "entities/s")
		})
	}
}
