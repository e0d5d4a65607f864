package edit

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/berth-dev/berth/pkg/catalog"
	"github.com/berth-dev/berth/pkg/schema"
	"github.com/berth-dev/berth/pkg/validate"
)

var (
	// ErrNotFound is returned when no page has the identifier asked for.
	ErrNotFound = errors.New("no such page")
	// ErrBadPatch is returned for a patch body that is not a page
	// permissions patch.
	ErrBadPatch = errors.New("bad patch")
	// ErrSystemPage is returned for an attempt to change a system page's
	// permissions.
	ErrSystemPage = errors.New("system page")
	// ErrLayout is returned when the file's YAML cannot be edited in place
	// without changing more than the edit: aliases, shared anchors, merge
	// keys, layouts no line range isolates.
	ErrLayout = errors.New("cannot edit in place")
	// ErrInvalid is returned, wrapped in an *InvalidError, when the edited
	// file would not validate.
	ErrInvalid = errors.New("the edit leaves the file invalid")
	// ErrChanged is returned by Write when the file changed since it was
	// read.
	ErrChanged = errors.New("file changed since it was read")
)

// InvalidError lists the errors berth's validation finds in an edited
// file. It matches ErrInvalid with errors.Is.
type InvalidError struct {
	File        string
	Diagnostics catalog.Diagnostics
}

// Error names the file and how many errors the edit would leave.
func (e *InvalidError) Error() string {
	return fmt.Sprintf("%s: %v (%d errors; nothing written)", e.File, ErrInvalid, len(e.Diagnostics))
}

// Is makes errors.Is(err, ErrInvalid) true.
func (e *InvalidError) Is(target error) bool { return target == ErrInvalid }

// Editor edits the pages of one catalog tree.
type Editor struct {
	fsys fs.FS
	v    *schema.Validator
	cat  *catalog.Catalog
}

// Open reads the whole catalog in fsys (parsed and decoded, without CUE)
// for editing its pages; v validates each edit. The error is non-nil only
// when the tree cannot be read or ctx ends: problems in the catalog's files
// surface when a page is looked up or an edit is validated.
func Open(ctx context.Context, fsys fs.FS, v *schema.Validator) (*Editor, error) {
	cat, err := catalog.Load(ctx, fsys, catalog.Options{})
	if err != nil {
		return nil, fmt.Errorf("load catalog: %w", err)
	}
	cat.Build()
	return &Editor{fsys: fsys, v: v, cat: cat}, nil
}

// Pages reads only the pages of the catalog in fsys (and berth.yaml, whose
// limits apply), parsed and decoded without CUE: enough to list pages and
// tell their permissions, and fast on large catalogs. The diagnostics are
// the problems found reading and decoding page files. The error is non-nil
// only when the tree cannot be read or ctx ends.
func Pages(ctx context.Context, fsys fs.FS) (*catalog.Catalog, catalog.Diagnostics, error) {
	cat, err := catalog.Load(ctx, pagesFS{fsys}, catalog.Options{})
	if err != nil {
		return nil, nil, fmt.Errorf("load pages: %w", err)
	}
	diags := append(cat.Diagnostics(), cat.Build()...)
	return cat, diags.Sort(), nil
}

// FindPage returns the page with identifier id among cat's built pages.
// It fails with ErrNotFound when there is none, and when id is defined
// twice or its document does not decode as a page.
func FindPage(cat *catalog.Catalog, id string) (*catalog.Page, error) {
	var found []*catalog.Page
	for _, p := range cat.Pages {
		if p.Identifier == id {
			found = append(found, p)
		}
	}
	switch len(found) {
	case 1:
		return found[0], nil
	case 0:
	default:
		return nil, fmt.Errorf("page %q is defined %d times (%s and %s): remove the duplicate first",
			id, len(found), found[0].Doc.Pos(), found[1].Doc.Pos())
	}
	for _, d := range cat.Docs(catalog.KindPage) {
		if d.Identifier() == id {
			return nil, fmt.Errorf("page %q at %s is not a valid page: run berth validate", id, d.Pos())
		}
	}
	var ids, broken []string
	for _, p := range cat.Pages {
		ids = append(ids, p.Identifier)
	}
	for _, f := range cat.Files {
		if f.Kind == catalog.KindPage && f.Diags.HasErrors() {
			broken = append(broken, f.Path)
		}
	}
	slices.Sort(ids)
	hint := ""
	switch {
	case len(ids) == 0:
		hint = "; the catalog has no pages/ files"
	case len(ids) <= 20:
		hint = "; pages: " + strings.Join(ids, ", ")
	default:
		hint = fmt.Sprintf("; %d pages (berth pages list)", len(ids))
	}
	if len(broken) > 0 {
		hint += "; " + strings.Join(broken, ", ") + " could not be read (berth validate)"
	}
	return nil, fmt.Errorf("%w %q%s", ErrNotFound, id, hint)
}

