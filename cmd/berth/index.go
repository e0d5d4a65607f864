package main

import (
	"encoding/json"
	"io"

	"github.com/spf13/cobra"
)

func writeJSONTo(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

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

Exit status: 0 applied or already up to date, 1 failed or held, 2 usage.
'berth reconcile --once' is the same command.`,
		Example: `  berth index --repo . --dir catalog-example --db berth.db
  berth index --repo https://github.com/acme/catalog --branch main --db /var/lib/berth/berth.db
  berth reconcile --once --allow-mass-delete`,
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
			return a.printResult(res, output)
		},
	}
	f.register(cmd)
	cmd.Flags().StringVarP(&output, "output", "o", outputText, "output format: text or json")
	cmd.Flags().Bool("once", true, "reconcile once and exit (the only mode of this command; 'berth serve' keeps following)")
	return cmd
}
