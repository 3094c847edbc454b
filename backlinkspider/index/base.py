"""The link index interface every backend implements, and the records that cross it.

The index is inverted: it is read by *target* (who links to this URL / host / registered domain?). A
backend stores one record per edge, keyed by ``edge_id`` (a hash of source_url, target_url, link_type),
so writing the same page twice moves ``last_seen`` and never duplicates an edge; ``first_seen`` is set
once. Every backend orders a query by (first_seen, edge_id) and an export by edge_id, so all of them give
the same rows in the same order for the same crawl.
"""

from __future__ import annotations

import abc
import hashlib
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
    """The edges one fetch of ``url`` produced, and when it was fetched."""

    url: str
    seen_at: datetime
    edges: tuple[Edge, ...]


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


class LinkIndex(abc.ABC):
    """A store of edges, written in batches and read by target. Open one with ``open_index(uri)``."""

    uri: str

    @abc.abstractmethod
    def write(self, pages: Iterable[CrawledPage]) -> int:
        """Upsert the edges of a batch of pages in one transaction; returns the number of edges written."""

    @abc.abstractmethod
    def query(
        self,
        target: Target,
        *,
        follow_only: bool = False,
        link_type: str | None = None,
        limit: int | None = None,
    ) -> Iterator[dict[str, Any]]:
        """Edges pointing at ``target``, oldest first (first_seen, then edge_id), as records with ``FIELDS``.

        ``follow_only`` keeps links with none of nofollow / ugc / sponsored: the ones search engines
        count as votes.
        """

    @abc.abstractmethod
    def export(self) -> Iterator[dict[str, Any]]:
        """Every edge, in edge_id order, streamed in constant memory."""

    @abc.abstractmethod
    def count(self) -> int:
        """How many edges the index holds."""

    @abc.abstractmethod
    def close(self) -> None:
        """Release the connection; safe to call twice."""

    def __enter__(self) -> LinkIndex:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