// Edit is a validated change to one catalog file, not yet written.
type Edit struct {
	// File is the file's slash-separated path relative to the catalog root.
	File string
	// Before and After are the file's text before and after the edit; they
	// are equal when the edit changes nothing.
	Before, After []byte
	// Page is the page as read before the edit; Edited is the page read
	// back from After.
	Page, Edited *catalog.Page
}

// Changed reports whether the edit changes the file.
func (e *Edit) Changed() bool { return !bytes.Equal(e.Before, e.After) }

// Write writes After to the file in the catalog directory dir, atomically
// and keeping the file's mode; a symlink's target is written. It fails
// with ErrChanged, writing nothing, when the file no longer holds Before.
func (e *Edit) Write(dir string) error {
	p := filepath.Join(dir, filepath.FromSlash(e.File))
	if real, err := filepath.EvalSymlinks(p); err == nil {
		p = real
	}
	cur, err := os.ReadFile(p)
	if err != nil {
		return fmt.Errorf("write %s: %w", p, err)
	}
	if !bytes.Equal(cur, e.Before) {
		return fmt.Errorf("write %s: %w", p, ErrChanged)
	}
	st, err := os.Stat(p)
	if err != nil {
		return fmt.Errorf("write %s: %w", p, err)
	}
	if err := writeAtomic(p, e.After, st.Mode().Perm()); err != nil {
		return fmt.Errorf("write %s: %w", p, err)
	}
	return nil
}

// writeAtomic writes data to a temporary file beside p and renames it over
// p, so a reader sees the old file or the new one, never part of it.
func writeAtomic(p string, data []byte, perm fs.FileMode) (err error) {
	f, err := os.CreateTemp(filepath.Dir(p), "."+filepath.Base(p)+".*.tmp")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			_ = f.Close()
			_ = os.Remove(f.Name())
		}
	}()
	if _, err := f.Write(data); err != nil {
		return err
	}
	if err := f.Chmod(perm); err != nil {
		return err
	}
	if err := f.Sync(); err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(f.Name(), p)
}

// edit runs change on the page's file and validates the result.
func (e *Editor) edit(ctx context.Context, p *catalog.Page, change func(s *source) error) (*Edit, error) {
	d := p.Doc
	raw, err := fs.ReadFile(e.fsys, d.File)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", d.File, err)
	}
	pos := d.Pos()
	s, err := parseSource(d.File, catalog.YAMLText(d.File, raw), p.Identifier, pos.Line, pos.Col)
	if err != nil {
		return nil, err
	}
	if err := change(s); err != nil {
		return nil, err
	}
	ed := &Edit{File: d.File, Before: raw, After: s.data, Page: p, Edited: p}
	if bytes.Equal(s.data, catalog.YAMLText(d.File, raw)) {
		ed.After = raw
		return ed, nil
	}
	res, err := validate.Changed(ctx, e.v, e.cat, overlayFS{e.fsys, d.File, s.data}, []string{d.File}, validate.Options{})
	if err != nil {
		return nil, fmt.Errorf("validate %s: %w", d.File, err)
	}
	var errs catalog.Diagnostics
	for _, dg := range res.Diagnostics {
		if dg.File == d.File && dg.Severity == catalog.SeverityError {
			errs = append(errs, dg)
		}
	}
	if len(errs) > 0 {
		return nil, &InvalidError{File: d.File, Diagnostics: errs}
	}
	for _, q := range res.Catalog.Pages {
		if q.Identifier == p.Identifier && q.Doc.File == d.File {
			ed.Edited = q
			return ed, nil
		}
	}
	return nil, fmt.Errorf("%s: page %q is missing after the edit", d.File, p.Identifier)
}
