package api_test

import (
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/berth-dev/berth/pkg/api"
	"github.com/berth-dev/berth/pkg/catalog"
	"github.com/berth-dev/berth/pkg/index"
	"github.com/google/go-cmp/cmp"
)

func TestServer_Blueprints(t *testing.T) {
	h := newServer(t, exampleDB(t), api.Config{}).Handler()

	r := do(t, h, "GET", "/v1/blueprints", nil, nil).want(t, 200, "")
	ids := identifiers(r.list("blueprints"))
	for _, want := range []string{"deployment", "domain", "incident", "microservice", "service", "team"} {
		if !slices.Contains(ids, want) {
			t.Errorf("blueprints %v lack %s", ids, want)
		}
	}
	if !slices.IsSorted(ids) {
		t.Errorf("blueprints not ordered: %v", ids)
	}

	bp := do(t, h, "GET", "/v1/blueprints/service", nil, nil).want(t, 200, "").obj("blueprint")
	if bp["identifier"] != "service" || bp["schema"] == nil {
		t.Errorf("blueprint: %v", bp)
	}
	if src := bp["berth"].(map[string]any); src["file"] != "blueprints/service.yaml" || src["line"].(float64) < 1 {
		t.Errorf("berth field: %v", src)
	}
	do(t, h, "GET", "/v1/blueprints/nope", nil, nil).want(t, 404, "not_found")
}

