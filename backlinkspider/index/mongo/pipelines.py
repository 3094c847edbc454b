"""The filters and aggregation pipelines the store sends: data only, built from the records.

User input only ever becomes a value compared for equality, a bound or an escaped pattern, never an
operator document (a domain spelled ``{"$gt": ""}`` is a string that matches nothing).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from backlinkspider.index.mongo.documents import LINKS, PROJECTION, Document, bson_date
from backlinkspider.records import Bucketing, EdgeSort, Filters, Target
from backlinkspider.standards.urls import host_of, registered_domain

Pipeline = list[Document]

SCOPE_FIELD = {"url": "target_url", "host": "target_host", "domain": "target_domain"}
FLAGGED = {"$or": ["$nofollow", "$ugc", "$sponsored"]}
LIVE_FOLLOWED = {"lost_at": None, "nofollow": False, "ugc": False, "sponsored": False}
_EPOCH = datetime(1970, 1, 1)
_STATUS: dict[str, Document] = {"live": {"lost_at": None}, "lost": {"lost_at": {"$ne": None}}, "all": {}}
_REL: dict[str | None, Document] = {
    None: {},
    "follow": {"nofollow": False, "ugc": False, "sponsored": False},
    "nofollow": {"$or": [{"nofollow": True}, {"ugc": True}, {"sponsored": True}]},
}


def where(target: Target, filters: Filters) -> Document:
    """The filter of the edges to ``target`` passing ``filters``. It always names ``target_domain``, the
    shard key's prefix, so a sharded cluster asks only the shards holding that domain."""
    value = str(target.value)
    found: Document = {SCOPE_FIELD[target.scope]: value}
    if target.scope != "domain":
        host = host_of(value) if target.scope == "url" and "://" in value else value
        found["target_domain"] = registered_domain(host)
    found.update(_STATUS[filters.status])
    found.update(_REL[filters.rel])
    if filters.link_type:
        found["link_type"] = str(filters.link_type)
    if filters.since is not None:
        found["first_seen"] = {"$gte": bson_date(filters.since)}
    if filters.from_domain:
        found["source_domain"] = str(filters.from_domain)
    if filters.anchor_contains:
        found["anchor_text"] = {"$regex": ascii_folded(str(filters.anchor_contains))}
    if filters.provenance:  # an edge written before provenance was kept has none: it was crawled
        name = str(filters.provenance)
        found["provenance"] = {"$in": [name, None]} if name == "crawl" else name
    return found


def ascii_folded(text: str) -> str:
    """A pattern matching ``text`` anywhere, ASCII letters in either case and nothing else folded, as
    SQLite's ``lower()`` folds (the ``i`` option would fold every Unicode letter too)."""
    return "".join(f"[{c.lower()}{c.upper()}]" if c.isascii() and c.isalpha() else re.escape(c) for c in text)


def after(sort: EdgeSort, value: int | str, edge_id: bytes) -> Document:
    """Edges strictly after ``(value, edge_id)`` in ``(sort, _id)`` order. The leading ``$gte`` gives the
    index scan a lower bound, so a later page starts where the last ended instead of at the range's
    start."""
    key = bson_date(value) if isinstance(value, int) else value
    return {sort: {"$gte": key}, "$or": [{sort: {"$gt": key}}, {"_id": {"$gt": edge_id}}]}


def domains_edges(
    match: Document, domains: Sequence[str], after: bytes | None, limit: int | None
) -> Pipeline:
    """The edges ``match`` passes from each of ``domains`` in turn, each domain's in ``_id`` order: a
    ``$unionWith`` branch a domain, each reading at most ``limit`` edges on the ``(scope, source_domain,
    _id)`` index, numbered, then sorted by number on the server (``$unionWith`` promises no order: the
    manual). At most ``limit`` per domain and ``limit`` domains: a page's rows come from so many."""
    cut = [{"$limit": int(limit)}] if limit else []

    def branch(k: int, domain: str) -> Pipeline:
        where: Document = {**match, "source_domain": str(domain)}
        if after is not None and k == 0:
            where["_id"] = {"$gt": after}
        return [{"$match": where}, {"$sort": {"_id": 1}}, *cut, {"$set": {"_k": k}}]

    first, *rest = (branch(k, domain) for k, domain in enumerate(domains))
    return [
        *first,
        *({"$unionWith": {"coll": LINKS, "pipeline": other}} for other in rest),
        {"$sort": {"_k": 1, "_id": 1}},
        *cut,
        {"$project": PROJECTION},
    ]


