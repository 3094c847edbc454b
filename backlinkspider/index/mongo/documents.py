"""The documents the store keeps, and the writes that make them.

``links``: one document per edge (never an array of sources, so a popular target never grows a
document), ``_id`` the edge's 16-byte ``edge_id`` (an upsert needs no read); the export's fields plus both
hosts, ``provenance``, ``source_ip`` and ``source_subnet``; dates are BSON dates truncated to the second;
``counted``: what the per-target figures last counted of it (``figures.py``). ``pages``: ``{_id: url,
last_crawled, failures, target_domains, status, ip_address, last_ok}`` (status: why the newest fetch
failed, null if it did not; last_ok: the newest successful fetch). ``counters``: ``{_id: "write_batches" | "score_saves", n}``, bumped once per
write batch or score save, for ``fingerprint``. Scores: two collections used in turn and a run
document naming the current one.
"""

from __future__ import annotations

import calendar
import enum
from collections.abc import Callable
from dataclasses import asdict, fields
from datetime import UTC, datetime
from typing import Any

from pymongo import UpdateMany, UpdateOne

from backlinkspider.records import (
    BEST_EDGE_ORDER,
    CrawledPage,
    Edge,
    EdgeRow,
    PageState,
    PageStatus,
    ScoreRow,
    ScoreRun,
)

Document = dict[str, Any]

LINKS, PAGES, COUNTERS = "links", "pages", "counters"
WRITE_BATCHES, SCORE_SAVES = "write_batches", "score_saves"  # the counters (see store.fingerprint)
SCORES = ("domain_scores_a", "domain_scores_b")
SCORE_RUNS = "score_runs"  # {_id: "latest", collection, computed_at, fingerprint, ...}
SCORE_SORTS = ("authority", "trust", "spam_mass", "referring_domains")
# One index per target scope and sort, in the order edges() reads it (``SORT_INDEXES``), so a page of a
# cursor walk reads its rows and never sorts; lost edges per domain by when (a summary's windows); one by
# source URL for a re-crawl's lost marks. The (target_domain, source_domain) one also answers
# referring_domains and linking_back.
SORT_INDEXES = {
    ("url", "first_seen"): "by_target_url",
    ("host", "first_seen"): "by_target_host",
    ("domain", "first_seen"): "by_target_domain",
    ("url", "last_seen"): "by_url_last_seen",
    ("host", "last_seen"): "by_host_last_seen",
    ("domain", "last_seen"): "by_domain_last_seen",
    ("url", "source_domain"): "by_url_source",
    ("host", "source_domain"): "by_host_source",
    ("domain", "source_domain"): "by_domain_source",
}
_SCOPE_FIELD = {"url": "target_url", "host": "target_host", "domain": "target_domain"}
INDEXES = [
    *(
        (name, [(_SCOPE_FIELD[scope], 1), (sort, 1), ("_id", 1)])
        for (scope, sort), name in SORT_INDEXES.items()
    ),
    ("by_domain_lost_at", [("target_domain", 1), ("lost_at", 1)]),
    ("by_source_url", [("source_url", 1)]),
    ("by_source_domain", [("source_domain", 1), ("target_domain", 1)]),
]
# pages_to_recrawl's order, ties by URL (an index on last_crawled alone would sort each tie in memory).
PAGE_INDEXES = [("by_recrawl_order", [("last_crawled", 1), ("_id", 1)])]
EDGE_FIELDS = [name for name in EdgeRow._fields if name != "edge_id"]
PROJECTION = dict.fromkeys(["_id", *EDGE_FIELDS], 1)
# What ranks a referring domain's edges (``best_rank``), by records.BEST_EDGE_ORDER.
_BEST_VALUES: dict[str, Callable[[Document], Any]] = {
    "flagged": lambda doc: bool(doc["nofollow"] or doc["ugc"] or doc["sponsored"]),
    "first_seen": lambda doc: doc["first_seen"],
    "edge_id": lambda doc: doc["_id"],
}
BEST_FIELDS = dict.fromkeys(["_id", "source_domain", "first_seen", "nofollow", "ugc", "sponsored"], 1)

_KEY_FIELDS = ("source_url", "target_url", "link_type", "source_host", "source_domain", "target_host")
# What the newest sighting sets (source_ip / source_subnet: the page's server address when last seen).
_NEWS_FIELDS = (
    "anchor_text",
    "nofollow",
    "ugc",
    "sponsored",
    "provenance",
    "source_ip",
    "source_subnet",
)


class Keep(enum.Enum):
    """A page's status left as it is (``page_update``)."""

    KEEP = "keep"


KEEP = Keep.KEEP


def bson_date(when: datetime | int) -> datetime:
    """A datetime or epoch seconds as a BSON date: naive UTC (pymongo's default), whole seconds."""
    if isinstance(when, int):
        return datetime.fromtimestamp(when, UTC).replace(tzinfo=None)
    return when.astimezone(UTC).replace(microsecond=0, tzinfo=None)


def seconds(value: datetime) -> int:
    """A BSON date (naive UTC) as epoch seconds."""
    return calendar.timegm(value.utctimetuple())


def edge_row(doc: Document) -> EdgeRow:
    """A ``links`` document as the row every store answers with."""
    lost_at = doc.get("lost_at")
    return EdgeRow(
        edge_id=doc["_id"],
        source_url=doc["source_url"],
        target_url=doc["target_url"],
        source_domain=doc["source_domain"],
        target_domain=doc["target_domain"],
        link_type=doc["link_type"],
        anchor_text=doc["anchor_text"],
        nofollow=doc["nofollow"],
        ugc=doc["ugc"],
        sponsored=doc["sponsored"],
        first_seen=seconds(doc["first_seen"]),
        last_seen=seconds(doc["last_seen"]),
        lost_at=None if lost_at is None else seconds(lost_at),
        provenance=doc.get("provenance", "crawl"),  # none in a document written before it was kept
    )


