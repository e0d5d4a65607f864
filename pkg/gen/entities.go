package gen

import (
	"math/rand/v2"
	"strconv"
	"strings"
	"time"
)

// Word lists for identifiers and titles.
var (
	domainWords = []string{"commerce", "identity", "logistics", "analytics", "marketing", "support",
		"finance", "platform", "search", "media", "risk", "partners"}
	teamWords = []string{"payments", "checkout", "identity", "platform", "search", "growth", "data",
		"mobile", "web", "billing", "fulfillment", "catalog", "messaging", "security", "sre", "ml"}
	serviceWords = []string{"billing", "cart", "order", "user", "auth", "pricing", "inventory",
		"shipping", "invoice", "review", "payment", "profile", "session", "report", "media", "email",
		"fraud", "audit", "ledger", "coupon", "tax", "refund", "catalog", "recommendation"}
	serviceKinds = []string{"api", "gateway", "worker", "scheduler", "indexer", "router", "store",
		"proxy", "sync", "exporter", "notifier", "service"}
	tagWords = []string{"pci", "gdpr", "public", "internal", "batch", "realtime", "legacy", "grpc",
		"rest", "kafka", "postgres", "redis"}
)

// epoch is the start of the generated dates: a fixed instant, so output
// does not depend on the clock.
var epoch = time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)

// generator produces entities in dependency order from one random stream.
type generator struct {
	rng *rand.Rand
	c   counts
	// serviceTeam is each service's owning team (an index), so that
	// deployments and microservices can belong to the same team.
	serviceTeam []int32
	buf         []byte
}

func newGenerator(opts Options) *generator {
	return &generator{
		rng: rand.New(rand.NewPCG(uint64(opts.Seed), 0x6265727468)), // "berth"
		c:   countsFor(opts.entities()),
	}
}

// Identifiers are derived from indexes, so relations need no lookup tables.
func domainID(i int) string { return domainWords[i%len(domainWords)] + "-" + strconv.Itoa(i) }
func teamID(i int) string   { return teamWords[i%len(teamWords)] + "-" + strconv.Itoa(i) }

func serviceID(i int) string {
	return serviceWords[i%len(serviceWords)] + "-" + serviceKinds[(i/len(serviceWords))%len(serviceKinds)] + "-" + strconv.Itoa(i)
}

func microserviceID(i int) string {
	return serviceWords[(i*7)%len(serviceWords)] + "-" + serviceKinds[i%len(serviceKinds)] + "-m" + strconv.Itoa(i)
}

// title turns an identifier such as billing-api-12 into "Billing API 12".
func title(id string) string {
	return strings.ReplaceAll(titleCase(id), " Api ", " API ")
}

func titleCase(id string) string {
	b := []byte(strings.ReplaceAll(id, "-", " "))
	up := true
	for i, c := range b {
		if up && c >= 'a' && c <= 'z' {
			b[i] = c - 'a' + 'A'
		}
		up = c == ' '
	}
	return string(b)
}

func (g *generator) pick(xs []string) string { return xs[g.rng.IntN(len(xs))] }

// chance returns true with probability p.
func (g *generator) chance(p float64) bool { return g.rng.Float64() < p }

func (g *generator) date() string {
	return epoch.Add(time.Duration(g.rng.Int64N(540*24*3600)) * time.Second).Format(time.RFC3339)
}

// entities yields every entity file, targets before the entities that
// point at them. It stops when yield returns false.
func (g *generator) entities(yield func(string, []byte) bool) {
	c := g.c
	for i := range c.domains {
		if !g.emit(yield, Domain, domainID(i), g.domain) {
			return
		}
	}
	for i := range c.teams {
		if !g.emit(yield, TeamEntity, teamID(i), g.teamEntity) {
			return
		}
	}
	for i := range c.teams {
		if !g.emit(yield, Team, teamID(i), g.team) {
			return
		}
	}
	g.serviceTeam = make([]int32, c.services)
	for i := range c.services {
		g.serviceTeam[i] = int32(g.rng.IntN(c.teams))
		if !g.emit(yield, Service, serviceID(i), func(w *writer, id string) { g.service(w, id, i) }) {
			return
		}
	}
	for i := range c.microservices {
		if !g.emit(yield, Microservice, microserviceID(i), g.microservice) {
			return
		}
	}
	for i := range c.deployments {
		svc := g.rng.IntN(c.services)
		id := serviceID(svc) + "-deploy-" + strconv.Itoa(i)
		if !g.emit(yield, Deployment, id, func(w *writer, id string) { g.deployment(w, id, svc) }) {
			return
		}
	}
}

