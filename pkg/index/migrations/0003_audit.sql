-- berth index, schema version 3: the audit log.
--
-- Unlike the catalog tables, the audit log is not rebuilt from Git: it
-- accumulates from the moment the index exists. Instants are Unix
-- microseconds (UTC), so that catalog changes and API requests sort
-- together by one integer.

-- src_hash hashes an entity's own content as its file says it: no computed
-- property, no $createdAt/$updatedAt, no position. Apply records an entity
-- as updated only when it changes. Rows written before this version have
-- none; their next rewrite is recorded as an update when blob_hash differs.
ALTER TABLE entities ADD COLUMN src_hash TEXT;

-- Catalog changes, written by Apply in the transaction of the revision that
-- makes them, with the commit's hash, time and author. The first revision
-- applied to an index counts its entities per blueprint (action imported,
-- identifier NULL) instead of listing them.
CREATE TABLE audit_changes (
  id          INTEGER PRIMARY KEY,
  at          INTEGER NOT NULL,            -- commit time
  commit_hash TEXT NOT NULL,
  actor       TEXT COLLATE NOCASE,         -- the commit author's e-mail, else name
  action      TEXT NOT NULL,               -- created | updated | deleted | imported
  blueprint   TEXT NOT NULL,
  identifier  TEXT,                        -- NULL for imported
  file        TEXT,                        -- the entity's file (the old one when deleted)
  count       INTEGER NOT NULL DEFAULT 1   -- entities the row stands for
);
CREATE INDEX audit_changes_at ON audit_changes(at);
CREATE INDEX audit_changes_entity ON audit_changes(blueprint, identifier, at);
CREATE INDEX audit_changes_actor ON audit_changes(actor, at);

-- API requests of authenticated callers, written in batches by the API
-- server and pruned by age and count (the newest rows stay).
CREATE TABLE audit_requests (
  id          INTEGER PRIMARY KEY,
  at          INTEGER NOT NULL,            -- when the request arrived
  client      TEXT NOT NULL,               -- API client id
  actor       TEXT COLLATE NOCASE,         -- the e-mail of the user the client acts as
  method      TEXT NOT NULL,
  route       TEXT NOT NULL,               -- the route's pattern, e.g. GET /v1/blueprints/{bp}
  path        TEXT NOT NULL,
  params      TEXT,                        -- JSON object of the route's path parameters
  blueprint   TEXT,
  identifier  TEXT,                        -- entity routes only
  status      INTEGER NOT NULL,
  duration_us INTEGER NOT NULL
);
CREATE INDEX audit_requests_at ON audit_requests(at);
CREATE INDEX audit_requests_entity ON audit_requests(blueprint, identifier, at);
CREATE INDEX audit_requests_actor ON audit_requests(actor, at);
