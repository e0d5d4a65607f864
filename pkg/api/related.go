package api

import (
	"net/http"

	"github.com/berth-dev/berth/pkg/catalog"
	"github.com/berth-dev/berth/pkg/index"
)

type edgeOut struct {
	Source   catalog.EntityKey `json:"source"`
	Relation string            `json:"relation"`
	Target   catalog.EntityKey `json:"target"`
}

// related walks the relation graph from one entity: upstream follows its
// relations to what it depends on, downstream finds what relates to it,
// breadth first, up to depth hops (1..MaxRelatedDepth, default 1) and
// limit entities (1..DefaultRelatedLimit). The answer lists the entities
// reached, nearest first, each with its depth, and the relations walked;
// truncated says the limit cut the walk short. Entities the caller may not
// read are not there: the walk stops at them.
func (s *Server) related(w http.ResponseWriter, r *http.Request) {
	bp, id := r.PathValue("bp"), r.PathValue("id")
	q := r.URL.Query()
	sh, err := shapeFromQuery(q)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	dir := q.Get("direction")
	switch dir {
	case "":
		dir = "upstream"
	case "upstream", "downstream":
	default:
		s.fail(w, r, errorf(kindInvalidRequest, "direction: want upstream or downstream, got %q", dir))
		return
	}
	depth, err := intParam(q, "depth", 1, 1, MaxRelatedDepth)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	limit, err := intParam(q, "limit", DefaultRelatedLimit, 1, DefaultRelatedLimit)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.read(w, r, nil, func(rd *reader) (any, error) {
		root, err := rd.findEntity(bp, id)
		if err != nil {
			return nil, err
		}
		upstream := dir == "upstream"
		dist := map[int64]int{root.ID: 0}
		order := []int64{}
		var edges []index.Edge
		frontier := []int64{root.ID}
		truncated := false
	walk:
		for d := 1; d <= depth && len(frontier) > 0; d++ {
			found, err := index.RelationsTx(rd.ctx, rd.tx, frontier, upstream)
			if err != nil {
				return nil, err
			}
			// The walk neither reaches nor passes through an entity the
			// caller may not read.
			others := make([]int64, 0, len(found))
			for _, e := range found {
				others = append(others, e.Other(upstream))
			}
			visible, err := rd.visibleIDs(others)
			if err != nil {
				return nil, err
			}
			var next []int64
			for _, e := range found {
				other := e.Other(upstream)
				if !visible[other] {
					continue
				}
				if _, seen := dist[other]; !seen {
					if len(order) == limit {
						truncated = true
						break walk
					}
					dist[other] = d
					order = append(order, other)
					next = append(next, other)
				}
				edges = append(edges, e)
			}
			frontier = next
		}
		ents, err := index.EntitiesByIDTx(rd.ctx, rd.tx, order)
		if err != nil {
			return nil, err
		}
		byID := make(map[int64]index.Entity, len(ents)+1)
		byID[root.ID] = root
		for _, e := range ents {
			byID[e.ID] = e
		}
		sorted := make([]index.Entity, 0, len(order))
		for _, oid := range order {
			if e, ok := byID[oid]; ok {
				sorted = append(sorted, e)
			}
		}
		rendered, err := rd.entities(sorted, sh, dist)
		if err != nil {
			return nil, err
		}
		out := make([]edgeOut, 0, len(edges))
		for _, e := range edges {
			src, okS := byID[e.Source]
			dst, okT := byID[e.Target]
			if okS && okT {
				out = append(out, edgeOut{
					Source:   catalog.EntityKey{Blueprint: src.Blueprint, Identifier: src.Identifier},
					Relation: e.Relation,
					Target:   catalog.EntityKey{Blueprint: dst.Blueprint, Identifier: dst.Identifier},
				})
			}
		}
		return map[string]any{
			"ok": true, "entity": catalog.EntityKey{Blueprint: root.Blueprint, Identifier: root.Identifier}, "direction": dir, "depth": depth,
			"entities": rendered, "relations": out, "truncated": truncated,
		}, nil
	})
}