def _count_if(condition: Any) -> Document:
    return {"$sum": {"$cond": [condition, 1, 0]}}


def tally_facets(include_lost: bool, since: Sequence[int], top: int) -> dict[str, Pipeline]:
    """One ``$facet`` of every count of ``records.Tally``: the target's edges are read once. Shown
    counts skip lost edges unless ``include_lost``; new and lost count every edge. The output is a few
    small lists (tops are cut to ``top``), far under the 16 MB a $facet result may hold. A null
    ``lost_at`` is never ``$gte`` a date: null sorts below every date (the manual's BSON order)."""
    shown: Pipeline = [] if include_lost else [{"$match": {"lost_at": None}}]
    starts = {f"w{i}": bson_date(start) for i, start in enumerate(since)}

    def top_by(field: str) -> Pipeline:
        group = {"$group": {"_id": f"${field}", "count": {"$sum": 1}}}
        return [*shown, group, {"$sort": {"count": -1, "_id": 1}}, {"$limit": top}]

    def distinct(field: str) -> Pipeline:
        return [*shown, {"$group": {"_id": f"${field}"}}, {"$count": "n"}]

    def known(field: str) -> Pipeline:  # an edge whose page's address is unknown counts in neither
        return [*shown, {"$match": {field: {"$ne": None}}}, {"$group": {"_id": f"${field}"}}, {"$count": "n"}]

    return {
        "edges": [
            *shown,
            {
                "$group": {
                    "_id": None,
                    "n": {"$sum": 1},
                    "first": {"$min": "$first_seen"},
                    "last": {"$max": "$last_seen"},
                    "follow": {"$sum": {"$cond": [FLAGGED, 0, 1]}},
                    "nofollow": _count_if("$nofollow"),
                    "ugc": _count_if("$ugc"),
                    "sponsored": _count_if("$sponsored"),
                }
            },
        ],
        "types": [*shown, {"$group": {"_id": "$link_type", "count": {"$sum": 1}}}],
        "pages": distinct("source_url"),
        "hosts": distinct("source_host"),
        "ips": known("source_ip"),
        "subnets": known("source_subnet"),
        "top_anchors": top_by("anchor_text"),
        "top_domains": top_by("source_domain"),
        "top_pages": top_by("target_url"),
        "new_lost_edges": [
            {
                "$group": {
                    "_id": None,
                    **{f"new{w}": _count_if({"$gte": ["$first_seen", t]}) for w, t in starts.items()},
                    **{f"lost{w}": _count_if({"$gte": ["$lost_at", t]}) for w, t in starts.items()},
                }
            }
        ],
        "new_lost_domains": [
            _by_source_domain(),
            {
                "$group": {
                    "_id": None,
                    **{f"new{w}": _count_if({"$gte": ["$first", t]}) for w, t in starts.items()},
                    **{
                        f"lost{w}": _count_if({"$and": [{"$eq": ["$live", 0]}, {"$gte": ["$last_lost", t]}]})
                        for w, t in starts.items()
                    },
                }
            },
        ],
    }


def _by_source_domain() -> Document:
    """Per referring domain: its first edge's first_seen, its last lost_at, and its live edges."""
    return {
        "$group": {
            "_id": "$source_domain",
            "first": {"$min": "$first_seen"},
            "last_lost": {"$max": "$lost_at"},  # $max skips nulls: None while no edge was lost
            "live": _count_if({"$eq": ["$lost_at", None]}),
        }
    }


def _bucket(date: str, bucketing: Bucketing) -> Document:
    """``(t + offset) // width`` of a date field in epoch seconds; null for a null date. A date minus a
    date is milliseconds (the manual, $subtract); the division of whole milliseconds is exact before
    ``$floor`` for any date a store can hold."""
    since_epoch = {"$add": [{"$subtract": [date, _EPOCH]}, bucketing.offset * 1000]}
    return {"$floor": {"$divide": [since_epoch, bucketing.width * 1000]}}


