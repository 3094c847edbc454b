"""Listings of backlinks: sorts, cursors, paging, one link per domain, the authority sort, and each row
joined with its referring domain's authority and whether the target links back.

A store answers ``edges`` ordered by a column it indexes; every rule above that is here, once."""

from __future__ import annotations

import base64
import bisect
import itertools
import json
from collections.abc import Iterator
from typing import cast

from backlinkspider.index.protocols import LinkIndex
from backlinkspider.query.errors import BadTarget
from backlinkspider.query.output import iso
from backlinkspider.records import SORTS, EdgeRow, ExportedEdge, Filters, Listed, Sort, Target

_MAX_SECONDS = 253_402_300_799  # 9999-12-31T23:59:59Z, the last second every backend can store
_JOIN_BATCH = 256  # rows whose authorities and links back are read in one go


def encode_cursor(sort_value: object, edge_id: bytes) -> str:
    """An opaque page token: the sort key of the last row shown."""
    raw = json.dumps([sort_value, edge_id.hex()]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(token: str, sort: Sort) -> tuple[object, bytes]:
    """The sort value and edge_id a cursor holds, checked against ``sort``'s type (epoch seconds for the
    dates, text for source_domain, [authority, domain] for authority), so a crafted token is refused in
    one line, never passed on (as a MongoDB operator such as ``{"$ne": null}``, say)."""
    try:
        value, edge_hex = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
        edge_id = bytes.fromhex(edge_hex)
    except (ValueError, TypeError) as exc:
        raise BadTarget(f"not a cursor from this tool: {token[:60]!r}") from exc
    if not _valid(value, sort) or len(edge_id) != 16:
        raise BadTarget(f"not a cursor for --sort {sort}: {token[:60]!r}")
    return value, edge_id


def _valid(value: object, sort: Sort) -> bool:
    if sort == "source_domain":
        return isinstance(value, str)
    if sort == "authority":  # [the referring domain's authority (-1 without scores), its name]
        return (
            isinstance(value, list)
            and len(value) == 2
            and type(value[0]) in (int, float)
            and -1.0 <= value[0] <= 100.0
            and isinstance(value[1], str)
        )
    return type(value) is int and 0 <= value <= _MAX_SECONDS


def exported(row: EdgeRow) -> ExportedEdge:
    """A stored edge as outputs show it (``records.FIELDS``)."""
    return {
        "source_url": row.source_url,
        "target_url": row.target_url,
        "source_domain": row.source_domain,
        "target_domain": row.target_domain,
        "link_type": row.link_type,
        "anchor_text": row.anchor_text,
        "nofollow": row.nofollow,
        "ugc": row.ugc,
        "sponsored": row.sponsored,
        "first_seen": iso(row.first_seen),
        "last_seen": iso(row.last_seen),
        "lost_at": iso(row.lost_at) if row.lost_at is not None else None,
        "provenance": row.provenance,
    }


def export(index: LinkIndex, after: bytes | None = None) -> Iterator[ExportedEdge]:
    """Every edge, live and lost, in edge_id order, streamed in constant memory; with ``after`` (an
    edge's ``records.Edge.edge_id``), only those after it: an interrupted export resumes there."""
    return map(exported, index.export(after))


def backlinks(
    index: LinkIndex,
    target: Target,
    filters: Filters = Filters(),
    *,
    sort: Sort = "first_seen",
    limit: int | None = None,
    offset: int = 0,
    cursor: str | None = None,
    one_per_domain: bool = False,
) -> Iterator[Listed]:
    """Edges pointing at ``target`` that pass ``filters``, ordered by ``sort`` then edge_id, each with
    ``source_authority``, ``reciprocal`` and ``_cursor`` (the token that continues after it); ``limit``
    0 or None: every row.

    Pagination by ``cursor`` is stable while a crawl writes for ``first_seen`` and ``source_domain``
    (a crawl never changes them for an edge, and new edges sort last by first_seen; an archive older
    than the index may move an edge's first_seen back). ``one_per_domain`` keeps
    each referring domain's best link (``records.BEST_EDGE_ORDER``), chosen before paging."""
    if sort not in SORTS:
        raise ValueError(f"unknown sort {sort!r}")
    if sort == "authority":
        pairs = _by_authority(index, target, filters, limit or None, offset, cursor, one_per_domain)
    else:
        # decode_cursor checked the value's type for this sort: epoch seconds or a domain.
        after = cast("tuple[int | str, bytes]", decode_cursor(cursor, sort)) if cursor else None
        rows = index.edges(
            target,
            filters,
            sort=sort,
            after=after,
            limit=limit or None,
            offset=offset,
            one_per_domain=one_per_domain,
        )
        pairs = ((row, encode_cursor(getattr(row, sort), row.edge_id)) for row in rows)
    return _joined(index, pairs)


def _joined(index: LinkIndex, pairs: Iterator[tuple[EdgeRow, str]]) -> Iterator[Listed]:
    """Rows with ``source_authority`` and ``reciprocal``, looked up a batch at a time."""
    while chunk := list(itertools.islice(pairs, _JOIN_BATCH)):
        scored = index.authorities({row.source_domain for row, _ in chunk})
        back = index.linking_back({(row.target_domain, row.source_domain) for row, _ in chunk})
        for row, token in chunk:
            yield {
                **exported(row),
                "source_authority": scored.get(row.source_domain),
                "reciprocal": (row.target_domain, row.source_domain) in back,
                "_cursor": token,
            }


def _by_authority(
    index: LinkIndex,
    target: Target,
    filters: Filters,
    limit: int | None,
    offset: int,
    cursor: str | None,
    one_per_domain: bool,
) -> Iterator[tuple[EdgeRow, str]]:
    """The best referring domains first (authority descending, -1 for a domain without scores, then by
    name), each domain's links together in edge_id order. Only the target's referring domains are ranked
    in memory (an entry a domain, never a row a link); a page's rows are then read by one
    ``domains_edges`` of its next domains (each has a row: the filters listed it), not a read a domain.
    The cursor holds ([authority, domain], edge_id), so it is stable until the next ``rank`` changes the
    authorities."""
    domains = [filters.from_domain] if filters.from_domain else list(index.referring_domains(target, filters))
    scored = index.authorities(domains)
    keys = sorted((-scored.get(d, -1.0), d) for d in domains)
    start = 0
    after: bytes | None = None
    if cursor:
        value, edge_id = decode_cursor(cursor, "authority")
        authority, last_domain = cast("tuple[float, str]", value)
        start = bisect.bisect_left(keys, (-authority, last_domain))
        if start < len(keys) and keys[start] == (-authority, last_domain):
            if one_per_domain:
                start += 1  # that domain's one row was shown
            else:
                after = edge_id  # the rest of that domain's links
    skip, left = offset, limit
    rest = keys[start:]
    while rest:
        wanted = None if left is None else skip + left
        n = _JOIN_BATCH if wanted is None else min(wanted, _JOIN_BATCH)
        chunk, rest = rest[:n], rest[n:]
        ranked = {domain: -negative for negative, domain in chunk}
        rows = index.domains_edges(
            target, filters, list(ranked), after=after, limit=wanted, one_per_domain=one_per_domain
        )
        after = None
        for row in rows:
            if skip:
                skip -= 1
                continue
            yield row, encode_cursor([ranked[row.source_domain], row.source_domain], row.edge_id)
            if left is not None and not (left := left - 1):
                return