func (g *generator) emit(yield func(string, []byte) bool, bp, id string, body func(*writer, string)) bool {
	w := &writer{buf: g.buf[:0]}
	w.scalar(0, "identifier", id)
	w.scalar(0, "title", title(id))
	body(w, id)
	g.buf = w.buf
	out := make([]byte, len(w.buf))
	copy(out, w.buf)
	return yield(EntityPath(bp, id), out)
}

func (g *generator) domain(w *writer, id string) {
	w.key(0, "properties")
	w.scalar(2, "description", "Services and teams of the "+strings.SplitN(id, "-", 2)[0]+" domain")
	w.scalar(2, "criticality", g.pick(criticalities))
	w.scalar(2, "architect", "architect."+id+"@example.com")
}

func (g *generator) teamEntity(w *writer, id string) {
	w.key(0, "properties")
	w.scalar(2, "description", "Engineering team "+title(id))
}

func (g *generator) team(w *writer, id string) {
	w.scalar(0, "team", id)
	w.key(0, "properties")
	w.scalar(2, "slack_channel", "#team-"+id)
	w.scalar(2, "manager", "manager."+id+"@example.com")
	w.int(2, "headcount", 1+g.rng.IntN(50))
	w.scalar(2, "on_call_rotation", "https://oncall.example.com/schedules/"+id)
	w.key(0, "relations")
	w.scalar(2, "domain", domainID(g.rng.IntN(g.c.domains)))
}

func (g *generator) service(w *writer, id string, i int) {
	team := teamID(int(g.serviceTeam[i]))
	lifecycle := lifecycles[weighted(g.rng, 60, 15, 15, 10)]
	mature := lifecycle == "Production" && g.chance(0.7)
	w.scalar(0, "team", team)
	w.key(0, "properties")
	w.scalar(2, "name", title(id))
	w.scalar(2, "description", "Owns "+strings.ReplaceAll(id, "-", " ")+" for the "+team+" team")
	w.scalar(2, "owner", team)
	w.scalar(2, "language", g.pick(languages))
	w.scalar(2, "lifecycle", lifecycle)
	w.scalar(2, "tier", tiers[weighted(g.rng, 15, 40, 35, 10)])
	if g.chance(0.9) {
		host := "https://github.com/example-corp/"
		if g.chance(0.1) {
			host = "https://gitlab.example.com/"
		}
		w.scalar(2, "repository", host+id)
	}
	w.scalar(2, "oncall", "oncall."+team+"@example.com")
	w.scalar(2, "created", g.date())
	w.bool(2, "has_readme", mature || g.chance(0.8))
	cov := g.rng.IntN(101)
	if mature {
		cov = 60 + g.rng.IntN(41)
	}
	w.int(2, "test_coverage", cov)
	w.bool(2, "has_monitoring", mature || g.chance(0.6))
	w.bool(2, "has_alerts", g.chance(0.6))
	w.int(2, "critical_vulnerabilities", max(0, g.rng.IntN(8)-5))
	w.int(2, "hardcoded_secrets", max(0, g.rng.IntN(12)-9))
	w.bool(2, "uses_secrets_manager", g.chance(0.75))
	w.int(2, "outdated_dependencies", g.rng.IntN(15))
	w.scalar(2, "security_review_status", reviewStatuses[weighted(g.rng, 50, 25, 5, 20)])
	if n := g.rng.IntN(4); n > 0 {
		tags := make([]string, 0, n)
		for range n {
			t := g.pick(tagWords)
			if !contains(tags, t) {
				tags = append(tags, t)
			}
		}
		w.list(2, "tags", tags)
	}
	w.key(0, "relations")
	w.scalar(2, "domain", domainID(g.rng.IntN(g.c.domains)))
	// Dependencies point at earlier services only: the graph is acyclic.
	var deps []string
	for range min(i, g.rng.IntN(4)) {
		d := serviceID(g.rng.IntN(i))
		if !contains(deps, d) {
			deps = append(deps, d)
		}
	}
	w.list(2, "depends_on", deps)
}

