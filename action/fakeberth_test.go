package action

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path"
	"strings"

	"github.com/berth-dev/berth/pkg/catalog"
	"github.com/berth-dev/berth/pkg/checks"
	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"
)

// fakeBerth stands in for `berth check` (built elsewhere) with its flags: it
// resolves base and head in the real repository, finds the files changed
// under --dir, reports every line saying BROKEN as an error and, with
// --github, publishes through pkg/checks. It echoes its arguments first so
// that scripts can see exactly what run.sh passed.
func fakeBerth() {
	os.Exit(fakeCheck(os.Args[1:], os.Stdout, os.Stderr))
}

func fakeCheck(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] != "check" {
		fmt.Fprintln(stderr, "usage: berth check [flags]")
		return 2
	}
	fs := flag.NewFlagSet("berth check", flag.ContinueOnError)
	fs.SetOutput(stderr)
	base := fs.String("base", "", "")
	head := fs.String("head", "", "")
	repo := fs.String("repo", ".", "")
	dir := fs.String("dir", ".", "")
	failOn := fs.String("fail-on", "gate", "")
	gh := fs.Bool("github", false, "")
	comment := fs.Bool("comment", false, "")
	if err := fs.Parse(args[1:]); err != nil {
		return 2
	}
	for _, a := range args {
		fmt.Fprintf(stdout, "arg %q\n", a)
	}

	r, err := git.PlainOpen(*repo)
	if err != nil {
		fmt.Fprintln(stderr, "berth:", err)
		return 1
	}
	headTree, err := tree(r, *head)
	if err != nil {
		fmt.Fprintln(stderr, "berth: head:", err)
		return 1
	}
	var changed []string
	if *base == "" {
		_ = headTree.Files().ForEach(func(f *object.File) error { changed = append(changed, f.Name); return nil })
	} else {
		baseTree, err := tree(r, *base)
		if err != nil {
			fmt.Fprintln(stderr, "berth: base:", err)
			return 1
		}
		chs, err := object.DiffTree(baseTree, headTree)
		if err != nil {
			fmt.Fprintln(stderr, "berth: diff:", err)
			return 1
		}
		for _, c := range chs {
			if c.To.Name != "" {
				changed = append(changed, c.To.Name)
			}
		}
	}

	prefix := strings.Trim(path.Clean(*dir), "/")
	var diags catalog.Diagnostics
	for _, name := range changed {
		rel := name
		if prefix != "." {
			var ok bool
			if rel, ok = strings.CutPrefix(name, prefix+"/"); !ok {
				continue
			}
		}
		f, err := headTree.File(name)
		if err != nil {
			continue
		}
		text, err := f.Contents()
		if err != nil {
			continue
		}
		sc := bufio.NewScanner(strings.NewReader(text))
		for n := 1; sc.Scan(); n++ {
			if col := strings.Index(sc.Text(), "BROKEN"); col >= 0 {
				diags = append(diags, catalog.Errorf(catalog.Position{File: rel, Line: n, Col: col + 1}, catalog.CodeEntitySchema, "%s", strings.TrimSpace(sc.Text())))
			}
		}
	}
	fmt.Fprintf(stdout, "changed %d files, %d errors\n", len(changed), len(diags))

	rep := checks.Report{Title: "Catalog valid", Conclusion: checks.Success, Annotations: checks.FromDiagnostics(*dir, diags)}
	if len(diags) > 0 {
		rep.Title, rep.Conclusion = fmt.Sprintf("%d errors", len(diags)), checks.Failure
	}
	if *gh {
		env, err := checks.FromEnv(os.Getenv)
		if err != nil {
			fmt.Fprintln(stderr, "berth:", err)
			return 1
		}
		var sum strings.Builder
		fmt.Fprintf(&sum, "## berth\n\n%d files changed.\n", len(changed))
		for _, a := range rep.Annotations {
			fmt.Fprintf(&sum, "- [%s:%d](%s): %s\n", a.Path, a.StartLine, env.FileURL(a.Path, a.StartLine), a.Message)
		}
		rep.Summary = sum.String()
		log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{
			ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
				if a.Key == slog.TimeKey {
					return slog.Attr{}
				}
				return a
			},
		}))
		res, err := checks.Publish(context.Background(), env, rep, checks.Options{Comment: *comment, Stdout: stdout, Logger: log})
		if err != nil {
			fmt.Fprintln(stderr, "berth:", err)
			return 1
		}
		fmt.Fprintf(stdout, "check run %d, comment %d, fallback %v\n", res.CheckRunID, res.CommentID, res.Fallback)
	}
	if len(diags) > 0 && *failOn != "never" {
		return 1
	}
	return 0
}

func tree(r *git.Repository, rev string) (*object.Tree, error) {
	h, err := r.ResolveRevision(plumbing.Revision(rev))
	if err != nil {
		return nil, err
	}
	c, err := r.CommitObject(*h)
	if err != nil {
		return nil, err
	}
	return c.Tree()
}