func TestServer_Entities(t *testing.T) {
	h := newServer(t, exampleDB(t), api.Config{}).Handler()

	t.Run("Get", func(t *testing.T) {
		e := do(t, h, "GET", "/v1/blueprints/service/entities/payments-api", nil, nil).want(t, 200, "").obj("entity")
		for _, k := range []string{"identifier", "title", "blueprint", "team", "properties", "relations", "createdAt",
			"updatedAt", "createdBy", "updatedBy", "berth", "scorecards", "scorecardsStats"} {
			if _, ok := e[k]; !ok {
				t.Errorf("entity lacks %s: %v", k, e)
			}
		}
		if diff := cmp.Diff(map[string]any{"file": "entities/service/payments-api.yaml", "line": float64(2)}, e["berth"]); diff != "" {
			t.Errorf("berth (-want +got):\n%s", diff)
		}
		if e["createdAt"] != "2025-03-01T09:00:00Z" || e["team"].([]any)[0] != "payments" {
			t.Errorf("meta: %v %v", e["createdAt"], e["team"])
		}
		pr := e["scorecards"].(map[string]any)["production_readiness"].(map[string]any)
		if pr["level"] != "Bronze" {
			t.Errorf("production_readiness level %v, want Bronze (commit 2 drops test coverage)", pr["level"])
		}
		want := []any{
			map[string]any{"identifier": "has_monitoring", "level": "Gold", "status": "SUCCESS"},
			map[string]any{"identifier": "has_readme", "level": "Bronze", "status": "SUCCESS"},
			map[string]any{"identifier": "has_tests", "level": "Silver", "status": "FAILURE"},
		}
		if diff := cmp.Diff(want, pr["rules"]); diff != "" {
			t.Errorf("rules (-want +got):\n%s", diff)
		}
		if e["scorecardsStats"] != 83.33 {
			t.Errorf("scorecardsStats %v, want 83.33 (5 of 6 rules)", e["scorecardsStats"])
		}
	})

	t.Run("List", func(t *testing.T) {
		ents := do(t, h, "GET", "/v1/blueprints/service/entities", nil, nil).want(t, 200, "").list("entities")
		ids := identifiers(ents)
		if len(ids) != 11 || !slices.IsSorted(ids) || !slices.Contains(ids, "payments-api") {
			t.Errorf("services: %v", ids)
		}
		n := do(t, h, "GET", "/v1/blueprints/service/entities-count", nil, nil).want(t, 200, "").Body["count"]
		if n != float64(len(ids)) {
			t.Errorf("count %v, want %d", n, len(ids))
		}
	})

	t.Run("Shape", func(t *testing.T) {
		base := "/v1/blueprints/service/entities/payments-api"
		e := do(t, h, "GET", base+"?include=identifier&include=properties.language,relations.domain", nil, nil).
			want(t, 200, "").obj("entity")
		want := map[string]any{"identifier": "payments-api", "properties": map[string]any{"language": "Go"},
			"relations": map[string]any{"domain": "commerce"}}
		if diff := cmp.Diff(want, e); diff != "" {
			t.Errorf("include (-want +got):\n%s", diff)
		}
		e = do(t, h, "GET", base+"?exclude[]=scorecards&exclude=properties.language&exclude=berth", nil, nil).
			want(t, 200, "").obj("entity")
		if _, ok := e["scorecards"]; ok {
			t.Error("exclude scorecards kept them")
		}
		if _, ok := e["properties"].(map[string]any)["language"]; ok {
			t.Error("exclude properties.language kept it")
		}
		e = do(t, h, "GET", base+"?exclude_calculated_properties=true", nil, nil).want(t, 200, "").obj("entity")
		props := e["properties"].(map[string]any)
		for _, k := range []string{"slug", "failed_deployments", "cpu_utilization"} {
			if _, ok := props[k]; ok {
				t.Errorf("calculated property %s kept", k)
			}
		}
		if props["language"] != "Go" {
			t.Errorf("stored property dropped: %v", props)
		}
		e = do(t, h, "GET", base+"?attach_title_to_relation=true", nil, nil).want(t, 200, "").obj("entity")
		rels := e["relations"].(map[string]any)
		if diff := cmp.Diff(map[string]any{"identifier": "commerce", "title": "Commerce"}, rels["domain"]); diff != "" {
			t.Errorf("domain with title (-want +got):\n%s", diff)
		}
		if deps := rels["depends_on"].([]any); len(deps) != 3 || deps[0].(map[string]any)["title"] != "Ledger" {
			t.Errorf("depends_on with titles: %v", deps)
		}
		list := do(t, h, "GET", "/v1/blueprints/service/entities?include=identifier", nil, nil).want(t, 200, "").list("entities")
		for _, e := range list {
			if len(e) != 1 {
				t.Fatalf("include=identifier on a list: %v", e)
			}
		}
		do(t, h, "GET", base+"?attach_title_to_relation=maybe", nil, nil).want(t, 400, "invalid_request")
	})

	t.Run("NotFound", func(t *testing.T) {
		do(t, h, "GET", "/v1/blueprints/service/entities/nope", nil, nil).want(t, 404, "not_found")
		do(t, h, "GET", "/v1/blueprints/nope/entities/payments-api", nil, nil).want(t, 404, "not_found")
		do(t, h, "GET", "/v1/blueprints/nope/entities", nil, nil).want(t, 404, "not_found")
		do(t, h, "GET", "/v1/blueprints/nope/entities-count", nil, nil).want(t, 404, "not_found")
		do(t, h, "GET", "/v1/nothing-here", nil, nil).want(t, 404, "not_found")
		do(t, h, "GET", "/elsewhere", nil, nil).want(t, 404, "not_found")
	})

	t.Run("TooLarge", func(t *testing.T) {
		small := newServer(t, exampleDB(t), api.Config{MaxResults: 5}).Handler()
		r := do(t, small, "GET", "/v1/blueprints/service/entities", nil, nil).want(t, 400, "result_too_large")
		if !strings.Contains(r.Body["message"].(string), "/entities/search") {
			t.Errorf("message does not say how to page: %v", r.Body["message"])
		}
		do(t, small, "POST", "/v1/entities/search", `{"combinator":"and","rules":[]}`, nil).want(t, 400, "result_too_large")
	})
}

