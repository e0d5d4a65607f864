package api

import (
	"math"
	"net/http"
	"slices"
	"time"

	"github.com/berth-dev/berth/pkg/index"
)

func (s *Server) objectList(kind index.ObjectKind, key string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		s.read(w, r, nil, func(rd *reader) (any, error) {
			objs, err := index.ObjectsTx(rd.ctx, rd.tx, kind, "")
			if err != nil {
				return nil, err
			}
			out, err := objects(objs)
			return map[string]any{"ok": true, key: out}, err
		})
	}
}

func (s *Server) objectGet(kind index.ObjectKind, key string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		s.read(w, r, nil, func(rd *reader) (any, error) {
			o, err := rd.object(kind, "", r.PathValue("id"))
			if err != nil {
				return nil, err
			}
			out, err := object(o)
			return map[string]any{"ok": true, key: out}, err
		})
	}
}

func (s *Server) scorecards(w http.ResponseWriter, r *http.Request) {
	s.objectList(index.KindScorecard, "scorecards")(w, r)
}

func (s *Server) blueprintScorecards(w http.ResponseWriter, r *http.Request) {
	bp := r.PathValue("bp")
	s.read(w, r, nil, func(rd *reader) (any, error) {
		if _, err := rd.blueprint(bp); err != nil {
			return nil, err
		}
		objs, err := index.ObjectsTx(rd.ctx, rd.tx, index.KindScorecard, bp)
		if err != nil {
			return nil, err
		}
		out, err := objects(objs)
		return map[string]any{"ok": true, "scorecards": out}, err
	})
}

func (s *Server) scorecard(w http.ResponseWriter, r *http.Request) {
	s.read(w, r, nil, func(rd *reader) (any, error) {
		o, err := rd.object(index.KindScorecard, r.PathValue("bp"), r.PathValue("sc"))
		if err != nil {
			return nil, err
		}
		out, err := object(o)
		return map[string]any{"ok": true, "scorecard": out}, err
	})
}

type historyOut struct {
	Commit string    `json:"commit"`
	At     time.Time `json:"at"`
	// Level is null when the entity left the scorecard (deleted, or no
	// longer matching its filter).
	Level        *string  `json:"level"`
	FailingRules []string `json:"failingRules"`
}

// entityHistory lists the changes of an entity's result on a scorecard,
// oldest first. History outlives deleted entities and scorecards: it is
// not_found only when there is none and the entity or scorecard is gone.
// A caller whose reads are restricted sees the history of entities it may
// read now only: a deleted entity's rules are gone with it.
func (s *Server) entityHistory(w http.ResponseWriter, r *http.Request) {
	bp, id, sc := r.PathValue("bp"), r.PathValue("id"), r.PathValue("sc")
	s.read(w, r, nil, func(rd *reader) (any, error) {
		if !rd.who.unrestricted {
			if _, err := rd.findEntity(bp, id); err != nil {
				return nil, err
			}
		}
		hist, err := index.ScorecardHistoryTx(rd.ctx, rd.tx, bp, id, sc)
		if err != nil {
			return nil, err
		}
		if len(hist) == 0 {
			if _, err := rd.findEntity(bp, id); err != nil {
				return nil, err
			}
			if _, err := rd.object(index.KindScorecard, bp, sc); err != nil {
				return nil, err
			}
		}
		out := make([]historyOut, len(hist))
		for i, h := range hist {
			out[i] = historyOut{Commit: h.Commit, At: h.At, FailingRules: h.FailingRules}
			if h.Level != "" {
				out[i].Level = &h.Level
			}
			if out[i].FailingRules == nil {
				out[i].FailingRules = []string{}
			}
		}
		return map[string]any{"ok": true, "history": out}, nil
	})
}

type levelCount struct {
	Level    string `json:"level"`
	Entities int    `json:"entities"`
}

type ruleStat struct {
	Identifier string  `json:"identifier"`
	Level      string  `json:"level"`
	Passed     int     `json:"passed"`
	Failed     int     `json:"failed"`
	PassRate   float64 `json:"passRate"` // percent
}

type summaryPoint struct {
	Commit   string             `json:"commit"`
	At       time.Time          `json:"at"`
	Entities int                `json:"entities"`
	Levels   map[string]int     `json:"levels"`
	PassRate map[string]float64 `json:"passRate"` // rule → percent
}

