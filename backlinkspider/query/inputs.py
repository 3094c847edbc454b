"""A person's input read once for the CLI and the API: targets, dates and the filters of a listing."""

from __future__ import annotations

from datetime import UTC, datetime

from backlinkspider.query.errors import BadTarget
from backlinkspider.records import SCOPES, Filters, Rel, ScopeChoice, Status, Target
from backlinkspider.standards.urls import BadURL, host_of, normalize, normalize_host, registered_domain

# What ``since`` accepts: a day or a second, UTC.
SINCE_FORMATS = ("%Y-%m-%d", "%Y-%m-%dT%H:%M:%S")


def parse_target(text: str, scope: ScopeChoice | str = "auto") -> Target:
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
    return Target("domain", registered_domain(host)) if scope == "domain" else Target("host", host)


def parse_since(text: str) -> int:
    """A ``since`` filter as epoch seconds (a day or a second, UTC); ``BadTarget`` if it is neither."""
    for fmt in SINCE_FORMATS:
        try:
            return int(datetime.strptime(text, fmt).replace(tzinfo=UTC).timestamp())
        except ValueError:
            continue
    raise BadTarget(f"since: {text!r} is not a date (YYYY-MM-DD or YYYY-MM-DDTHH:MM:SS)")


def query_filters(
    *,
    rel: Rel | None = None,
    link_type: str | None = None,
    since: int | None = None,
    from_domain: str | None = None,
    anchor_contains: str | None = None,
    status: Status = "live",
    provenance: str | None = None,
) -> Filters:
    """The filters of a listing from a person's input; ``from_domain`` is read as its registered domain
    (``www.example.com`` -> ``example.com``); ``provenance`` ("crawl" or an archive's name) is matched
    exactly. Raises ``BadTarget`` with a one-line message."""
    if from_domain:
        try:
            from_domain = registered_domain(normalize_host(from_domain))
        except BadURL as exc:
            raise BadTarget(f"from_domain: {exc}") from None
    return Filters(
        rel=rel,
        link_type=link_type,
        since=since,
        from_domain=from_domain,
        anchor_contains=anchor_contains or None,
        status=status,
        provenance=provenance or None,
    )