func TestServer_SearchAll(t *testing.T) {
	h := newServer(t, exampleDB(t), api.Config{}).Handler()
	q := `{"combinator":"and","rules":[{"property":"language","operator":"=","value":"Go"},
		{"property":"$blueprint","operator":"in","value":["service","microservice"]}]}`
	r := do(t, h, "POST", "/v1/entities/search?include=identifier&include=blueprint", q, nil).want(t, 200, "")
	ents := r.list("entities")
	if len(ents) == 0 {
		t.Fatal("no Go services")
	}
	for _, e := range ents {
		if len(e) != 2 {
			t.Errorf("include not applied: %v", e)
		}
	}
	var bps []string
	for _, e := range ents {
		if b := e["blueprint"].(string); !slices.Contains(bps, b) {
			bps = append(bps, b)
		}
	}
	slices.Sort(bps)
	var matching []string
	for _, b := range r.Body["matchingBlueprints"].([]any) {
		matching = append(matching, b.(string))
	}
	if diff := cmp.Diff(bps, matching); diff != "" {
		t.Errorf("matchingBlueprints (-want +got):\n%s", diff)
	}

	for name, body := range map[string]string{
		"BadOperator": `{"combinator":"and","rules":[{"property":"language","operator":"equals","value":"Go"}]}`,
		"NotJSON":     `{"combinator":`,
		"Hostile":     `{"combinator":"and","rules":[{"property":"language","operator":"=","value":"x' OR 1=1 --"}],"x":1}`,
	} {
		t.Run(name, func(t *testing.T) {
			r := do(t, h, "POST", "/v1/entities/search", body, nil).want(t, 400, "invalid_query")
			if name == "BadOperator" && !strings.Contains(r.Body["message"].(string), "rules[0]") &&
				!strings.Contains(r.Body["message"].(string), "rules.0") {
				t.Errorf("message does not name the rule: %v", r.Body["message"])
			}
		})
	}
	r = do(t, h, "POST", "/v1/entities/search",
		`{"combinator":"and","rules":[{"property":"$title","operator":"=","value":"x' OR 1=1 --"}]}`, nil).want(t, 200, "")
	if n := len(r.Body["entities"].([]any)); n != 0 {
		t.Errorf("SQL in a value matched %d entities", n)
	}

	t.Run("TooComplex", func(t *testing.T) {
		tight := newServer(t, exampleDB(t), api.Config{QueryLimits: queryLimits(2)}).Handler()
		deep := `{"combinator":"and","rules":[{"combinator":"and","rules":[{"combinator":"and","rules":[]}]}]}`
		do(t, tight, "POST", "/v1/entities/search", deep, nil).want(t, 400, "invalid_query")
	})
}

func TestServer_Related(t *testing.T) {
	h := newServer(t, exampleDB(t), api.Config{}).Handler()
	base := "/v1/blueprints/service/entities/payments-api/related"

	up := do(t, h, "GET", base+"?direction=upstream", nil, nil).want(t, 200, "")
	got := identifiers(up.list("entities"))
	slices.Sort(got)
	if diff := cmp.Diff([]string{"auth-service", "commerce", "fraud-detection", "ledger"}, got); diff != "" {
		t.Errorf("upstream depth 1 (-want +got):\n%s", diff)
	}
	for _, e := range up.list("entities") {
		if e["berth"].(map[string]any)["depth"] != float64(1) {
			t.Errorf("depth of %v: %v", e["identifier"], e["berth"])
		}
	}
	if n := len(up.Body["relations"].([]any)); n != 4 {
		t.Errorf("%d relations walked, want 4: %v", n, up.Body["relations"])
	}

	deep := do(t, h, "GET", base+"?direction=upstream&depth=3", nil, nil).want(t, 200, "")
	ids := identifiers(deep.list("entities"))
	if !slices.Contains(ids, "user-profile") || !slices.Contains(ids, "identity") {
		t.Errorf("depth 3 misses auth-service's relations: %v", ids)
	}
	if deep.Body["truncated"] != false {
		t.Errorf("truncated: %v", deep.Body["truncated"])
	}

	down := do(t, h, "GET", base+"?direction=downstream", nil, nil).want(t, 200, "")
	ids = identifiers(down.list("entities"))
	for _, want := range []string{"checkout-web", "payments-api-v2.14.0-production", "inc-2025-0398"} {
		if !slices.Contains(ids, want) {
			t.Errorf("downstream lacks %s: %v", want, ids)
		}
	}

	cut := do(t, h, "GET", base+"?direction=upstream&depth=3&limit=2", nil, nil).want(t, 200, "")
	if len(cut.list("entities")) != 2 || cut.Body["truncated"] != true {
		t.Errorf("limit=2: %v entities, truncated %v", len(cut.list("entities")), cut.Body["truncated"])
	}

	for _, q := range []string{"?direction=sideways", "?depth=0", "?depth=11", "?depth=x", "?limit=1001"} {
		do(t, h, "GET", base+q, nil, nil).want(t, 400, "invalid_request")
	}
	do(t, h, "GET", "/v1/blueprints/service/entities/nope/related", nil, nil).want(t, 404, "not_found")
}

func TestServer_Objects(t *testing.T) {
	h := newServer(t, exampleDB(t), api.Config{}).Handler()
	for _, c := range []struct{ list, one, key, id string }{
		{"/v1/actions", "/v1/actions/", "action", "deploy_service"},
		{"/v1/pages", "/v1/pages/", "page", "engineering_overview"},
	} {
		r := do(t, h, "GET", c.list, nil, nil).want(t, 200, "")
		if ids := identifiers(r.list(c.key + "s")); !slices.Contains(ids, c.id) {
			t.Errorf("%s: %v lacks %s", c.list, ids, c.id)
		}
		o := do(t, h, "GET", c.one+c.id, nil, nil).want(t, 200, "").obj(c.key)
		if o["identifier"] != c.id || o["berth"].(map[string]any)["file"] == "" {
			t.Errorf("%s%s: %v", c.one, c.id, o)
		}
		do(t, h, "GET", c.one+"nope", nil, nil).want(t, 404, "not_found")
	}
}