// scorecardSummary answers how a scorecard stands over its blueprint's
// entities: entities per level and the pass rate of each rule now, and the
// same at every commit that changed a result (the last `points`, default
// 100), replayed from the scorecard history. Only the entities the caller
// may read count, now and in the history (the history of those it may
// read now; deleted ones' history is for unrestricted callers). A rule
// failing before its enforceFrom date counts as failed in the pass rates,
// as it reports; the levels are those scored, which it did not lower.
func (s *Server) scorecardSummary(w http.ResponseWriter, r *http.Request) {
	bp, sc := r.PathValue("bp"), r.PathValue("sc")
	points, err := intParam(r.URL.Query(), "points", 100, 1, 1000)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.read(w, r, nil, func(rd *reader) (any, error) {
		if _, err := rd.object(index.KindScorecard, bp, sc); err != nil {
			return nil, err
		}
		sm := rd.meta.scorecards[bp][sc]
		if sm == nil {
			return nil, errorf(kindNotFound, "scorecard %q of blueprint %q not found", sc, bp)
		}
		where, args := rd.who.and("", nil)
		st, err := index.ScorecardStatsTx(rd.ctx, rd.tx, bp, sc, where, args)
		if err != nil {
			return nil, err
		}
		levels := make([]levelCount, len(sm.levels))
		for i, l := range sm.levels {
			levels[i] = levelCount{l, st.Levels[l]}
		}
		rules := make([]ruleStat, len(sm.sc.Rules))
		for i, ru := range sm.sc.Rules {
			c := st.Rules[ru.Identifier]
			rules[i] = ruleStat{Identifier: ru.Identifier, Level: ru.Level, Passed: c.Passed, Failed: c.Failed,
				PassRate: percent(c.Passed, c.Passed+c.Failed)}
		}
		changes, err := index.ScorecardChangesTx(rd.ctx, rd.tx, bp, sc)
		if err != nil {
			return nil, err
		}
		if !rd.who.unrestricted {
			where, args := rd.who.and("e.blueprint = ?", []any{bp})
			readable, err := index.IdentifiersTx(rd.ctx, rd.tx, where, args)
			if err != nil {
				return nil, err
			}
			changes = slices.DeleteFunc(changes, func(h index.EntityHistory) bool { return !readable[h.Identifier] })
		}
		history := replay(changes, sm)
		if len(history) > points {
			history = history[len(history)-points:]
		}
		return map[string]any{"ok": true, "summary": map[string]any{
			"scorecard": sc, "blueprint": bp, "entities": st.Entities, "levels": levels, "rules": rules,
			"history": history,
		}}, nil
	})
}

// replay rebuilds the scorecard's state after each revision of its
// history: a history row records an entity's level and failing rules
// whenever they change.
func replay(changes []index.EntityHistory, sm *scorecardMeta) []summaryPoint {
	type state struct {
		level   string
		failing []string
	}
	cur := map[string]state{}
	var out []summaryPoint
	emit := func(h index.EntityHistory) {
		p := summaryPoint{Commit: h.Commit, At: h.At, Levels: map[string]int{}, PassRate: map[string]float64{}}
		failing := map[string]int{}
		for _, st := range cur {
			p.Entities++
			p.Levels[st.level]++
			for _, f := range st.failing {
				failing[f]++
			}
		}
		for _, l := range sm.levels {
			p.Levels[l] += 0
		}
		for _, ru := range sm.sc.Rules {
			p.PassRate[ru.Identifier] = percent(p.Entities-failing[ru.Identifier], p.Entities)
		}
		out = append(out, p)
	}
	for i, h := range changes {
		if h.Level == "" {
			delete(cur, h.Identifier)
		} else {
			cur[h.Identifier] = state{h.Level, h.FailingRules}
		}
		if i == len(changes)-1 || changes[i+1].RevisionID != h.RevisionID {
			emit(h)
		}
	}
	if out == nil {
		out = []summaryPoint{}
	}
	return out
}

// percent is part/total as a percentage with two decimals; 0 of 0 is 0.
func percent(part, total int) float64 {
	if total == 0 {
		return 0
	}
	return math.Round(float64(part)/float64(total)*10000) / 100
}
