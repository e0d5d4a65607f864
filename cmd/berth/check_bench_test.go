package main

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/berth-dev/berth/pkg/gen"
	"github.com/berth-dev/berth/pkg/gitsource"
)

// BenchmarkCheck runs `berth check` cold (the repository opened, the
// schemas compiled, both commits read and scored afresh on every run) on a
// generated catalog of BERTH_BENCH_ENTITIES entities (default 10,000),
// where the head edits 10 service files: one raises a critical
// vulnerability (a gate fails), the others their test coverage.
//
//	BERTH_BENCH_ENTITIES=100000 go test ./cmd/berth -run '^$' -bench Check -benchtime 1x
func BenchmarkCheck(b *testing.B) {
	n := 10_000
	if s := os.Getenv("BERTH_BENCH_ENTITIES"); s != "" {
		var err error
		if n, err = strconv.Atoi(s); err != nil {
			b.Fatalf("BERTH_BENCH_ENTITIES: %v", err)
		}
	}
	ctx := context.Background()
	repo := filepath.Join(b.TempDir(), "repo.git")
	files := map[string][]byte{}
	var services []string
	for p, data := range gen.Files(gen.Options{Entities: n, Seed: 1}) {
		files["catalog/"+p] = data
		if strings.HasPrefix(p, "entities/service/") && len(services) < 10 {
			services = append(services, "catalog/"+p)
		}
	}
	when := time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)
	base, err := gitsource.CommitFiles(ctx, repo, "main", files, "base", "Bench <bench@acme.test>", when)
	if err != nil {
		b.Fatal(err)
	}
	coverage := regexp.MustCompile(`test_coverage: \d+`)
	edits := map[string][]byte{}
	for i, p := range services {
		s := coverage.ReplaceAllString(string(files[p]), "test_coverage: 1")
		if i == 0 {
			s = strings.Replace(s, "critical_vulnerabilities: 0", "critical_vulnerabilities: 4", 1)
		}
		edits[p] = []byte(s)
	}
	head, err := gitsource.CommitFiles(ctx, repo, "main", edits, "head", "Bench <bench@acme.test>", when.Add(time.Minute))
	if err != nil {
		b.Fatal(err)
	}
	args := []string{"check", "--repo", repo, "--dir", "catalog", "--base", base, "--head", head, "--fail-on", "never", "-o", "json"}
	b.ResetTimer()
	for b.Loop() {
		var stderr bytes.Buffer
		if code := run(args, nil, io.Discard, &stderr); code != 0 {
			b.Fatalf("exit %d: %s", code, stderr.String())
		}
	}
	b.ReportMetric(float64(n), "entities")
}
