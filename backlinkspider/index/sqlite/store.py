"""The embedded link index: one SQLite file, no server (``protocols.LinkIndex`` in SQL).

A batch is one transaction of ``INSERT ... ON CONFLICT DO UPDATE``, so a re-crawl moves ``last_seen``
and keeps ``first_seen``. WAL journaling lets readers read while a crawl writes. A registered domain is
tallied from the per-domain aggregates (``schema.py``); hosts and URLs, far smaller as targets, from
their edges on demand (bench/profile_bench.py has the figures).
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import sqlite3
import time
from collections.abc import Iterable, Iterator, Sequence
from operator import attrgetter, itemgetter
from pathlib import Path
from typing import Any

from backlinkspider.index.checks import checked
from backlinkspider.index.errors import BadRow, IndexUnavailable, unavailable
from backlinkspider.index.figures import LOST_DAY, NEW_DAY, Days, tally_of
from backlinkspider.index.sqlite.schema import (
    BUMP,
    DROP_TRIGGERS,
    EARLIER,
    GRAPH_INDEX,
    GRAPH_WHERE,
    MARK_LOST,
    MIGRATIONS,
    PAGE_FAILED,
    PAGE_NEWEST,
    PAGE_OK,
    REBUILD_AGG,
    SCHEMA,
    SCORES_SCHEMA,
    TRIGGERS,
    UPSERT,
    VERSIONS,
    WRITES,
)
from backlinkspider.records import (
    BEST_EDGE_ORDER,
    EDGE_SORTS,
    SCORE_COLUMNS,
    SCORE_SORTS,
    Bucketing,
    CrawledPage,
    Crossing,
    EdgeRow,
    EdgeSort,
    Events,
    Filters,
    Group,
    GroupBy,
    Outgoing,
    PageState,
    ScoreRow,
    ScoreRun,
    ScoreSort,
    Span,
    Status,
    Tally,
    Target,
)
from backlinkspider.standards.urls import registered_domain

SqlArgs = list[object]
Row = Any  # what sqlite3 gives: a tuple of column values

_COLUMNS = ", ".join(EdgeRow._fields)
_FLAGGED = "(nofollow OR ugc OR sponsored)"
_ORDER_SQL = {"flagged": _FLAGGED, "first_seen": "first_seen", "edge_id": "edge_id"}
_BEST_FIRST = ", ".join(_ORDER_SQL[key] for key in BEST_EDGE_ORDER)
_SCOPE_COLUMN = {"url": "target_url", "host": "target_host", "domain": "target_domain"}
_SCORE_ROW = attrgetter(*SCORE_COLUMNS)
_BUSY_SECONDS = 30.0  # how long to wait for another process's write lock
_SCORE_ORDER = {sort: f"{sort} DESC, domain" for sort in SCORE_SORTS}
_REL_COUNTS = f"sum(NOT {_FLAGGED}), sum(nofollow), sum(ugc), sum(sponsored)"
_GROUP_COLUMNS: tuple[GroupBy, ...] = ("anchor_text", "target_url", "source_domain")


def _edge(r: Row) -> EdgeRow:
    flags = bool(r[7]), bool(r[8]), bool(r[9])
    return EdgeRow(r[0], r[1], r[2], r[3], r[4], r[5], r[6], *flags, r[10], r[11], r[12], r[13])


def _statements(script: str) -> Iterator[str]:
    """The SQL statements of ``script`` one by one (``execute`` runs one; ``executescript`` would commit
    the transaction under way), cut where ``sqlite3.complete_statement`` says one ends."""
    statement = ""
    for part in script.split(";"):
        statement += part + ";"
        if sqlite3.complete_statement(statement):
            if statement.strip() != ";":  # not the nothing after the last one
                yield statement
            statement = ""


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


def _where(target: Target, f: Filters) -> tuple[str, SqlArgs]:
    clauses = [f"{_SCOPE_COLUMN[target.scope]} = ?"]
    args: SqlArgs = [target.value]
    if f.status == "live":
        clauses.append("lost_at IS NULL")
    elif f.status == "lost":
        clauses.append("lost_at IS NOT NULL")
    if f.rel == "follow":
        clauses.append(f"NOT {_FLAGGED}")
    elif f.rel == "nofollow":
        clauses.append(_FLAGGED)
    for column, value in (
        ("link_type", f.link_type),
        ("source_domain", f.from_domain),
        ("provenance", f.provenance),
    ):
        if value:
            clauses.append(f"{column} = ?")
            args.append(value)
    if f.from_domain and target.scope == "host":
        # implied; lets a host's links from one domain use (domain, source)
        clauses.append("target_domain = ?")
        args.append(registered_domain(target.value))
    if f.since is not None:
        clauses.append("first_seen >= ?")
        args.append(f.since)
    if f.anchor_contains:
        clauses.append("instr(lower(anchor_text), lower(?)) > 0")
        args.append(f.anchor_contains)
    return " AND ".join(clauses), args


class SQLiteStore:
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
            self._db.executescript(f"BEGIN IMMEDIATE; {SCHEMA} {TRIGGERS} COMMIT;")
            self._migrate()
        except (sqlite3.Error, OSError) as exc:
            raise unavailable("open", str(self.path), exc) from None

    def _migrate(self) -> None:
        """Add the columns an index made by an older version lacks (``schema.MIGRATIONS``), count the
        figures added since (``schema.VERSIONS``, after its ``user_version``) and remake the triggers
        that keep them, in one write transaction that looks again, so two processes opening it at once
        migrate it once."""
        if not self._missing() and self._version() >= len(VERSIONS):
            return
        self._db.execute("BEGIN IMMEDIATE")
        with self._db:
            for add in self._missing():
                for statement in add:
                    self._db.execute(statement)
            for step in VERSIONS[self._version() :]:
                for statement in step:
                    self._db.execute(statement)
            for drop in DROP_TRIGGERS:
                self._db.execute(drop)
            for statement in _statements(TRIGGERS):
                self._db.execute(statement)
            self._db.execute(f"PRAGMA user_version = {max(self._version(), len(VERSIONS))}")

    def _version(self) -> int:
        return int(self._db.execute("PRAGMA user_version").fetchone()[0])

    def _missing(self) -> list[tuple[str, ...]]:
        """The statements that add the columns this index lacks."""
        return [
            add
            for table, columns in MIGRATIONS.items()
            for column, add in columns
            if column not in {r[1] for r in self._db.execute(f"PRAGMA table_info({table})")}
        ]

    def __enter__(self) -> SQLiteStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- writes -----------------------------------------------------------------------------------

    def write(self, pages: Sequence[CrawledPage], *, lost_after_failures: int = 3) -> int:
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
                page.provenance,
                page.ip_address,
                subnet,
            )
            for page in pages
            for subnet in (page.subnet,)
            for e in page.edges
        ]
        try:
            self._db.execute("BEGIN IMMEDIATE")
            with self._db:  # commits the batch whole, or rolls it back whole
                self._db.executemany(UPSERT, rows)
                for page in pages:
                    t = int(page.seen_at.timestamp())
                    if not page.failed:
                        newest_ok, newest = self._db.execute(PAGE_NEWEST, (page.url,)).fetchone() or (None, t)
                        if t < newest:  # a late capture (schema.EARLIER)
                            self._db.executemany(EARLIER, [(t, e.edge_id) for e in page.edges])
                        # An older fetch marks at the newest successful one what only it saw.
                        self._db.execute(MARK_LOST, (max(t, newest_ok or t), page.url))
                        self._db.execute(PAGE_OK, (t, page.url, page.ip_address))
                    elif (
                        self._db.execute(
                            PAGE_FAILED, (t, page.url, page.failure, page.ip_address)
                        ).fetchone()[0]
                        >= lost_after_failures
                    ):
                        self._db.execute(MARK_LOST, (t, page.url))
                self._db.execute(BUMP, ("edges",))
        except (
            sqlite3.IntegrityError,
            sqlite3.DataError,
            sqlite3.ProgrammingError,
            sqlite3.InterfaceError,
        ) as exc:  # a constraint, a too big row
            raise BadRow(f"index {self.path} refused the batch: {exc}") from None
        except sqlite3.Error as exc:
            raise unavailable("write to", str(self.path), exc) from None
        return len(rows)

    def rebuild_figures(self, domain: str) -> int:
        """The aggregate rows are kept in each write's transaction and cannot drift; recounted anyway,
        as MongoDB's are, in one transaction."""
        try:
            self._db.execute("BEGIN IMMEDIATE")
            with self._db:
                for sql in REBUILD_AGG:
                    self._db.execute(sql, (domain,))
        except sqlite3.Error as exc:
            raise unavailable("write to", str(self.path), exc) from None
        return self._int("SELECT count(*) FROM links WHERE target_domain = ?", [domain])

    def check_writable(self) -> None:
        # Rewriting the header's user_version with its own value commits a real write and changes nothing
        # (BEGIN IMMEDIATE alone succeeds on a read-only file).
        try:
            self._db.execute("BEGIN IMMEDIATE")
            with self._db:
                self._db.execute(f"PRAGMA user_version = {self._version()}")
        except sqlite3.Error as exc:
            raise unavailable("write to", str(self.path), exc) from None

    # --- edges --------------------------------------------------------------------------------------

    def edges(
        self,
        target: Target,
        filters: Filters,
        *,
        sort: EdgeSort,
        after: tuple[int | str, bytes] | None = None,
        limit: int | None = None,
        offset: int = 0,
        one_per_domain: bool = False,
    ) -> Iterator[EdgeRow]:
        if sort not in EDGE_SORTS:  # a column name goes into the SQL: never anything else
            raise ValueError(f"unknown sort {sort!r}")
        where, args = _where(target, filters)
        if one_per_domain:
            sql = (
                f"SELECT {_COLUMNS} FROM (SELECT {_COLUMNS}, row_number() OVER (PARTITION BY source_domain"
                f" ORDER BY {_BEST_FIRST}) AS best FROM links WHERE {where}) WHERE best = 1"
            )
        else:
            sql = f"SELECT {_COLUMNS} FROM links WHERE {where}"
        if after is not None:
            sql += f" AND ({sort} > ? OR ({sort} = ? AND edge_id > ?))"
            args += [after[0], after[0], after[1]]
        sql += f" ORDER BY {sort}, edge_id"
        if limit is not None or offset:
            sql += " LIMIT ? OFFSET ?"
            args += [-1 if limit is None else limit, offset]
        return map(_edge, self._rows(sql, args))

    def domains_edges(
        self,
        target: Target,
        filters: Filters,
        domains: Sequence[str],
        *,
        after: bytes | None = None,
        limit: int | None = None,
        one_per_domain: bool = False,
    ) -> Iterator[EdgeRow]:
        """Each domain's own ``edges`` read in turn: an in-process query costs no round trip."""
        left = limit
        for k, domain in enumerate(domains):
            rows = self.edges(
                target,
                dataclasses.replace(filters, from_domain=domain),
                sort="source_domain",
                after=(domain, after) if after is not None and k == 0 else None,
                limit=left,
                one_per_domain=one_per_domain,
            )
            for row in rows:
                yield row
                if left is not None and not (left := left - 1):
                    return

    def export(self, after: bytes | None = None) -> Iterator[EdgeRow]:
        later, args = ("WHERE edge_id > ?", [after]) if after is not None else ("", [])
        return map(_edge, self._rows(f"SELECT {_COLUMNS} FROM links {later} ORDER BY edge_id", list(args)))

    def count(self) -> int:
        return self._int("SELECT count(*) FROM links", [])

    def pages_to_recrawl(self, limit: int | None = None) -> Iterator[str]:
        sql = "SELECT url FROM pages ORDER BY last_crawled, url LIMIT ?"
        return (url for (url,) in self._rows(sql, [limit or -1]))

    def fingerprint(self) -> list[int | None]:
        return list(self._one(WRITES, []))

    def referring_domains(self, target: Target, filters: Filters) -> Iterator[str]:
        if target.scope == "domain" and filters in (Filters(), Filters(status="all")):
            # A domain's live (or all) referring domains are its aggregate rows: no edge is read.
            n = "n_all" if filters.status == "all" else "n_live"
            sql = f"SELECT value FROM agg WHERE target_domain = ? AND dim = 'ref_domain' AND {n} > 0"
            return map(itemgetter(0), self._rows(sql + " ORDER BY value", [target.value]))
        where, args = _where(target, filters)
        sql = f"SELECT DISTINCT source_domain FROM links WHERE {where} ORDER BY 1"
        return map(itemgetter(0), self._rows(sql, args))

    def linking_back(self, pairs: Iterable[tuple[str, str]]) -> set[tuple[str, str]]:
        sql = f"SELECT 1 FROM links WHERE target_domain = ? AND source_domain = ? AND {GRAPH_WHERE} LIMIT 1"
        return {(t, s) for t, s in set(pairs) if self._one(sql, [s, t]) is not None}

    # --- the questions' groupings ----------------------------------------------------------------

    def groups(self, target: Target, filters: Filters, by: GroupBy) -> Iterator[Group]:
        if by not in _GROUP_COLUMNS:  # a column name goes into the SQL: never anything else
            raise ValueError(f"unknown grouping {by!r}")
        where, args = _where(target, filters)
        sql = (
            f"SELECT {by}, count(*), count(DISTINCT source_domain), sum(NOT {_FLAGGED}) FROM links"
            f" WHERE {where} GROUP BY {by} ORDER BY {by}"
        )
        return (Group(*row) for row in self._rows(sql, args))

    def page_states(self, urls: Iterable[str]) -> dict[str, PageState]:
        names = sorted(set(urls))
        found: dict[str, PageState] = {}
        for i in range(0, len(names), 500):
            chunk = names[i : i + 500]
            sql = f"SELECT url, last_crawled, failures, status, ip_address FROM pages WHERE url IN ({', '.join('?' * len(chunk))})"
            found.update((r[0], PageState(*r)) for r in self._rows(sql, list(chunk)))
        return found

    def crossings(
        self, domains: Sequence[str], excluded: Sequence[str], filters: Filters, at_least: int
    ) -> Iterator[Crossing]:
        if not domains:
            return iter(())
        parts, args = [], []
        for k, domain in enumerate(domains):
            sql, more = self._domain_counts(domain, filters)
            parts.append(f"SELECT d, {k} AS k, n FROM ({sql})")
            args += more
        sql = f"SELECT d, {', '.join(f'sum(n * (k = {k}))' for k in range(len(domains)))}"
        sql += f" FROM ({' UNION ALL '.join(parts)})"
        if excluded:
            unwanted = [self._domain_counts(domain, filters) for domain in excluded]
            sql += f" WHERE d NOT IN ({' UNION ALL '.join(f'SELECT d FROM ({q})' for q, _ in unwanted)})"
            args += [a for _, more in unwanted for a in more]
        sql += " GROUP BY d HAVING count(*) >= ? ORDER BY d"
        return (Crossing(r[0], tuple(r[1:])) for r in self._rows(sql, [*args, at_least]))

    def _domain_counts(self, domain: str, filters: Filters) -> tuple[str, SqlArgs]:
        """``SELECT d, n``: each referring domain of ``domain`` and its edges passing ``filters``; from
        the aggregates when they hold it (every live, or every edge)."""
        if filters in (Filters(), Filters(status="all")):
            n = "n_all" if filters.status == "all" else "n_live"
            sql = f"SELECT value AS d, {n} AS n FROM agg WHERE target_domain = ? AND dim = 'ref_domain' AND {n} > 0"
            return sql, [domain]
        where, args = _where(Target("domain", domain), filters)
        return (
            f"SELECT source_domain AS d, count(*) AS n FROM links WHERE {where} GROUP BY source_domain",
            args,
        )

    def outgoing(self, source_domain: str, status: Status) -> Iterator[Outgoing]:
        live = {"live": " AND lost_at IS NULL", "lost": " AND lost_at IS NOT NULL", "all": ""}[status]
        sql = (
            f"SELECT target_domain, anchor_text, count(*), sum(NOT {_FLAGGED}) FROM links"
            f" WHERE source_domain = ?1 AND target_domain != ?1{live} GROUP BY 1, 2 ORDER BY 1, 2"
        )
        return (Outgoing(*row) for row in self._rows(sql, [source_domain]))

    def domain_spans(self, target: Target, width: int) -> Iterator[Span]:
        w = int(width)
        spans = f"SELECT source_domain AS d, first_seen / {w} AS a, lost_at / {w} AS b FROM links"
        if target.scope == "domain":  # a domain with no lost edge is one open span, from its aggregate
            ref = "FROM agg WHERE target_domain = ?1 AND dim = 'ref_domain'"
            sql = (
                f"SELECT value AS d, first_seen / {w} AS a, NULL AS b {ref} AND n_live = n_all"
                f" UNION ALL SELECT * FROM ({spans} WHERE target_domain = ?1"
                f" AND source_domain IN (SELECT value {ref} AND n_live < n_all) GROUP BY 1, 2, 3)"
            )
        else:
            sql = f"{spans} WHERE {_SCOPE_COLUMN[target.scope]} = ?1 GROUP BY 1, 2, 3"
        sql = f"SELECT d, a, b FROM ({sql}) ORDER BY d, a, b IS NULL, b"
        return (Span(*row) for row in self._rows(sql, [target.value]))

    # --- tallies and events ----------------------------------------------------------------------------

    def tally(self, target: Target, *, include_lost: bool, since: Sequence[int], top: int) -> Tally:
        if target.scope == "domain":
            return self._tally_from_aggregates(target.value, include_lost, since, top)
        return self._tally_on_demand(target, include_lost, since, top)

    def _tally_from_aggregates(
        self, domain: str, include_lost: bool, since: Sequence[int], top: int
    ) -> Tally:
        n = "n_all" if include_lost else "n_live"
        agg = f"FROM agg WHERE target_domain = ? AND dim = ? AND {n} > 0"

        def counts(dim: str) -> dict[str, int]:
            return dict(self._rows(f"SELECT value, {n} {agg}", [domain, dim]))

        def distinct(dim: str) -> int:
            return int(self._one(f"SELECT count(*) {agg}", [domain, dim])[0])

        def ranked(dim: str) -> list[tuple[str, int]]:
            return list(
                self._rows(f"SELECT value, {n} {agg} ORDER BY {n} DESC, value LIMIT ?", [domain, dim, top])
            )

        # The oldest and newest edges by index order: the first live one from each end.
        live = "" if include_lost else " AND lost_at IS NULL"
        first = self._one(
            f"SELECT first_seen FROM links WHERE target_domain = ?{live} ORDER BY first_seen, edge_id LIMIT 1",
            [domain],
        )
        last = self._one(
            f"SELECT last_seen FROM links WHERE target_domain = ?{live}"
            " ORDER BY last_seen DESC, edge_id DESC LIMIT 1",
            [domain],
        )

        def between(field: str, start: int, end: int | None) -> int:
            bounded = "" if end is None else f" AND {field} < {int(end)}"
            return self._int(
                f"SELECT count(*) FROM links WHERE target_domain = ? AND {field} >= ?{bounded}",
                [domain, start],
            )

        def domains_since(start: int) -> tuple[int, int]:
            domains = "SELECT count(*) FROM agg WHERE target_domain = ? AND dim = 'ref_domain'"
            return (
                self._int(f"{domains} AND first_seen >= ?", [domain, start]),
                self._int(f"{domains} AND n_live = 0 AND lost_at >= ?", [domain, start]),
            )

        return tally_of(
            counts,
            distinct,
            ranked,
            first_seen=first[0] if first else None,
            last_seen=last[0] if last else None,
            since=since,
            days=lambda: self._days(domain),
            between=between,
            domains_since=domains_since,
        )

    def _tally_on_demand(self, target: Target, include_lost: bool, since: Sequence[int], top: int) -> Tally:
        col = _SCOPE_COLUMN[target.scope]
        edges = f"FROM links WHERE {col} = ?"
        base = edges + ("" if include_lost else " AND lost_at IS NULL")
        value = target.value

        def ranked(column: str) -> list[tuple[str, int]]:
            sql = f"SELECT {column}, count(*) AS c {base} GROUP BY {column} ORDER BY c DESC, {column} LIMIT ?"
            return list(self._rows(sql, [value, top]))

        first_by_domain = f"SELECT min(first_seen) AS f {edges} GROUP BY source_domain"
        lost_domains = (
            f"SELECT max(lost_at) AS l, sum(lost_at IS NULL) AS live {edges} GROUP BY source_domain"
        )
        new = [
            (
                self._int(f"SELECT count(*) {edges} AND first_seen >= ?", [value, t]),
                self._int(f"SELECT count(*) FROM ({first_by_domain}) WHERE f >= ?", [value, t]),
            )
            for t in since
        ]
        lost = [
            (
                self._int(f"SELECT count(*) {edges} AND lost_at >= ?", [value, t]),
                self._int(f"SELECT count(*) FROM ({lost_domains}) WHERE live = 0 AND l >= ?", [value, t]),
            )
            for t in since
        ]
        figures = self._one(
            f"SELECT count(*), count(DISTINCT source_url), count(DISTINCT source_host),"
            f" count(DISTINCT source_ip), count(DISTINCT source_subnet), {_REL_COUNTS},"
            f" min(first_seen), max(last_seen) {base}",
            [value],
        )
        backlinks, pages, hosts, ips, subnets, follow, nofollow, ugc, sponsored, first, last = figures
        return Tally(
            backlinks=backlinks,
            referring_pages=pages,
            referring_hosts=hosts,
            referring_ips=ips,
            referring_subnets=subnets,
            follow=follow or 0,
            nofollow=nofollow or 0,
            ugc=ugc or 0,
            sponsored=sponsored or 0,
            by_type=dict(self._rows(f"SELECT link_type, count(*) {base} GROUP BY link_type", [value])),
            top_anchors=ranked("anchor_text"),
            top_referring_domains=ranked("source_domain"),
            top_pages=ranked("target_url"),
            first_seen=first,
            last_seen=last,
            new=new,
            lost=lost,
        )

    def events(self, target: Target, bucketing: Bucketing) -> Events:
        """A domain's from its aggregates: its links from the per-day rows (``figures.Days``: one
        a day with activity), its referring domains from their rows. A host's or a URL's (and a domain's
        links in buckets that cut a day) grouped from the target's edges: the aggregates are per target
        domain."""
        bucket = f"(({{t}}) + {int(bucketing.offset)}) / {int(bucketing.width)}"
        links = f"FROM links WHERE {_SCOPE_COLUMN[target.scope]} = ?"
        if target.scope == "domain":  # referring domains from the aggregates
            domains = "SELECT first_seen AS f, lost_at AS l, n_live AS live FROM agg"
            domains += " WHERE target_domain = ? AND dim = 'ref_domain'"
        else:
            domains = f"SELECT min(first_seen) AS f, max(lost_at) AS l, sum(lost_at IS NULL) AS live {links}"
            domains += " GROUP BY source_domain"

        def per_bucket(time: str, rows: str, where: str = "") -> dict[int, int]:
            sql = f"SELECT {bucket.format(t=time)} AS b, count(*) {rows}{where} GROUP BY b"
            return dict(self._rows(sql, [target.value]))

        days = self._days(target.value) if target.scope == "domain" else None
        by_days = days.buckets(bucketing) if days else None
        if by_days is None:
            by_days = (
                per_bucket("first_seen", links),
                per_bucket("lost_at", links, " AND lost_at IS NOT NULL"),
            )
        return Events(
            new_links=by_days[0],
            lost_links=by_days[1],
            new_domains=per_bucket("f", f"FROM ({domains})"),
            lost_domains=per_bucket("l", f"FROM ({domains})", " WHERE live = 0"),
        )

    def _days(self, domain: str) -> Days | None:
        """The domain's links per day from its aggregates (``figures.Days``)."""
        days = self._rows(
            f"SELECT dim, value, n_all FROM agg WHERE target_domain = ? AND dim IN ('{NEW_DAY}', '{LOST_DAY}')",
            [domain],
        )
        edges = self._one("SELECT n_all, n_live FROM agg WHERE target_domain = ? AND dim = 'edge'", [domain])
        return Days.of(days, edges or (0, 0))

    # --- the domain graph and its scores ---------------------------------------------------------------

    def graph_domains(self) -> Iterator[str]:
        self._graph_index()
        sql = (
            f"SELECT source_domain FROM links WHERE {GRAPH_WHERE}"
            # +target_domain: scan the graph's partial index, not a target index and the table
            f" UNION SELECT +target_domain FROM links WHERE {GRAPH_WHERE} ORDER BY 1"
        )
        return (domain for (domain,) in self._rows(sql, []))

    def domain_graph(self) -> Iterator[tuple[str, str, int]]:
        self._graph_index()
        sql = (
            f"SELECT source_domain, target_domain, count(*) FROM links WHERE {GRAPH_WHERE}"
            " GROUP BY source_domain, target_domain ORDER BY source_domain, target_domain"
        )
        return self._rows(sql, [])

    def _graph_index(self) -> None:
        with contextlib.suppress(sqlite3.Error):  # once; a read-only index is grouped without it
            self._db.execute(GRAPH_INDEX)

    def save_scores(self, rows: Iterable[ScoreRow], run: ScoreRun) -> None:
        marks = ", ".join("?" * len(SCORE_COLUMNS))
        try:
            self._db.executescript(SCORES_SCHEMA)
            self._db.execute("BEGIN IMMEDIATE")
            with self._db:  # readers see the old scores until the new ones are all in
                self._db.execute("DELETE FROM domain_scores")
                self._db.executemany(
                    f"INSERT INTO domain_scores ({', '.join(SCORE_COLUMNS)}) VALUES ({marks})",
                    map(_SCORE_ROW, rows),
                )
                self._db.execute(
                    "INSERT OR REPLACE INTO score_runs (id, run) VALUES (1, ?)",
                    (json.dumps(dataclasses.asdict(run)),),
                )
                self._db.execute(BUMP, ("scores",))
        except sqlite3.Error as exc:
            raise unavailable("write scores to", str(self.path), exc) from None

    def scores_run(self) -> ScoreRun | None:
        rows = self._scores_read("SELECT run FROM score_runs WHERE id = 1", [])
        return ScoreRun(**json.loads(rows[0][0])) if rows else None

    def scores(self, sort: ScoreSort, *, farm_only: bool, limit: int | None) -> list[ScoreRow]:
        sql = f"SELECT {', '.join(SCORE_COLUMNS)} FROM domain_scores"
        sql += " WHERE farm" if farm_only else ""
        sql += f" ORDER BY {_SCORE_ORDER[sort]} LIMIT ?"  # KeyError: never other SQL
        return [_score(r) for r in self._scores_read(sql, [limit or -1])]

    def score(self, domain: str) -> ScoreRow | None:
        sql = f"SELECT {', '.join(SCORE_COLUMNS)} FROM domain_scores WHERE domain = ?"
        rows = self._scores_read(sql, [domain])
        return _score(rows[0]) if rows else None

    def authorities(self, domains: Iterable[str]) -> dict[str, float]:
        names = sorted(set(domains))
        found: dict[str, float] = {}
        for i in range(0, len(names), 500):
            chunk = names[i : i + 500]
            sql = (
                f"SELECT domain, authority FROM domain_scores WHERE domain IN ({', '.join('?' * len(chunk))})"
            )
            found.update(self._scores_read(sql, list(chunk)))
        return found

    def close(self) -> None:
        self._db.close()

    # --- reading -----------------------------------------------------------------------------------

    def _rows(self, sql: str, args: SqlArgs) -> Iterator[Row]:
        try:
            return iter(self._db.execute(sql, args))
        except sqlite3.Error as exc:
            raise unavailable("read", str(self.path), exc) from None

    def _one(self, sql: str, args: SqlArgs) -> Row:
        """The first row, or None."""
        return next(self._rows(sql, args), None)

    def _int(self, sql: str, args: SqlArgs) -> int:
        row = self._one(sql, args)
        return int(row[0]) if row and row[0] is not None else 0

    def _scores_read(self, sql: str, args: SqlArgs) -> list[Row]:
        """Rows of a scores query; none when no rank has made the tables yet."""
        try:
            return self._db.execute(sql, args).fetchall()
        except sqlite3.OperationalError as exc:
            if "no such table" in str(exc):
                return []
            raise unavailable("read", str(self.path), exc) from None


def _score(r: Row) -> ScoreRow:
    return ScoreRow(r[0], r[1], r[2], r[3], r[4], bool(r[5]), r[6], r[7], r[8], r[9], r[10])
