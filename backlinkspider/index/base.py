"""The link index interface every backend implements, and the records that cross it.

The index is inverted: it is read by *target* (who links to this URL / host / registered domain?). A
backend stores one record per edge, keyed by ``edge_id`` (a hash of source_url, target_url, link_type),
so writing the same page twice moves ``last_seen`` and never duplicates an edge; ``first_seen`` is set
once. Every backend orders a query by (first_seen, edge_id) and an export by edge_id, so all of them give
the same rows in the same order for the same crawl.
"""

from __future__ import annotations

import abc
import base64
import hashlib
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, NamedTuple

from backlinkspider.urls import BadURL, host_of, normalize, normalize_host, registered_domain

# The fields of an exported or queried edge, in this order (JSONL keys, CSV columns).
FIELDS = (
    "source_url",
    "target_url",
    "source_domain",
    "target_domain",
    "link_type",
    "anchor_text",
    "nofollow",
    "ugc",
    "sponsored",
    "first_seen",
    "last_seen",
)
SCOPES = ("auto", "domain", "host", "url")


class IndexUnavailable(Exception):
    """The index cannot be opened, read or written; the message is one line for a person."""


class BadTarget(ValueError):
    """A query target that is not a URL, host or domain."""


@dataclass(frozen=True, slots=True)
class Edge:
    """One link from a crawled page, as stored."""

    source_url: str
    target_url: str
    link_type: str
    anchor_text: str
    nofollow: bool
    ugc: bool
    sponsored: bool
    source_host: str
    source_domain: str
    target_host: str
    target_domain: str

    @property
    def external(self) -> bool:
        return self.source_domain != self.target_domain

    @property
    def edge_id(self) -> bytes:
        """16 bytes naming the edge: the same edge gets the same id in every backend, with no read."""
        key = f"{self.source_url}\n{self.target_url}\n{self.link_type}".encode()  # URLs hold no newline
        return hashlib.blake2b(key, digest_size=16).digest()


@dataclass(frozen=True, slots=True)
class CrawledPage:
    """The edges one fetch of ``url`` produced, and when it was fetched.

    A fetched page's edges replace what the index held for it: its edges missing this time are marked
    lost, those seen again are live. A ``failed`` fetch (404, 410, a gone host ...) changes nothing until
    the page has failed ``lost_after_failures`` times in a row; then all its edges are lost.
    """

    url: str
    seen_at: datetime
    edges: tuple[Edge, ...]
    failed: bool = False


SORTS = ("first_seen", "last_seen", "source_domain")
STATUSES = ("live", "lost", "all")
TOP = 10  # entries in each top list of a summary


@dataclass(frozen=True, slots=True)
class Filters:
    """What a query keeps. ``rel``: "follow" (none of nofollow / ugc / sponsored) or "nofollow" (any);
    ``since``: first seen at or after (epoch seconds); ``status``: live, lost or all."""

    rel: str | None = None
    link_type: str | None = None
    since: int | None = None
    from_domain: str | None = None
    anchor_contains: str | None = None
    status: str = "live"


