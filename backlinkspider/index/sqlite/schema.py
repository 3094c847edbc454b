"""The SQLite index's tables, indexes, triggers and write statements (``store.py`` runs them).

One row per edge, unique on its 16-byte edge_id (not on the URLs themselves, which would store every URL
twice). Per target domain, table ``agg`` counts edges by each dimension (``index/figures.py``, shared
with MongoDB); triggers keep it up to date on every insert and every real change of
an edge, so a domain with millions of backlinks is summarized from thousands of aggregate rows.
"""

from __future__ import annotations

from backlinkspider.index.figures import DAY, DIMENSIONS, FLAGS, LOST_DAY, NEW_DAY, Dimension

SCHEMA = """
CREATE TABLE IF NOT EXISTS links (
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
-- One index per query scope and sort, in the order queries return rows, so a first page reads only
-- its rows.
CREATE INDEX IF NOT EXISTS links_by_target_url ON links (target_url, first_seen, edge_id);
CREATE INDEX IF NOT EXISTS links_by_target_host ON links (target_host, first_seen, edge_id);
CREATE INDEX IF NOT EXISTS links_by_target_domain ON links (target_domain, first_seen, edge_id);
CREATE INDEX IF NOT EXISTS links_by_domain_last_seen ON links (target_domain, last_seen, edge_id);
CREATE INDEX IF NOT EXISTS links_by_domain_source ON links (target_domain, source_domain, edge_id);
CREATE INDEX IF NOT EXISTS links_lost ON links (target_domain, lost_at) WHERE lost_at IS NOT NULL;
-- Re-crawls look up a page's edges by its URL.
CREATE INDEX IF NOT EXISTS links_by_source_url ON links (source_url);
-- A domain's outgoing links (backlinks outlinks): the only read by source domain.
CREATE INDEX IF NOT EXISTS links_by_source_domain ON links (source_domain, target_domain);

-- Every page fetched: when, how many fetches in a row failed, and why the newest fetch failed (NULL: it
-- did not; an HTTP status or a failure kind, so the column has no type).
CREATE TABLE IF NOT EXISTS pages (
    url          TEXT PRIMARY KEY,
    last_crawled INTEGER NOT NULL,
    failures     INTEGER NOT NULL,
    status,
    ip_address   TEXT,    -- the newest fetch's server address (NULL: unknown)
    last_ok      INTEGER  -- the newest successful fetch (NULL: none)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS pages_by_last_crawled ON pages (last_crawled);

-- Committed writes: edge batches and score saves, each a counter bumped in its own transaction, so
-- fingerprint() sees a write that changes no date (a re-crawl that only marks links lost in the same
-- second) with one primary-key read.
CREATE TABLE IF NOT EXISTS writes (kind TEXT PRIMARY KEY, n INTEGER NOT NULL) WITHOUT ROWID;

-- Per target domain: how many edges (all, live) fall in each value of each dimension.
CREATE TABLE IF NOT EXISTS agg (
    target_domain TEXT NOT NULL,
    dim           TEXT NOT NULL,
    value         TEXT NOT NULL,
    n_all         INTEGER NOT NULL,
    n_live        INTEGER NOT NULL,
    first_seen    INTEGER NOT NULL,  -- of the value's first edge
    lost_at       INTEGER,           -- when its last live edge was lost (see _LATEST)
    PRIMARY KEY (target_domain, dim, value)
) WITHOUT ROWID;
"""


def _value(dim: Dimension, row: str) -> str:
    if dim.day:  # the text Python's ``Dimension.value_of`` gives: dates are whole, positive seconds
        return f"CAST({row}.{dim.field} / {DAY} AS TEXT)"
    return f"{row}.{dim.field}" if dim.field else f"'{dim.value}'"


def _condition(dim: Dimension, row: str) -> str:
    if dim.when is None:
        return f"{row}.{dim.field} IS NOT NULL" if dim.optional else "1"
    if dim.when == "follow":
        return f"NOT ({' OR '.join(f'{row}.{flag}' for flag in FLAGS)})"
    return f"{row}.{dim.when}"


# agg.lost_at: the latest lost_at any of the value's edges was given, read only while none is live (then
# it is when the last was lost: an edge found again after its loss is lost later, if ever, so a stale
# date never exceeds the real one); a max, not the last written, as an older capture may mark late.
_LATEST = "coalesce(max(lost_at, {new}), lost_at, {new})"


def _add(row: str) -> str:
    return "\n".join(
        f"""INSERT INTO agg (target_domain, dim, value, n_all, n_live, first_seen, lost_at)
    SELECT {row}.target_domain, '{dim.name}', {_value(dim, row)}, 1, {row}.lost_at IS NULL,
           {row}.first_seen, {row}.lost_at
    WHERE {_condition(dim, row)}
    ON CONFLICT (target_domain, dim, value) DO UPDATE SET
        n_all = n_all + 1,
        n_live = n_live + excluded.n_live,
        first_seen = min(first_seen, excluded.first_seen),
        lost_at = {_LATEST.format(new="excluded.lost_at")};"""
        for dim in DIMENSIONS
    )


