"""What an archive's record says of its capture, and the page item that carries it.

Shared by the WARC and WAT readers: the capture facts come from WARC headers in both (a WAT keeps the
response record's WARC headers in its envelope), so one set of rules reads them.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import NamedTuple

from scrapy.settings import BaseSettings

from backlinkspider.config import SETTINGS
from backlinkspider.standards.extract import Page
from backlinkspider.standards.urls import BadURL, normalize


class BadArchive(Exception):
    """A source that cannot be read as a WARC or WAT file; the message is one line for a person."""


class FetchFailed(BadArchive):
    """A source that could not be fetched whole this time, and may be later: an HTTP 5xx or 429, a network
    error, a download cut off (a cluster's ingest queue tries such a file again)."""


class Skip(Exception):
    """A record that gives no page; ``str(skip)`` is the reason it is counted under."""


def _default(name: str) -> int:
    """A setting's default from the one table (config.SETTINGS)."""
    return int(SETTINGS[name].default or 0)


class Limits(NamedTuple):
    """The crawl's budgets for one page, so that an archive's page gives what a crawl of it gives."""

    max_links: int = _default("BACKLINKS_MAX_LINKS_PER_PAGE")
    max_url_length: int = _default("BACKLINKS_MAX_URL_LENGTH")
    max_size: int = _default("DOWNLOAD_MAXSIZE")  # bytes of body, as downloaded (0: no limit)
    warn_size: int = _default("DOWNLOAD_WARNSIZE")

    @classmethod
    def from_settings(cls, settings: BaseSettings) -> Limits:
        """The limits a crawl with these settings uses (``-s`` overrides included)."""
        return cls(
            settings.getint("BACKLINKS_MAX_LINKS_PER_PAGE"),
            settings.getint("BACKLINKS_MAX_URL_LENGTH"),
            settings.getint("DOWNLOAD_MAXSIZE"),
            settings.getint("DOWNLOAD_WARNSIZE"),
        )


@dataclass(slots=True, kw_only=True)
class ArchivedPage(Page):
    """A page item as the crawl yields it, plus the facts of its capture (for first / last seen, referring
    IPs and provenance; the index decides how to keep them)."""

    captured_at: datetime  # WARC-Date, in UTC; ip_address (Page's): WARC-IP-Address, normalized
    archive: str  # warcinfo's isPartOf (CC-MAIN-2025-43), else the crawl in the path, else the file name


class Capture(NamedTuple):
    """What a response record's WARC headers say of its capture."""

    url: str
    captured_at: datetime
    ip_address: str | None
    truncated: bool  # WARC-Truncated: the archiver kept only part of the body


def capture_of(warc_headers: Callable[[str], str | None]) -> Capture:
    """The capture a response record's WARC headers describe; Skip for a garbage URL or date."""
    target = (warc_headers("WARC-Target-URI") or "").strip()
    if target.startswith("<") and target.endswith(">"):  # the WARC 1.0 draft's spelling
        target = target[1:-1]
    try:
        url = normalize(target)
    except BadURL:
        raise Skip("bad url") from None
    captured_at = warc_date(warc_headers("WARC-Date") or "")
    if captured_at is None:
        raise Skip("bad date")
    return Capture(
        url, captured_at, ip_address(warc_headers("WARC-IP-Address")), bool(warc_headers("WARC-Truncated"))
    )


def warc_date(text: str) -> datetime | None:
    """A WARC-Date (ISO 8601 in UTC, seconds or finer) as an aware UTC datetime; None if it is not one."""
    try:
        parsed = datetime.fromisoformat(text.strip())
    except ValueError:
        return None
    if parsed.tzinfo is None:
        return None
    return parsed.astimezone(UTC)


def ip_address(text: str | None) -> str | None:
    """An IP address in its canonical spelling (``2001:DB8::0001`` -> ``2001:db8::1``), or None."""
    try:
        return str(ipaddress.ip_address((text or "").strip()))
    except ValueError:
        return None
