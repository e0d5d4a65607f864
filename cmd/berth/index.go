package main

import (
	"context"
	"fmt"
	"time"

	"github.com/berth-dev/berth/pkg/catalog"
	"github.com/berth-dev/berth/pkg/index"
	"github.com/berth-dev/berth/pkg/reconcile"
	"github.com/spf13/cobra"
)

func (a *app) indexCmd() *cobra.Command {
	var f sourceFlags
	var output string
	cmd := &cobra.Command{
		Use:     "index",
		Aliases: []string{"reconcile"},
		Short:   "Reconcile the branch head into the SQLite index once, then exit",
		Long: `Index fetches the branch, validates its head and applies it to the index in one
transaction (incrementally when the index already holds an ancestor commit).
A commit with errors is recorded with its diagnostics and not applied: the index keeps
the last good revision. A commit deleting more than massDeleteThreshold (berth.yaml,
default 50%) of the entities is held unless --allow-mass-delete.

Exit status: 0 applied or already applied, 1 failed or held (also when the head
already failed before: the index is not at the head), 2 usage.
'berth reconcile --once' is the same command.`,
		Example: `  berth index --repo . --dir catalog-example --db berth.db
  berth index --repo https://github.com/acme/catalog --branch main --db /var/lib/berth/berth.db
  berth reconcile --once --allow-mass-delete
  berth index -o json | jq -r '.status, .appliedCommit'`,
		Args: args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := checkOutput(output, outputText, outputJSON); err != nil {
				return err
			}
			s, err := a.open(cmd.Context(), &f, a.log, true)
			if err != nil {
				return err
			}
			defer s.Close()
			res, err := s.rec.Reconcile(cmd.Context())
			if err != nil {
				return err
			}
			if !res.UpToDate {
				s.rec.Compact(cmd.Context())
			}
			rep, err := newIndexReport(cmd.Context(), s.db, res)
			if err != nil {
				return err
			}
			return a.printIndexReport(rep, output)
		},
	}
	f.register(cmd)
	cmd.Flags().StringVarP(&output, "output", "o", outputText, "output format: text or json")
	cmd.Flags().Bool("once", true, "reconcile once and exit (the only mode of this command; 'berth serve' keeps following)")
	return cmd
}

// indexReport is what berth index prints: with --output json, for scripts
// (a CronJob, a deploy step), in this shape.
type indexReport struct {
	// Commit is the branch head.
	Commit string `json:"commit"`
	// Status is applied, failed or held; for a head reconciled
	// before, what happened then (applied or failed).
	Status string `json:"status"`
	// UpToDate is set when the head had been reconciled before: nothing
	// was done.
	UpToDate bool `json:"upToDate"`
	// AppliedCommit is the revision the index serves now ("" for none).
	AppliedCommit string `json:"appliedCommit"`
	Reason        string `json:"reason,omitempty"`
	Incremental   bool   `json:"incremental"`
	Entities      int    `json:"entities"`
	Inserted      int    `json:"inserted"`
	Updated       int    `json:"updated"`
	Unchanged     int    `json:"unchanged"`
	Deleted       int    `json:"deleted"`
	DurationMS    int64  `json:"durationMs"`
	// Diagnostics are the head's errors and warnings (for a head that
	// failed before, those recorded then).
	Diagnostics catalog.Diagnostics `json:"diagnostics"`
}

// newIndexReport reports res, reading from db what the index serves and,
// for a head that failed before, why.
func newIndexReport(ctx context.Context, db *index.DB, res reconcile.Result) (indexReport, error) {
	rep := indexReport{Commit: res.Commit, Status: string(res.Status), UpToDate: res.UpToDate,
		Reason: res.Reason, Incremental: res.Incremental, Entities: res.Applied.Entities,
		Inserted: res.Applied.Inserted, Updated: res.Applied.Updated, Unchanged: res.Applied.Unchanged,
		Deleted: res.Applied.Deleted, DurationMS: res.Duration.Round(time.Millisecond).Milliseconds(),
		Diagnostics: res.Diagnostics}
	st, err := db.State(ctx)
	if err != nil {
		return rep, fmt.Errorf("read index state: %w", err)
	}
	if st.Applied != nil {
		rep.AppliedCommit = st.Applied.Commit
	}
	if res.UpToDate {
		switch {
		case st.Applied != nil && st.Applied.Commit == res.Commit:
			rep.Status = string(index.StatusApplied)
			rep.Entities = st.Applied.Entities
		case st.LastAttempt != nil && st.LastAttempt.Commit == res.Commit:
			// The reconciler does not retry a wrong catalog until a new
			// commit; the run still fails, and says why.
			rep.Status = string(st.LastAttempt.Status)
			rep.Reason = st.LastAttempt.Reason
			if rep.Diagnostics, err = db.Diagnostics(ctx, st.LastAttempt.ID); err != nil {
				return rep, err
			}
		}
	}
	if rep.Diagnostics == nil {
		rep.Diagnostics = catalog.Diagnostics{}
	}
	return rep, nil
}

// printIndexReport prints rep and returns errFindings unless the index
// serves the head.
func (a *app) printIndexReport(rep indexReport, output string) error {
	if isTerminal(a.stderr) {
		fmt.Fprint(a.stderr, "\r\033[K")
	}
	if output == outputJSON {
		if err := writeJSONTo(a.stdout, rep); err != nil {
			return err
		}
	} else {
		for _, d := range rep.Diagnostics {
			fmt.Fprintln(a.stdout, d)
		}
		switch {
		case rep.UpToDate && rep.Status == string(index.StatusApplied):
			fmt.Fprintf(a.stdout, "%s: already applied (%d entities)\n", short(rep.Commit), rep.Entities)
		case rep.UpToDate:
			fmt.Fprintf(a.stdout, "%s: already reconciled: %s; the index keeps %s\n", short(rep.Commit), rep.Status, describeApplied(rep.AppliedCommit))
		case rep.Status == string(index.StatusApplied):
			fmt.Fprintf(a.stdout, "%s: applied (%d entities; %d inserted, %d updated, %d deleted; %s)\n", short(rep.Commit),
				rep.Entities, rep.Inserted, rep.Updated, rep.Deleted, time.Duration(rep.DurationMS)*time.Millisecond)
		default:
			fmt.Fprintf(a.stdout, "%s: %s (%s); the index keeps %s\n", short(rep.Commit), rep.Status,
				time.Duration(rep.DurationMS)*time.Millisecond, describeApplied(rep.AppliedCommit))
		}
		// A failure's reason repeats its first error, printed above.
		if rep.Reason != "" && rep.Status != string(index.StatusFailed) {
			fmt.Fprintln(a.stdout, rep.Reason)
		}
	}
	if rep.Status != "" && rep.Status != string(index.StatusApplied) {
		return errFindings
	}
	return nil
}

func describeApplied(commit string) string {
	if commit == "" {
		return "no revision (none applied yet)"
	}
	return short(commit)
}
