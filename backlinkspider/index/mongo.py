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
UpdateOne upserts (and UpdateMany by source_url, to mark a re-crawled page's vanished edges lost), find
on indexed equality and ranges with sort, skip and limit, count_documents, aggregate with $match /
$group / $sort / $limit. Summaries aggregate on demand. Index use is checked with ``explain()`` against a real server only (the stand-in's explain is a
fake COLLSCAN); see tests/test_index.py.
"""

from __future__ import annotations

import calendar
import logging
import re
import time
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any

from backlinkspider.index.base import (
    SORTS,
    TOP,
    CrawledPage,
    Filters,
    IndexUnavailable,
    LinkIndex,
    Target,
    decode_cursor,
    encode_cursor,
    epoch_week,
    history,
    iso,
    profile,
    redact,
    tld_of,
)
from backlinkspider.urls import host_of, registered_domain

log = logging.getLogger(__name__)

COLLECTION = "links"
PAGES = "pages"  # every page fetched: {_id: url, last_crawled, failures}
DEFAULT_DATABASE = "backlinks"
# One index per query scope, in the order queries return rows; one by source URL for re-crawls.
INDEXES = [
    ("by_target_url", [("target_url", 1), ("first_seen", 1), ("_id", 1)]),
    ("by_target_host", [("target_host", 1), ("first_seen", 1), ("_id", 1)]),
    ("by_target_domain", [("target_domain", 1), ("first_seen", 1), ("_id", 1)]),
    ("by_domain_last_seen", [("target_domain", 1), ("last_seen", 1), ("_id", 1)]),
    ("by_domain_source", [("target_domain", 1), ("source_domain", 1), ("_id", 1)]),
    ("by_source_url", [("source_url", 1)]),
]
_SCOPE_FIELD = {"url": "target_url", "host": "target_host", "domain": "target_domain"}
_PROJECTION = {
    "_id": 1,
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
            "lost_at": None,  # seen again: live
        },
        "$max": {"last_seen": seen},
    }
    return filter_, update


def _seconds(value: datetime) -> int:
    """A BSON date (naive UTC from pymongo unless tz_aware) as epoch seconds."""
    return calendar.timegm(value.utctimetuple())


def _record(doc: dict[str, Any], sort: str | None = None) -> dict[str, Any]:
    """A document as a record; with a sort, also the ``_cursor`` that continues after it."""
    record = {
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
    if sort is not None:
        key = doc[sort] if sort == "source_domain" else _seconds(doc[sort])
        record["_cursor"] = encode_cursor(key, doc["_id"])
    return record


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
            timeout: dict[str, Any] = (
                {} if "serverselectiontimeoutms" in uri.lower() else {"serverSelectionTimeoutMS": 5000}
            )
            self._client = client or pymongo.MongoClient(uri, appname="backlinkspider", **timeout)
            db = self._client.get_default_database(default=DEFAULT_DATABASE)
            self._links = db[COLLECTION]
            self._pages = db[PAGES]
            self._client.admin.command("ping")
            if not create and COLLECTION not in db.list_collection_names():
                raise IndexUnavailable(f"no index at {self.safe_uri} (crawl first, or pass --index)")
            for name, keys in INDEXES:
                self._links.create_index(keys, name=name)
            self._pages.create_index([("last_crawled", 1)], name="by_last_crawled")
        except (ConfigurationError, PyMongoError, ValueError) as exc:
            raise IndexUnavailable(f"cannot open index {self.safe_uri}: {_one_line(exc)}") from None

    def write(self, pages: Iterable[CrawledPage], *, lost_after_failures: int = 3) -> int:
        from pymongo import UpdateMany, UpdateOne

        edge_ops, lost_ops, page_ops = [], [], []
        for page in pages:
            seen = page.seen_at.astimezone(UTC).replace(microsecond=0, tzinfo=None)  # BSON dates are UTC
            for edge in page.edges:
                filter_, update = update_for(edge, seen)
                edge_ops.append(UpdateOne(filter_, update, upsert=True))
            if not page.failed:
                # This fetch's edges were just seen; the page's other live edges are gone.
                lost_ops.append(
                    UpdateMany(
                        {"source_url": page.url, "lost_at": None, "last_seen": {"$lt": seen}},
                        {"$set": {"lost_at": seen}},
                    )
                )
                failures = 0
            else:
                failures = 1 + ((self._pages.find_one({"_id": page.url}) or {}).get("failures") or 0)
                if failures >= lost_after_failures:
                    lost_ops.append(
                        UpdateMany({"source_url": page.url, "lost_at": None}, {"$set": {"lost_at": seen}})
                    )
            page_ops.append(
                UpdateOne(
                    {"_id": page.url},
                    {"$set": {"failures": failures}, "$max": {"last_crawled": seen}},
                    upsert=True,
                )
            )
        # The lost marks go after the edges, in order: they read the last_seen the upserts just moved.
        for collection, ops, ordered in (
            (self._links, edge_ops, False),
            (self._links, lost_ops, True),
            (self._pages, page_ops, False),
        ):
            if ops:
                self._with_retries(partial(collection.bulk_write, ops, ordered=ordered), "write to")
        return len(edge_ops)

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
        if sort not in SORTS:
            raise ValueError(f"unknown sort {sort!r}")
        where = self._where(target, filters)
        if cursor:
            value, edge_id = decode_cursor(cursor)
            if sort != "source_domain":
                value = datetime.fromtimestamp(value, UTC).replace(tzinfo=None)
            where = {
                "$and": [where, {"$or": [{sort: {"$gt": value}}, {sort: value, "_id": {"$gt": edge_id}}]}]
            }
        order = [(sort, 1), ("_id", 1)]
        if one_per_domain:
            best = [
                ("source_domain", 1),
                ("nofollow", 1),
                ("ugc", 1),
                ("sponsored", 1),
                ("first_seen", 1),
                ("_id", 1),
            ]
            pipeline: list[dict[str, Any]] = [
                {"$match": where},
                {"$sort": dict(best)},
                {"$group": {"_id": "$source_domain", "doc": {"$first": "$$ROOT"}}},
            ]
            docs = sorted(
                (g["doc"] for g in self._links.aggregate(pipeline)), key=lambda d: (d[sort], d["_id"])
            )
            docs = docs[offset : offset + limit] if limit else docs[offset:]
            return (_record(d, sort) for d in docs)
        found = self._links.find(where, _PROJECTION).sort(order).skip(offset)
        if limit:
            found = found.limit(limit)
        return self._stream(found, sort)

    def summary(
        self, target: Target, *, include_lost: bool = False, now: datetime | None = None
    ) -> dict[str, Any]:
        """Aggregated on demand ($match, $group, $sort, $limit), for every scope."""
        now = (now or datetime.now(UTC)).astimezone(UTC).replace(tzinfo=None)
        base = self._where(target, Filters(status="all" if include_lost else "live"))
        every = self._where(target, Filters(status="all"))

        def group(field: str, match: dict[str, Any] = base, top: int | None = None) -> list[dict[str, Any]]:
            pipeline: list[dict[str, Any]] = [
                {"$match": match},
                {
                    "$group": {
                        "_id": f"${field}",
                        "count": {"$sum": 1},
                        "first": {"$min": "$first_seen"},
                        "last_lost": {"$max": "$lost_at"},
                        "live": {"$sum": {"$cond": [{"$eq": ["$lost_at", None]}, 1, 0]}},
                    }
                },
                {"$sort": {"count": -1, "_id": 1}},
            ]
            if top:
                pipeline.append({"$limit": top})
            return list(self._with_retries(lambda: list(self._links.aggregate(pipeline)), "read"))

        def count(match: dict[str, Any]) -> int:
            return self._with_retries(lambda: self._links.count_documents(match), "read")

        ref_domains = group("source_domain")
        tlds: dict[str, int] = {}
        for g in ref_domains:
            tlds[tld_of(g["_id"])] = tlds.get(tld_of(g["_id"]), 0) + 1
        new, lost = {}, {}
        all_domains = group("source_domain", every)
        for w, days in (("7d", 7), ("30d", 30)):
            since = now - timedelta(days=days)
            new[w] = {
                "backlinks": count({**every, "first_seen": {"$gte": since}}),
                "referring_domains": sum(1 for g in all_domains if g["first"] >= since),
            }
            lost[w] = {
                "backlinks": count({**every, "lost_at": {"$gte": since}}),
                "referring_domains": sum(
                    1 for g in all_domains if g["live"] == 0 and g["last_lost"] and g["last_lost"] >= since
                ),
            }
        by_rel = {
            "follow": count({**base, "nofollow": False, "ugc": False, "sponsored": False}),
            "nofollow": count({**base, "nofollow": True}),
            "ugc": count({**base, "ugc": True}),
            "sponsored": count({**base, "sponsored": True}),
        }
        span = list(
            self._links.aggregate(
                [
                    {"$match": base},
                    {
                        "$group": {
                            "_id": None,
                            "first": {"$min": "$first_seen"},
                            "last": {"$max": "$last_seen"},
                        }
                    },
                ]
            )
        )

        def top(field: str) -> list[dict[str, Any]]:
            return [{"value": g["_id"], "count": g["count"]} for g in group(field, top=TOP)]

        return profile(
            backlinks=count(base),
            referring_pages=len(group("source_url")),
            referring_domains=len(ref_domains),
            referring_hosts=len(group("source_host")),
            tlds=tlds,
            by_rel=by_rel,
            by_type={g["_id"]: g["count"] for g in group("link_type")},
            top_anchors=top("anchor_text"),
            top_referring_domains=top("source_domain"),
            top_pages=top("target_url"),
            first=_seconds(span[0]["first"]) if span and span[0]["first"] else None,
            last=_seconds(span[0]["last"]) if span and span[0]["last"] else None,
            new=new,
            lost=lost,
        )

    def pages_to_recrawl(self, limit: int | None = None) -> Iterator[str]:
        found = self._pages.find({}, {"_id": 1}).sort([("last_crawled", 1), ("_id", 1)])
        if limit:
            found = found.limit(limit)
        return (doc["_id"] for doc in found)

    def _where(self, target: Target, f: Filters) -> dict[str, Any]:
        # Values only: user input is always a string compared for equality (or an escaped regex), never
        # an operator document.
        value = str(target.value)
        where: dict[str, Any] = {_SCOPE_FIELD[target.scope]: value}
        if target.scope != "domain":
            # The shard key's prefix: a sharded cluster sends the query only to the shards holding it.
            host = host_of(value) if target.scope == "url" and "://" in value else value
            where["target_domain"] = registered_domain(host)
        if f.status == "live":
            where["lost_at"] = None
        elif f.status == "lost":
            where["lost_at"] = {"$ne": None}
        if f.rel == "follow":
            where.update(nofollow=False, ugc=False, sponsored=False)
        elif f.rel == "nofollow":
            where["$or"] = [{"nofollow": True}, {"ugc": True}, {"sponsored": True}]
        if f.link_type:
            where["link_type"] = str(f.link_type)
        if f.since is not None:
            where["first_seen"] = {"$gte": datetime.fromtimestamp(f.since, UTC).replace(tzinfo=None)}
        if f.from_domain:
            where["source_domain"] = str(f.from_domain)
        if f.anchor_contains:
            where["anchor_text"] = {"$regex": re.escape(str(f.anchor_contains)), "$options": "i"}
        return where

    def export(self) -> Iterator[dict[str, Any]]:
        return self._stream(self._links.find({}, _PROJECTION).sort([("_id", 1)]))

    def count(self) -> int:
        return self._with_retries(lambda: self._links.count_documents({}), "read")

    def history(self, target: Target) -> list[dict[str, Any]]:
        """Bucketed here from the target's edges (three fields each), streamed once."""
        from pymongo.errors import PyMongoError

        new_links: dict[int, int] = {}
        lost_links: dict[int, int] = {}
        domains: dict[str, list[Any]] = {}  # source domain -> [first seen, last lost, live links]
        fields = {"_id": 0, "first_seen": 1, "lost_at": 1, "source_domain": 1}
        found = self._links.find(self._where(target, Filters(status="all")), fields)
        try:
            for doc in found:
                first, lost = _seconds(doc["first_seen"]), doc.get("lost_at")
                new_links[epoch_week(first)] = new_links.get(epoch_week(first), 0) + 1
                d = domains.setdefault(doc["source_domain"], [first, None, 0])
                d[0] = min(d[0], first)
                if lost is None:
                    d[2] += 1
                else:
                    lost = _seconds(lost)
                    lost_links[epoch_week(lost)] = lost_links.get(epoch_week(lost), 0) + 1
                    d[1] = max(d[1] or lost, lost)
        except PyMongoError as exc:
            raise IndexUnavailable(f"cannot read index {self.safe_uri}: {_one_line(exc)}") from None
        new_domains: dict[int, int] = {}
        lost_domains: dict[int, int] = {}
        for first, lost, live in domains.values():
            new_domains[epoch_week(first)] = new_domains.get(epoch_week(first), 0) + 1
            if not live:
                lost_domains[epoch_week(lost)] = lost_domains.get(epoch_week(lost), 0) + 1
        return history(new_links, lost_links, new_domains, lost_domains)

    def version(self) -> tuple[int, int, Any]:
        """Edges, pages and the newest page's fetch time: every write moves one of them (two batches of
        re-crawls in one second that only flip links lost are seen at the next write)."""

        def read() -> tuple[int, int, Any]:
            newest = self._pages.find_one({}, {"last_crawled": 1}, sort=[("last_crawled", -1)])
            return (
                self._links.estimated_document_count(),
                self._pages.estimated_document_count(),
                newest and newest["last_crawled"],
            )

        return self._with_retries(read, "read")

    def close(self) -> None:
        self._client.close()

    def _stream(self, cursor: Any, sort: str | None = None) -> Iterator[dict[str, Any]]:
        from pymongo.errors import PyMongoError

        try:
            for doc in cursor:
                yield _record(doc, sort)
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
