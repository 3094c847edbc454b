"""The cluster link index: MongoDB, one document per edge.

Model: ``_id`` is the edge's 16-byte ``edge_id``, so a write is an upsert that needs no read and a popular
target never grows a document (there are no arrays of sources). Documents carry the export's fields plus
both hosts; ``first_seen`` / ``last_seen`` are BSON dates truncated to the second (as SQLite keeps them).

Writes: ``bulk_write`` of ``UpdateOne(upsert=True)``, ``ordered=False``, each an update pipeline (see
``update_for``): ``first_seen`` is set once, ``last_seen`` only moves forward, and the anchor, rel flags
and lost state change only for a fetch at least as new as the edge's ``last_seen`` and ``lost_at``, so a
late write of an older fetch (a retried batch, a slow worker) reverts nothing. Every filter includes ``target_domain``, the shard key's prefix, as upserts
on a sharded collection require. Transient errors (``AutoReconnect`` and its kin: not-primary, network
timeouts, no server) and duplicate-key races between two upserts of one new edge are retried with backoff
for ``retry_seconds``; upserts are idempotent, so a batch retried whole lands once.

Only what a real server and the in-process stand-in the tests use honour identically: bulk_write of
UpdateOne upserts by pipeline ($set of $literal, $cond, $and, $gte, $ifNull, $max) (and UpdateMany by
target_domain $in the domains a page links to, as ``pages.target_domains`` keeps them, and source_url, to
mark a re-crawled page's vanished edges lost: routed by the shard key, not broadcast), find
on indexed equality and ranges with sort, skip and limit, count_documents, aggregate with $match /
$group / $sort / $skip / $limit / $set / $replaceWith / $count / $facet (allowDiskUse). Summaries aggregate
on demand, in two passes (see ``summary``); readers (``create=False``) create no indexes. Index use is checked with ``explain()`` against a real server only (the stand-in's explain is a
fake COLLSCAN); see tests/contract/test_index.py.
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
    SCORE_COLUMNS,
    SCORE_SORTS,
    SORTS,
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
    epoch_week,
    history,
    iso,
    profile,
    score_record,
    tld_of,
)
from backlinkspider.redact import redact
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
    "lost_at": 1,
}
_DUPLICATE_KEY = 11000
# The domain scores: two collections used in turn, so a rank replaces the scores at once (the run document
# names the current one); the previous scores stay until the next rank.
SCORES = ("domain_scores_a", "domain_scores_b")
SCORE_RUNS = "score_runs"  # {_id: "latest", collection, computed_at, fingerprint, ...}
_GRAPH_MATCH = {"lost_at": None, "nofollow": False, "ugc": False, "sponsored": False}


def document_for(edge: Any, seen: datetime) -> dict[str, Any]:
    """The document a first sighting of ``edge`` at ``seen`` creates (``_id`` aside)."""
    return {
        "target_domain": edge.target_domain,
        "source_url": edge.source_url,
        "target_url": edge.target_url,
        "link_type": edge.link_type,
        "source_host": edge.source_host,
        "source_domain": edge.source_domain,
        "target_host": edge.target_host,
        "first_seen": seen,
        "last_seen": seen,
        "anchor_text": edge.anchor_text,
        "nofollow": edge.nofollow,
        "ugc": edge.ugc,
        "sponsored": edge.sponsored,
        "lost_at": None,
    }


_KEY_FIELDS = ("source_url", "target_url", "link_type", "source_host", "source_domain", "target_host")
_NEWS_FIELDS = ("anchor_text", "nofollow", "ugc", "sponsored", "lost_at")  # what only newer news changes


def update_for(edge: Any, seen: datetime) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The filter and update pipeline that upsert one edge seen at ``seen``.

    One ``$set`` stage, whose expressions all read the document as it was: a sighting at least as new
    as everything the edge reflects (its ``last_seen`` and, if lost, its ``lost_at``) sets the anchor and
    rel flags and makes it live; an older one only moves ``last_seen`` forward, as ``$max`` does.
    Values go in as ``$literal`` (an anchor like ``$100 off`` is text, not a field path)."""
    filter_ = {"_id": edge.edge_id, "target_domain": edge.target_domain}
    doc = document_for(edge, seen)
    newer = {
        "$and": [
            {"$gte": [seen, {"$ifNull": ["$last_seen", seen]}]},
            {"$gte": [seen, {"$ifNull": ["$lost_at", seen]}]},
        ]
    }
    fields: dict[str, Any] = {name: {"$literal": doc[name]} for name in _KEY_FIELDS}
    fields["first_seen"] = {"$ifNull": ["$first_seen", seen]}
    fields["last_seen"] = {"$max": [{"$ifNull": ["$last_seen", seen]}, seen]}
    fields.update({name: {"$cond": [newer, {"$literal": doc[name]}, f"${name}"]} for name in _NEWS_FIELDS})
    return filter_, [{"$set": fields}]


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
        "lost_at": iso(_seconds(doc["lost_at"])) if doc.get("lost_at") is not None else None,
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
            if not create:
                # A reader writes nothing (a user with the read role only can query); the writer that
                # made the collection made its indexes.
                if COLLECTION not in db.list_collection_names():
                    raise IndexUnavailable(f"no index at {self.safe_uri} (crawl first, or pass --index)")
                return
            for name, keys in INDEXES:
                self._links.create_index(keys, name=name)
            self._pages.create_index([("last_crawled", 1)], name="by_last_crawled")
        except (ConfigurationError, PyMongoError, ValueError) as exc:
            raise IndexUnavailable(f"cannot open index {self.safe_uri}: {_one_line(exc)}") from None

    def write(self, pages: Iterable[CrawledPage], *, lost_after_failures: int = 3) -> int:
        from pymongo import UpdateMany, UpdateOne

        pages = checked(pages)
        # Per page: its failures in a row, and the target domains its edges point at (the shard keys
        # that route its lost marks; None for a page indexed before they were kept: then broadcast).
        stored = {
            doc["_id"]: (doc.get("failures") or 0, doc.get("target_domains"))
            for doc in self._with_retries(
                lambda: list(
                    self._pages.find(
                        {"_id": {"$in": list({p.url for p in pages})}}, ["failures", "target_domains"]
                    )
                ),
                "read",
            )
        }
        edge_ops, lost_ops, page_ops = [], [], []
        for page in pages:
            seen = page.seen_at.astimezone(UTC).replace(microsecond=0, tzinfo=None)  # BSON dates are UTC
            for edge in page.edges:
                filter_, update = update_for(edge, seen)
                edge_ops.append(UpdateOne(filter_, update, upsert=True))
            failures, known = stored.get(page.url, (0, []))
            failures = 0 if not page.failed else failures + 1
            if not page.failed or failures >= lost_after_failures:
                # This fetch's edges were just seen; the page's other live edges are gone.
                lost: dict[str, Any] = {"source_url": page.url, "lost_at": None, "last_seen": {"$lt": seen}}
                if known:
                    lost = {"target_domain": {"$in": sorted(known)}, **lost}
                if known is None or known:
                    lost_ops.append(UpdateMany(lost, {"$set": {"lost_at": seen}}))
            domains = sorted({edge.target_domain for edge in page.edges})
            if known is not None:
                known = sorted(set(known) | set(domains))
            stored[page.url] = (failures, known)
            page_ops.append(
                UpdateOne(
                    {"_id": page.url},
                    {
                        "$set": {"failures": failures},
                        "$max": {"last_crawled": seen},
                        "$addToSet": {"target_domains": {"$each": domains}},
                    },
                    upsert=True,
                )
            )
        # Pages first: a page's target domains are kept before any of its edges can exist. The lost
        # marks go after the edges, in order: they read the last_seen the upserts just moved.
        for collection, ops, ordered in (
            (self._pages, page_ops, True),
            (self._links, edge_ops, False),
            (self._links, lost_ops, True),
        ):
            if ops:
                self._with_retries(partial(collection.bulk_write, ops, ordered=ordered), "write to")
        return len(edge_ops)

    def check_writable(self) -> None:
        # Updates that match no document: a server checks the user's rights (and that it is a writable
        # primary) before it looks for matches, and nothing is written.
        from pymongo import UpdateOne

        for collection, probe in (
            (self._links, UpdateOne({"_id": b"", "target_domain": ""}, {"$set": {"lost_at": None}})),
            (self._pages, UpdateOne({"_id": ""}, {"$set": {"failures": 0}})),
        ):
            self._with_retries(partial(collection.bulk_write, [probe]), "write to")

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
        if sort not in SORTS:
            raise ValueError(f"unknown sort {sort!r}")
        where = self._where(target, filters)
        after: dict[str, Any] = {}
        if cursor:
            decoded, edge_id = decode_cursor(cursor, sort)
            value: Any = decoded
            if isinstance(decoded, int):  # a date sort
                value = datetime.fromtimestamp(decoded, UTC).replace(tzinfo=None)
            after = {"$or": [{sort: {"$gt": value}}, {sort: value, "_id": {"$gt": edge_id}}]}
        order = [(sort, 1), ("_id", 1)]
        if one_per_domain:
            # SQLite's rule: each referring domain's best link (follow before any of nofollow / ugc /
            # sponsored, then the oldest, then the lowest edge_id) is chosen first, and only then are the
            # best links paged, so no domain comes back on a later page.
            pipeline: list[dict[str, Any]] = [
                {"$match": where},
                {"$set": {"_flagged": {"$or": ["$nofollow", "$ugc", "$sponsored"]}}},
                {"$sort": {"source_domain": 1, "_flagged": 1, "first_seen": 1, "_id": 1}},
                {"$group": {"_id": "$source_domain", "doc": {"$first": "$$ROOT"}}},
                {"$replaceWith": "$doc"},
                *([{"$match": after}] if after else []),
                {"$sort": dict(order)},
                *([{"$skip": offset}] if offset else []),
                *([{"$limit": limit}] if limit else []),
            ]
            return self._with_scores(self._stream(self._links.aggregate(pipeline, allowDiskUse=True), sort))
        if after:
            where = {"$and": [where, after]}
        found = self._links.find(where, _PROJECTION).sort(order).skip(offset)
        if limit:
            found = found.limit(limit)
        return self._with_scores(self._stream(found, sort))

    def summary(
        self, target: Target, *, include_lost: bool = False, now: datetime | None = None
    ) -> dict[str, Any]:
        """Two passes over the target's edges, with ``allowDiskUse``: one ``$facet`` aggregation for
        every count, and one stream of its referring domains (their public suffixes are counted here;
        as a list they could outgrow a facet's 16 MB result)."""
        now = (now or datetime.now(UTC)).astimezone(UTC).replace(tzinfo=None)
        every = self._where(target, Filters(status="all"))
        shown: list[dict[str, Any]] = [] if include_lost else [{"$match": {"lost_at": None}}]
        never = datetime(1970, 1, 1)
        windows = {w: now - timedelta(days=d) for w, d in (("7d", 7), ("30d", 30))}
        flag = {"$or": ["$nofollow", "$ugc", "$sponsored"]}

        def count_if(condition: Any) -> dict[str, Any]:
            return {"$sum": {"$cond": [condition, 1, 0]}}

        def top(field: str) -> list[dict[str, Any]]:
            group = {"$group": {"_id": f"${field}", "count": {"$sum": 1}}}
            return [*shown, group, {"$sort": {"count": -1, "_id": 1}}, {"$limit": TOP}]

        def distinct(field: str) -> list[dict[str, Any]]:
            return [*shown, {"$group": {"_id": f"${field}"}}, {"$count": "n"}]

        lost_at = {"$ifNull": ["$lost_at", never]}
        facets: dict[str, list[dict[str, Any]]] = {
            "edges": [
                *shown,
                {
                    "$group": {
                        "_id": None,
                        "n": {"$sum": 1},
                        "first": {"$min": "$first_seen"},
                        "last": {"$max": "$last_seen"},
                        "follow": {"$sum": {"$cond": [flag, 0, 1]}},
                        "nofollow": count_if("$nofollow"),
                        "ugc": count_if("$ugc"),
                        "sponsored": count_if("$sponsored"),
                    }
                },
            ],
            "types": [*shown, {"$group": {"_id": "$link_type", "count": {"$sum": 1}}}],
            "pages": distinct("source_url"),
            "hosts": distinct("source_host"),
            "top_anchors": top("anchor_text"),
            "top_domains": top("source_domain"),
            "top_pages": top("target_url"),
            # New and lost count every edge, live or not.
            "new_lost_edges": [
                {
                    "$group": {
                        "_id": None,
                        **{f"new{w}": count_if({"$gte": ["$first_seen", t]}) for w, t in windows.items()},
                        **{f"lost{w}": count_if({"$gte": [lost_at, t]}) for w, t in windows.items()},
                    }
                }
            ],
            "new_lost_domains": [
                {
                    "$group": {
                        "_id": "$source_domain",
                        "first": {"$min": "$first_seen"},
                        "last_lost": {"$max": lost_at},
                        "live": count_if({"$eq": ["$lost_at", None]}),
                    }
                },
                {
                    "$group": {
                        "_id": None,
                        **{f"new{w}": count_if({"$gte": ["$first", t]}) for w, t in windows.items()},
                        **{
                            f"lost{w}": count_if(
                                {"$and": [{"$eq": ["$live", 0]}, {"$gte": ["$last_lost", t]}]}
                            )
                            for w, t in windows.items()
                        },
                    }
                },
            ],
        }
        pipeline = [{"$match": every}, {"$facet": facets}]
        got = self._with_retries(lambda: next(self._links.aggregate(pipeline, allowDiskUse=True)), "read")
        one = {name: (rows[0] if rows else {}) for name, rows in got.items()}
        domains = [*shown, {"$group": {"_id": "$source_domain"}}]
        tlds: dict[str, int] = {}
        referring_domains = 0
        for g in self._with_retries(
            lambda: list(self._links.aggregate([{"$match": every}, *domains], allowDiskUse=True)), "read"
        ):
            referring_domains += 1
            tlds[tld_of(g["_id"])] = tlds.get(tld_of(g["_id"]), 0) + 1
        edges = one["edges"]
        listed = lambda name: [{"value": g["_id"], "count": g["count"]} for g in got[name]]  # noqa: E731
        return profile(
            backlinks=edges.get("n", 0),
            referring_pages=one["pages"].get("n", 0),
            referring_domains=referring_domains,
            referring_hosts=one["hosts"].get("n", 0),
            tlds=tlds,
            by_rel={k: edges.get(k, 0) for k in ("follow", "nofollow", "ugc", "sponsored")},
            by_type={g["_id"]: g["count"] for g in got["types"]},
            top_anchors=listed("top_anchors"),
            top_referring_domains=listed("top_domains"),
            top_pages=listed("top_pages"),
            first=_seconds(edges["first"]) if edges.get("first") else None,
            last=_seconds(edges["last"]) if edges.get("last") else None,
            new={
                w: {
                    "backlinks": one["new_lost_edges"].get(f"new{w}", 0),
                    "referring_domains": one["new_lost_domains"].get(f"new{w}", 0),
                }
                for w in windows
            },
            lost={
                w: {
                    "backlinks": one["new_lost_edges"].get(f"lost{w}", 0),
                    "referring_domains": one["new_lost_domains"].get(f"lost{w}", 0),
                }
                for w in windows
            },
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
        from bson.errors import InvalidDocument
        from pymongo.errors import AutoReconnect, BulkWriteError, PyMongoError

        deadline = time.monotonic() + self.retry_seconds
        delay = 0.1
        while True:
            try:
                return operation()
            except InvalidDocument as exc:  # one too large for a server, say: found before sending
                raise BadRow(f"index {self.safe_uri} refused the batch: {_one_line(exc)}") from None
            except (AutoReconnect, BulkWriteError) as exc:
                if isinstance(exc, BulkWriteError) and not _only_duplicate_keys(exc):
                    if any(e.get("code") != _DUPLICATE_KEY for e in exc.details.get("writeErrors", [])):
                        # The server refused a document (too large, failed validation): data, not reach.
                        raise BadRow(f"index {self.safe_uri} refused the batch: {_one_line(exc)}") from None
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

    # --- the domain graph and its scores ---------------------------------------------------------------

    def graph_domains(self) -> Iterator[str]:
        """Both ends of the graph's pairs, grouped and sorted on the server (spilling to disk)."""
        ends: list[dict[str, Any]] = [
            {"$project": {"_id": 0, "domain": ["$_id.s", "$_id.t"]}},
            {"$unwind": "$domain"},
            {"$group": {"_id": "$domain"}},
            {"$sort": {"_id": 1}},
        ]
        return (g["_id"] for g in self._graph_aggregate(ends))

    def domain_graph(self) -> Iterator[tuple[str, str, int]]:
        by_pair: list[dict[str, Any]] = [{"$sort": {"_id.s": 1, "_id.t": 1}}]
        return ((g["_id"]["s"], g["_id"]["t"], g["links"]) for g in self._graph_aggregate(by_pair))

    def _graph_aggregate(self, stages: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
        """``stages`` run on the graph's (source, target) pairs: one $group of the live, followed links on
        the server (on the shards of a cluster, spilling to disk past 100 MB), the self-loops (internal
        links, kept by BACKLINKS_KEEP_INTERNAL) dropped after it, one a domain rather than one a link."""
        from pymongo.errors import PyMongoError

        pipeline: list[dict[str, Any]] = [
            {"$match": _GRAPH_MATCH},
            {"$group": {"_id": {"s": "$source_domain", "t": "$target_domain"}, "links": {"$sum": 1}}},
            {"$match": {"$expr": {"$ne": ["$_id.s", "$_id.t"]}}},
            *stages,
        ]
        try:
            yield from self._links.aggregate(pipeline, allowDiskUse=True, batchSize=10_000)
        except PyMongoError as exc:
            raise IndexUnavailable(f"cannot read index {self.safe_uri}: {_one_line(exc)}") from None

    def save_scores(self, rows: Iterable[tuple[Any, ...]], run: dict[str, Any]) -> None:
        from pymongo.errors import PyMongoError

        db = self._links.database
        current = (self.scores_run() or {}).get("collection")
        name = SCORES[1] if current == SCORES[0] else SCORES[0]
        target = db[name]
        try:
            target.drop()
            batch: list[dict[str, Any]] = []
            for row in rows:
                doc = dict(zip(SCORE_COLUMNS, row, strict=True))
                doc["_id"] = doc.pop("domain")
                batch.append(doc)
                if len(batch) == 10_000:
                    target.insert_many(batch, ordered=False)
                    batch = []
            if batch:
                target.insert_many(batch, ordered=False)
            for sort in SCORE_SORTS:
                target.create_index([(sort, -1), ("_id", 1)], name=f"by_{sort}")
            db[SCORE_RUNS].replace_one({"_id": "latest"}, {**run, "collection": name}, upsert=True)
        except PyMongoError as exc:
            raise IndexUnavailable(
                f"cannot write scores to index {self.safe_uri}: {_one_line(exc)}"
            ) from None

    def scores_run(self) -> dict[str, Any] | None:
        runs = self._links.database[SCORE_RUNS]
        run = self._with_retries(lambda: runs.find_one({"_id": "latest"}), "read")
        if run:
            run.pop("_id")
        return run

    def domain_scores(
        self, sort: str = "authority", farm_only: bool = False, limit: int | None = 100
    ) -> list[dict[str, Any]]:
        if sort not in SCORE_SORTS:
            raise ValueError(f"unknown sort {sort!r}")
        run = self.scores_run()
        if run is None:
            return []
        found = self._links.database[run["collection"]].find({"farm": True} if farm_only else {})
        found = found.sort([(sort, -1), ("_id", 1)]).limit(limit or 0)
        return [self._score(doc, run) for doc in self._with_retries(lambda: list(found), "read")]

    def domain_score(self, domain: str) -> dict[str, Any] | None:
        run = self.scores_run()
        scores = self._links.database[run["collection"]] if run else None
        doc = scores is not None and self._with_retries(lambda: scores.find_one({"_id": str(domain)}), "read")
        return self._score(doc, run) if doc and run else None

    def authority_bands(self, domain: str) -> list[dict[str, Any]]:
        referring = self._source_domains({"target_domain": str(domain), **_GRAPH_MATCH})
        referring.discard(domain)
        counts = [0] * 10
        for authority in self._authorities(referring).values():
            counts[min(int(authority // 10), 9)] += 1
        return [{"band": f"{b * 10}-{b * 10 + 10}", "referring_domains": counts[b]} for b in range(10)]

    def index_fingerprint(self) -> list[Any]:
        newest = self._pages.find({}, {"last_crawled": 1}).sort([("last_crawled", -1)]).limit(1)
        latest = self._with_retries(lambda: list(newest), "read")
        crawled = _seconds(latest[0]["last_crawled"]) if latest else None
        return [self._with_retries(self._links.estimated_document_count, "read"), crawled]

    def _referring_domains(self, target: Target) -> set[str]:
        if target.scope == "host":
            return self._source_domains({"target_domain": registered_domain(target.value)})
        return self._source_domains(self._where(target, Filters(status="all")))

    def _source_domains(self, where: dict[str, Any]) -> set[str]:
        """The distinct source domains of the links ``where`` matches: a $group streamed back in batches
        (``distinct`` answers in one document of at most 16 MB: ~500k domains)."""
        pipeline = [{"$match": where}, {"$group": {"_id": "$source_domain"}}]
        return self._with_retries(
            lambda: {g["_id"] for g in self._links.aggregate(pipeline, allowDiskUse=True)}, "read"
        )

    def _authorities(self, domains: set[str]) -> dict[str, float]:
        run = self.scores_run()
        if run is None or not domains:
            return {}
        names = sorted(domains)
        found: dict[str, float] = {}
        scores = self._links.database[run["collection"]]
        for i in range(0, len(names), 1000):
            docs = scores.find({"_id": {"$in": names[i : i + 1000]}}, {"authority": 1})
            for doc in self._with_retries(lambda docs=docs: list(docs), "read"):
                found[doc["_id"]] = doc["authority"]
        return found

    def _links_back(self, pairs: set[tuple[str, str]]) -> set[tuple[str, str]]:
        # The (target_domain, source_domain) index answers each one.
        def back(t: str, s: str) -> bool:
            where = {"target_domain": s, "source_domain": t, **_GRAPH_MATCH}
            return self._with_retries(lambda: self._links.find_one(where, {"_id": 1}), "read") is not None

        return {(t, s) for t, s in pairs if back(t, s)}

    @staticmethod
    def _score(doc: dict[str, Any], run: dict[str, Any]) -> dict[str, Any]:
        return score_record([doc["_id"], *(doc[c] for c in SCORE_COLUMNS[1:])], run["computed_at"])


def _only_duplicate_keys(exc: Any) -> bool:
    """Two upserts of one new edge raced (here or on another worker): retrying updates the winner."""
    errors = exc.details.get("writeErrors", [])
    return bool(errors) and all(e.get("code") == _DUPLICATE_KEY for e in errors)


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split())[:300]