def _remove_old() -> str:
    return "\n".join(
        f"""UPDATE agg SET
        n_all = n_all - 1,
        n_live = n_live - (OLD.lost_at IS NULL),
        lost_at = {_LATEST.format(new="NEW.lost_at")}
    WHERE target_domain = OLD.target_domain AND dim = '{dim.name}' AND value = {_value(dim, "OLD")}
      AND {_condition(dim, "OLD")};"""
        for dim in DIMENSIONS
    )


# A changed edge leaves the values it counted in and joins its new ones (most are the same values: their
# counts net to zero but for n_live when the edge is lost or found again).
TRIGGERS = f"""
CREATE TRIGGER IF NOT EXISTS agg_insert AFTER INSERT ON links BEGIN
{_add("NEW")}
END;
CREATE TRIGGER IF NOT EXISTS agg_update
AFTER UPDATE OF lost_at, anchor_text, nofollow, ugc, sponsored, source_ip, first_seen ON links
WHEN OLD.lost_at IS NOT NEW.lost_at OR OLD.anchor_text IS NOT NEW.anchor_text
  OR OLD.nofollow != NEW.nofollow OR OLD.ugc != NEW.ugc OR OLD.sponsored != NEW.sponsored
  OR OLD.source_ip IS NOT NEW.source_ip OR OLD.first_seen != NEW.first_seen
BEGIN
{_remove_old()}
{_add("NEW")}
END;
"""

# Expressions read the old row. The newest sighting of an edge sets what it looked like (anchor, rel flags)
# and where it was last seen from; only one at least as new as its lost mark too makes it live again. An
# older one changes nothing here: first_seen is moved back by EARLIER, for late captures only, as setting
# it here would rewrite its three indexes' entries on every re-crawl (a third of the re-crawl rate).
_LATEST_SIGHTING = "excluded.last_seen >= last_seen"
_NEWER = f"{_LATEST_SIGHTING} AND excluded.last_seen >= coalesce(lost_at, excluded.last_seen)"
_NEWS = ("anchor_text", "nofollow", "ugc", "sponsored", "provenance", "source_ip", "source_subnet")
_SET_NEWS = "".join(
    f"\n    {c} = CASE WHEN {_LATEST_SIGHTING} THEN excluded.{c} ELSE {c} END," for c in _NEWS
)


def _recount(dim: Dimension, edges: str) -> str:
    """Insert the ``agg`` rows of ``dim`` counted from the edges that pass ``edges``: what the triggers
    keep."""
    return f"""INSERT INTO agg (target_domain, dim, value, n_all, n_live, first_seen, lost_at)
    SELECT target_domain, '{dim.name}', {_value(dim, "links")}, count(*), sum(lost_at IS NULL),
           min(first_seen), CASE WHEN sum(lost_at IS NULL) = 0 THEN max(lost_at) END
    FROM links WHERE {edges} AND {_condition(dim, "links")} GROUP BY 1, 3"""