func TestServer_Scorecards(t *testing.T) {
	h := newServer(t, exampleDB(t), api.Config{}).Handler()

	all := identifiers(do(t, h, "GET", "/v1/scorecards", nil, nil).want(t, 200, "").list("scorecards"))
	if diff := cmp.Diff([]string{"production_readiness", "security_compliance"}, all); diff != "" {
		t.Errorf("scorecards (-want +got):\n%s", diff)
	}
	of := identifiers(do(t, h, "GET", "/v1/blueprints/service/scorecards", nil, nil).want(t, 200, "").list("scorecards"))
	if diff := cmp.Diff(all, of); diff != "" {
		t.Errorf("service scorecards (-want +got):\n%s", diff)
	}
	if n := len(do(t, h, "GET", "/v1/blueprints/domain/scorecards", nil, nil).want(t, 200, "").list("scorecards")); n != 0 {
		t.Errorf("domain has %d scorecards", n)
	}
	sc := do(t, h, "GET", "/v1/blueprints/service/scorecards/production_readiness", nil, nil).want(t, 200, "").obj("scorecard")
	if sc["identifier"] != "production_readiness" {
		t.Errorf("scorecard: %v", sc)
	}
	do(t, h, "GET", "/v1/blueprints/service/scorecards/nope", nil, nil).want(t, 404, "not_found")
	do(t, h, "GET", "/v1/blueprints/nope/scorecards", nil, nil).want(t, 404, "not_found")

	t.Run("History", func(t *testing.T) {
		r := do(t, h, "GET", "/v1/blueprints/service/entities/payments-api/scorecards/production_readiness/history", nil, nil).
			want(t, 200, "")
		hist := r.list("history")
		if len(hist) != 2 {
			t.Fatalf("history: %v", hist)
		}
		if hist[0]["level"] != "Gold" || hist[1]["level"] != "Bronze" || hist[1]["commit"] != commit(2) {
			t.Errorf("history: %v", hist)
		}
		if diff := cmp.Diff([]any{"has_tests"}, hist[1]["failingRules"]); diff != "" {
			t.Errorf("failing rules (-want +got):\n%s", diff)
		}
		do(t, h, "GET", "/v1/blueprints/service/entities/nope/scorecards/production_readiness/history", nil, nil).
			want(t, 404, "not_found")
		do(t, h, "GET", "/v1/blueprints/service/entities/payments-api/scorecards/nope/history", nil, nil).
			want(t, 404, "not_found")
	})

	t.Run("Summary", func(t *testing.T) {
		s := do(t, h, "GET", "/v1/blueprints/service/scorecards/production_readiness/summary", nil, nil).
			want(t, 200, "").obj("summary")
		levels := s["levels"].([]any)
		if len(levels) != 4 || levels[0].(map[string]any)["level"] != "Basic" {
			t.Errorf("levels: %v", levels)
		}
		total := 0.0
		for _, l := range levels {
			total += l.(map[string]any)["entities"].(float64)
		}
		if total != s["entities"] || total == 0 {
			t.Errorf("levels add up to %v, entities %v", total, s["entities"])
		}
		hist := s["history"].([]any)
		if len(hist) != 2 {
			t.Fatalf("history points: %v", hist)
		}
		first, last := hist[0].(map[string]any), hist[1].(map[string]any)
		rateBefore := first["passRate"].(map[string]any)["has_tests"].(float64)
		rateAfter := last["passRate"].(map[string]any)["has_tests"].(float64)
		if rateAfter >= rateBefore || last["commit"] != commit(2) {
			t.Errorf("has_tests pass rate %v → %v, want a drop at commit 2", rateBefore, rateAfter)
		}
		var nowRate float64
		for _, ru := range s["rules"].([]any) {
			if ru.(map[string]any)["identifier"] == "has_tests" {
				nowRate = ru.(map[string]any)["passRate"].(float64)
			}
		}
		if nowRate != rateAfter {
			t.Errorf("current has_tests pass rate %v, history's last %v", nowRate, rateAfter)
		}
		if lv := last["levels"].(map[string]any); lv["Basic"] == nil {
			t.Errorf("history levels lack Basic: %v", lv)
		}
		do(t, h, "GET", "/v1/blueprints/service/scorecards/nope/summary", nil, nil).want(t, 404, "not_found")
		do(t, h, "GET", "/v1/blueprints/service/scorecards/production_readiness/summary?points=0", nil, nil).
			want(t, 400, "invalid_request")
	})
}

