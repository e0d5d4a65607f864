package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/berth-dev/berth/pkg/catalog"
	"github.com/berth-dev/berth/pkg/edit"
	"github.com/berth-dev/berth/pkg/schema"
	"github.com/rogpeppe/go-internal/diff"
	"github.com/spf13/cobra"
)

func (a *app) pagesCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "pages",
		Short: "List pages, show and change their read permissions, lock and unlock them",
		Long: `Pages are the portal's dashboards and catalog pages (pages/ in the catalog). Port changes
them through PATCH requests; in berth the catalog changes only through pull requests, so
these commands edit the page's file in place — keeping its comments, key order and the
other objects of the file — and you commit the change and open a pull request.

  list          every page with its type, lock and effective read permissions
  permissions   print a page's read permissions, or change them with --patch
  lock, unlock  lock or unlock a page's widgets

The API answers PATCH on /v1/pages/{id} and /v1/pages/{id}/permissions with 405 and the
berth command to run instead.`,
		Example: `  berth pages list catalog
  berth pages permissions services catalog
  berth pages permissions services --patch '{"read": {"roles": ["Admin"]}}' catalog
  berth pages lock team_dashboard catalog`,
		Args: args(cobra.ArbitraryArgs),
		RunE: func(cmd *cobra.Command, argv []string) error {
			if len(argv) > 0 {
				return usageError{fmt.Errorf("unknown command %q for berth pages", argv[0])}
			}
			return cmd.Help()
		},
	}
	cmd.AddCommand(a.pagesListCmd(), a.pagesPermissionsCmd(), a.pagesLockCmd(true), a.pagesLockCmd(false))
	return cmd
}

// pageRow is one page as berth pages list prints it.
type pageRow struct {
	Identifier  string          `json:"identifier"`
	Type        string          `json:"type"`
	Title       string          `json:"title"`
	Locked      bool            `json:"locked"`
	System      bool            `json:"system"`
	Permissions pagePermissions `json:"permissions"`
	File        string          `json:"file"`
	Line        int             `json:"line"`
}

// pagePermissions is the body of GET /v1/pages/{id}/permissions, and of
// the permissions berth pages prints.
type pagePermissions struct {
	Read   catalog.PermissionSet  `json:"read"`
	Update *catalog.PermissionSet `json:"update,omitempty"`
}

func (a *app) pagesListCmd() *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:   "list [DIR]",
		Short: "List the catalog's pages with their effective read permissions",
		Long: `List prints every page of the catalog in DIR (default: the current directory): identifier,
type, title, whether it is locked, who may read it (a page that sets no read permissions
is read by Admin and Member) and where it is defined. Admins read every page.

Only pages/ is read, so it is quick on large catalogs. Page files that cannot be read are
reported on stderr and the exit status is 1.

--output json prints [{identifier, type, title, locked, system, permissions: {read:
{roles, users, teams}}, file, line}].`,
		Example: `  berth pages list catalog
  berth pages list -o json . | jq -r '.[] | select(.permissions.read.roles | index("Member") | not) | .identifier'`,
		Args: args(cobra.MaximumNArgs(1)),
		RunE: func(cmd *cobra.Command, argv []string) error {
			dir, err := catalogDir(output, argv)
			if err != nil {
				return err
			}
			cat, diags, err := edit.Pages(cmd.Context(), os.DirFS(dir))
			if err != nil {
				return err
			}
			rows := make([]pageRow, 0, len(cat.Pages))
			for _, p := range cat.Pages {
				rows = append(rows, pageRow{
					Identifier: p.Identifier, Type: p.Type, Title: p.Title, Locked: p.Locked,
					System:      catalog.IsSystemPage(p.Identifier),
					Permissions: pagePermissions{Read: p.ReadPermissions()},
					File:        p.Doc.File, Line: p.Doc.Pos().Line,
				})
			}
			slices.SortFunc(rows, func(x, y pageRow) int { return strings.Compare(x.Identifier, y.Identifier) })
			if output == outputJSON {
				if err := writeJSON(a.stdout, rows); err != nil {
					return err
				}
			} else {
				tw := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "PAGE\tTYPE\tTITLE\tLOCKED\tREAD\tFILE")
				for _, r := range rows {
					locked := "-"
					if r.Locked {
						locked = "locked"
					}
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s:%d\n", r.Identifier, r.Type, orDash(r.Title), locked,
						describeSet(r.Permissions.Read), r.File, r.Line)
				}
				if err := tw.Flush(); err != nil {
					return err
				}
			}
			if diags.HasErrors() {
				for _, d := range diags.Errors() {
					fmt.Fprintln(a.stderr, d)
				}
				return errFindings
			}
			return nil
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", outputText, "output format: text or json")
	return cmd
}

