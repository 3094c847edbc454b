"""What a person asks of the index, read the same way by the CLI and the HTTP API: the filters of a
backlinks listing, and the summary document of a target (``backlinks summary --format json`` and
``GET /api/v1/summary`` print the same document)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from backlinkspider.index.base import BadTarget, Filters, LinkIndex, Target
from backlinkspider.urls import BadURL, normalize_host, registered_domain

RELS = ("follow", "nofollow")
# What ``since`` accepts: a day or a second, UTC.
SINCE_FORMATS = ("%Y-%m-%d", "%Y-%m-%dT%H:%M:%S")


class NoBacklinks(LookupError):
    """The target has no backlinks in the index (nor lost ones in the last 30 days)."""


def summary_document(index: LinkIndex, target: Target, *, include_lost: bool = False) -> dict[str, Any]:
    """The backlink profile of ``target`` with its score signals; ``NoBacklinks`` when there is none."""
    doc = index.summary(target, include_lost=include_lost)
    if not doc["backlinks"] and not doc["lost"]["30d"]["backlinks"]:
        raise NoBacklinks(f"no backlinks to {target.scope} {target.value}")
    return {"target": {"scope": target.scope, "value": target.value}, **doc, **score_signals(index, target)}


def score_signals(index: LinkIndex, target: Target) -> dict[str, Any]:
    """The authority and spam signals of a target, for the summary: the single place the scores join the
    profile (``backlinkspider.scores.summary_scores``; null where ``backlinks rank`` never ran)."""
    from backlinkspider.scores import summary_scores

    return summary_scores(index, target)


def csv_row(row: dict[str, Any]) -> dict[str, Any]:
    """A row's CSV cells: booleans spelled as JSONL spells them (``true`` / ``false``)."""
    return {k: str(v).lower() if isinstance(v, bool) else v for k, v in row.items()}


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
    rel: str | None = None,
    link_type: str | None = None,
    since: int | None = None,
    from_domain: str | None = None,
    anchor_contains: str | None = None,
    status: str = "live",
) -> Filters:
    """The filters of a listing from a person's input; ``from_domain`` is read as its registered domain
    (``www.example.com`` -> ``example.com``). Raises ``BadTarget`` with a one-line message."""
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
    )
