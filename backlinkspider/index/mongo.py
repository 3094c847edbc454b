"""The cluster link index: MongoDB, one document per edge.

Model: ``_id`` is the edge's 16-byte ``edge_id``, so a write is an upsert that needs no read and a popular
target never grows a document (there are no arrays of sources). Documents carry the export's fields plus
both hosts; ``first_seen`` / ``last_seen`` are BSON dates truncated to the second (as SQLite keeps them).

Writes: ``bulk_write`` of ``UpdateOne(upsert=True)``, ``ordered=False``. ``$setOnInsert`` sets
``first_seen`` and the key fields once, ``$set`` the fields a re-crawl may change, ``$max`` moves
``last_seen`` forward; no field is named by two operators (a server rejects that; see
``tests/mongo_standin.py``). Every filter includes ``target_domain``, the shard key's prefix, as upserts
on a sharded collection require. Transient errors (``AutoReconnect`` and its kin: not-primary, network
timeouts, no server) and duplicate-key races between two upserts of one new edge are retried with backoff
for ``retry_seconds``; upserts are idempotent, so a batch retried whole lands once.

Only what a real server and the in-process stand-in the tests use honour identically: bulk_write of
UpdateOne upserts, find on indexed equality with sort and limit, aggregate with $match / $group / $sort /
$limit. Index use is checked with ``explain()`` against a real server only (the stand-in's explain is a
fake COLLSCAN); see tests/test_index.py.
"""

from __future__ import annotations

import calendar
import logging
import time
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from typing import Any

from backlinkspider.index.base import CrawledPage, IndexUnavailable, LinkIndex, Target, iso, redact
from backlinkspider.urls import host_of, registered_domain

log = logging.getLogger(__name__)

COLLECTION = "links"
DEFAULT_DATABASE = "backlinks"
# One index per query scope, in the order queries return rows; one by source URL for re-crawls.
INDEXES = [
    ("by_target_url", [("target_url", 1), ("first_seen", 1), ("_id", 1)]),
    ("by_target_host", [("target_host", 1), ("first_seen", 1), ("_id", 1)]),
    ("by_target_domain", [("target_domain", 1), ("first_seen", 1), ("_id", 1)]),
    ("by_source_url", [("source_url", 1)]),
]
_SCOPE_FIELD = {"url": "target_url", "host": "target_host", "domain": "target_domain"}
_PROJECTION = {
    "_id": 0,
    "source_url": 1,
    "target_url": 1,
    "source_domain": 1,
    "target_domain": 1,
    "link_type": 1,
    "anchor_text": 1,
    "nofollow": 1,
    "ugc": 1,
    "sponsored": 1,
    "first_seen": 1,
    "last_seen": 1,
}
_DUPLICATE_KEY = 11000


def update_for(edge: Any, seen: datetime) -> tuple[dict[str, Any], dict[str, Any]]:
    """The filter and update document that upsert one edge seen at ``seen``."""
    filter_ = {"_id": edge.edge_id, "target_domain": edge.target_domain}
    update = {
        "$setOnInsert": {
            "source_url": edge.source_url,
            "target_url": edge.target_url,
            "link_type": edge.link_type,
            "source_host": edge.source_host,
            "source_domain": edge.source_domain,
            "target_host": edge.target_host,
            "first_seen": seen,
        },
        "$set": {
            "anchor_text": edge.anchor_text,
            "nofollow": edge.nofollow,
            "ugc": edge.ugc,
            "sponsored": edge.sponsored,
        },
        "$max": {"last_seen": seen},
    }
    return filter_, update


def _seconds(value: datetime) -> int:
    """A BSON date (naive UTC from pymongo unless tz_aware) as epoch seconds."""
    return calendar.timegm(value.utctimetuple())


def _record(doc: dict[str, Any]) -> dict[str, Any]:
    return {
        "source_url": doc["source_url"],
        "target_url": doc["target_url"],
        "source_domain": doc["source_domain"],
        "target_domain": doc["target_domain"],
        "link_type": doc["link_type"],
        "anchor_text": doc["anchor_text"],
        "nofollow": doc["nofollow"],
        "ugc": doc["ugc"],
        "sponsored": doc["sponsored"],
        "first_seen": iso(_seconds(doc["first_seen"])),
        "last_seen": iso(_seconds(doc["last_seen"])),
    }


