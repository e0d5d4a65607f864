package main

import (
	"cmp"
	"fmt"
	"os"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/berth-dev/berth/pkg/catalog"
	"github.com/berth-dev/berth/pkg/schema"
	"github.com/berth-dev/berth/pkg/scorecard"
	"github.com/berth-dev/berth/pkg/validate"
	"github.com/spf13/cobra"
)

// scoreRow is one entity's result for one scorecard, as `berth score`
// prints it.
type scoreRow struct {
	Scorecard  string                 `json:"scorecard"`
	Blueprint  string                 `json:"blueprint"`
	Entity     string                 `json:"entity"`
	Level      string                 `json:"level"`
	LevelIndex int                    `json:"levelIndex"`
	Percent    float64                `json:"percent"`
	Failing    []string               `json:"failing"`
	Rules      []scorecard.RuleResult `json:"rules"`
}

func (a *app) scoreCmd() *cobra.Command {
	var output, bpFilter, scFilter, below, at string
	cmd := &cobra.Command{
		Use:   "score [DIR]",
		Short: "Evaluate the catalog's scorecards and print each entity's level and failing rules",
		Long: `Score validates the catalog in DIR (default: the current directory) and evaluates every
scorecard, printing a table per scorecard: entity, level, rules passed and the rules that
fail. It needs no index. Exemptions and enforceFrom deadlines are applied as of --at
(default: now).

Exit status is 1 when the catalog has errors (nothing is scored then).`,
		Example: `  berth score catalog-example
  berth score --scorecard production_readiness --level-below Silver catalog-example
  berth score -o json catalog-example | jq '.[] | select(.level == "Basic") | .entity'`,
		Args: args(cobra.MaximumNArgs(1)),
		RunE: func(cmd *cobra.Command, argv []string) error {
			if err := checkOutput(output, outputText, outputJSON); err != nil {
				return err
			}
			now := time.Now()
			if at != "" {
				t, err := time.Parse(time.DateOnly, at)
				if err != nil {
					return usageError{fmt.Errorf("--at: want YYYY-MM-DD: %w", err)}
				}
				now = t
			}
			dir := "."
			if len(argv) == 1 {
				dir = argv[0]
			}
			v, err := schema.New()
			if err != nil {
				return fmt.Errorf("compile schemas: %w", err)
			}
			res, err := validate.Run(cmd.Context(), v, os.DirFS(dir), validate.Options{})
			if err != nil {
				return err
			}
			if res.Diagnostics.HasErrors() {
				_ = writeDiagnostics(a.stderr, outputText, newSummary(res.Catalog, res.Diagnostics.Errors()))
				return errFindings
			}
			// Computed properties first, as berth check and the
			// reconciler do: rules read calculations, mirrors and
			// aggregations like stored properties.
			s, err := scoreSide(cmd.Context(), res.Catalog, now)
			if err != nil {
				return err
			}
			if s.diags.HasErrors() {
				_ = writeDiagnostics(a.stderr, outputText, newSummary(res.Catalog, s.diags.Errors()))
				return errFindings
			}
			rows, err := scoreRows(res.Catalog, s.side.Scores, bpFilter, scFilter, below)
			if err != nil {
				return err
			}
			if output == outputJSON {
				return writeJSONTo(a.stdout, rows)
			}
			printScoreTable(a, rows)
			return nil
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", outputText, "output format: text or json")
	cmd.Flags().StringVar(&bpFilter, "blueprint", "", "only scorecards of this blueprint")
	cmd.Flags().StringVar(&scFilter, "scorecard", "", "only this scorecard")
	cmd.Flags().StringVar(&below, "level-below", "", "only entities below this level (e.g. Silver)")
	cmd.Flags().StringVar(&at, "at", "", "evaluate exemptions and deadlines as of this date (YYYY-MM-DD)")
	return cmd
}

func scoreRows(cat *catalog.Catalog, ev *scorecard.Evaluation, bp, sc, below string) ([]scoreRow, error) {
	levels := map[string][]string{}
	for _, s := range cat.Scorecards {
		levels[s.Identifier] = s.LevelTitles()
	}
	if sc != "" {
		if _, ok := levels[sc]; !ok {
			return nil, usageError{fmt.Errorf("--scorecard %q: no such scorecard", sc)}
		}
	}
	rows := []scoreRow{}
	for k, m := range ev.Results {
		if bp != "" && k.Blueprint != bp {
			continue
		}
		for id, r := range m {
			if sc != "" && id != sc {
				continue
			}
			if below != "" {
				limit := slices.Index(levels[id], below)
				if limit < 0 {
					return nil, usageError{fmt.Errorf("--level-below %q: scorecard %s has levels %s", below, id, strings.Join(levels[id], ", "))}
				}
				if r.LevelIndex >= limit {
					continue
				}
			}
			failing := r.Failing()
			if failing == nil {
				failing = []string{}
			}
			rows = append(rows, scoreRow{Scorecard: id, Blueprint: k.Blueprint, Entity: k.Identifier, Level: r.Level,
				LevelIndex: r.LevelIndex, Percent: r.Percent(), Failing: failing, Rules: r.Rules})
		}
	}
	slices.SortFunc(rows, func(a, b scoreRow) int {
		return cmp.Or(strings.Compare(a.Scorecard, b.Scorecard), cmp.Compare(a.LevelIndex, b.LevelIndex), strings.Compare(a.Entity, b.Entity))
	})
	return rows, nil
}

func printScoreTable(a *app, rows []scoreRow) {
	if len(rows) == 0 {
		fmt.Fprintln(a.stdout, "no scored entities")
		return
	}
	tw := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
	current := ""
	for _, r := range rows {
		if r.Scorecard != current {
			if current != "" {
				fmt.Fprintln(tw)
			}
			current = r.Scorecard
			fmt.Fprintf(tw, "%s (%s)\n", r.Scorecard, r.Blueprint)
			fmt.Fprintln(tw, "ENTITY\tLEVEL\tPASSED\tFAILING")
		}
		failing := strings.Join(r.Failing, ", ")
		for _, rr := range r.Rules {
			if rr.Exempt {
				failing = strings.TrimPrefix(failing+", "+rr.Identifier+" (exempt)", ", ")
			}
		}
		if failing == "" {
			failing = "-"
		}
		fmt.Fprintf(tw, "%s\t%s\t%.0f%%\t%s\n", r.Entity, r.Level, r.Percent, failing)
	}
	tw.Flush()
}