func (g *generator) microservice(w *writer, id string) {
	svc := g.rng.IntN(g.c.services)
	team := teamID(int(g.serviceTeam[svc]))
	w.scalar(0, "team", team)
	w.key(0, "properties")
	w.scalar(2, "name", title(id))
	w.scalar(2, "repository", "https://github.com/example-corp/"+id)
	w.scalar(2, "health_status", healthStatuses[weighted(g.rng, 75, 15, 5, 5)])
	w.scalar(2, "deployment_status", deployStatuses[weighted(g.rng, 80, 8, 7, 5)])
	w.float(2, "cpu_usage", float64(g.rng.IntN(1000))/10)
	w.float(2, "memory_usage", float64(g.rng.IntN(1000))/10)
	w.scalar(2, "last_deployment", g.date())
	w.key(0, "relations")
	w.scalar(2, "team", team)
	if g.chance(0.8) {
		w.scalar(2, "domain", domainID(g.rng.IntN(g.c.domains)))
	}
	w.scalar(2, "service", serviceID(svc))
}

func (g *generator) deployment(w *writer, id string, svc int) {
	team := teamID(int(g.serviceTeam[svc]))
	w.scalar(0, "team", team)
	w.key(0, "properties")
	w.scalar(2, "environment", environments[weighted(g.rng, 20, 30, 50)])
	w.scalar(2, "version", "v"+strconv.Itoa(g.rng.IntN(6))+"."+strconv.Itoa(g.rng.IntN(30))+"."+strconv.Itoa(g.rng.IntN(20)))
	w.scalar(2, "status", rolloutStatuses[weighted(g.rng, 85, 7, 5, 3)])
	w.scalar(2, "deployed_at", g.date())
	w.scalar(2, "deployed_by", "dev"+strconv.Itoa(g.rng.IntN(5000))+"@example.com")
	w.int(2, "duration_seconds", 30+g.rng.IntN(1800))
	w.key(0, "relations")
	w.scalar(2, "service", serviceID(svc))
}

// weighted returns an index drawn with the given relative weights.
func weighted(rng *rand.Rand, weights ...int) int {
	total := 0
	for _, w := range weights {
		total += w
	}
	n := rng.IntN(total)
	for i, w := range weights {
		if n < w {
			return i
		}
		n -= w
	}
	return len(weights) - 1
}

func contains(xs []string, x string) bool {
	for _, y := range xs {
		if y == x {
			return true
		}
	}
	return false
}

// writer appends block-style YAML.
type writer struct{ buf []byte }

func (w *writer) indent(n int, key string) {
	for range n {
		w.buf = append(w.buf, ' ')
	}
	w.buf = append(w.buf, key...)
	w.buf = append(w.buf, ':')
}

func (w *writer) key(n int, key string) {
	w.indent(n, key)
	w.buf = append(w.buf, '\n')
}

func (w *writer) str(s string) {
	if needsQuote(s) {
		w.buf = strconv.AppendQuote(w.buf, s)
	} else {
		w.buf = append(w.buf, s...)
	}
}

func (w *writer) scalar(n int, key, value string) {
	w.indent(n, key)
	w.buf = append(w.buf, ' ')
	w.str(value)
	w.buf = append(w.buf, '\n')
}

func (w *writer) int(n int, key string, v int) {
	w.indent(n, key)
	w.buf = append(w.buf, ' ')
	w.buf = strconv.AppendInt(w.buf, int64(v), 10)
	w.buf = append(w.buf, '\n')
}

func (w *writer) float(n int, key string, v float64) {
	w.indent(n, key)
	w.buf = append(w.buf, ' ')
	w.buf = strconv.AppendFloat(w.buf, v, 'f', 1, 64)
	w.buf = append(w.buf, '\n')
}

func (w *writer) bool(n int, key string, v bool) {
	w.indent(n, key)
	w.buf = append(w.buf, ' ')
	w.buf = strconv.AppendBool(w.buf, v)
	w.buf = append(w.buf, '\n')
}

// list writes a flow-style list: [a, b].
func (w *writer) list(n int, key string, xs []string) {
	w.indent(n, key)
	w.buf = append(w.buf, " ["...)
	for i, x := range xs {
		if i > 0 {
			w.buf = append(w.buf, ", "...)
		}
		w.str(x)
	}
	w.buf = append(w.buf, "]\n"...)
}
