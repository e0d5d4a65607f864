-- berth index, schema version 4: deadlines of scorecard rules.

-- enforce_from is set on a failing rule whose scorecard enforces it only
-- from that date (its enforceFrom, as the scorecard file writes it): the
-- rule reports FAILURE but did not lower the entity's level. NULL when the
-- rule is enforced, passed, or is exempt. Rows written before this version
-- have none until their entity is scored again.
ALTER TABLE scorecard_rule_results ADD COLUMN enforce_from TEXT;
