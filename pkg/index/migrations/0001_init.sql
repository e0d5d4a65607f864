-- berth index, schema version 1.
--
-- The index holds ONE catalog revision: the last one applied. Every table
-- below is rewritten inside the single transaction that applies a revision,
-- so a reader sees one whole revision or the one before it, never a mix.
-- Git is the source of truth; this file can always be rebuilt from it.
--
-- Contract with pkg/query (which compiles search rules to SQL against these
-- tables): entities are `entities e`; a property value is a row of
-- entity_values; relations are rows of `relations` resolved to entity ids.

-- Every reconcile attempt, applied or not.
CREATE TABLE revisions (
  id            INTEGER PRIMARY KEY,
  commit_hash   TEXT NOT NULL,
  parent_hash   TEXT,
  author        TEXT,
  message       TEXT,
  committed_at  TEXT,              -- RFC 3339, UTC
  reconciled_at TEXT NOT NULL,     -- RFC 3339, UTC
  status        TEXT NOT NULL,     -- applied | failed | held | error
  reason        TEXT,              -- why failed/held/error, with what to do
  duration_ms   INTEGER NOT NULL DEFAULT 0,
  entities      INTEGER NOT NULL DEFAULT 0,
  errors        INTEGER NOT NULL DEFAULT 0,
  warnings      INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX revisions_commit ON revisions(commit_hash);

-- Diagnostics of each attempt (kept for failed attempts and warnings).
CREATE TABLE diagnostics (
  revision_id INTEGER NOT NULL REFERENCES revisions(id) ON DELETE CASCADE,
  file        TEXT NOT NULL,
  line        INTEGER NOT NULL,
  col         INTEGER NOT NULL,
  severity    TEXT NOT NULL,
  code        TEXT NOT NULL,
  message     TEXT NOT NULL
);
CREATE INDEX diagnostics_revision ON diagnostics(revision_id);

-- Singleton state: which revision the tables below hold.
CREATE TABLE state (
  id                INTEGER PRIMARY KEY CHECK (id = 1),
  applied_revision  INTEGER REFERENCES revisions(id),
  applied_commit    TEXT,
  schema_hash       TEXT
);
INSERT INTO state (id) VALUES (1);

-- Catalog objects other than entities: the Port JSON document of each.
CREATE TABLE blueprints (
  identifier TEXT PRIMARY KEY,
  doc        TEXT NOT NULL,
  file       TEXT, line INTEGER
);
CREATE TABLE scorecards (
  blueprint  TEXT NOT NULL,
  identifier TEXT NOT NULL,
  doc        TEXT NOT NULL,
  file       TEXT, line INTEGER,
  PRIMARY KEY (blueprint, identifier)
);
CREATE TABLE actions (identifier TEXT PRIMARY KEY, doc TEXT NOT NULL, file TEXT, line INTEGER);
CREATE TABLE pages   (identifier TEXT PRIMARY KEY, doc TEXT NOT NULL, file TEXT, line INTEGER);
CREATE TABLE roles   (identifier TEXT PRIMARY KEY, doc TEXT NOT NULL, file TEXT, line INTEGER);

-- Entities. doc is the Port-shaped JSON (identifier, title, icon, blueprint,
-- team, properties incl. computed ones, relations). id is stable for a
-- (blueprint, identifier) across revisions.
CREATE TABLE entities (
  id          INTEGER PRIMARY KEY,
  blueprint   TEXT NOT NULL,
  identifier  TEXT NOT NULL,
  title       TEXT,
  icon        TEXT,
  created_at  TEXT,   -- RFC 3339 UTC: commit that added the entity
  updated_at  TEXT,   -- RFC 3339 UTC: commit that last changed it
  created_by  TEXT,
  updated_by  TEXT,
  file        TEXT NOT NULL,
  line        INTEGER NOT NULL,
  blob_hash   TEXT,   -- hash of the entity's JSON, to skip unchanged upserts
  doc         TEXT NOT NULL,
  UNIQUE (blueprint, identifier)
);
CREATE INDEX entities_identifier ON entities(identifier);
CREATE INDEX entities_title ON entities(blueprint, title);

CREATE TABLE entity_teams (
  entity_id INTEGER NOT NULL REFERENCES entities(id) ON DELETE CASCADE,
  team      TEXT NOT NULL,
  PRIMARY KEY (entity_id, team)
) WITHOUT ROWID;
CREATE INDEX entity_teams_team ON entity_teams(team, entity_id);

-- Typed, indexed property values (stored and computed). One row per scalar
-- value; an array property has one row per item (idx 0..n-1), a scalar has
-- idx -1. An absent or null property has no row.
--   typ 's' string: str set; num also set (epoch seconds) when the string is
--                   an RFC 3339 date-time or a YYYY-MM-DD date
--   typ 'n' number: num set
--   typ 'b' boolean: num 0 or 1
--   typ 'j' object:  str holds its JSON
CREATE TABLE entity_values (
  entity_id INTEGER NOT NULL REFERENCES entities(id) ON DELETE CASCADE,
  key       TEXT NOT NULL,
  idx       INTEGER NOT NULL,
  typ       TEXT NOT NULL,
  str       TEXT,
  num       REAL,
  PRIMARY KEY (entity_id, key, idx)
) WITHOUT ROWID;
CREATE INDEX entity_values_str ON entity_values(key, str, entity_id);
CREATE INDEX entity_values_num ON entity_values(key, num, entity_id);

-- Relations, both directions queryable. target_id is the related entity's
-- id (never NULL in an applied revision: dangling relations block a commit).
CREATE TABLE relations (
  source_id         INTEGER NOT NULL REFERENCES entities(id) ON DELETE CASCADE,
  relation          TEXT NOT NULL,
  target_blueprint  TEXT NOT NULL,
  target_identifier TEXT NOT NULL,
  target_id         INTEGER,
  PRIMARY KEY (source_id, relation, target_identifier)
) WITHOUT ROWID;
CREATE INDEX relations_target ON relations(target_id, relation, source_id);

-- Scorecard results of the applied revision.
CREATE TABLE scorecard_results (
  entity_id   INTEGER NOT NULL REFERENCES entities(id) ON DELETE CASCADE,
  scorecard   TEXT NOT NULL,
  level       TEXT NOT NULL,
  level_index INTEGER NOT NULL,   -- 0 = the first (base) level
  passed      INTEGER NOT NULL,   -- rules passed
  total       INTEGER NOT NULL,   -- rules evaluated
  PRIMARY KEY (entity_id, scorecard)
) WITHOUT ROWID;
CREATE INDEX scorecard_results_level ON scorecard_results(scorecard, level_index);

CREATE TABLE scorecard_rule_results (
  entity_id INTEGER NOT NULL REFERENCES entities(id) ON DELETE CASCADE,
  scorecard TEXT NOT NULL,
  rule      TEXT NOT NULL,
  status    TEXT NOT NULL,        -- SUCCESS | FAILURE
  exempt    INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (entity_id, scorecard, rule)
) WITHOUT ROWID;

-- Scorecard history: a row whenever an entity's level or failing rules
-- change, keyed by the revision that changed them. Kept across revisions.
CREATE TABLE scorecard_history (
  blueprint     TEXT NOT NULL,
  identifier    TEXT NOT NULL,
  scorecard     TEXT NOT NULL,
  revision_id   INTEGER NOT NULL REFERENCES revisions(id),
  commit_hash   TEXT NOT NULL,
  level         TEXT NOT NULL,    -- '' when the entity left the scorecard
  failing_rules TEXT NOT NULL,    -- JSON list of rule identifiers
  at            TEXT NOT NULL
);
CREATE INDEX scorecard_history_entity ON scorecard_history(blueprint, identifier, scorecard, revision_id);
