"""The embedded link index: one SQLite file, no server.

One row per edge, unique on its 16-byte edge_id (not on the URLs themselves, which would store every URL
twice); a batch is one transaction of ``INSERT ... ON CONFLICT DO UPDATE``, so a re-crawl moves
``last_seen`` and keeps ``first_seen``. WAL journaling lets ``backlinks query`` read while a crawl writes.

Summaries of a registered domain read per-domain aggregates (table ``agg``) that triggers keep up to date
on every insert and every real change of an edge, so a domain with millions of backlinks is summarized
from thousands of aggregate rows instead of millions of edges (bench/profile_bench.py has the figures).
Hosts and URLs, far smaller as targets, are summarized from their edges on demand.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
import time
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from backlinkspider.index.base import (
    SCORE_COLUMNS,
    SCORE_SORTS,
    TOP,
    BadRow,
    CrawledPage,
    Filters,
    IndexUnavailable,
    LinkIndex,
    Target,
    checked,
    decode_cursor,
    encode_cursor,
    history,
    iso,
    profile,
    score_record,
    tld_of,
)
from backlinkspider.urls import registered_domain

_SCHEMA = """
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
    lost_at       INTEGER            -- NULL while the link is live
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

-- Every page fetched: when, and how many fetches in a row failed.
CREATE TABLE IF NOT EXISTS pages (
    url          TEXT PRIMARY KEY,
    last_crawled INTEGER NOT NULL,
    failures     INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS pages_by_last_crawled ON pages (last_crawled);

-- Per target domain: how many edges (all, live) fall in each value of each dimension.
CREATE TABLE IF NOT EXISTS agg (
    target_domain TEXT NOT NULL,
    dim           TEXT NOT NULL,
    value         TEXT NOT NULL,
    n_all         INTEGER NOT NULL,
    n_live        INTEGER NOT NULL,
    first_seen    INTEGER NOT NULL,  -- of the value's first edge
    lost_at       INTEGER,           -- when its last live edge was lost
    PRIMARY KEY (target_domain, dim, value)
) WITHOUT ROWID;
"""

# The dimensions an edge counts in: (dim, value, condition), in SQL over a row named X.
_DIMENSIONS = [
    ("edge", "''", "1"),
    ("rel", "'follow'", "NOT (X.nofollow OR X.ugc OR X.sponsored)"),
    ("rel", "'nofollow'", "X.nofollow"),
    ("rel", "'ugc'", "X.ugc"),
    ("rel", "'sponsored'", "X.sponsored"),
    ("type", "X.link_type", "1"),
    ("anchor", "X.anchor_text", "1"),
    ("ref_domain", "X.source_domain", "1"),
    ("ref_host", "X.source_host", "1"),
    ("ref_page", "X.source_url", "1"),
    ("page", "X.target_url", "1"),
]


def _add(row: str) -> str:
    return "\n".join(
        f"""INSERT INTO agg (target_domain, dim, value, n_all, n_live, first_seen, lost_at)
    SELECT {row}.target_domain, '{dim}', {value.replace("X.", row + ".")}, 1, {row}.lost_at IS NULL,
           {row}.first_seen, {row}.lost_at
    WHERE {cond.replace("X.", row + ".")}
    ON CONFLICT (target_domain, dim, value) DO UPDATE SET
        n_all = n_all + 1,
        n_live = n_live + excluded.n_live,
        first_seen = min(first_seen, excluded.first_seen),
        lost_at = CASE WHEN n_live + excluded.n_live > 0 THEN NULL ELSE lost_at END;"""
        for dim, value, cond in _DIMENSIONS
    )


def _remove_old() -> str:
    return "\n".join(
        f"""UPDATE agg SET
        n_all = n_all - 1,
        n_live = n_live - (OLD.lost_at IS NULL),
        lost_at = CASE WHEN OLD.lost_at IS NULL AND n_live = 1 THEN NEW.lost_at ELSE lost_at END
    WHERE target_domain = OLD.target_domain AND dim = '{dim}' AND value = {value.replace("X.", "OLD.")}
      AND {cond.replace("X.", "OLD.")};"""
        for dim, value, cond in _DIMENSIONS
    )


# A changed edge leaves the values it counted in and joins its new ones (most are the same values: their
# counts net to zero but for n_live when the edge is lost or found again).
_TRIGGERS = f"""
CREATE TRIGGER IF NOT EXISTS agg_insert AFTER INSERT ON links BEGIN
{_add("NEW")}
END;
CREATE TRIGGER IF NOT EXISTS agg_update AFTER UPDATE OF lost_at, anchor_text, nofollow, ugc, sponsored ON links
WHEN OLD.lost_at IS NOT NEW.lost_at OR OLD.anchor_text IS NOT NEW.anchor_text
  OR OLD.nofollow != NEW.nofollow OR OLD.ugc != NEW.ugc OR OLD.sponsored != NEW.sponsored
BEGIN
{_remove_old()}
{_add("NEW")}
END;
"""

_UPSERT = """
INSERT INTO links (edge_id, source_url, target_url, link_type, anchor_text, nofollow, ugc, sponsored,
                   source_host, source_domain, target_host, target_domain, first_seen, last_seen)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (edge_id) DO UPDATE SET
    anchor_text = CASE WHEN {newer} THEN excluded.anchor_text ELSE anchor_text END,
    nofollow = CASE WHEN {newer} THEN excluded.nofollow ELSE nofollow END,
    ugc = CASE WHEN {newer} THEN excluded.ugc ELSE ugc END,
    sponsored = CASE WHEN {newer} THEN excluded.sponsored ELSE sponsored END,
    lost_at = CASE WHEN {newer} THEN NULL ELSE lost_at END,
    last_seen = max(last_seen, excluded.last_seen)
""".format(
    # Only a fetch at least as new as all the edge reflects changes it (expressions read the old row).
    newer="excluded.last_seen >= last_seen AND excluded.last_seen >= coalesce(lost_at, excluded.last_seen)"
)
# Edges of a fetched page that this fetch did not see again.
_MARK_MISSING_LOST = (
    "UPDATE links SET lost_at = ?1 WHERE source_url = ?2 AND lost_at IS NULL AND last_seen < ?1"
)
_MARK_ALL_LOST = "UPDATE links SET lost_at = ?1 WHERE source_url = ?2 AND lost_at IS NULL AND last_seen < ?1"
_PAGE_OK = """
INSERT INTO pages (url, last_crawled, failures) VALUES (?2, ?1, 0)
ON CONFLICT (url) DO UPDATE SET last_crawled = max(last_crawled, excluded.last_crawled), failures = 0
"""
_PAGE_FAILED = """
INSERT INTO pages (url, last_crawled, failures) VALUES (?2, ?1, 1)
ON CONFLICT (url) DO UPDATE SET last_crawled = max(last_crawled, excluded.last_crawled), failures = failures + 1
RETURNING failures
"""

_COLUMNS = (
    "source_url, target_url, source_domain, target_domain, link_type, anchor_text,"
    " nofollow, ugc, sponsored, first_seen, last_seen, edge_id, lost_at"
)
_SCOPE_COLUMN = {"url": "target_url", "host": "target_host", "domain": "target_domain"}


def _record(row: tuple, sort_position: int | None = None) -> dict[str, Any]:
    """A row as a record; with a sort, also the ``_cursor`` that continues after it."""
    record = {
        "source_url": row[0],
        "target_url": row[1],
        "source_domain": row[2],
        "target_domain": row[3],
        "link_type": row[4],
        "anchor_text": row[5],
        "nofollow": bool(row[6]),
        "ugc": bool(row[7]),
        "sponsored": bool(row[8]),
        "first_seen": iso(row[9]),
        "last_seen": iso(row[10]),
        "lost_at": iso(row[12]) if row[12] is not None else None,
    }
    if sort_position is not None:
        record["_cursor"] = encode_cursor(row[sort_position], row[11])
    return record


_SORT_POSITION = {"first_seen": 9, "last_seen": 10, "source_domain": 2}


_BUSY_SECONDS = 30.0  # how long to wait for another process's write lock


def _switch_to_wal(db: sqlite3.Connection) -> None:
    """``PRAGMA journal_mode=WAL``, retried: switching a new file takes its exclusive lock without the
    busy handler, so it fails at once ("database is locked") while another process writes the same new
    file, as one opening it at the same moment does."""
    deadline = time.monotonic() + _BUSY_SECONDS
    delay = 0.005
    while True:
        try:
            db.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() + delay > deadline:
                raise
            time.sleep(delay)
            delay = min(delay * 2, 0.25)


# The links that make the domain graph: live, followed, external. The partial index on them holds the
# domains and the columns of its condition, so the graph is grouped by a covering index scan in its order.
_GRAPH_WHERE = "lost_at IS NULL AND NOT (nofollow OR ugc OR sponsored) AND source_domain != target_domain"
_GRAPH_INDEX = f"CREATE INDEX IF NOT EXISTS links_domain_graph ON links (source_domain, target_domain) WHERE {_GRAPH_WHERE}"
# Made by the first `backlinks rank`, so an index that never ranks does not carry them.
_SCORES_SCHEMA = f"""
{_GRAPH_INDEX};
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


class SQLiteIndex(LinkIndex):
    """A link index in the SQLite file at ``path``; ``create=False`` refuses to make a new one."""

    def __init__(self, path: str, *, create: bool = True) -> None:
        self.uri = f"sqlite:///{path}"
        self.path = Path(path)
        if not create and not self.path.is_file():
            raise IndexUnavailable(f"no index at {self.path} (crawl first, or pass --index)")
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            # check_same_thread off: the crawl's pipeline writes from a worker thread, one write at a time.
            # The busy timeout is set by connect, before anything touches the file.
            self._db = sqlite3.connect(
                self.path, isolation_level=None, check_same_thread=False, timeout=_BUSY_SECONDS
            )
            _switch_to_wal(self._db)
            self._db.execute("PRAGMA synchronous=NORMAL")
            # The schema in one write transaction: IMMEDIATE waits for the lock (a deferred one could
            # fail at once when another process opening the same new file wrote first).
            self._db.executescript(f"BEGIN IMMEDIATE; {_SCHEMA} {_TRIGGERS} COMMIT;")
        except (sqlite3.Error, OSError) as exc:
            raise IndexUnavailable(f"cannot open index {self.path}: {exc}") from None

    def write(self, pages: Iterable[CrawledPage], *, lost_after_failures: int = 3) -> int:
        pages = checked(pages)
        rows = [
            (
                e.edge_id,
                e.source_url,
                e.target_url,
                e.link_type,
                e.anchor_text,
                e.nofollow,
                e.ugc,
                e.sponsored,
                e.source_host,
                e.source_domain,
                e.target_host,
                e.target_domain,
                int(page.seen_at.timestamp()),
                int(page.seen_at.timestamp()),
            )
            for page in pages
            for e in page.edges
        ]
        try:
            self._db.execute("BEGIN IMMEDIATE")
            with self._db:  # commits the batch whole, or rolls it back whole
                self._db.executemany(_UPSERT, rows)
                for page in pages:
                    t = int(page.seen_at.timestamp())
                    if not page.failed:
                        self._db.execute(_MARK_MISSING_LOST, (t, page.url))
                        self._db.execute(_PAGE_OK, (t, page.url))
                    elif self._db.execute(_PAGE_FAILED, (t, page.url)).fetchone()[0] >= lost_after_failures:
                        self._db.execute(_MARK_ALL_LOST, (t, page.url))
        except (
            sqlite3.IntegrityError,
            sqlite3.DataError,
            sqlite3.ProgrammingError,
            sqlite3.InterfaceError,
        ) as exc:
            raise BadRow(
                f"index {self.path} refused the batch: {exc}"
            ) from None  # a constraint, a too big row
        except sqlite3.Error as exc:
            raise IndexUnavailable(f"cannot write to index {self.path}: {exc}") from None
        return len(rows)

    def check_writable(self) -> None:
        # Rewriting the header's user_version with its own value commits a real write and changes nothing
        # (BEGIN IMMEDIATE alone succeeds on a read-only file).
        try:
            self._db.execute("BEGIN IMMEDIATE")
            with self._db:
                version = int(self._db.execute("PRAGMA user_version").fetchone()[0])
                self._db.execute(f"PRAGMA user_version = {version}")
        except sqlite3.Error as exc:
            raise IndexUnavailable(f"cannot write to index {self.path}: {exc}") from None

    def query(
        self,
        target: Target,
        filters: Filters = Filters(),
        *,
        sort: str = "first_seen",
        limit: int | None = None,
        offset: int = 0,
        cursor: str | None = None,
        one_per_domain: bool = False,
    ) -> Iterator[dict[str, Any]]:
        if sort == "authority":
            return self._by_authority(target, filters, limit, offset, cursor, one_per_domain)
        if sort not in _SORT_POSITION:
            raise ValueError(f"unknown sort {sort!r}")
        where, args = self._where(target, filters)
        source = f"SELECT {_COLUMNS} FROM links WHERE {where}"
        if one_per_domain:
            source = (
                f"SELECT {_COLUMNS} FROM (SELECT {_COLUMNS}, row_number() OVER (PARTITION BY source_domain"
                f" ORDER BY (nofollow OR ugc OR sponsored), first_seen, edge_id) AS best"
                f" FROM links WHERE {where}) WHERE best = 1"
            )
        sql = f"SELECT * FROM ({source})" if one_per_domain else source
        if cursor:
            value, edge_id = decode_cursor(cursor, sort)
            sql += (
                " WHERE " if one_per_domain else " AND "
            ) + f"({sort} > ? OR ({sort} = ? AND edge_id > ?))"
            args += [value, value, edge_id]
        sql += f" ORDER BY {sort}, edge_id"
        if limit or offset:
            sql += " LIMIT ? OFFSET ?"
            args += [limit or -1, offset]
        position = _SORT_POSITION[sort]
        return self._with_scores(_record(row, position) for row in self._rows(sql, args))

    def summary(
        self, target: Target, *, include_lost: bool = False, now: datetime | None = None
    ) -> dict[str, Any]:
        now = now or datetime.now(UTC)
        if target.scope == "domain":
            return self._summary_from_aggregates(target.value, include_lost, now)
        return self._summary_on_demand(target, include_lost, now)

    def pages_to_recrawl(self, limit: int | None = None) -> Iterator[str]:
        sql = "SELECT url FROM pages ORDER BY last_crawled, url"
        return (row[0] for row in self._rows(sql + (" LIMIT ?" if limit else ""), [limit] if limit else []))

    def export(self) -> Iterator[dict[str, Any]]:
        return (_record(row) for row in self._rows(f"SELECT {_COLUMNS} FROM links ORDER BY edge_id", []))

    def count(self) -> int:
        return self._db.execute("SELECT count(*) FROM links").fetchone()[0]

    def history(self, target: Target) -> list[dict[str, Any]]:
        col = _SCOPE_COLUMN[target.scope]
        week = "({t} / 86400 + 3) / 7"  # base.epoch_week in SQL

        def weekly(sql: str) -> dict[int, int]:
            return dict(self._db.execute(sql, (target.value,)).fetchall())

        links = f"FROM links WHERE {col} = ?"
        if target.scope == "domain":  # referring domains from the aggregates (see the module docstring)
            domains = "SELECT first_seen AS f, lost_at AS l, n_live AS live FROM agg"
            domains += " WHERE target_domain = ? AND dim = 'ref_domain'"
        else:
            domains = "SELECT min(first_seen) AS f, max(lost_at) AS l, sum(lost_at IS NULL) AS live"
            domains += f" {links} GROUP BY source_domain"
        return history(
            weekly(f"SELECT {week.format(t='first_seen')} AS w, count(*) {links} GROUP BY w"),
            weekly(
                f"SELECT {week.format(t='lost_at')} AS w, count(*) {links} AND lost_at IS NOT NULL GROUP BY w"
            ),
            weekly(f"SELECT {week.format(t='f')} AS w, count(*) FROM ({domains}) GROUP BY w"),
            weekly(f"SELECT {week.format(t='l')} AS w, count(*) FROM ({domains}) WHERE live = 0 GROUP BY w"),
        )

    def version(self) -> int:
        """SQLite's data_version: it moves when another connection commits (this one only reads)."""
        return self._db.execute("PRAGMA data_version").fetchone()[0]

    def close(self) -> None:
        self._db.close()

    # --- helpers -------------------------------------------------------------------------------------

    def _where(self, target: Target, f: Filters) -> tuple[str, list[Any]]:
        clauses = [f"{_SCOPE_COLUMN[target.scope]} = ?"]
        args: list[Any] = [target.value]
        if f.status == "live":
            clauses.append("lost_at IS NULL")
        elif f.status == "lost":
            clauses.append("lost_at IS NOT NULL")
        if f.rel == "follow":
            clauses.append("NOT (nofollow OR ugc OR sponsored)")
        elif f.rel == "nofollow":
            clauses.append("(nofollow OR ugc OR sponsored)")
        if f.link_type:
            clauses.append("link_type = ?")
            args.append(f.link_type)
        if f.since is not None:
            clauses.append("first_seen >= ?")
            args.append(f.since)
        if f.from_domain:
            clauses.append("source_domain = ?")
            args.append(f.from_domain)
            if target.scope == "host":  # implied; lets a host's links from one domain use (domain, source)
                clauses.append("target_domain = ?")
                args.append(registered_domain(target.value))
        if f.anchor_contains:
            clauses.append("instr(lower(anchor_text), lower(?)) > 0")
            args.append(f.anchor_contains)
        return " AND ".join(clauses), args

    def _rows(self, sql: str, args: list[Any]) -> Iterator[tuple]:
        try:
            cursor = self._db.execute(sql, args)
        except sqlite3.Error as exc:
            raise IndexUnavailable(f"cannot read index {self.path}: {exc}") from None
        return iter(cursor)

    def _windows(self, now: datetime) -> dict[str, int]:
        return {w: int((now - timedelta(days=d)).timestamp()) for w, d in (("7d", 7), ("30d", 30))}

    def _summary_from_aggregates(self, domain: str, include_lost: bool, now: datetime) -> dict[str, Any]:
        n = "n_all" if include_lost else "n_live"
        db = self._db

        def counts(dim: str) -> dict[str, int]:
            rows = db.execute(
                f"SELECT value, {n} FROM agg WHERE target_domain = ? AND dim = ? AND {n} > 0", (domain, dim)
            )
            return dict(rows.fetchall())

        def distinct(dim: str) -> int:
            sql = f"SELECT count(*) FROM agg WHERE target_domain = ? AND dim = ? AND {n} > 0"
            return db.execute(sql, (domain, dim)).fetchone()[0]

        def top(dim: str) -> list[dict[str, Any]]:
            sql = (
                f"SELECT value, {n} FROM agg WHERE target_domain = ? AND dim = ? AND {n} > 0"
                f" ORDER BY {n} DESC, value LIMIT {TOP}"
            )
            return [{"value": v, "count": c} for v, c in db.execute(sql, (domain, dim))]

        # Referring domains per public suffix, grouped in SQL (a big domain has 100k+ of them).
        tld = (
            "CASE WHEN value GLOB '[0-9]*.[0-9]*.[0-9]*.[0-9]*' OR instr(value, '.') = 0 THEN value"
            " ELSE substr(value, instr(value, '.') + 1) END"
        )
        tlds = dict(
            db.execute(
                f"SELECT {tld} AS t, count(*) FROM agg WHERE target_domain = ? AND dim = 'ref_domain' AND {n} > 0"
                " GROUP BY t",
                (domain,),
            ).fetchall()
        )
        # The oldest and newest edges by index order: the first live one from each end.
        live = "" if include_lost else " AND lost_at IS NULL"
        first = db.execute(
            f"SELECT first_seen FROM links WHERE target_domain = ?{live}"
            " ORDER BY first_seen, edge_id LIMIT 1",
            (domain,),
        ).fetchone()
        last = db.execute(
            f"SELECT last_seen FROM links WHERE target_domain = ?{live}"
            " ORDER BY last_seen DESC, edge_id DESC LIMIT 1",
            (domain,),
        ).fetchone()
        first, last = (first or (None,))[0], (last or (None,))[0]
        windows = self._windows(now)
        new, lost = {}, {}
        for w, since in windows.items():
            new[w] = {
                "backlinks": db.execute(
                    "SELECT count(*) FROM links WHERE target_domain = ? AND first_seen >= ?", (domain, since)
                ).fetchone()[0],
                "referring_domains": db.execute(
                    "SELECT count(*) FROM agg WHERE target_domain = ? AND dim = 'ref_domain' AND first_seen >= ?",
                    (domain, since),
                ).fetchone()[0],
            }
            lost[w] = {
                "backlinks": db.execute(
                    "SELECT count(*) FROM links WHERE target_domain = ? AND lost_at >= ?", (domain, since)
                ).fetchone()[0],
                "referring_domains": db.execute(
                    "SELECT count(*) FROM agg WHERE target_domain = ? AND dim = 'ref_domain' AND n_live = 0"
                    " AND lost_at >= ?",
                    (domain, since),
                ).fetchone()[0],
            }
        rel = counts("rel")
        return profile(
            backlinks=counts("edge").get("", 0),
            referring_pages=distinct("ref_page"),
            referring_domains=distinct("ref_domain"),
            referring_hosts=distinct("ref_host"),
            tlds=tlds,
            by_rel={k: rel.get(k, 0) for k in ("follow", "nofollow", "ugc", "sponsored")},
            by_type=counts("type"),
            top_anchors=top("anchor"),
            top_referring_domains=top("ref_domain"),
            top_pages=top("page"),
            first=first,
            last=last,
            new=new,
            lost=lost,
        )

    def _summary_on_demand(self, target: Target, include_lost: bool, now: datetime) -> dict[str, Any]:
        col = _SCOPE_COLUMN[target.scope]
        live = "" if include_lost else " AND lost_at IS NULL"
        base = f"FROM links WHERE {col} = ?{live}"
        db = self._db
        one = lambda sql, *a: db.execute(sql, (target.value, *a)).fetchone()  # noqa: E731

        def top(column: str) -> list[dict[str, Any]]:
            sql = f"SELECT {column}, count(*) AS c {base} GROUP BY {column} ORDER BY c DESC, {column} LIMIT {TOP}"
            return [{"value": v, "count": c} for v, c in db.execute(sql, (target.value,))]

        tlds: dict[str, int] = {}
        for (ref_domain,) in db.execute(f"SELECT DISTINCT source_domain {base}", (target.value,)):
            tlds[tld_of(ref_domain)] = tlds.get(tld_of(ref_domain), 0) + 1
        new, lost = {}, {}
        for w, since in self._windows(now).items():
            first_by_domain = (
                f"SELECT source_domain, min(first_seen) AS f FROM links WHERE {col} = ?"
                " GROUP BY source_domain"
            )
            new[w] = {
                "backlinks": one(f"SELECT count(*) FROM links WHERE {col} = ? AND first_seen >= ?", since)[0],
                "referring_domains": one(f"SELECT count(*) FROM ({first_by_domain}) WHERE f >= ?", since)[0],
            }
            lost_domains = (
                f"SELECT source_domain, max(lost_at) AS l, sum(lost_at IS NULL) AS live"
                f" FROM links WHERE {col} = ? GROUP BY source_domain"
            )
            lost[w] = {
                "backlinks": one(f"SELECT count(*) FROM links WHERE {col} = ? AND lost_at >= ?", since)[0],
                "referring_domains": one(
                    f"SELECT count(*) FROM ({lost_domains}) WHERE live = 0 AND l >= ?", since
                )[0],
            }
        by_rel = one(
            "SELECT sum(NOT (nofollow OR ugc OR sponsored)), sum(nofollow), sum(ugc), sum(sponsored) " + base
        )
        first, last = one(f"SELECT min(first_seen), max(last_seen) {base}")
        return profile(
            backlinks=one(f"SELECT count(*) {base}")[0],
            referring_pages=one(f"SELECT count(DISTINCT source_url) {base}")[0],
            referring_domains=one(f"SELECT count(DISTINCT source_domain) {base}")[0],
            referring_hosts=one(f"SELECT count(DISTINCT source_host) {base}")[0],
            tlds=tlds,
            by_rel=dict(
                zip(("follow", "nofollow", "ugc", "sponsored"), (v or 0 for v in by_rel), strict=False)
            ),
            by_type=dict(
                db.execute(f"SELECT link_type, count(*) {base} GROUP BY link_type", (target.value,))
            ),
            top_anchors=top("anchor_text"),
            top_referring_domains=top("source_domain"),
            top_pages=top("target_url"),
            first=first,
            last=last,
            new=new,
            lost=lost,
        )

    # --- the domain graph and its scores ---------------------------------------------------------------

    def graph_domains(self) -> Iterator[str]:
        self._graph_index()
        sql = (
            f"SELECT source_domain FROM links WHERE {_GRAPH_WHERE}"
            # +target_domain: scan the graph's partial index, not a target index and the table
            f" UNION SELECT +target_domain FROM links WHERE {_GRAPH_WHERE} ORDER BY 1"
        )
        return (domain for (domain,) in self._rows(sql, []))

    def domain_graph(self) -> Iterator[tuple[str, str, int]]:
        self._graph_index()
        sql = (
            f"SELECT source_domain, target_domain, count(*) FROM links WHERE {_GRAPH_WHERE}"
            " GROUP BY source_domain, target_domain ORDER BY source_domain, target_domain"
        )
        return self._rows(sql, [])

    def _graph_index(self) -> None:
        with contextlib.suppress(sqlite3.Error):  # once; a read-only index is grouped without it
            self._db.execute(_GRAPH_INDEX)

    def save_scores(self, rows: Iterable[tuple[Any, ...]], run: dict[str, Any]) -> None:
        marks = ", ".join("?" * len(SCORE_COLUMNS))
        try:
            self._db.executescript(_SCORES_SCHEMA)
            self._db.execute("BEGIN IMMEDIATE")
            with self._db:  # readers see the old scores until the new ones are all in
                self._db.execute("DELETE FROM domain_scores")
                self._db.executemany(
                    f"INSERT INTO domain_scores ({', '.join(SCORE_COLUMNS)}) VALUES ({marks})", rows
                )
                self._db.execute(
                    "INSERT OR REPLACE INTO score_runs (id, run) VALUES (1, ?)", (json.dumps(run),)
                )
        except sqlite3.Error as exc:
            raise IndexUnavailable(f"cannot write scores to index {self.path}: {exc}") from None

    def scores_run(self) -> dict[str, Any] | None:
        row = self._scores_read("SELECT run FROM score_runs WHERE id = 1", [])
        return json.loads(row[0][0]) if row else None

    def domain_scores(
        self, sort: str = "authority", farm_only: bool = False, limit: int | None = 100
    ) -> list[dict[str, Any]]:
        if sort not in SCORE_SORTS:
            raise ValueError(f"unknown sort {sort!r}")
        run = self.scores_run()
        if run is None:
            return []
        sql = f"SELECT {', '.join(SCORE_COLUMNS)} FROM domain_scores"
        sql += " WHERE farm" if farm_only else ""
        sql += f" ORDER BY {sort} DESC, domain LIMIT ?"
        return [score_record(r, run["computed_at"]) for r in self._scores_read(sql, [limit or -1])]

    def domain_score(self, domain: str) -> dict[str, Any] | None:
        run = self.scores_run()
        sql = f"SELECT {', '.join(SCORE_COLUMNS)} FROM domain_scores WHERE domain = ?"
        rows = self._scores_read(sql, [domain]) if run else []
        return score_record(rows[0], run["computed_at"]) if rows and run else None

    def authority_bands(self, domain: str) -> list[dict[str, Any]]:
        sql = (
            "SELECT min(CAST(authority / 10 AS INTEGER), 9), count(*) FROM domain_scores WHERE domain IN"
            f" (SELECT DISTINCT source_domain FROM links WHERE target_domain = ? AND {_GRAPH_WHERE})"
            " GROUP BY 1"
        )
        counts = dict(self._scores_read(sql, [domain]))
        return [{"band": f"{b * 10}-{b * 10 + 10}", "referring_domains": counts.get(b, 0)} for b in range(10)]

    def index_fingerprint(self) -> list[Any]:
        # Both are index lookups: new edges take new ids; every fetch moves a page's last_crawled.
        edges = self._db.execute("SELECT max(id) FROM links").fetchone()[0]
        crawled = self._db.execute("SELECT max(last_crawled) FROM pages").fetchone()[0]
        return [edges, crawled]

    def _authorities(self, domains: set[str]) -> dict[str, float]:
        names = sorted(domains)
        found: dict[str, float] = {}
        for i in range(0, len(names), 500):
            chunk = names[i : i + 500]
            sql = (
                f"SELECT domain, authority FROM domain_scores WHERE domain IN ({', '.join('?' * len(chunk))})"
            )
            found.update(self._scores_read(sql, chunk))
        return found

    def _referring_domains(self, target: Target) -> set[str]:
        if target.scope == "url":
            column, value = "target_url", target.value
        else:
            column = "target_domain"
            value = registered_domain(target.value) if target.scope == "host" else target.value
        return {
            d for (d,) in self._rows(f"SELECT DISTINCT source_domain FROM links WHERE {column} = ?", [value])
        }

    def _links_back(self, pairs: set[tuple[str, str]]) -> set[tuple[str, str]]:
        sql = f"SELECT 1 FROM links WHERE target_domain = ? AND source_domain = ? AND {_GRAPH_WHERE} LIMIT 1"
        return {(t, s) for t, s in pairs if self._db.execute(sql, (s, t)).fetchone()}

    def _scores_read(self, sql: str, args: list[Any]) -> list[tuple]:
        """Rows of a scores query; none when no rank has made the tables yet."""
        try:
            return self._db.execute(sql, args).fetchall()
        except sqlite3.OperationalError as exc:
            if "no such table" in str(exc):
                return []
            raise IndexUnavailable(f"cannot read index {self.path}: {exc}") from None