def best_rank(doc: Document) -> tuple[Any, ...]:
    """Where an edge (read with ``BEST_FIELDS``) ranks among its referring domain's: lowest is best
    (``_id`` as 16 bytes compares as the server and SQLite compare it)."""
    return tuple(_BEST_VALUES[name](doc) for name in BEST_EDGE_ORDER)


def document_for(edge: Edge, seen: datetime, page: CrawledPage | None = None) -> Document:
    """The document a first sighting of ``edge`` at ``seen`` (a BSON date) in ``page`` creates, ``_id``
    aside; without a page (documents loaded in bulk), a crawl's with no known address."""
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
        "provenance": page.provenance if page else "crawl",
        "source_ip": page.ip_address if page else None,
        "source_subnet": page.subnet if page else None,
    }


def update_for(edge: Edge, seen: datetime, page: CrawledPage) -> tuple[Document, list[Document]]:
    """The filter and update pipeline that upsert one edge seen at ``seen`` (a BSON date) in ``page``.

    The filter names the whole shard key ``{target_domain, _id}``, as an upsert into a sharded collection
    must. One ``$set`` stage, whose expressions all read the document as it was: the newest sighting
    (at least as new as ``last_seen``) sets the anchor, rel flags, provenance and address, and makes the
    edge live if it is at least as new as its ``lost_at`` too; an older one (a retried batch, a slow
    worker, an older archive) only moves ``first_seen`` back, as ``$min`` does. Values go in as ``$literal``: in a pipeline an anchor like
    ``$100 off`` would otherwise be read as a field path."""
    filter_ = {"_id": edge.edge_id, "target_domain": edge.target_domain}
    doc = document_for(edge, seen, page)
    latest = {"$gte": [seen, {"$ifNull": ["$last_seen", seen]}]}
    newer = {"$and": [latest, {"$gte": [seen, {"$ifNull": ["$lost_at", seen]}]}]}
    # A stored edge keeps the fields derived from its key as they are (a new public suffix list may
    # compute another source_domain: SQLite keeps its row, and so does this).
    updates: Document = {name: {"$ifNull": [f"${name}", {"$literal": doc[name]}]} for name in _KEY_FIELDS}
    updates["first_seen"] = {"$min": [{"$ifNull": ["$first_seen", seen]}, seen]}
    updates["last_seen"] = {"$max": [{"$ifNull": ["$last_seen", seen]}, seen]}
    updates.update({name: {"$cond": [latest, {"$literal": doc[name]}, f"${name}"]} for name in _NEWS_FIELDS})
    updates["lost_at"] = {"$cond": [newer, None, "$lost_at"]}
    return filter_, [{"$set": updates}]


def lost_mark(url: str, seen: datetime, domains: list[str] | None) -> UpdateMany | None:
    """The update that marks lost the live edges of page ``url`` not seen at ``seen``: those whose
    ``last_seen`` the batch's upserts did not move. ``domains``: the target domains the page ever linked
    to (the shard keys that route the update to their shards only); None for a page indexed before they
    were kept (then every shard is asked); an empty list: nothing to mark."""
    if domains is not None and not domains:
        return None
    where: Document = {"source_url": url, "lost_at": None, "last_seen": {"$lt": seen}}
    if domains:
        where = {"target_domain": {"$in": sorted(domains)}, **where}
    return UpdateMany(where, {"$set": {"lost_at": seen}})


def page_update(
    url: str,
    seen: datetime,
    failures: int,
    domains: list[str],
    status: PageStatus | Keep | None = KEEP,
    ip_address: str | None = None,
) -> UpdateOne:
    """The upsert that records one fetch of page ``url``: its failures in a row, the newest fetch time,
    the target domains its edges point to (added to those it had), unless ``KEEP`` (an older fetch than
    the page's newest) why it failed (None: it did not) and its server's address, and, for a fetch that
    succeeded (no failures in a row), the newest successful fetch ``last_ok``."""
    news: Document = {"failures": failures}
    if status is not KEEP:
        news.update(status=status, ip_address=ip_address)
    newest = {"last_crawled": seen} if failures else {"last_crawled": seen, "last_ok": seen}
    return UpdateOne(
        {"_id": url},
        {
            "$set": news,
            "$max": newest,
            "$addToSet": {"target_domains": {"$each": domains}},
        },
        upsert=True,
    )


def page_state(doc: Document) -> PageState:
    """A ``pages`` document as the row every store answers with."""
    return PageState(
        doc["_id"],
        seconds(doc["last_crawled"]),
        doc.get("failures") or 0,
        doc.get("status"),
        doc.get("ip_address"),
    )


def score_document(row: ScoreRow) -> Document:
    doc = asdict(row)
    doc["_id"] = doc.pop("domain")
    return doc


def score_row(doc: Document) -> ScoreRow:
    values = {k: v for k, v in doc.items() if k != "_id"}
    return ScoreRow(domain=doc["_id"], **values)


def run_document(run: ScoreRun, collection: str) -> Document:
    return {**asdict(run), "_id": "latest", "collection": collection}


def score_run(doc: Document) -> ScoreRun:
    return ScoreRun(**{f.name: doc[f.name] for f in fields(ScoreRun)})