def encode_cursor(sort_value: Any, edge_id: bytes) -> str:
    """An opaque page token: the sort key of the last row shown."""
    raw = json.dumps([sort_value, edge_id.hex()]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(token: str) -> tuple[Any, bytes]:
    try:
        value, edge_hex = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
        return value, bytes.fromhex(edge_hex)
    except (ValueError, TypeError) as exc:
        raise BadTarget(f"not a cursor from this tool: {token!r}") from exc


def tld_of(domain: str) -> str:
    """The public suffix of a registered domain (``x.co.uk`` -> ``co.uk``); the domain itself when it has
    none (an IP address)."""
    return domain.split(".", 1)[1] if "." in domain and not domain.replace(".", "").isdigit() else domain


class Target(NamedTuple):
    """What a query asks about: a URL, a host or a registered domain."""

    scope: str
    value: str


def parse_target(text: str, scope: str = "auto") -> Target:
    """Read a user's target. ``auto``: a URL (has ``://``) is a URL, anything else a registered domain."""
    if scope not in SCOPES:
        raise BadTarget(f"unknown scope {scope!r} (choose from {', '.join(SCOPES)})")
    if scope == "auto":
        scope = "url" if "://" in text else "domain"
    try:
        if scope == "url":
            return Target("url", normalize(text))
        host = host_of(normalize(text)) if "://" in text else normalize_host(text)
    except BadURL as exc:
        raise BadTarget(str(exc)) from None
    return Target(scope, registered_domain(host) if scope == "domain" else host)


def iso(ts: int) -> str:
    """Epoch seconds as ISO 8601 UTC, the form every output uses."""
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def redact(uri: str) -> str:
    """An index URI fit for logs and messages: any password replaced by ``***``."""
    scheme, sep, rest = uri.partition("://")
    authority, slash, tail = rest.partition("/")
    if sep and "@" in authority:
        userinfo, host = authority.rsplit("@", 1)
        user = userinfo.split(":", 1)[0]
        return f"{scheme}://{user}:***@{host}{slash}{tail}"
    return uri


def profile(
    *,
    backlinks: int,
    referring_pages: int,
    referring_domains: int,
    referring_hosts: int,
    tlds: dict[str, int],
    by_rel: dict[str, int],
    by_type: dict[str, int],
    top_anchors: list,
    top_referring_domains: list,
    top_pages: list,
    first: int | None,
    last: int | None,
    new: dict,
    lost: dict,
) -> dict[str, Any]:
    """A summary in the documented shape (the same for every backend and scope)."""
    return {
        "backlinks": backlinks,
        "referring_pages": referring_pages,
        "referring_domains": referring_domains,
        "referring_hosts": referring_hosts,
        "referring_tlds": [
            {"value": k, "count": v} for k, v in sorted(tlds.items(), key=lambda kv: (-kv[1], kv[0]))
        ],
        "by_rel": by_rel,
        "by_type": {t: by_type.get(t, 0) for t in ("text", "image", "canonical", "redirect")},
        "top_anchors": top_anchors,
        "top_referring_domains": top_referring_domains,
        "top_pages": top_pages,
        "first_seen": iso(first) if first is not None else None,
        "last_seen": iso(last) if last is not None else None,
        "new": new,
        "lost": lost,
    }


def week_start(week: int) -> str:
    """The Monday (UTC) that starts week number ``week`` (``epoch_week`` of a time), as YYYY-MM-DD."""
    return datetime.fromtimestamp((week * 7 - 3) * 86400, UTC).strftime("%Y-%m-%d")


def epoch_week(ts: int) -> int:
    """Whole weeks, Monday to Sunday UTC, since the one holding 1970-01-01 (a Thursday)."""
    return (ts // 86400 + 3) // 7


def history(
    new_links: dict[int, int],
    lost_links: dict[int, int],
    new_domains: dict[int, int],
    lost_domains: dict[int, int],
) -> list[dict[str, Any]]:
    """Weekly counts keyed by ``epoch_week`` as the documented rows, every week from the first to the last
    with activity (quiet weeks are zeros, so a chart's axis is time)."""
    weeks = set(new_links) | set(lost_links) | set(new_domains) | set(lost_domains)
    if not weeks:
        return []
    return [
        {
            "week": week_start(w),
            "new_backlinks": new_links.get(w, 0),
            "lost_backlinks": lost_links.get(w, 0),
            "new_referring_domains": new_domains.get(w, 0),
            "lost_referring_domains": lost_domains.get(w, 0),
        }
        for w in range(min(weeks), max(weeks) + 1)
    ]


class LinkIndex(abc.ABC):
    """A store of edges, written in batches and read by target. Open one with ``open_index(uri)``."""

    uri: str

    @abc.abstractmethod
    def write(self, pages: Iterable[CrawledPage], *, lost_after_failures: int = 3) -> int:
        """Record a batch of fetched pages (see ``CrawledPage``); returns the number of edges written."""

    @abc.abstractmethod
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
        """Edges pointing at ``target`` that pass ``filters``, ordered by ``sort`` then edge_id, as records
        with ``FIELDS`` and ``_cursor`` (the token that continues after that row).

        Pagination by ``cursor`` is stable while a crawl writes for ``first_seen`` and ``source_domain``
        (those never change for an edge, and new edges sort last by first_seen). ``one_per_domain``
        keeps each referring domain's best link: follow before nofollow, then the oldest.
        """

    @abc.abstractmethod
    def summary(
        self, target: Target, *, include_lost: bool = False, now: datetime | None = None
    ) -> dict[str, Any]:
        """The backlink profile of ``target`` (see ``cli summary`` for its keys)."""

    @abc.abstractmethod
    def pages_to_recrawl(self, limit: int | None = None) -> Iterator[str]:
        """Source pages in the index, least recently crawled first."""

    @abc.abstractmethod
    def export(self) -> Iterator[dict[str, Any]]:
        """Every edge, live and lost, in edge_id order, streamed in constant memory."""

    @abc.abstractmethod
    def count(self) -> int:
        """How many edges the index holds, live and lost."""

    @abc.abstractmethod
    def history(self, target: Target) -> list[dict[str, Any]]:
        """New and lost backlinks and referring domains of ``target`` per week (Monday UTC): a link is new
        in the week of its first_seen (lost or not), lost in the week it was lost (if it still is); a
        referring domain is new in the week of its first link, lost in the week its last live link was
        lost. Rows as ``base.history`` makes them."""

    @abc.abstractmethod
    def version(self) -> Any:
        """A value that changes whenever a write commits, read cheaply: readers cache by it. Comparable
        only between calls on the same open index."""

    @abc.abstractmethod
    def close(self) -> None:
        """Release the connection; safe to call twice."""

    def __enter__(self) -> LinkIndex:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
