package catalog_test

import (
	"os/exec"
	"strings"
	"testing"
)

// TestPurePackages keeps the centre of berth pure: the domain packages
// depend, even indirectly, on nothing of SQLite, HTTP, Git, GitHub or CUE.
// Only cmd/berth wires concrete adapters to them.
func TestPurePackages(t *testing.T) {
	if testing.Short() {
		t.Skip("runs go list")
	}
	forbidden := []string{
		"database/sql", "github.com/mattn/go-sqlite3", "net/http", "github.com/go-git/", "github.com/google/go-github/",
		"cuelang.org/go", "github.com/berth-dev/berth/pkg/index", "github.com/berth-dev/berth/pkg/api",
		"github.com/berth-dev/berth/pkg/gitsource", "github.com/berth-dev/berth/pkg/schema",
		"github.com/berth-dev/berth/pkg/checks", "github.com/berth-dev/berth/pkg/reconcile",
	}
	for _, pkg := range []string{"catalog", "query", "scorecard", "compute", "access"} {
		out, err := exec.Command("go", "list", "-deps", "github.com/berth-dev/berth/pkg/"+pkg).Output()
		if err != nil {
			t.Fatalf("go list %s: %v", pkg, err)
		}
		for _, dep := range strings.Fields(string(out)) {
			for _, f := range forbidden {
				if dep == f || strings.HasPrefix(dep, f+"/") || (strings.HasSuffix(f, "/") && strings.HasPrefix(dep, f)) {
					t.Errorf("pkg/%s depends on %s", pkg, dep)
				}
			}
		}
	}
}
