// Command berth-gen writes a realistic synthetic catalog for benchmarks and
// tests: blueprints, scorecards and one file per entity. The same -n and
// -seed always give the same files.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/berth-dev/berth/pkg/gen"
)

const usage = `usage: berth-gen -n ENTITIES -o DIR [-seed N]

berth-gen writes a synthetic catalog of ENTITIES entities into DIR, which
must not exist or be empty: five blueprints (domain, team, service,
microservice, deployment), _team entities, two scorecards of six rules over
services, and one file per entity under DIR/entities/<blueprint>/. About 60%
of the entities are services and microservices; every relation resolves.
The output depends only on -n and -seed.

Examples:
  go run ./cmd/berth-gen -n 1000 -o /tmp/cat1k
  go run ./cmd/berth-gen -n 100000 -o /tmp/cat100k -seed 7
  berth validate /tmp/cat1k

Flags:
`

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }

func run(args []string, stdout, stderr io.Writer) int {
	fl := flag.NewFlagSet("berth-gen", flag.ContinueOnError)
	fl.SetOutput(stderr)
	fl.Usage = func() {
		fmt.Fprint(stderr, usage)
		fl.PrintDefaults()
	}
	n := fl.Int("n", 1000, "number of entities to generate (at least 10)")
	out := fl.String("o", "", "output directory (required; must not exist or be empty)")
	seed := fl.Int64("seed", 1, "random seed")
	if err := fl.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if *out == "" || fl.NArg() > 0 {
		fmt.Fprintln(stderr, "berth-gen: -o DIR is required and no arguments are taken")
		fl.Usage()
		return 2
	}
	if *n < gen.MinEntities {
		fmt.Fprintf(stderr, "berth-gen: -n must be at least %d\n", gen.MinEntities)
		return 2
	}

	start := time.Now()
	opts := gen.Options{Entities: *n, Seed: *seed}
	if err := gen.Write(*out, opts); err != nil {
		fmt.Fprintf(stderr, "berth-gen: %v\n", err)
		return 1
	}
	files, bytes, err := size(*out)
	if err != nil {
		fmt.Fprintf(stderr, "berth-gen: %v\n", err)
		return 1
	}
	fmt.Fprintf(stdout, "wrote %d entities (%d files, %.1f MB) to %s in %s\n",
		*n, files, float64(bytes)/1e6, *out, time.Since(start).Round(time.Millisecond))
	return 0
}

// size counts the files under dir and their bytes.
func size(dir string) (files int, bytes int64, err error) {
	err = filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		files++
		bytes += info.Size()
		return nil
	})
	return files, bytes, err
}
