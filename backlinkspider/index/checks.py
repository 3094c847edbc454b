"""What every backend can store: a batch is checked the same way before any backend writes it."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from backlinkspider.index.errors import BadRow
from backlinkspider.records import CrawledPage

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