func TestServer_ETag(t *testing.T) {
	db := exampleDB(t)
	h := newServer(t, db, api.Config{}).Handler()
	path := "/v1/blueprints/service/entities/payments-api"

	r := do(t, h, "GET", path, nil, nil).want(t, 200, "")
	tag := r.Header.Get("ETag")
	if tag == "" || r.Header.Get("X-Berth-Revision") != commit(2) {
		t.Fatalf("headers: %v", r.Header)
	}
	nm := do(t, h, "GET", path, nil, header{"If-None-Match": tag})
	if nm.Code != http.StatusNotModified || len(nm.Raw) != 0 || nm.Header.Get("ETag") != tag {
		t.Fatalf("If-None-Match: %d %v %s", nm.Code, nm.Header, nm.Raw)
	}
	do(t, h, "GET", path, nil, header{"If-None-Match": `"other", W/` + tag}).want(t, 304, "")
	if other := do(t, h, "GET", path+"?include=identifier", nil, nil).Header.Get("ETag"); other == tag {
		t.Error("another request has the same ETag")
	}
	// A search is a POST: it carries an ETag but always answers in full.
	q := `{"combinator":"and","rules":[]}`
	sr := do(t, h, "POST", "/v1/blueprints/service/entities/search", `{"query":`+q+`}`, nil).want(t, 200, "")
	do(t, h, "POST", "/v1/blueprints/service/entities/search", `{"query":`+q+`}`,
		header{"If-None-Match": sr.Header.Get("ETag")}).want(t, 200, "")

	snaps, err := exampleSnaps()
	if err != nil {
		t.Fatal(err)
	}
	apply(t, db, 3, snaps[0])
	r = do(t, h, "GET", path, nil, header{"If-None-Match": tag}).want(t, 200, "")
	if r.Header.Get("X-Berth-Revision") != commit(3) || r.Header.Get("ETag") == tag {
		t.Errorf("after a new revision: %v", r.Header)
	}
}

func TestServer_ReadOnly(t *testing.T) {
	h := newServer(t, exampleDB(t), api.Config{Repo: "github.com/example-corp/catalog (branch main)"}).Handler()
	for _, c := range []struct {
		method, path string
		mention      string
	}{
		{"PATCH", "/v1/blueprints/service/entities/payments-api", "entities/service/payments-api.yaml (line 2)"},
		{"PUT", "/v1/blueprints/service/entities/payments-api", "entities/service/payments-api.yaml"},
		{"DELETE", "/v1/blueprints/service/entities/payments-api", "entities/service/payments-api.yaml"},
		{"POST", "/v1/blueprints/service/entities", "entities/service/x.yaml"},
		{"POST", "/v1/blueprints/service/entities/brand-new", "entities/service/"},
		{"DELETE", "/v1/blueprints/service", "blueprints/service.yaml"},
		{"POST", "/v1/blueprints", "blueprints/"},
		{"PUT", "/v1/blueprints/service/scorecards/production_readiness", "scorecards/production_readiness.yaml"},
		{"POST", "/v1/scorecards", "scorecards/"},
		{"PATCH", "/v1/actions/deploy_service", "actions/deploy_service.yaml"},
		{"POST", "/v1/actions/deploy_service/runs", "actions/deploy_service.yaml"},
		{"PATCH", "/v1/pages/engineering_overview", "pages/engineering_overview.yaml"},
		{"POST", "/v1/teams", "catalog files"},
	} {
		t.Run(c.method+c.path, func(t *testing.T) {
			r := do(t, h, c.method, c.path, `{"identifier":"x"}`, nil).want(t, 405, "read_only")
			msg := r.Body["message"].(string)
			if !strings.Contains(msg, c.mention) || !strings.Contains(msg, "github.com/example-corp/catalog") ||
				!strings.Contains(msg, "pull request") {
				t.Errorf("message %q does not name %q, the repository and a pull request", msg, c.mention)
			}
		})
	}
}

