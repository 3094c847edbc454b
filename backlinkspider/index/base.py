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
import bisect
import dataclasses
import hashlib
import itertools
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, NamedTuple

from itemadapter import ItemAdapter, is_item

from backlinkspider.index.errors import BadRow as BadRow
from backlinkspider.index.errors import IndexUnavailable as IndexUnavailable
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
    "lost_at",  # when a crawl found the link gone; None (JSON null, empty in CSV) while it is live
)
SCOPES = ("auto", "domain", "host", "url")


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


def page_edges(page: Any, keep_internal: bool) -> tuple[Edge, ...]:
    """The edges of a page item as the index stores them: with hosts and registered domains, and without
    internal links unless ``keep_internal``.

    A page item is any item (dict, dataclass, attrs, scrapy.Item; read through itemadapter) with ``url``
    (str), ``links`` (a list of ``{target_url, link_type, anchor_text, nofollow, ugc, sponsored}``: only
    ``target_url`` is required; ``link_type`` defaults to "text", the rest to "" and false) and optionally
    ``failed`` (true: the fetch failed). ``extract.Page`` is one."""
    adapter = ItemAdapter(page)
    url = adapter["url"]
    source_host = host_of(url)
    source_domain = registered_domain(source_host)
    edges = []
    for link in adapter.get("links") or ():
        # A dict (or any item) per link, or an object with these attributes (our Link, a NamedTuple).
        get = (
            ItemAdapter(link).get
            if is_item(link)
            else lambda name, default, link=link: getattr(link, name, default)
        )
        target_url = get("target_url", None)
        if not isinstance(target_url, str):
            raise ValueError(f"a link of {url} has no target_url string")
        target_host = host_of(target_url)
        target_domain = registered_domain(target_host)
        if target_domain == source_domain and not keep_internal:
            continue
        edges.append(
            Edge(
                url,
                target_url,
                get("link_type", "text"),
                get("anchor_text", ""),
                bool(get("nofollow", False)),
                bool(get("ugc", False)),
                bool(get("sponsored", False)),
                source_host,
                source_domain,
                target_host,
                target_domain,
            )
        )
    return tuple(edges)


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


_TEXT_FIELDS = (
    "source_url",
    "target_url",
    "link_type",
    "anchor_text",
    "source_host",
    "source_domain",
    "target_host",
    "target_domain",
)
_FLAG_FIELDS = ("nofollow", "ugc", "sponsored")


def checked(pages: Iterable[CrawledPage]) -> list[CrawledPage]:
    """The pages, if every backend can store them all; else ``BadRow`` naming the first page at fault.

    Every backend checks the same way before writing anything, so both refuse the same data (SQLite
    would store a None anchor that MongoDB would not, and neither can encode a lone surrogate)."""
    pages = list(pages)
    for page in pages:
        url = page.url if isinstance(page.url, str) else None
        problem = _problem(page)
        if problem:
            raise BadRow(f"page {url!r} cannot be indexed: {problem}", url)
    return pages


def _problem(page: CrawledPage) -> str | None:
    if not isinstance(page.url, str) or not isinstance(page.seen_at, datetime):
        return "its url must be a string and seen_at a datetime"
    for edge in page.edges:
        for name in _TEXT_FIELDS:
            value = getattr(edge, name)
            if not isinstance(value, str):
                return f"{name} is {type(value).__name__}, not text"
            if not value.isascii():
                try:
                    value.encode()
                except UnicodeEncodeError:
                    return f"{name} is not Unicode text: {value!r:.80}"
        for name in _FLAG_FIELDS:
            if not isinstance(getattr(edge, name), bool):
                return f"{name} is {type(getattr(edge, name)).__name__}, not a bool"
    return None


SORTS = ("first_seen", "last_seen", "source_domain", "authority")
STATUSES = ("live", "lost", "all")
TOP = 10  # entries in each top list of a summary
# A queried edge: the exported fields, the referring domain's authority and whether the target's domain
# links back to it (followed).
QUERY_FIELDS = (*FIELDS, "source_authority", "reciprocal")


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


