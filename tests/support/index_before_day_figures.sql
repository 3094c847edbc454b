-- The tables, indexes and triggers of a SQLite index made before the per-day figures of links were kept
-- (backlinkspider at commit ec7dc8d; its user_version is 0), as its sqlite_master holds them:
-- test_contract_captures.py opens such an index with the current version.
CREATE TABLE links (
    id            INTEGER PRIMARY KEY,
    edge_id       BLOB NOT NULL UNIQUE,
    source_url    TEXT NOT NULL,
    target_url    TEXT NOT NULL,
    link_type     TEXT NOT NULL,
    anchor_text   TEXT NOT NULL,
    nofollow      INTEGER NOT NULL,
    ugc           INTEGER NOT NULL,
    sponsored     INTEGER NOT NULL,
    source_host   TEXT NOT NULL,
    source_domain TEXT NOT NULL,
    target_host   TEXT NOT NULL,
    target_domain TEXT NOT NULL,
    first_seen    INTEGER NOT NULL,
    last_seen     INTEGER NOT NULL,
    lost_at       INTEGER,           -- NULL while the link is live
    provenance    TEXT NOT NULL DEFAULT 'crawl',  -- where it was last seen from (an archive's name)
    source_ip     TEXT,              -- its page's server address when last seen (NULL: unknown)
    source_subnet TEXT               -- that address's /24 (IPv4) or /48 (IPv6)
);
CREATE TABLE pages (
    url          TEXT PRIMARY KEY,
    last_crawled INTEGER NOT NULL,
    failures     INTEGER NOT NULL,
    status,
    ip_address   TEXT,    -- the newest fetch's server address (NULL: unknown)
    last_ok      INTEGER  -- the newest successful fetch (NULL: none)
) WITHOUT ROWID;
CREATE TABLE writes (kind TEXT PRIMARY KEY, n INTEGER NOT NULL) WITHOUT ROWID;
CREATE TABLE agg (
    target_domain TEXT NOT NULL,
    dim           TEXT NOT NULL,
    value         TEXT NOT NULL,
    n_all         INTEGER NOT NULL,
    n_live        INTEGER NOT NULL,
    first_seen    INTEGER NOT NULL,  -- of the value's first edge
    lost_at       INTEGER,           -- when its last live edge was lost (see _LATEST)
    PRIMARY KEY (target_domain, dim, value)
) WITHOUT ROWID;
CREATE INDEX links_by_target_url ON links (target_url, first_seen, edge_id);
CREATE INDEX links_by_target_host ON links (target_host, first_seen, edge_id);
CREATE INDEX links_by_target_domain ON links (target_domain, first_seen, edge_id);
CREATE INDEX links_by_domain_last_seen ON links (target_domain, last_seen, edge_id);
CREATE INDEX links_by_domain_source ON links (target_domain, source_domain, edge_id);
CREATE INDEX links_lost ON links (target_domain, lost_at) WHERE lost_at IS NOT NULL;
CREATE INDEX links_by_source_url ON links (source_url);
CREATE INDEX links_by_source_domain ON links (source_domain, target_domain);
CREATE INDEX pages_by_last_crawled ON pages (last_crawled);
CREATE TRIGGER agg_insert AFTER INSERT ON links BEGIN
INSERT INTO agg (target_domain, dim, value, n_all, n_live, first_seen, lost_at)
    SELECT NEW.target_domain, 'edge', '', 1, NEW.lost_at IS NULL,
           NEW.first_seen, NEW.lost_at
    WHERE 1
    ON CONFLICT (target_domain, dim, value) DO UPDATE SET
        n_all = n_all + 1,
        n_live = n_live + excluded.n_live,
        first_seen = min(first_seen, excluded.first_seen),
        lost_at = coalesce(max(lost_at, excluded.lost_at), lost_at, excluded.lost_at);
INSERT INTO agg (target_domain, dim, value, n_all, n_live, first_seen, lost_at)
    SELECT NEW.target_domain, 'rel', 'follow', 1, NEW.lost_at IS NULL,
           NEW.first_seen, NEW.lost_at
    WHERE NOT (NEW.nofollow OR NEW.ugc OR NEW.sponsored)
    ON CONFLICT (target_domain, dim, value) DO UPDATE SET
        n_all = n_all + 1,
        n_live = n_live + excluded.n_live,
        first_seen = min(first_seen, excluded.first_seen),
        lost_at = coalesce(max(lost_at, excluded.lost_at), lost_at, excluded.lost_at);
INSERT INTO agg (target_domain, dim, value, n_all, n_live, first_seen, lost_at)
    SELECT NEW.target_domain, 'rel', 'nofollow', 1, NEW.lost_at IS NULL,
           NEW.first_seen, NEW.lost_at
    WHERE NEW.nofollow
    ON CONFLICT (target_domain, dim, value) DO UPDATE SET
        n_all = n_all + 1,
        n_live = n_live + excluded.n_live,
        first_seen = min(first_seen, excluded.first_seen),
        lost_at = coalesce(max(lost_at, excluded.lost_at), lost_at, excluded.lost_at);
INSERT INTO agg (target_domain, dim, value, n_all, n_live, first_seen, lost_at)
    SELECT NEW.target_domain, 'rel', 'ugc', 1, NEW.lost_at IS NULL,
           NEW.first_seen, NEW.lost_at
    WHERE NEW.ugc
    ON CONFLICT (target_domain, dim, value) DO UPDATE SET
        n_all = n_all + 1,
        n_live = n_live + excluded.n_live,
        first_seen = min(first_seen, excluded.first_seen),
        lost_at = coalesce(max(lost_at, excluded.lost_at), lost_at, excluded.lost_at);
INSERT INTO agg (target_domain, dim, value, n_all, n_live, first_seen, lost_at)
    SELECT NEW.target_domain, 'rel', 'sponsored', 1, NEW.lost_at IS NULL,
           NEW.first_seen, NEW.lost_at
    WHERE NEW.sponsored
    ON CONFLICT (target_domain, dim, value) DO UPDATE SET
        n_all = n_all + 1,
        n_live = n_live + excluded.n_live,
        first_seen = min(first_seen, excluded.first_seen),
        lost_at = coalesce(max(lost_at, excluded.lost_at), lost_at, excluded.lost_at);
INSERT INTO agg (target_domain, dim, value, n_all, n_live, first_seen, lost_at)
    SELECT NEW.target_domain, 'type', NEW.link_type, 1, NEW.lost_at IS NULL,
           NEW.first_seen, NEW.lost_at
    WHERE 1
    ON CONFLICT (target_domain, dim, value) DO UPDATE SET
        n_all = n_all + 1,
        n_live = n_live + excluded.n_live,
        first_seen = min(first_seen, excluded.first_seen),
        lost_at = coalesce(max(lost_at, excluded.lost_at), lost_at, excluded.lost_at);
INSERT INTO agg (target_domain, dim, value, n_all, n_live, first_seen, lost_at)
    SELECT NEW.target_domain, 'anchor', NEW.anchor_text, 1, NEW.lost_at IS NULL,
           NEW.first_seen, NEW.lost_at
    WHERE 1
    ON CONFLICT (target_domain, dim, value) DO UPDATE SET
        n_all = n_all + 1,
        n_live = n_live + excluded.n_live,
        first_seen = min(first_seen, excluded.first_seen),
        lost_at = coalesce(max(lost_at, excluded.lost_at), lost_at, excluded.lost_at);
INSERT INTO agg (target_domain, dim, value, n_all, n_live, first_seen, lost_at)
    SELECT NEW.target_domain, 'ref_domain', NEW.source_domain, 1, NEW.lost_at IS NULL,
           NEW.first_seen, NEW.lost_at
    WHERE 1
    ON CONFLICT (target_domain, dim, value) DO UPDATE SET
        n_all = n_all + 1,
        n_live = n_live + excluded.n_live,
        first_seen = min(first_seen, excluded.first_seen),
        lost_at = coalesce(max(lost_at, excluded.lost_at), lost_at, excluded.lost_at);
INSERT INTO agg (target_domain, dim, value, n_all, n_live, first_seen, lost_at)
    SELECT NEW.target_domain, 'ref_host', NEW.source_host, 1, NEW.lost_at IS NULL,
           NEW.first_seen, NEW.lost_at
    WHERE 1
    ON CONFLICT (target_domain, dim, value) DO UPDATE SET
        n_all = n_all + 1,
        n_live = n_live + excluded.n_live,
        first_seen = min(first_seen, excluded.first_seen),
        lost_at = coalesce(max(lost_at, excluded.lost_at), lost_at, excluded.lost_at);
INSERT INTO agg (target_domain, dim, value, n_all, n_live, first_seen, lost_at)
    SELECT NEW.target_domain, 'ref_page', NEW.source_url, 1, NEW.lost_at IS NULL,
           NEW.first_seen, NEW.lost_at
    WHERE 1
    ON CONFLICT (target_domain, dim, value) DO UPDATE SET
        n_all = n_all + 1,
        n_live = n_live + excluded.n_live,
        first_seen = min(first_seen, excluded.first_seen),
        lost_at = coalesce(max(lost_at, excluded.lost_at), lost_at, excluded.lost_at);
INSERT INTO agg (target_domain, dim, value, n_all, n_live, first_seen, lost_at)
    SELECT NEW.target_domain, 'page', NEW.target_url, 1, NEW.lost_at IS NULL,
           NEW.first_seen, NEW.lost_at
    WHERE 1
    ON CONFLICT (target_domain, dim, value) DO UPDATE SET
        n_all = n_all + 1,
        n_live = n_live + excluded.n_live,
        first_seen = min(first_seen, excluded.first_seen),
        lost_at = coalesce(max(lost_at, excluded.lost_at), lost_at, excluded.lost_at);
INSERT INTO agg (target_domain, dim, value, n_all, n_live, first_seen, lost_at)
    SELECT NEW.target_domain, 'ref_ip', NEW.source_ip, 1, NEW.lost_at IS NULL,
           NEW.first_seen, NEW.lost_at
    WHERE NEW.source_ip IS NOT NULL
    ON CONFLICT (target_domain, dim, value) DO UPDATE SET
        n_all = n_all + 1,
        n_live = n_live + excluded.n_live,
        first_seen = min(first_seen, excluded.first_seen),
        lost_at = coalesce(max(lost_at, excluded.lost_at), lost_at, excluded.lost_at);
INSERT INTO agg (target_domain, dim, value, n_all, n_live, first_seen, lost_at)
    SELECT NEW.target_domain, 'ref_subnet', NEW.source_subnet, 1, NEW.lost_at IS NULL,
           NEW.first_seen, NEW.lost_at
    WHERE NEW.source_subnet IS NOT NULL
    ON CONFLICT (target_domain, dim, value) DO UPDATE SET
        n_all = n_all + 1,
        n_live = n_live + excluded.n_live,
        first_seen = min(first_seen, excluded.first_seen),
        lost_at = coalesce(max(lost_at, excluded.lost_at), lost_at, excluded.lost_at);
END;
CREATE TRIGGER agg_update
AFTER UPDATE OF lost_at, anchor_text, nofollow, ugc, sponsored, source_ip, first_seen ON links
WHEN OLD.lost_at IS NOT NEW.lost_at OR OLD.anchor_text IS NOT NEW.anchor_text
  OR OLD.nofollow != NEW.nofollow OR OLD.ugc != NEW.ugc OR OLD.sponsored != NEW.sponsored
  OR OLD.source_ip IS NOT NEW.source_ip OR OLD.first_seen != NEW.first_seen
BEGIN
UPDATE agg SET
        n_all = n_all - 1,
        n_live = n_live - (OLD.lost_at IS NULL),
        lost_at = coalesce(max(lost_at, NEW.lost_at), lost_at, NEW.lost_at)
    WHERE target_domain = OLD.target_domain AND dim = 'edge' AND value = ''
      AND 1;
UPDATE agg SET
        n_all = n_all - 1,
        n_live = n_live - (OLD.lost_at IS NULL),
        lost_at = coalesce(max(lost_at, NEW.lost_at), lost_at, NEW.lost_at)
    WHERE target_domain = OLD.target_domain AND dim = 'rel' AND value = 'follow'
      AND NOT (OLD.nofollow OR OLD.ugc OR OLD.sponsored);
UPDATE agg SET
        n_all = n_all - 1,
        n_live = n_live - (OLD.lost_at IS NULL),
        lost_at = coalesce(max(lost_at, NEW.lost_at), lost_at, NEW.lost_at)
    WHERE target_domain = OLD.target_domain AND dim = 'rel' AND value = 'nofollow'
      AND OLD.nofollow;
UPDATE agg SET
        n_all = n_all - 1,
        n_live = n_live - (OLD.lost_at IS NULL),
        lost_at = coalesce(max(lost_at, NEW.lost_at), lost_at, NEW.lost_at)
    WHERE target_domain = OLD.target_domain AND dim = 'rel' AND value = 'ugc'
      AND OLD.ugc;
UPDATE agg SET
        n_all = n_all - 1,
        n_live = n_live - (OLD.lost_at IS NULL),
        lost_at = coalesce(max(lost_at, NEW.lost_at), lost_at, NEW.lost_at)
    WHERE target_domain = OLD.target_domain AND dim = 'rel' AND value = 'sponsored'
      AND OLD.sponsored;
UPDATE agg SET
        n_all = n_all - 1,
        n_live = n_live - (OLD.lost_at IS NULL),
        lost_at = coalesce(max(lost_at, NEW.lost_at), lost_at, NEW.lost_at)
    WHERE target_domain = OLD.target_domain AND dim = 'type' AND value = OLD.link_type
      AND 1;
UPDATE agg SET
        n_all = n_all - 1,
        n_live = n_live - (OLD.lost_at IS NULL),
        lost_at = coalesce(max(lost_at, NEW.lost_at), lost_at, NEW.lost_at)
    WHERE target_domain = OLD.target_domain AND dim = 'anchor' AND value = OLD.anchor_text
      AND 1;
UPDATE agg SET
        n_all = n_all - 1,
        n_live = n_live - (OLD.lost_at IS NULL),
        lost_at = coalesce(max(lost_at, NEW.lost_at), lost_at, NEW.lost_at)
    WHERE target_domain = OLD.target_domain AND dim = 'ref_domain' AND value = OLD.source_domain
      AND 1;
UPDATE agg SET
        n_all = n_all - 1,
        n_live = n_live - (OLD.lost_at IS NULL),
        lost_at = coalesce(max(lost_at, NEW.lost_at), lost_at, NEW.lost_at)
    WHERE target_domain = OLD.target_domain AND dim = 'ref_host' AND value = OLD.source_host
      AND 1;
UPDATE agg SET
        n_all = n_all - 1,
        n_live = n_live - (OLD.lost_at IS NULL),
        lost_at = coalesce(max(lost_at, NEW.lost_at), lost_at, NEW.lost_at)
    WHERE target_domain = OLD.target_domain AND dim = 'ref_page' AND value = OLD.source_url
      AND 1;
UPDATE agg SET
        n_all = n_all - 1,
        n_live = n_live - (OLD.lost_at IS NULL),
        lost_at = coalesce(max(lost_at, NEW.lost_at), lost_at, NEW.lost_at)
    WHERE target_domain = OLD.target_domain AND dim = 'page' AND value = OLD.target_url
      AND 1;
UPDATE agg SET
        n_all = n_all - 1,
        n_live = n_live - (OLD.lost_at IS NULL),
        lost_at = coalesce(max(lost_at, NEW.lost_at), lost_at, NEW.lost_at)
    WHERE target_domain = OLD.target_domain AND dim = 'ref_ip' AND value = OLD.source_ip
      AND OLD.source_ip IS NOT NULL;
UPDATE agg SET
        n_all = n_all - 1,
        n_live = n_live - (OLD.lost_at IS NULL),
        lost_at = coalesce(max(lost_at, NEW.lost_at), lost_at, NEW.lost_at)
    WHERE target_domain = OLD.target_domain AND dim = 'ref_subnet' AND value = OLD.source_subnet
      AND OLD.source_subnet IS NOT NULL;
INSERT INTO agg (target_domain, dim, value, n_all, n_live, first_seen, lost_at)
    SELECT NEW.target_domain, 'edge', '', 1, NEW.lost_at IS NULL,
           NEW.first_seen, NEW.lost_at
    WHERE 1
    ON CONFLICT (target_domain, dim, value) DO UPDATE SET
        n_all = n_all + 1,
        n_live = n_live + excluded.n_live,
        first_seen = min(first_seen, excluded.first_seen),
        lost_at = coalesce(max(lost_at, excluded.lost_at), lost_at, excluded.lost_at);
INSERT INTO agg (target_domain, dim, value, n_all, n_live, first_seen, lost_at)
    SELECT NEW.target_domain, 'rel', 'follow', 1, NEW.lost_at IS NULL,
           NEW.first_seen, NEW.lost_at
    WHERE NOT (NEW.nofollow OR NEW.ugc OR NEW.sponsored)
    ON CONFLICT (target_domain, dim, value) DO UPDATE SET
        n_all = n_all + 1,
        n_live = n_live + excluded.n_live,
        first_seen = min(first_seen, excluded.first_seen),
        lost_at = coalesce(max(lost_at, excluded.lost_at), lost_at, excluded.lost_at);
INSERT INTO agg (target_domain, dim, value, n_all, n_live, first_seen, lost_at)
    SELECT NEW.target_domain, 'rel', 'nofollow', 1, NEW.lost_at IS NULL,
           NEW.first_seen, NEW.lost_at
    WHERE NEW.nofollow
    ON CONFLICT (target_domain, dim, value) DO UPDATE SET
        n_all = n_all + 1,
        n_live = n_live + excluded.n_live,
        first_seen = min(first_seen, excluded.first_seen),
        lost_at = coalesce(max(lost_at, excluded.lost_at), lost_at, excluded.lost_at);
INSERT INTO agg (target_domain, dim, value, n_all, n_live, first_seen, lost_at)
    SELECT NEW.target_domain, 'rel', 'ugc', 1, NEW.lost_at IS NULL,
           NEW.first_seen, NEW.lost_at
    WHERE NEW.ugc
    ON CONFLICT (target_domain, dim, value) DO UPDATE SET
        n_all = n_all + 1,
        n_live = n_live + excluded.n_live,
        first_seen = min(first_seen, excluded.first_seen),
        lost_at = coalesce(max(lost_at, excluded.lost_at), lost_at, excluded.lost_at);
INSERT INTO agg (target_domain, dim, value, n_all, n_live, first_seen, lost_at)
    SELECT NEW.target_domain, 'rel', 'sponsored', 1, NEW.lost_at IS NULL,
           NEW.first_seen, NEW.lost_at
    WHERE NEW.sponsored
    ON CONFLICT (target_domain, dim, value) DO UPDATE SET
        n_all = n_all + 1,
        n_live = n_live + excluded.n_live,
        first_seen = min(first_seen, excluded.first_seen),
        lost_at = coalesce(max(lost_at, excluded.lost_at), lost_at, excluded.lost_at);
INSERT INTO agg (target_domain, dim, value, n_all, n_live, first_seen, lost_at)
    SELECT NEW.target_domain, 'type', NEW.link_type, 1, NEW.lost_at IS NULL,
           NEW.first_seen, NEW.lost_at
    WHERE 1
    ON CONFLICT (target_domain, dim, value) DO UPDATE SET
        n_all = n_all + 1,
        n_live = n_live + excluded.n_live,
        first_seen = min(first_seen, excluded.first_seen),
        lost_at = coalesce(max(lost_at, excluded.lost_at), lost_at, excluded.lost_at);
INSERT INTO agg (target_domain, dim, value, n_all, n_live, first_seen, lost_at)
    SELECT NEW.target_domain, 'anchor', NEW.anchor_text, 1, NEW.lost_at IS NULL,
           NEW.first_seen, NEW.lost_at
    WHERE 1
    ON CONFLICT (target_domain, dim, value) DO UPDATE SET
        n_all = n_all + 1,
        n_live = n_live + excluded.n_live,
        first_seen = min(first_seen, excluded.first_seen),
        lost_at = coalesce(max(lost_at, excluded.lost_at), lost_at, excluded.lost_at);
INSERT INTO agg (target_domain, dim, value, n_all, n_live, first_seen, lost_at)
    SELECT NEW.target_domain, 'ref_domain', NEW.source_domain, 1, NEW.lost_at IS NULL,
           NEW.first_seen, NEW.lost_at
    WHERE 1
    ON CONFLICT (target_domain, dim, value) DO UPDATE SET
        n_all = n_all + 1,
        n_live = n_live + excluded.n_live,
        first_seen = min(first_seen, excluded.first_seen),
        lost_at = coalesce(max(lost_at, excluded.lost_at), lost_at, excluded.lost_at);
INSERT INTO agg (target_domain, dim, value, n_all, n_live, first_seen, lost_at)
    SELECT NEW.target_domain, 'ref_host', NEW.source_host, 1, NEW.lost_at IS NULL,
           NEW.first_seen, NEW.lost_at
    WHERE 1
    ON CONFLICT (target_domain, dim, value) DO UPDATE SET
        n_all = n_all + 1,
        n_live = n_live + excluded.n_live,
        first_seen = min(first_seen, excluded.first_seen),
        lost_at = coalesce(max(lost_at, excluded.lost_at), lost_at, excluded.lost_at);
INSERT INTO agg (target_domain, dim, value, n_all, n_live, first_seen, lost_at)
    SELECT NEW.target_domain, 'ref_page', NEW.source_url, 1, NEW.lost_at IS NULL,
           NEW.first_seen, NEW.lost_at
    WHERE 1
    ON CONFLICT (target_domain, dim, value) DO UPDATE SET
        n_all = n_all + 1,
        n_live = n_live + excluded.n_live,
        first_seen = min(first_seen, excluded.first_seen),
        lost_at = coalesce(max(lost_at, excluded.lost_at), lost_at, excluded.lost_at);
INSERT INTO agg (target_domain, dim, value, n_all, n_live, first_seen, lost_at)
    SELECT NEW.target_domain, 'page', NEW.target_url, 1, NEW.lost_at IS NULL,
           NEW.first_seen, NEW.lost_at
    WHERE 1
    ON CONFLICT (target_domain, dim, value) DO UPDATE SET
        n_all = n_all + 1,
        n_live = n_live + excluded.n_live,
        first_seen = min(first_seen, excluded.first_seen),
        lost_at = coalesce(max(lost_at, excluded.lost_at), lost_at, excluded.lost_at);
INSERT INTO agg (target_domain, dim, value, n_all, n_live, first_seen, lost_at)
    SELECT NEW.target_domain, 'ref_ip', NEW.source_ip, 1, NEW.lost_at IS NULL,
           NEW.first_seen, NEW.lost_at
    WHERE NEW.source_ip IS NOT NULL
    ON CONFLICT (target_domain, dim, value) DO UPDATE SET
        n_all = n_all + 1,
        n_live = n_live + excluded.n_live,
        first_seen = min(first_seen, excluded.first_seen),
        lost_at = coalesce(max(lost_at, excluded.lost_at), lost_at, excluded.lost_at);
INSERT INTO agg (target_domain, dim, value, n_all, n_live, first_seen, lost_at)
    SELECT NEW.target_domain, 'ref_subnet', NEW.source_subnet, 1, NEW.lost_at IS NULL,
           NEW.first_seen, NEW.lost_at
    WHERE NEW.source_subnet IS NOT NULL
    ON CONFLICT (target_domain, dim, value) DO UPDATE SET
        n_all = n_all + 1,
        n_live = n_live + excluded.n_live,
        first_seen = min(first_seen, excluded.first_seen),
        lost_at = coalesce(max(lost_at, excluded.lost_at), lost_at, excluded.lost_at);
END;
