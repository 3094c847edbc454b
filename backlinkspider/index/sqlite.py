"""The embedded link index: one SQLite file, no server.

One row per edge, unique on its 16-byte edge_id (not on the URLs themselves, which would store every URL
twice); a batch is one transaction of ``INSERT ... ON CONFLICT DO UPDATE``, so a re-crawl moves
``last_seen`` and keeps ``first_seen``.
WAL journaling lets ``backlinks query`` read while a crawl writes.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from backlinkspider.index.base import CrawledPage, IndexUnavailable, LinkIndex, Target, iso

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
    last_seen     INTEGER NOT NULL
);
-- One index per query scope, in the order queries return rows, so a first page reads only its rows.
CREATE INDEX IF NOT EXISTS links_by_target_url ON links (target_url, first_seen, edge_id);
CREATE INDEX IF NOT EXISTS links_by_target_host ON links (target_host, first_seen, edge_id);
CREATE INDEX IF NOT EXISTS links_by_target_domain ON links (target_domain, first_seen, edge_id);
-- Re-crawls look up a page's edges by its URL.
CREATE INDEX IF NOT EXISTS links_by_source_url ON links (source_url);
"""

_UPSERT = """
INSERT INTO links (edge_id, source_url, target_url, link_type, anchor_text, nofollow, ugc, sponsored,
                   source_host, source_domain, target_host, target_domain, first_seen, last_seen)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (edge_id) DO UPDATE SET
    anchor_text = excluded.anchor_text,
    nofollow = excluded.nofollow,
    ugc = excluded.ugc,
    sponsored = excluded.sponsored,
    last_seen = max(last_seen, excluded.last_seen)
"""

_COLUMNS = (
    "source_url, target_url, source_domain, target_domain, link_type, anchor_text,"
    " nofollow, ugc, sponsored, first_seen, last_seen"
)
_SCOPE_COLUMN = {"url": "target_url", "host": "target_host", "domain": "target_domain"}


def _record(row: tuple) -> dict[str, Any]:
    return {
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
    }


class SQLiteIndex(LinkIndex):
    """A link index in the SQLite file at ``path``; ``create=False`` refuses to make a new one."""

    def __init__(self, path: str, *, create: bool = True) -> None:
        self.uri = f"sqlite:///{path}"
        self.path = Path(path)
        if not create and not self.path.is_file():
            raise IndexUnavailable(f"no index at {self.path} (crawl first, or pass --index)")
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(self.path, isolation_level=None)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.execute("PRAGMA busy_timeout=30000")
            self._db.executescript(_SCHEMA)
        except (sqlite3.Error, OSError) as exc:
            raise IndexUnavailable(f"cannot open index {self.path}: {exc}") from None

    def write(self, pages: Iterable[CrawledPage]) -> int:
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
        except sqlite3.Error as exc:
            raise IndexUnavailable(f"cannot write to index {self.path}: {exc}") from None
        return len(rows)

    def query(
        self,
        target: Target,
        *,
        follow_only: bool = False,
        link_type: str | None = None,
        limit: int | None = None,
    ) -> Iterator[dict[str, Any]]:
        sql = f"SELECT {_COLUMNS} FROM links WHERE {_SCOPE_COLUMN[target.scope]} = ?"
        args: list[Any] = [target.value]
        if follow_only:
            sql += " AND nofollow = 0 AND ugc = 0 AND sponsored = 0"
        if link_type:
            sql += " AND link_type = ?"
            args.append(link_type)
        sql += " ORDER BY first_seen, edge_id"
        if limit:
            sql += " LIMIT ?"
            args.append(limit)
        return self._stream(sql, args)

    def export(self) -> Iterator[dict[str, Any]]:
        return self._stream(f"SELECT {_COLUMNS} FROM links ORDER BY edge_id", [])

    def count(self) -> int:
        return self._db.execute("SELECT count(*) FROM links").fetchone()[0]

    def close(self) -> None:
        self._db.close()

    def _stream(self, sql: str, args: list[Any]) -> Iterator[dict[str, Any]]:
        try:
            cursor = self._db.execute(sql, args)
        except sqlite3.Error as exc:
            raise IndexUnavailable(f"cannot read index {self.path}: {exc}") from None
        return (_record(row) for row in cursor)
