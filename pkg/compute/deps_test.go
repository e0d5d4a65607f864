package compute_test

import (
	"go/parser"
	"go/token"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestImports keeps the package pure: the catalog, gojq and the standard
// library only.
func TestImports(t *testing.T) {
	files, _ := filepath.Glob("*.go")
	for _, file := range files {
		if strings.HasSuffix(file, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(token.NewFileSet(), file, nil, parser.ImportsOnly)
		if err != nil {
			t.Fatal(err)
		}
		for _, imp := range f.Imports {
			path, _ := strconv.Unquote(imp.Path.Value)
			switch {
			case path == "github.com/berth-dev/berth/pkg/catalog", path == "github.com/itchyny/gojq":
			case !strings.Contains(strings.Split(path, "/")[0], "."):
			default:
				t.Errorf("%s imports %s", file, path)
			}
		}
	}
}