class MongoIndex(LinkIndex):
    """A link index in the database a ``mongodb://`` (or ``mongodb+srv://``) URI names (default
    ``backlinks``), collection ``links``. Credentials and TLS come from the URI (``?tls=true``) or the
    environment the driver reads; the URI is never logged with its password.

    ``client`` is for tests, which pass an in-process stand-in.
    """

    def __init__(
        self,
        uri: str,
        *,
        create: bool = True,
        retry_seconds: float = 120.0,
        client: Any = None,
    ) -> None:
        import pymongo
        from pymongo.errors import ConfigurationError, PyMongoError

        self.uri = uri
        self.safe_uri = redact(uri)
        self.retry_seconds = retry_seconds
        try:
            # A dead server at start is reported in seconds, not pymongo's 30, unless the URI says otherwise.
            timeout = {} if "serverselectiontimeoutms" in uri.lower() else {"serverSelectionTimeoutMS": 5000}
            self._client = client or pymongo.MongoClient(uri, appname="backlinkspider", **timeout)
            db = self._client.get_default_database(default=DEFAULT_DATABASE)
            self._links = db[COLLECTION]
            self._client.admin.command("ping")
            if not create and COLLECTION not in db.list_collection_names():
                raise IndexUnavailable(f"no index at {self.safe_uri} (crawl first, or pass --index)")
            for name, keys in INDEXES:
                self._links.create_index(keys, name=name)
        except (ConfigurationError, PyMongoError, ValueError) as exc:
            raise IndexUnavailable(f"cannot open index {self.safe_uri}: {_one_line(exc)}") from None

    def write(self, pages: Iterable[CrawledPage]) -> int:
        from pymongo import UpdateOne

        ops = []
        for page in pages:
            seen = page.seen_at.astimezone(UTC).replace(microsecond=0)
            for edge in page.edges:
                filter_, update = update_for(edge, seen)
                ops.append(UpdateOne(filter_, update, upsert=True))
        if ops:
            self._with_retries(lambda: self._links.bulk_write(ops, ordered=False), "write to")
        return len(ops)

    def query(
        self,
        target: Target,
        *,
        follow_only: bool = False,
        link_type: str | None = None,
        limit: int | None = None,
    ) -> Iterator[dict[str, Any]]:
        # Values only: a target is always a string compared for equality, never an operator document.
        value = str(target.value)
        where: dict[str, Any] = {_SCOPE_FIELD[target.scope]: value}
        if target.scope != "domain":
            # The shard key's prefix: a sharded cluster sends the query only to the shards holding it.
            host = host_of(value) if target.scope == "url" and "://" in value else value
            where["target_domain"] = registered_domain(host)
        if follow_only:
            where.update(nofollow=False, ugc=False, sponsored=False)
        if link_type:
            where["link_type"] = str(link_type)
        cursor = self._links.find(where, _PROJECTION).sort([("first_seen", 1), ("_id", 1)])
        if limit:
            cursor = cursor.limit(limit)
        return self._stream(cursor)

    def export(self) -> Iterator[dict[str, Any]]:
        return self._stream(self._links.find({}, _PROJECTION).sort([("_id", 1)]))

    def count(self) -> int:
        return self._with_retries(lambda: self._links.count_documents({}), "read")

    def close(self) -> None:
        self._client.close()

    def _stream(self, cursor: Any) -> Iterator[dict[str, Any]]:
        from pymongo.errors import PyMongoError

        try:
            for doc in cursor:
                yield _record(doc)
        except PyMongoError as exc:
            raise IndexUnavailable(f"cannot read index {self.safe_uri}: {_one_line(exc)}") from None

    def _with_retries(self, operation: Any, verb: str) -> Any:
        """Run ``operation``, retrying transient failures with exponential backoff for ``retry_seconds``."""
        from pymongo.errors import AutoReconnect, BulkWriteError, PyMongoError

        deadline = time.monotonic() + self.retry_seconds
        delay = 0.1
        while True:
            try:
                return operation()
            except (AutoReconnect, BulkWriteError) as exc:
                if isinstance(exc, BulkWriteError) and not _only_duplicate_keys(exc):
                    raise IndexUnavailable(f"cannot {verb} index {self.safe_uri}: {_one_line(exc)}") from None
                if time.monotonic() + delay > deadline:
                    raise IndexUnavailable(
                        f"cannot {verb} index {self.safe_uri} for {self.retry_seconds:.0f}s: {_one_line(exc)}"
                    ) from None
                log.warning("MongoDB: %s; retrying in %.1fs", _one_line(exc), delay)
                time.sleep(delay)
                delay = min(delay * 2, 5.0)
            except PyMongoError as exc:
                raise IndexUnavailable(f"cannot {verb} index {self.safe_uri}: {_one_line(exc)}") from None


def _only_duplicate_keys(exc: Any) -> bool:
    """Two upserts of one new edge raced (here or on another worker): retrying updates the winner."""
    errors = exc.details.get("writeErrors", [])
    return bool(errors) and all(e.get("code") == _DUPLICATE_KEY for e in errors)


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split())[:300]
