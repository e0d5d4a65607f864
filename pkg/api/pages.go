package api

import (
	"encoding/json"
	"fmt"
	"net/http"

	"github.com/berth-dev/berth/pkg/catalog"
	"github.com/berth-dev/berth/pkg/index"
)

// pages is Port's GET /v1/pages: the pages the caller may read.
func (s *Server) pages(w http.ResponseWriter, r *http.Request) {
	s.read(w, r, nil, func(rd *reader) (any, error) {
		objs, err := index.ObjectsTx(rd.ctx, rd.tx, index.KindPage, "")
		if err != nil {
			return nil, err
		}
		out := []json.RawMessage{}
		for _, o := range objs {
			p, doc, err := decodePage(o)
			if err != nil {
				return nil, err
			}
			if rd.canReadPage(p) {
				out = append(out, doc)
			}
		}
		return map[string]any{"ok": true, "pages": out}, nil
	})
}

// page is Port's GET /v1/pages/{id}; a page the caller may not read is
// not found, exactly like a missing one.
func (s *Server) page(w http.ResponseWriter, r *http.Request) {
	s.read(w, r, nil, func(rd *reader) (any, error) {
		_, doc, err := rd.findPage(r.PathValue("id"))
		if err != nil {
			return nil, err
		}
		return map[string]any{"ok": true, "page": doc}, nil
	})
}

// pagePermissions is Port's GET /v1/pages/{id}/permissions: exactly
// {read: {roles, users, teams}}, for any authenticated caller (as in Port)
// and any catalog page. The system pages' permissions are fixed (Admins
// only) and cannot be asked for, whether or not a catalog file describes
// the page.
func (s *Server) pagePermissions(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	s.read(w, r, nil, func(rd *reader) (any, error) {
		if catalog.IsSystemPage(id) {
			// berth's own pages: fixed, Admins only, whether or not a
			// catalog file describes them (it may not set permissions).
			return map[string]any{"read": catalog.AdminsOnly()}, nil
		}
		o, err := rd.object(index.KindPage, "", id)
		if err != nil {
			return nil, err
		}
		p, _, err := decodePage(o)
		if err != nil {
			return nil, err
		}
		return map[string]any{"read": p.ReadPermissions()}, nil
	})
}

// findPage reads a page the caller may read, answering not_found for one
// that is missing or hidden from the caller.
func (rd *reader) findPage(id string) (*catalog.Page, json.RawMessage, error) {
	o, err := rd.object(index.KindPage, "", id)
	if err != nil {
		return nil, nil, err
	}
	p, doc, err := decodePage(o)
	if err != nil {
		return nil, nil, err
	}
	if !rd.canReadPage(p) {
		return nil, nil, errorf(kindNotFound, "page %q not found", id)
	}
	return p, doc, nil
}

func (rd *reader) canReadPage(p *catalog.Page) bool {
	return rd.who.admin || rd.meta.rules.CanReadPage(rd.who.subject, p)
}

// decodePage decodes a stored page and renders it for the API: berth's
// source field added, and locked always present (false unless the file
// locks the page).
func decodePage(o index.Object) (*catalog.Page, json.RawMessage, error) {
	var p catalog.Page
	if err := json.Unmarshal(o.Doc, &p); err != nil {
		return nil, nil, fmt.Errorf("decode page %s: %w", o.Identifier, err)
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(o.Doc, &m); err != nil {
		return nil, nil, fmt.Errorf("decode page %s: %w", o.Identifier, err)
	}
	if _, ok := m["locked"]; !ok {
		m["locked"] = json.RawMessage("false")
	}
	doc, err := json.Marshal(m)
	if err != nil {
		return nil, nil, fmt.Errorf("encode page %s: %w", o.Identifier, err)
	}
	o.Doc = doc
	out, err := object(o)
	return &p, out, err
}

// blueprintPermissions is Port's GET /v1/blueprints/{bp}/permissions:
// {ok, permissions: {entities: {read: {roles, users, teams, ownedByTeam,
// policy?}}}}. A blueprint that sets none is read by Admins and Members,
// and is answered so.
func (s *Server) blueprintPermissions(w http.ResponseWriter, r *http.Request) {
	s.read(w, r, nil, func(rd *reader) (any, error) {
		bp, err := rd.blueprint(r.PathValue("bp"))
		if err != nil {
			return nil, err
		}
		read := map[string]any{"roles": []string{catalog.RoleAdmin, catalog.RoleMember}, "users": []string{},
			"teams": []string{}, "ownedByTeam": false}
		if p := bp.Permissions; p != nil && p.Entities != nil && p.Entities.Read != nil {
			g := p.Entities.Read
			eff := catalog.PermissionSet{Roles: g.Roles, Users: g.Users, Teams: g.Teams}.Lists()
			read = map[string]any{"roles": eff.Roles, "users": eff.Users, "teams": eff.Teams, "ownedByTeam": g.OwnedByTeam}
			if g.Policy != nil {
				read["policy"] = g.Policy
			}
		}
		return map[string]any{"ok": true, "permissions": map[string]any{"entities": map[string]any{"read": read}}}, nil
	})
}
