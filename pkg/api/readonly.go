package api

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/berth-dev/berth/pkg/edit"
	"github.com/berth-dev/berth/pkg/index"
)

// fallback answers the /v1 routes no read matched: writes are refused as
// read-only with the file to change, anything else is not found.
func (s *Server) fallback(w http.ResponseWriter, r *http.Request) {
	switch r.Method {
	case http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete:
		writeError(w, &apiError{kindReadOnly, s.readOnlyMessage(r)})
	default:
		writeError(w, errorf(kindNotFound, "no route %s %s", r.Method, r.URL.Path))
	}
}

// readOnlyMessage says where the change belongs: the file of the object
// the request addresses when the index knows it, else where a new one
// would go.
func (s *Server) readOnlyMessage(r *http.Request) string {
	repo := s.cfg.Repo
	if repo == "" {
		repo = "the catalog's Git repository"
	}
	if cmd := pageCommand(r); cmd != "" {
		return fmt.Sprintf("berth serves the catalog read-only from Git: in a checkout of %s run\n  %s\n"+
			"then commit the change and open a pull request (an Admin must author it); berth applies it once merged",
			repo, cmd)
	}
	where := s.fileFor(r)
	return fmt.Sprintf("berth serves the catalog read-only from Git: %s in %s and open a pull request; "+
		"berth applies it once merged", where, repo)
}

// pageCommand returns the berth command that makes, as a change for a pull
// request, what a PATCH of a page's permissions or lock asks for; "" for
// any other request.
func pageCommand(r *http.Request) string {
	if r.Method != http.MethodPatch && r.Method != http.MethodPut {
		return ""
	}
	seg := strings.Split(strings.Trim(strings.TrimPrefix(r.URL.Path, "/v1/"), "/"), "/")
	if len(seg) < 2 || seg[0] != "pages" || seg[1] == "" {
		return ""
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return ""
	}
	switch {
	case len(seg) == 3 && seg[2] == "permissions":
		return edit.PatchCommand(seg[1], body)
	case len(seg) == 2:
		if cmd, ok := edit.PageCommand(seg[1], body); ok {
			return cmd
		}
	}
	return ""
}

func (s *Server) fileFor(r *http.Request) string {
	ctx := r.Context()
	seg := strings.Split(strings.Trim(strings.TrimPrefix(r.URL.Path, "/v1/"), "/"), "/")
	at := func(i int) string {
		if i < len(seg) {
			return seg[i]
		}
		return ""
	}
	file := func(f string, line int) string {
		if line > 0 {
			return fmt.Sprintf("edit %s (line %d)", f, line)
		}
		return "edit " + f
	}
	switch at(0) {
	case "blueprints":
		bp := at(1)
		switch {
		case bp == "":
			return "add a blueprint file under blueprints/"
		case at(2) == "entities" && at(3) != "":
			// Only an entity the caller may read has a file to name.
			var e index.Entity
			err := s.readTx(r, func(rd *reader) (err error) {
				e, err = rd.findEntity(bp, at(3))
				return err
			})
			if err == nil && e.File != "" {
				return file(e.File, e.Line)
			}
			return fmt.Sprintf("add the entity to a file under entities/%s/", bp)
		case at(2) == "entities" && r.Method == http.MethodPost:
			if id := bodyIdentifier(r); id != "" {
				return fmt.Sprintf("add entities/%s/%s.yaml (or add it to another file under entities/%s/)", bp, id, bp)
			}
			return fmt.Sprintf("add or change the entity files under entities/%s/", bp)
		case at(2) == "entities" || at(2) == "entities-count":
			return fmt.Sprintf("add or change the entity files under entities/%s/", bp)
		case at(2) == "scorecards" && at(3) != "":
			if o, err := s.db.Scorecard(ctx, bp, at(3)); err == nil && o.File != "" {
				return file(o.File, o.Line)
			}
			return "add a scorecard file under scorecards/"
		case at(2) == "scorecards":
			return "add or change a scorecard file under scorecards/"
		}
		if o, err := s.db.Blueprint(ctx, bp); err == nil && o.File != "" {
			return file(o.File, o.Line)
		}
		return "add a blueprint file under blueprints/"
	case "actions":
		return s.objectFile(r, index.KindAction, at(1), "actions/", file)
	case "pages":
		return s.objectFile(r, index.KindPage, at(1), "pages/", file)
	case "scorecards":
		return "add or change a scorecard file under scorecards/"
	}
	return "change the catalog files"
}

func (s *Server) objectFile(r *http.Request, kind index.ObjectKind, id, dir string, file func(string, int) string) string {
	if id != "" {
		var o index.Object
		err := s.readTx(r, func(rd *reader) (err error) {
			if o, err = rd.object(kind, "", id); err == nil && kind == index.KindPage {
				_, _, err = rd.findPage(id) // a hidden page has no file to name
			}
			return err
		})
		if err == nil && o.File != "" {
			return file(o.File, o.Line)
		}
	}
	return "add or change a file under " + dir
}

// bodyIdentifier returns the identifier of the entity a create request
// sends, when it is a plain file name.
func bodyIdentifier(r *http.Request) string {
	var body struct {
		Identifier string `json:"identifier"`
	}
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
		return ""
	}
	id := body.Identifier
	if id == "" || id == "." || id == ".." || strings.ContainsAny(id, "/\\\x00") {
		return ""
	}
	return id
}
