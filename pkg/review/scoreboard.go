package review

import (
	"strings"

	"github.com/berth-dev/berth/pkg/catalog"
	"github.com/berth-dev/berth/pkg/scorecard"
)

// Scoreboard renders, as Markdown, how many entities each scorecard puts
// at each of its levels: the summary of one commit, posted on a push to the
// default branch.
func Scoreboard(cat *catalog.Catalog, ev *scorecard.Evaluation) string {
	var b strings.Builder
	b.WriteString("### Scorecards\n\n")
	if len(cat.Scorecards) == 0 {
		b.WriteString("This catalog has no scorecards.\n")
		return b.String()
	}
	counts := map[string]map[string]int{}
	for _, m := range ev.Results {
		for id, r := range m {
			if counts[id] == nil {
				counts[id] = map[string]int{}
			}
			counts[id][r.Level]++
		}
	}
	b.WriteString("| Scorecard | Blueprint | Entities | Levels, lowest first |\n|---|---|---:|---|\n")
	for _, sc := range cat.Scorecards {
		total := 0
		var parts []string
		for _, l := range sc.LevelTitles() {
			n := counts[sc.Identifier][l]
			total += n
			parts = append(parts, l+" "+num(n))
		}
		b.WriteString("| " + cell(sc.Identifier) + " | " + cell(sc.ScorecardBlueprint()) + " | " + num(total) + " | " +
			strings.Join(parts, " · ") + " |\n")
	}
	return b.String()
}
