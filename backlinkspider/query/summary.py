"""The summary of a target: its backlink profile from a store's ``tally``, the referring domains per
public suffix, the 7- and 30-day windows, and the score signals of its registered domain."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta
from operator import itemgetter, methodcaller
from typing import cast

from backlinkspider.index.protocols import LinkIndex
from backlinkspider.query.errors import NoBacklinks
from backlinkspider.query.output import iso
from backlinkspider.query.questions import levels
from backlinkspider.query.scores import score_signals
from backlinkspider.records import (
    LINK_TYPES,
    Count,
    Filters,
    Profile,
    Summary,
    Target,
    TypeSplit,
    Window,
    Windows,
)

TOP = 10  # entries in each top list of a summary
WINDOWS = {"7d": 7, "30d": 30}  # days back from now


def tld_of(domain: str) -> str:
    """The public suffix of a registered domain (``x.co.uk`` -> ``co.uk``); the domain itself when it has
    none (an IP address)."""
    _, dot, suffix = domain.partition(".")
    if not dot or (domain[-1].isdigit() and domain.replace(".", "").isdigit()):  # the last test: rarely run
        return domain
    return suffix


def _tlds(domains: list[str]) -> Counter[str]:
    """Referring domains per public suffix (``tld_of``), counted in C for a big target's 100k domains:
    what follows the first dot, unless a domain has no dot or is an IP address (a suffix that is
    empty or ends in a digit), when each is read by ``tld_of``."""
    fast = Counter(map(itemgetter(2), map(methodcaller("partition", "."), domains)))
    if "" in fast or any(suffix[-1].isdigit() for suffix in fast):
        return Counter(map(tld_of, domains))
    return fast


def profile(
    index: LinkIndex, target: Target, *, include_lost: bool = False, now: datetime | None = None
) -> Profile:
    """The counts of ``target``'s backlinks (live ones, or all with ``include_lost``); the windows count
    links new or lost in the last 7 and 30 days before ``now``, live or lost."""
    now = now or datetime.now(UTC)
    starts = [int((now - timedelta(days=days)).timestamp()) for days in WINDOWS.values()]
    t = index.tally(target, include_lost=include_lost, since=starts, top=TOP)
    tlds = _tlds(list(index.referring_domains(target, Filters(status="all" if include_lost else "live"))))

    def counts(pairs: list[tuple[str, int]]) -> list[Count]:
        return [{"value": value, "count": count} for value, count in pairs]

    def windows(pairs: list[tuple[int, int]]) -> Windows:
        each = [Window(backlinks=links, referring_domains=domains) for links, domains in pairs]
        return {"7d": each[0], "30d": each[1]}

    return {
        "backlinks": t.backlinks,
        "referring_pages": t.referring_pages,
        "referring_domains": tlds.total(),
        "referring_hosts": t.referring_hosts,
        "referring_ips": t.referring_ips,
        "referring_subnets": t.referring_subnets,
        "referring_tlds": counts(sorted(tlds.items(), key=lambda kv: (-kv[1], kv[0]))),
        "by_rel": {"follow": t.follow, "nofollow": t.nofollow, "ugc": t.ugc, "sponsored": t.sponsored},
        "by_type": cast(TypeSplit, {kind: t.by_type.get(kind, 0) for kind in LINK_TYPES}),
        "top_anchors": counts(t.top_anchors),
        "top_referring_domains": counts(t.top_referring_domains),
        "top_pages": counts(t.top_pages),
        "first_seen": iso(t.first_seen) if t.first_seen is not None else None,
        "last_seen": iso(t.last_seen) if t.last_seen is not None else None,
        "new": windows(t.new),
        "lost": windows(t.lost),
    }


def summary(index: LinkIndex, target: Target, *, include_lost: bool = False) -> Summary:
    """The summary document (``backlinks summary --format json``, ``GET /api/v1/summary``): the profile
    of ``target`` with its score signals and its daily live history (``questions.levels``);
    ``NoBacklinks`` when it has no backlinks, live or lost in the last 30 days."""
    counts = profile(index, target, include_lost=include_lost)
    if not counts["backlinks"] and not counts["lost"]["30d"]["backlinks"]:
        raise NoBacklinks(f"no backlinks to {target.scope} {target.value}")
    return {
        "target": {"scope": target.scope, "value": target.value},
        **counts,
        **score_signals(index, target),
        "history": levels(index, target),
    }