# A domain's aggregate rows recounted from its edges (``rebuild_figures``).
REBUILD_AGG = ["DELETE FROM agg WHERE target_domain = ?1"] + [
    _recount(dim, "target_domain = ?1") for dim in DIMENSIONS
]
# Figures added after indexes were made, counted from every edge when an older index is opened (one pass
# over the links): an index's ``PRAGMA user_version`` is how many of these it has (0: made before the
# first), and the triggers are remade to keep the new ones.
_DAYS = [dim for dim in DIMENSIONS if dim.name in (NEW_DAY, LOST_DAY)]
VERSIONS: list[tuple[str, ...]] = [
    (f"DELETE FROM agg WHERE dim IN ('{NEW_DAY}', '{LOST_DAY}')", *(_recount(dim, "1") for dim in _DAYS)),
]
UPSERT = f"""
INSERT INTO links (edge_id, source_url, target_url, link_type, anchor_text, nofollow, ugc, sponsored,
                   source_host, source_domain, target_host, target_domain, first_seen, last_seen,
                   provenance, source_ip, source_subnet)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (edge_id) DO UPDATE SET{_SET_NEWS}
    lost_at = CASE WHEN {_NEWER} THEN NULL ELSE lost_at END,
    last_seen = max(last_seen, excluded.last_seen)
"""
# A page's live edges that a fetch at ?1 did not see again (for a page failed too often: all of them).
MARK_LOST = "UPDATE links SET lost_at = ?1 WHERE source_url = ?2 AND lost_at IS NULL AND last_seen < ?1"
# The page's newest successful fetch and newest fetch, read before this fetch updates the row: a fetch
# older than the first marks lost at it what only the older fetch saw; one older than the second may have
# seen its edges first (every edge's first_seen is at most its page's newest fetch).
PAGE_NEWEST = "SELECT last_ok, last_crawled FROM pages WHERE url = ?"
EARLIER = "UPDATE links SET first_seen = ?1 WHERE edge_id = ?2 AND first_seen > ?1"
BUMP = "INSERT INTO writes (kind, n) VALUES (?, 1) ON CONFLICT (kind) DO UPDATE SET n = n + 1"
# [edge batches, score saves] (None before the first of each).
WRITES = "SELECT (SELECT n FROM writes WHERE kind = 'edges'), (SELECT n FROM writes WHERE kind = 'scores')"
# The status and address are the newest fetch's: an older fetch written late leaves it (SET reads the old row).
_NEWEST_STATUS = ",\n    ".join(
    f"{c} = CASE WHEN excluded.last_crawled >= last_crawled THEN excluded.{c} ELSE {c} END"
    for c in ("status", "ip_address")
)
PAGE_OK = f"""
INSERT INTO pages (url, last_crawled, failures, status, ip_address, last_ok) VALUES (?2, ?1, 0, NULL, ?3, ?1)
ON CONFLICT (url) DO UPDATE SET last_crawled = max(last_crawled, excluded.last_crawled), failures = 0,
    last_ok = max(coalesce(last_ok, excluded.last_ok), excluded.last_ok),
    {_NEWEST_STATUS}
"""
PAGE_FAILED = f"""
INSERT INTO pages (url, last_crawled, failures, status, ip_address) VALUES (?2, ?1, 1, ?3, ?4)
ON CONFLICT (url) DO UPDATE SET last_crawled = max(last_crawled, excluded.last_crawled), failures = failures + 1,
    {_NEWEST_STATUS}
RETURNING failures
"""
# An index made before a column was added gets it (the old rows read as the default: a page whose newest
# fetch succeeded has its last_ok), and the aggregate triggers anew, to count the new columns (old rows
# have no address: nothing to count). Per table: (column, the statements that add it). A new figure of
# existing columns is a step of ``VERSIONS`` instead.
MIGRATIONS: dict[str, list[tuple[str, tuple[str, ...]]]] = {
    "pages": [
        ("status", ("ALTER TABLE pages ADD COLUMN status",)),
        ("ip_address", ("ALTER TABLE pages ADD COLUMN ip_address TEXT",)),
        (
            "last_ok",
            (
                "ALTER TABLE pages ADD COLUMN last_ok INTEGER",
                "UPDATE pages SET last_ok = last_crawled WHERE status IS NULL",
            ),
        ),
    ],
    "links": [
        ("provenance", ("ALTER TABLE links ADD COLUMN provenance TEXT NOT NULL DEFAULT 'crawl'",)),
        ("source_ip", ("ALTER TABLE links ADD COLUMN source_ip TEXT",)),
        ("source_subnet", ("ALTER TABLE links ADD COLUMN source_subnet TEXT",)),
    ],
}
DROP_TRIGGERS = ("DROP TRIGGER IF EXISTS agg_insert", "DROP TRIGGER IF EXISTS agg_update")


# The links that make the domain graph: live, followed, external. The partial index on them holds the
# domains and the columns of its condition, so the graph is grouped by a covering index scan in its order.
GRAPH_WHERE = "lost_at IS NULL AND NOT (nofollow OR ugc OR sponsored) AND source_domain != target_domain"
GRAPH_INDEX = f"CREATE INDEX IF NOT EXISTS links_domain_graph ON links (source_domain, target_domain) WHERE {GRAPH_WHERE}"
# Made by the first `backlinks rank`, so an index that never ranks does not carry them.
SCORES_SCHEMA = f"""
{GRAPH_INDEX};
CREATE TABLE IF NOT EXISTS domain_scores (
    domain             TEXT PRIMARY KEY,
    pagerank           REAL NOT NULL,
    authority          REAL NOT NULL,
    trust              REAL,             -- NULL when no trusted domains were given
    spam_mass          REAL,
    farm               INTEGER NOT NULL,
    farm_id            INTEGER,
    farm_role          TEXT,
    reciprocal_domains INTEGER NOT NULL,
    referring_domains  INTEGER NOT NULL,
    linked_domains     INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS domain_scores_by_authority ON domain_scores (authority DESC, domain);
CREATE INDEX IF NOT EXISTS domain_scores_by_trust ON domain_scores (trust DESC, domain);
CREATE INDEX IF NOT EXISTS domain_scores_by_spam_mass ON domain_scores (spam_mass DESC, domain);
CREATE INDEX IF NOT EXISTS domain_scores_by_referring ON domain_scores (referring_domains DESC, domain);
-- The last rank: one row, a JSON document.
CREATE TABLE IF NOT EXISTS score_runs (id INTEGER PRIMARY KEY CHECK (id = 1), run TEXT NOT NULL);
"""
