-- The mirror (SPEC.md §9): the normalized after-sales of every configured platform, the sync
-- state of each platform account, and the change log. Ids beyond 2^53 stay TEXT; times are
-- unix seconds (INTEGER) for sorting and ranges, the record itself is its JSON.

CREATE TABLE aftersales (
  id              TEXT PRIMARY KEY,      -- platform:aftersale_id
  platform        TEXT NOT NULL,
  aftersale_id    TEXT NOT NULL,
  order_id        TEXT,
  status          TEXT NOT NULL,
  kind            TEXT NOT NULL,
  created_s       INTEGER,
  updated_s       INTEGER,
  refunded_s      INTEGER,
  refund_minor    INTEGER,
  refund_currency TEXT,
  openid          TEXT,
  user_id         TEXT,
  search          TEXT NOT NULL,         -- order ids, after-sale id, product names, lower-cased
  json            TEXT NOT NULL,
  hash            TEXT NOT NULL,         -- of json: an upsert with the same hash changes nothing
  mirrored_s      INTEGER NOT NULL
);

-- Keyset pages by the date field, newest first, for one platform or all.
CREATE INDEX aftersales_platform_updated ON aftersales (platform, updated_s DESC, id DESC);
CREATE INDEX aftersales_platform_created ON aftersales (platform, created_s DESC, id DESC);
CREATE INDEX aftersales_updated ON aftersales (updated_s DESC, id DESC);
CREATE INDEX aftersales_created ON aftersales (created_s DESC, id DESC);
CREATE INDEX aftersales_openid ON aftersales (openid);

-- Every change once, in a strictly increasing sequence.
CREATE TABLE changes (
  seq      INTEGER PRIMARY KEY AUTOINCREMENT,
  id       TEXT NOT NULL,
  platform TEXT NOT NULL,
  change   TEXT NOT NULL,                -- created | updated
  json     TEXT NOT NULL,
  at_s     INTEGER NOT NULL
);
CREATE INDEX changes_platform ON changes (platform, seq);

-- The log is written by the table itself, so no writer can change a row and forget its entry.
CREATE TRIGGER aftersales_created AFTER INSERT ON aftersales BEGIN
  INSERT INTO changes (id, platform, change, json, at_s) VALUES (new.id, new.platform, 'created', new.json, new.mirrored_s);
END;
CREATE TRIGGER aftersales_updated AFTER UPDATE OF hash ON aftersales WHEN old.hash IS NOT new.hash BEGIN
  INSERT INTO changes (id, platform, change, json, at_s) VALUES (new.id, new.platform, 'updated', new.json, new.mirrored_s);
END;

-- One row per platform account: the core's SyncState as JSON, and the lease of the run syncing it.
CREATE TABLE sync_state (
  account     TEXT PRIMARY KEY,
  platform    TEXT NOT NULL,
  state       TEXT NOT NULL,
  lease_until INTEGER NOT NULL DEFAULT 0,
  lease_owner TEXT,
  ran_s       INTEGER
);
