-- berth index, schema version 2: additive indexes only.

-- Pruning attempt history asks whether scorecard history still refers to a
-- revision; without this index that is a scan per revision.
CREATE INDEX scorecard_history_revision ON scorecard_history(revision_id);

-- Searches on one scorecard rule ({scorecard, scorecardRule, operator, value}).
CREATE INDEX scorecard_rule_results_rule ON scorecard_rule_results(scorecard, rule, status, entity_id);

-- The last applied revision and the newest attempts by status.
CREATE INDEX revisions_status ON revisions(status, id);