_MAX_SECONDS = 253_402_300_799  # 9999-12-31T23:59:59Z, the last second every backend can store


def decode_cursor(token: str, sort: str) -> tuple[Any, bytes]:
    """The sort value and edge_id a cursor holds, checked against ``sort``'s type (epoch seconds for the
    dates, text for source_domain), so a crafted token is refused in one line, never passed on (as a
    MongoDB operator such as ``{"$ne": null}``, say)."""
    try:
        value, edge_hex = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
        edge_id = bytes.fromhex(edge_hex)
    except (ValueError, TypeError) as exc:
        raise BadTarget(f"not a cursor from this tool: {token[:60]!r}") from exc
    if sort == "source_domain":
        valid = isinstance(value, str)
    elif sort == "authority":  # [the referring domain's authority (-1 without scores), its name]
        valid = (
            isinstance(value, list)
            and len(value) == 2
            and type(value[0]) in (int, float)
            and -1.0 <= value[0] <= 100.0
            and isinstance(value[1], str)
        )
    else:
        valid = type(value) is int and 0 <= value <= _MAX_SECONDS
    if not valid or len(edge_id) != 16:
        raise BadTarget(f"not a cursor for --sort {sort}: {token[:60]!r}")
    return value, edge_id


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
        """Record a batch of fetched pages (see ``CrawledPage``); returns the number of edges written.

        Raises ``IndexUnavailable`` when the index cannot be reached or written (a lost server, a full
        disk, a locked or read-only file: the same batch may succeed later), ``BadRow`` when it refuses
        the data itself (then no retry helps: split the batch to find the page at fault). A batch
        refused by SQLite changes nothing; on MongoDB, other rows of it may have landed (every write is
        an idempotent upsert, so writing them again is harmless)."""

    @abc.abstractmethod
    def check_writable(self) -> None:
        """Raise ``IndexUnavailable`` (one line, no password) unless the index accepts a write now: a
        read-only file or directory, a user without write rights ... Changes no data. A crawl calls it
        before fetching anything, so it never fetches pages it cannot keep."""

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

    # --- the domain graph and its scores (backlinkspider/scores) -----------------------------------

    @abc.abstractmethod
    def graph_domains(self) -> Iterator[str]:
        """The nodes of the domain graph, found inside the store: every registered domain that is the
        source or the target of a ``domain_graph`` row, each once, in binary order."""

    @abc.abstractmethod
    def domain_graph(self) -> Iterator[tuple[str, str, int]]:
        """The domain graph, grouped inside the store: one (source_domain, target_domain, links) row per
        pair of registered domains with at least one live, followed (no nofollow / ugc / sponsored)
        external link, ``links`` of them, ordered by source then target domain (binary order)."""

    @abc.abstractmethod
    def save_scores(self, rows: Iterable[tuple[Any, ...]], run: dict[str, Any]) -> None:
        """Replace the stored scores at once: ``rows`` in ``SCORE_COLUMNS`` order, ``run`` what
        ``scores_run`` returns (``computed_at`` epoch seconds, ``fingerprint``, counts)."""

    @abc.abstractmethod
    def scores_run(self) -> dict[str, Any] | None:
        """What the last ``backlinks rank`` stored about itself, or None."""

    @abc.abstractmethod
    def domain_scores(
        self, sort: str = "authority", farm_only: bool = False, limit: int | None = 100
    ) -> list[dict[str, Any]]:
        """Scored domains, best first by ``sort`` (one of ``SCORE_SORTS``; nulls last, then by name), as
        records with ``SCORE_FIELDS``; an empty list when no scores were computed."""

    @abc.abstractmethod
    def domain_score(self, domain: str) -> dict[str, Any] | None:
        """The scores of one registered domain, or None."""

    @abc.abstractmethod
    def authority_bands(self, domain: str) -> list[dict[str, Any]]:
        """How many of the domain's (live, followed) referring domains fall in each authority band."""

    @abc.abstractmethod
    def index_fingerprint(self) -> list[Any]:
        """A cheap value that changes whenever a crawl writes (scores older than it are stale)."""

    @abc.abstractmethod
    def _authorities(self, domains: set[str]) -> dict[str, float]:
        """The stored authority of each of ``domains`` that has one."""

    @abc.abstractmethod
    def _referring_domains(self, target: Target) -> set[str]:
        """Every source domain of a stored link to ``target`` (any rel, live or lost); for a host, those
        of its registered domain (a superset read off the (domain, source) index, not the host's
        links one by one)."""

    @abc.abstractmethod
    def _links_back(self, pairs: set[tuple[str, str]]) -> set[tuple[str, str]]:
        """Those (target_domain, source_domain) pairs where the target links back (live, followed)."""

    def _with_scores(self, rows: Iterator[dict[str, Any]], batch: int = 256) -> Iterator[dict[str, Any]]:
        """Query rows with ``source_authority`` and ``reciprocal``, looked up a batch at a time."""
        while chunk := list(itertools.islice(rows, batch)):
            scored = self._authorities({r["source_domain"] for r in chunk})
            back = self._links_back({(r["target_domain"], r["source_domain"]) for r in chunk})
            for r in chunk:
                r["source_authority"] = scored.get(r["source_domain"])
                r["reciprocal"] = (r["target_domain"], r["source_domain"]) in back
                yield r

    def _by_authority(
        self,
        target: Target,
        filters: Filters,
        limit: int | None,
        offset: int,
        cursor: str | None,
        one_per_domain: bool,
    ) -> Iterator[dict[str, Any]]:
        """``query(sort="authority")``: the best referring domains first (authority descending, -1 for
        a domain without scores, then by name), each domain's links together in edge_id order. Only the
        target's referring domains are ranked in memory (an entry a domain, never a row a link); each
        is then read with ``from_domain`` until the page is full. The cursor holds (authority, domain,
        edge_id), so it is stable until the next ``rank`` changes the authorities."""
        domains = {filters.from_domain} if filters.from_domain else self._referring_domains(target)
        scored = self._authorities(domains)
        keys = sorted((-scored.get(d, -1.0), d) for d in domains)
        start, after = 0, None
        if cursor:
            (value, last_domain), edge_id = decode_cursor(cursor, "authority")
            start = bisect.bisect_left(keys, (-value, last_domain))
            if start < len(keys) and keys[start] == (-value, last_domain):
                if one_per_domain:
                    start += 1  # that domain's one row was shown
                else:
                    after = encode_cursor(last_domain, edge_id)  # the rest of that domain's links
        skip, left = offset, limit or None
        for negative, d in keys[start:]:
            rows = self.query(
                target,
                dataclasses.replace(filters, from_domain=d),
                sort="source_domain",
                cursor=after,
                one_per_domain=one_per_domain,
            )
            after = None
            for r in rows:
                if skip:
                    skip -= 1
                    continue
                r["_cursor"] = encode_cursor([-negative, d], decode_cursor(r["_cursor"], "source_domain")[1])
                yield r
                if left is not None and not (left := left - 1):
                    return

    def __enter__(self) -> LinkIndex:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


# --- domain scores -------------------------------------------------------------------------------------

# Columns of a stored score row (``save_scores``); farm_role: "member" of a farm, or a site it "pushes".
SCORE_COLUMNS = (
    "domain",
    "pagerank",
    "authority",
    "trust",
    "spam_mass",
    "farm",
    "farm_id",
    "farm_role",
    "reciprocal_domains",
    "referring_domains",
    "linked_domains",
)
SCORE_FIELDS = (*SCORE_COLUMNS, "computed_at")
SCORE_SORTS = ("authority", "trust", "spam_mass", "referring_domains")


def score_record(row: tuple[Any, ...] | list[Any], computed_at: int) -> dict[str, Any]:
    """A stored score row as the record every reader returns."""
    record = dict(zip(SCORE_COLUMNS, row, strict=True))
    record["farm"] = bool(record["farm"])
    record["computed_at"] = iso(computed_at)
    return record