func TestServer_NotReady(t *testing.T) {
	h := newServer(t, openDB(t), api.Config{}).Handler()
	do(t, h, "GET", "/v1/blueprints", nil, nil).want(t, 503, "not_ready")
	do(t, h, "GET", "/readyz", nil, nil).want(t, 503, "not_ready")
	do(t, h, "GET", "/healthz", nil, nil).want(t, 200, "")
}

func TestServer_BodyLimit(t *testing.T) {
	h := newServer(t, exampleDB(t), api.Config{MaxBody: 1 << 10}).Handler()
	big := `{"combinator":"and","rules":[{"property":"x","operator":"=","value":"` + strings.Repeat("a", 2<<10) + `"}]}`
	do(t, h, "POST", "/v1/entities/search", big, nil).want(t, 413, "body_too_large")
	do(t, h, "POST", "/v1/blueprints/service/entities/search", `{"query":`+big+`}`, nil).want(t, 413, "body_too_large")
	do(t, h, "POST", "/v1/auth/access_token", `{"clientId":"`+strings.Repeat("a", 2<<10)+`"}`, nil).want(t, 413, "body_too_large")
}

func TestServer_EntityScorecards(t *testing.T) {
	db := openDB(t)
	bp := &catalog.Blueprint{Identifier: "item", Schema: catalog.BlueprintSchema{Properties: map[string]catalog.Property{}}}
	sc := &catalog.Scorecard{Identifier: "sc", Blueprint: "item", Rules: []catalog.ScorecardRule{
		{Identifier: "a", Level: "Bronze"}, {Identifier: "b", Level: "Silver"}, {Identifier: "c", Level: "Gold"}}}
	item := &catalog.Entity{Identifier: "one", Blueprint: "item"}
	plain := &catalog.Entity{Identifier: "two", Blueprint: "item"}
	apply(t, db, 1, index.Snapshot{Full: true, Blueprints: []*catalog.Blueprint{bp}, Scorecards: []*catalog.Scorecard{sc},
		Upserts: []index.Upsert{{Entity: item}, {Entity: plain}},
		Scores: []index.EntityScores{{Key: item.Key(), Results: []index.ScorecardResult{{Scorecard: "sc", Level: "Silver",
			LevelIndex: 2, Passed: 2, Total: 3, Rules: []index.RuleResult{
				{Rule: "a", Status: "SUCCESS"}, {Rule: "b", Status: "SUCCESS", Exempt: true}, {Rule: "c", Status: "FAILURE"}}}}}}})
	h := newServer(t, db, api.Config{}).Handler()

	e := do(t, h, "GET", "/v1/blueprints/item/entities/one", nil, nil).want(t, 200, "").obj("entity")
	want := map[string]any{"sc": map[string]any{"level": "Silver", "rules": []any{
		map[string]any{"identifier": "a", "status": "SUCCESS", "level": "Bronze"},
		map[string]any{"identifier": "b", "status": "SUCCESS", "level": "Silver", "exempt": true},
		map[string]any{"identifier": "c", "status": "FAILURE", "level": "Gold"},
	}}}
	if diff := cmp.Diff(want, e["scorecards"]); diff != "" {
		t.Errorf("scorecards (-want +got):\n%s", diff)
	}
	if e["scorecardsStats"] != 66.67 {
		t.Errorf("scorecardsStats %v", e["scorecardsStats"])
	}
	e = do(t, h, "GET", "/v1/blueprints/item/entities/two", nil, nil).want(t, 200, "").obj("entity")
	if diff := cmp.Diff(map[string]any{}, e["scorecards"]); diff != "" || e["scorecardsStats"] != nil {
		t.Errorf("an unscored entity: %v %v", e["scorecards"], e["scorecardsStats"])
	}
}

func TestServer_ETagOnErrors(t *testing.T) {
	h := newServer(t, exampleDB(t), api.Config{}).Handler()
	r := do(t, h, "GET", "/v1/blueprints/service/entities/nope", nil, nil).want(t, 404, "not_found")
	if r.Header.Get("ETag") != "" || r.Header.Get("X-Berth-Revision") != commit(2) {
		t.Errorf("a 404 carries %v", r.Header)
	}
	r = do(t, h, "GET", "/v1/blueprints", nil, nil).want(t, 200, "")
	if r.Header.Get("Vary") != "Authorization" || r.Header.Get("Cache-Control") != "private, no-cache" {
		t.Errorf("cache headers: %v", r.Header)
	}
}