func (a *app) pagesPermissionsCmd() *cobra.Command {
	var output, patch string
	var dryRun bool
	cmd := &cobra.Command{
		Use:   "permissions PAGE [DIR]",
		Short: "Print a page's read permissions, or change them with --patch (edits the page's file)",
		Long: `Without --patch, permissions prints who may read PAGE, exactly as GET
/v1/pages/{id}/permissions answers: {"read": {"roles": [...], "users": [...], "teams": [...]}}.
A page that sets no read permissions is read by Admin and Member.

With --patch, it does what Port's PATCH /v1/pages/{id}/permissions does, to the page's file:
only the keys present in the body change, and a present list replaces the old one, so
removing a role means leaving it out. "update" is accepted the same way. The edited file is
validated before it is written; comments, key order and the file's other objects are kept.
It prints each list before → after and what to commit. --dry-run prints the diff instead
of writing. System pages (status, audit_log) cannot be changed.

--output json prints {page, file, changed, written, before, after} for --patch.
Exit status: 0 done (or nothing to change), 1 the edit is refused or invalid, 2 a bad
patch, page or directory.`,
		Example: `  berth pages permissions services catalog
  berth pages permissions services --patch '{"read": {"roles": ["Admin", "Member", "Services-Moderator"]}}' catalog
  berth pages permissions services --patch '{"read": {"roles": ["Admin"]}}'       # remove Member
  berth pages permissions services --patch '{"read": {"users": ["ann@example.com"], "teams": ["platform"]}}' --dry-run`,
		Args: args(cobra.RangeArgs(1, 2)),
		RunE: func(cmd *cobra.Command, argv []string) error {
			dir, err := catalogDir(output, argv[1:])
			if err != nil {
				return err
			}
			id := argv[0]
			if !cmd.Flags().Changed("patch") {
				if dryRun {
					return usageError{errors.New("--dry-run needs --patch")}
				}
				cat, _, err := edit.Pages(cmd.Context(), os.DirFS(dir))
				if err != nil {
					return err
				}
				p, err := edit.FindPage(cat, id)
				if err != nil {
					return pageError(err)
				}
				return writeJSON(a.stdout, pagePermissions{Read: p.ReadPermissions()})
			}
			pt, err := edit.ParsePatch([]byte(patch))
			if err != nil {
				return usageError{fmt.Errorf("--patch: %w", err)}
			}
			ed, err := a.openEditor(cmd, dir)
			if err != nil {
				return err
			}
			e, err := ed.PatchPermissions(cmd.Context(), id, pt)
			if err != nil {
				return a.editError(err)
			}
			var sets []string
			for _, s := range []string{"read", "update"} {
				if (s == "read" && pt.Read != nil) || (s == "update" && pt.Update != nil) {
					sets = append(sets, s)
				}
			}
			return a.finishEdit(e, dir, id, output, dryRun, editReport{
				same:   "already has these permissions",
				commit: fmt.Sprintf("pages: %s %s permissions", id, strings.Join(sets, " and ")),
				changes: func(w io.Writer) {
					for _, s := range sets {
						before, after := edit.Effective(e.Page, s), edit.Effective(e.Edited, s)
						for _, l := range []string{"roles", "users", "teams"} {
							b, af := list(before, l), list(after, l)
							if slices.Equal(b, af) {
								fmt.Fprintf(w, "  %s.%s: %s (unchanged)\n", s, l, formatList(b))
							} else {
								fmt.Fprintf(w, "  %s.%s: %s → %s\n", s, l, formatList(b), formatList(af))
							}
						}
					}
				},
				perms: func(p *catalog.Page) pagePermissions {
					pp := pagePermissions{Read: p.ReadPermissions()}
					if pt.Update != nil {
						u := edit.Effective(p, "update")
						pp.Update = &u
					}
					return pp
				},
			})
		},
	}
	cmd.Flags().StringVar(&patch, "patch", "", `a PATCH body: {"read": {"roles"|"users"|"teams": [...]}, "update": {...}}`)
	cmd.Flags().BoolVar(&dryRun, "dry-run", false, "print the diff, write nothing")
	cmd.Flags().StringVarP(&output, "output", "o", outputText, "output format: text or json")
	return cmd
}

