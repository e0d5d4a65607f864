package main

import (
	"fmt"
	"os"
	"runtime"
	"time"

	"github.com/berth-dev/berth/pkg/schema"
	"github.com/berth-dev/berth/pkg/validate"
	"github.com/spf13/cobra"
)

func (a *app) validateCmd() *cobra.Command {
	var output string
	var workers int
	cmd := &cobra.Command{
		Use:   "validate [DIR]",
		Short: "Validate a catalog directory: file kinds, entities against blueprints, policies, cross-file checks",
		Long: `Validate checks a catalog directory (default: the current directory) in four layers,
reporting every problem in one run:

  1. each file against its kind's CUE schema (blueprints/, entities/, scorecards/, ...)
  2. each entity against its blueprint (types, formats, enums, required, relations)
  3. the catalog's own CUE policies (policies/*.cue)
  4. checks across files: relations resolve, identifiers unique, scorecards name real
     properties and levels, pages and actions name real blueprints

Findings print as file:line:col: severity: message [code], then a count line.
Exit status is 1 when there are errors, 0 otherwise (warnings do not fail).

--output json prints {ok, errors, warnings, files, entities, diagnostics: [{file, line,
col, severity, code, message}]}; --output github prints workflow commands that GitHub
Actions turns into annotations.`,
		Example: `  berth validate catalog-example
  berth validate --output json . | jq '.diagnostics[] | select(.severity == "error")'
  berth validate --output github catalog   # in a GitHub Actions step`,
		Args: args(cobra.MaximumNArgs(1)),
		RunE: func(cmd *cobra.Command, argv []string) error {
			if err := checkOutput(output, outputText, outputJSON, outputGitHub); err != nil {
				return err
			}
			dir := "."
			if len(argv) == 1 {
				dir = argv[0]
			}
			if st, err := os.Stat(dir); err != nil || !st.IsDir() {
				return usageError{fmt.Errorf("%s is not a directory", dir)}
			}
			v, err := schema.New()
			if err != nil {
				return fmt.Errorf("compile schemas: %w", err)
			}
			opts := validate.Options{Workers: workers}
			if isTerminal(a.stderr) && output == outputText {
				start := time.Now()
				opts.Progress = func(s validate.Stage) {
					fmt.Fprintf(a.stderr, "\r\033[K%s: %s (%s)", dir, s, time.Since(start).Round(time.Millisecond))
				}
				defer fmt.Fprint(a.stderr, "\r\033[K")
			}
			res, err := validate.Run(cmd.Context(), v, os.DirFS(dir), opts)
			if err != nil {
				return err
			}
			if opts.Progress != nil {
				fmt.Fprint(a.stderr, "\r\033[K")
			}
			s := newSummary(res.Catalog, res.Diagnostics)
			if err := writeDiagnostics(a.stdout, output, s); err != nil {
				return err
			}
			if !s.OK {
				return errFindings
			}
			return nil
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", outputText, "output format: text, json or github")
	cmd.Flags().IntVar(&workers, "workers", runtime.GOMAXPROCS(0), "goroutines validating entities")
	return cmd
}