def link_events(match: Document, bucketing: Bucketing) -> Pipeline:
    """Edges counted per (bucket of first_seen, bucket of lost_at or null): grouped on the server (on
    each shard first), a few rows per bucket come back, never one per edge."""
    key = {"new": _bucket("$first_seen", bucketing), "lost": _bucket("$lost_at", bucketing)}
    return [{"$match": match}, {"$group": {"_id": key, "n": {"$sum": 1}}}]


def domain_events(match: Document, bucketing: Bucketing) -> Pipeline:
    """Referring domains of the edges ``match`` passes, grouped from those edges (``domain_buckets``)."""
    return [{"$match": match}, _by_source_domain(), domain_buckets(bucketing)]


def domain_buckets(bucketing: Bucketing) -> Document:
    """Referring domains ``{first, last_lost, live}`` counted per (bucket of their first edge, bucket of
    their last lost edge if none is live, else null)."""
    lost = {"$cond": [{"$eq": ["$live", 0]}, _bucket("$last_lost", bucketing), None]}
    key = {"new": _bucket("$first", bucketing), "lost": lost}
    return {"$group": {"_id": key, "n": {"$sum": 1}}}


def graph(stages: Pipeline) -> Pipeline:
    """``stages`` run on the domain graph's (source, target) pairs: one $group of the live, followed
    links (on each shard first, spilling to disk past 100 MB), self-loops (internal links, kept by
    BACKLINKS_KEEP_INTERNAL) dropped after it, one a pair rather than one a link."""
    return [
        {"$match": LIVE_FOLLOWED},
        {"$group": {"_id": {"s": "$source_domain", "t": "$target_domain"}, "links": {"$sum": 1}}},
        {"$match": {"$expr": {"$ne": ["$_id.s", "$_id.t"]}}},
        *stages,
    ]


def groups(match: Document, by: str) -> Pipeline:
    """Edges per value of field ``by``: grouped by (value, source domain) first, so distinct domains are
    counted without an array of them, then by value, in binary order."""
    return [
        {"$match": match},
        {
            "$group": {
                "_id": {"v": f"${by}", "d": "$source_domain"},
                "n": {"$sum": 1},
                "f": {"$sum": {"$cond": [FLAGGED, 0, 1]}},
            }
        },
        {"$group": {"_id": "$_id.v", "n": {"$sum": "$n"}, "domains": {"$sum": 1}, "f": {"$sum": "$f"}}},
        {"$sort": {"_id": 1}},
    ]


def crossings(domains: Sequence[str], filters: Filters) -> Pipeline:
    """Per source domain, its edges passing ``filters`` to each of the registered ``domains`` that it
    links to: ``{_id: source domain, per: [{t: domain, n}]}``, in binary order."""
    match = where(Target("domain", ""), filters)
    match["target_domain"] = {"$in": [str(d) for d in domains]}
    return [
        {"$match": match},
        {"$group": {"_id": {"s": "$source_domain", "t": "$target_domain"}, "n": {"$sum": 1}}},
        {"$group": {"_id": "$_id.s", "per": {"$push": {"t": "$_id.t", "n": "$n"}}}},
        {"$sort": {"_id": 1}},
    ]


def outgoing(source_domain: str, status: str) -> Pipeline:
    """The edges from ``source_domain`` to other domains per (target domain, anchor). Read by the
    ``by_source_domain`` index; on a cluster sharded by target domain every shard answers."""
    match = {"source_domain": str(source_domain), "target_domain": {"$ne": str(source_domain)}}
    return [
        {"$match": {**match, **_STATUS[status]}},
        {
            "$group": {
                "_id": {"t": "$target_domain", "a": "$anchor_text"},
                "n": {"$sum": 1},
                "f": {"$sum": {"$cond": [FLAGGED, 0, 1]}},
            }
        },
        {"$sort": {"_id.t": 1, "_id.a": 1}},
    ]


STILL_LIVE = 2**53  # the end bucket of a live span while sorting: after every real bucket


def domain_spans(match: Document, width: int) -> Pipeline:
    """The distinct (source domain, first_seen bucket, lost_at bucket) of the edges, a live edge's end
    sorting last."""
    buckets = Bucketing(width)
    end = {"$ifNull": [_bucket("$lost_at", buckets), STILL_LIVE]}
    key = {"d": "$source_domain", "a": _bucket("$first_seen", buckets), "b": end}
    return [
        {"$match": match},
        {"$group": {"_id": key}},
        {"$sort": {"_id.d": 1, "_id.a": 1, "_id.b": 1}},
    ]