func (a *app) pagesLockCmd(lock bool) *cobra.Command {
	var output string
	var dryRun bool
	verb, state := "unlock", "unlocked"
	if lock {
		verb, state = "lock", "locked"
	}
	cmd := &cobra.Command{
		Use:   verb + " PAGE [DIR]",
		Short: strings.ToUpper(verb[:1]) + verb[1:] + " a page's widgets (edits the page's file)",
		Long: fmt.Sprintf(`%s sets locked: %v in PAGE's file, as Port's PATCH /v1/pages/{id} with
{"locked": %v} does; a locked page's widget filters cannot be overridden by viewers. The
edited file is validated before it is written, keeping comments, key order and the file's
other objects. A page already %s is left alone. --dry-run prints the diff instead.

--output json prints {page, file, changed, written, before, after}.`,
			strings.ToUpper(verb[:1])+verb[1:], lock, lock, state),
		Example: fmt.Sprintf(`  berth pages %[1]s team_dashboard catalog
  berth pages %[1]s team_dashboard --dry-run`, verb),
		Args: args(cobra.RangeArgs(1, 2)),
		RunE: func(cmd *cobra.Command, argv []string) error {
			dir, err := catalogDir(output, argv[1:])
			if err != nil {
				return err
			}
			ed, err := a.openEditor(cmd, dir)
			if err != nil {
				return err
			}
			e, err := ed.SetLocked(cmd.Context(), argv[0], lock)
			if err != nil {
				return a.editError(err)
			}
			return a.finishEdit(e, dir, argv[0], output, dryRun, editReport{
				same:   "is already " + state,
				commit: fmt.Sprintf("pages: %s %s", verb, argv[0]),
				changes: func(w io.Writer) {
					fmt.Fprintf(w, "  locked: %v → %v\n", e.Page.Locked, e.Edited.Locked)
				},
				perms: func(p *catalog.Page) pagePermissions { return pagePermissions{Read: p.ReadPermissions()} },
			})
		},
	}
	cmd.Flags().BoolVar(&dryRun, "dry-run", false, "print the diff, write nothing")
	cmd.Flags().StringVarP(&output, "output", "o", outputText, "output format: text or json")
	return cmd
}

// editResult is the JSON report of an edit.
type editResult struct {
	Page    string     `json:"page"`
	File    string     `json:"file"`
	Changed bool       `json:"changed"`
	Written bool       `json:"written"`
	Before  pageReport `json:"before"`
	After   pageReport `json:"after"`
}

type pageReport struct {
	Locked      bool            `json:"locked"`
	Permissions pagePermissions `json:"permissions"`
}

// editReport says how finishEdit reports an edit: what an edit that
// changes nothing means, the commit message to suggest, the lines that
// say what changed, and the permissions for JSON.
type editReport struct {
	same, commit string
	changes      func(io.Writer)
	perms        func(*catalog.Page) pagePermissions
}

// finishEdit writes e (unless dryRun) and reports it.
func (a *app) finishEdit(e *edit.Edit, dir, id, output string, dryRun bool, r editReport) error {
	path := filepath.Join(dir, filepath.FromSlash(e.File))
	written := false
	if e.Changed() && !dryRun {
		if err := e.Write(dir); err != nil {
			return err
		}
		written = true
	}
	if output == outputJSON {
		return writeJSON(a.stdout, editResult{
			Page: id, File: path, Changed: e.Changed(), Written: written,
			Before: pageReport{e.Page.Locked, r.perms(e.Page)},
			After:  pageReport{e.Edited.Locked, r.perms(e.Edited)},
		})
	}
	if !e.Changed() {
		fmt.Fprintf(a.stdout, "%s: page %q %s; nothing to change\n", path, id, r.same)
		return nil
	}
	fmt.Fprintf(a.stdout, "%s: page %q\n", path, id)
	r.changes(a.stdout)
	if dryRun {
		a.stdout.Write(diff.Diff("a/"+filepath.ToSlash(path), e.Before, "b/"+filepath.ToSlash(path), e.After))
		fmt.Fprintln(a.stdout, "dry run: nothing written")
		return nil
	}
	fmt.Fprintf(a.stdout, "wrote %s; next: commit it and open a pull request (git add %s && git commit -m %s)\n",
		path, shellWord(path), shellWord(r.commit))
	return nil
}

// openEditor loads the catalog in dir for editing.
func (a *app) openEditor(cmd *cobra.Command, dir string) (*edit.Editor, error) {
	v, err := schema.New()
	if err != nil {
		return nil, fmt.Errorf("compile schemas: %w", err)
	}
	return edit.Open(cmd.Context(), os.DirFS(dir), v)
}

// editError prints an invalid edit's diagnostics and maps edit's errors to
// exit codes: a bad patch or unknown page is a usage error.
func (a *app) editError(err error) error {
	var ie *edit.InvalidError
	if errors.As(err, &ie) {
		for _, d := range ie.Diagnostics {
			fmt.Fprintln(a.stderr, d)
		}
	}
	return pageError(err)
}

func pageError(err error) error {
	if errors.Is(err, edit.ErrBadPatch) || errors.Is(err, edit.ErrNotFound) {
		return usageError{err}
	}
	return err
}

// catalogDir checks the --output format and returns the DIR argument, "."
// by default, checking it is a directory.
func catalogDir(output string, argv []string) (string, error) {
	if err := checkOutput(output, outputText, outputJSON); err != nil {
		return "", err
	}
	dir := "."
	if len(argv) > 0 {
		dir = argv[0]
	}
	if st, err := os.Stat(dir); err != nil || !st.IsDir() {
		return "", usageError{fmt.Errorf("%s is not a directory", dir)}
	}
	return dir, nil
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}

func list(ps catalog.PermissionSet, name string) []string {
	switch name {
	case "users":
		return ps.Users
	case "teams":
		return ps.Teams
	}
	return ps.Roles
}

func formatList(l []string) string { return "[" + strings.Join(l, ", ") + "]" }

// describeSet says who a read permission set admits, for a table cell.
func describeSet(ps catalog.PermissionSet) string {
	var parts []string
	for _, l := range []string{"roles", "users", "teams"} {
		if items := list(ps, l); len(items) > 0 {
			parts = append(parts, l+": "+strings.Join(items, ","))
		}
	}
	if len(parts) == 0 {
		return "Admins only"
	}
	return strings.Join(parts, "; ")
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// shellWord quotes a path for the hint line when a shell would split it.
func shellWord(s string) string {
	if strings.ContainsAny(s, " \t\n'\"\\$`;&|<>()*?[]#~") {
		return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
	}
	return s
}
