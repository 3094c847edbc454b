"""The questions SEO teams ask every day beyond "who links here" (issue 19), each answered once here over
the store primitives, for the CLI and the API alike: link intersect, broken backlinks, anchors by
referring domains, outgoing links, the live history, and a disavow file.

Every answer counts live links unless it says otherwise, of any rel (nofollow, ugc and sponsored links
are links a competitor earned too), as Ahrefs' Link Intersect and anchors reports do by default.
"""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from backlinkspider.index.protocols import LinkIndex
from backlinkspider.query.errors import BadTarget, NoBacklinks
from backlinkspider.query.inputs import parse_target
from backlinkspider.query.output import iso
from backlinkspider.records import (
    AnchorRow,
    BrokenRow,
    Bucketing,
    Filters,
    IntersectRow,
    Level,
    OutlinkRow,
    Span,
    Status,
    Target,
)

DAY = 86400
DAILY_DAYS = 365  # the history has a point a day over the last year, a point a week before it
PAGE_LOOKUPS = 1000  # target pages whose last crawl is read at once


class NoScores(LookupError):
    """A question that needs domain scores, asked before ``backlinks rank`` ran."""


def _domain(text: str) -> str:
    return parse_target(text, "domain").value


def _known(index: LinkIndex, domain: str) -> None:
    """``NoBacklinks`` unless some edge, live or lost, points into ``domain`` (read: its first one)."""
    if next(index.referring_domains(Target("domain", domain), Filters(status="all")), None) is None:
        raise NoBacklinks(f"no backlinks to domain {domain}")


# --- link intersect ----------------------------------------------------------------------------------


def intersect(
    index: LinkIndex,
    domains: Sequence[str],
    *,
    excluded: Sequence[str] = (),
    at_least: int | None = None,
    filters: Filters = Filters(),
) -> list[IntersectRow]:
    """The referring domains linking to at least ``at_least`` (default: all) of ``domains`` and to none
    of ``excluded`` (all read as registered domains), by edges passing ``filters``: best authority first
    (unscored last), ties by name. ``BadTarget`` for a bad list, ``NoBacklinks`` for a domain the index
    has no backlinks to, or an empty answer."""
    asked = list(dict.fromkeys(map(_domain, domains)))
    unwanted = list(dict.fromkeys(map(_domain, excluded)))
    if not asked:
        raise BadTarget("intersect: give at least one domain")
    if both := sorted(set(asked) & set(unwanted)):
        raise BadTarget(f"intersect: {', '.join(both)} is both asked about and excluded")
    need = len(asked) if at_least is None else at_least
    if not 1 <= need <= len(asked):
        raise BadTarget(f"min: {need} is not between 1 and the {len(asked)} domains given")
    for domain in (*asked, *unwanted):
        _known(index, domain)
    crossings = list(index.crossings(asked, unwanted, filters, need))
    authority = index.authorities(c.source_domain for c in crossings)
    rows: list[IntersectRow] = [
        {
            "referring_domain": c.source_domain,
            "links_to": sorted(d for d, n in zip(asked, c.backlinks, strict=True) if n),
            "backlinks": sum(c.backlinks),
            "authority": authority.get(c.source_domain),
        }
        for c in crossings
    ]
    if not rows:
        without = f" and none of {', '.join(unwanted)}" if unwanted else ""
        raise NoBacklinks(f"no referring domain links to {need} of {', '.join(asked)}{without}")
    rows.sort(key=lambda r: (r["authority"] is None, -(r["authority"] or 0.0), r["referring_domain"]))
    return rows


# --- broken backlinks --------------------------------------------------------------------------------


def broken(index: LinkIndex, target: Target) -> list[BrokenRow]:
    """The target's pages whose newest fetch failed (an HTTP status >= 400, a DNS or connection failure;
    a page robots.txt kept us from is never fetched, so never broken), with the live links to each:
    most referring domains first, then most links, then by URL; ``NoBacklinks`` when none. Costs the
    target's pages."""
    pages = index.groups(target, Filters(), "target_url")
    rows: list[BrokenRow] = []
    while chunk := list(itertools.islice(pages, PAGE_LOOKUPS)):
        states = index.page_states(g.value for g in chunk)
        for g in chunk:
            state = states.get(g.value)
            if state is not None and state.status is not None:
                rows.append(
                    {
                        "target_url": g.value,
                        "status": state.status,
                        "referring_domains": g.referring_domains,
                        "backlinks": g.backlinks,
                        "last_checked": iso(state.last_crawled),
                    }
                )
    if not rows:
        raise NoBacklinks(f"no broken pages of {target.scope} {target.value} have links")
    rows.sort(key=lambda r: (-r["referring_domains"], -r["backlinks"], r["target_url"]))
    return rows


# --- anchors -----------------------------------------------------------------------------------------


def anchors(index: LinkIndex, target: Target, filters: Filters = Filters()) -> list[AnchorRow]:
    """Each anchor text of the target's links passing ``filters`` (live by default) with the referring
    domains using it (the honest measure: one domain's sitewide link counts once), its links and the
    share of them followed: most referring domains first, then most links, then by anchor;
    ``NoBacklinks`` when none."""
    rows: list[AnchorRow] = [
        {
            "anchor": g.value,
            "referring_domains": g.referring_domains,
            "backlinks": g.backlinks,
            "follow_share": round(g.follow / g.backlinks, 4),
        }
        for g in index.groups(target, filters, "anchor_text")
    ]
    if not rows:
        raise NoBacklinks(f"no backlinks to {target.scope} {target.value}")
    rows.sort(key=lambda r: (-r["referring_domains"], -r["backlinks"], r["anchor"]))
    return rows


# --- outgoing links ----------------------------------------------------------------------------------


def outlinks(index: LinkIndex, source: str, status: Status = "live") -> list[OutlinkRow]:
    """The domains the registered domain of ``source`` links to (live links by default), each with its
    links there, how many are followed, and the anchor it uses most (ties: the first in binary order):
    most links first, then by domain. ``NoBacklinks`` when it links nowhere."""
    domain = _domain(source)
    rows: list[OutlinkRow] = []
    for target_domain, groups in itertools.groupby(
        index.outgoing(domain, status), key=lambda g: g.target_domain
    ):
        by_anchor = list(groups)
        top = min(by_anchor, key=lambda g: (-g.backlinks, g.anchor_text))
        rows.append(
            {
                "target_domain": target_domain,
                "backlinks": sum(g.backlinks for g in by_anchor),
                "follow": sum(g.follow for g in by_anchor),
                "top_anchor": top.anchor_text,
            }
        )
    if not rows:
        raise NoBacklinks(f"no {'' if status == 'all' else status + ' '}links from domain {domain}")
    rows.sort(key=lambda r: (-r["backlinks"], r["target_domain"]))
    return rows


# --- history of the live level -----------------------------------------------------------------------


def _domain_deltas(spans: Iterable[Span]) -> Counter[int]:
    """Changes of the live referring domains per day: a domain is live at the end of every day one of
    its links is, the union of its spans, merged here (they come by domain, then start)."""
    deltas: Counter[int] = Counter()
    for _, own in itertools.groupby(spans, key=lambda s: s.source_domain):
        island: tuple[int, int | None] | None = None  # the domain's current run of live days
        for s in own:
            if s.end is not None and s.end <= s.start:
                continue  # found and lost within one day: never live at a day's end
            if island and (island[1] is None or s.start <= island[1]):
                island = (island[0], None if island[1] is None or s.end is None else max(island[1], s.end))
            else:
                _close(deltas, island)
                island = (s.start, s.end)
        _close(deltas, island)
    return deltas


def _close(deltas: Counter[int], island: tuple[int, int | None] | None) -> None:
    if island:
        deltas[island[0]] += 1
        if island[1] is not None:
            deltas[island[1]] -= 1


def history_days(first: int, today: int) -> Iterator[int]:
    """The days (since the epoch) a history has a point for, from ``first`` to ``today``: every day of
    the last year, and before it every seventh day counted back from ``today``."""
    return (d for d in range(first, today + 1) if today - d < DAILY_DAYS or (today - d) % 7 == 0)


def levels(index: LinkIndex, target: Target, today: date | None = None) -> list[Level]:
    """Backlinks and referring domains live at the end of each day (UTC) from the day of the first
    first_seen to ``today`` (a point a week past a year back): a link is live over [first_seen,
    lost_at). Links come per day from ``events``; referring domains from their spans, which a store
    answers from its aggregates for the domains that never lost a link."""
    events = index.events(target, Bucketing(DAY))
    if not events.new_links:
        return []
    link_deltas = Counter(events.new_links)
    link_deltas.subtract(events.lost_links)
    domain_deltas = _domain_deltas(index.domain_spans(target, DAY))
    end = (today or datetime.now(UTC).date()).toordinal() - date(1970, 1, 1).toordinal()
    changes = sorted(set(link_deltas) | set(domain_deltas))
    points: list[Level] = []
    links = domains = k = 0
    for day in history_days(min(events.new_links), end):
        while k < len(changes) and changes[k] <= day:
            links += link_deltas[changes[k]]
            domains += domain_deltas[changes[k]]
            k += 1
        when = date(1970, 1, 1) + timedelta(days=day)
        points.append({"date": when.isoformat(), "backlinks": links, "referring_domains": domains})
    return points


# --- disavow -----------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DisavowPick:
    """What to disavow: every given filter must hold. ``farm_only``: members of a link farm (not the
    sites a farm pushes); ``spam_mass_over``: spam mass above it; ``domains``: in this list;
    ``target``: a live referring domain of this target."""

    farm_only: bool = False
    spam_mass_over: float | None = None
    domains: tuple[str, ...] | None = None
    target: Target | None = None
    list_name: str = "a list"

    def described(self) -> str:
        parts = ["link farm members"] if self.farm_only else []
        if self.spam_mass_over is not None:
            parts.append(f"spam mass over {self.spam_mass_over:g}")
        if self.domains is not None:
            parts.append(f"listed in {self.list_name}")
        if self.target is not None:
            parts.append(f"referring domains of {self.target.scope} {self.target.value}")
        return "; ".join(parts)


def read_domain_list(lines: Iterable[str], name: str = "the list") -> tuple[str, ...]:
    """A list of domains, one a line (a host, a URL or ``domain:host``; ``#`` comments and blank lines
    skipped), as registered domains in punycode. ``BadTarget`` names the first bad line."""
    found: list[str] = []
    for number, line in enumerate(lines, 1):
        text = line.split("#", 1)[0].strip()
        if not text:
            continue
        text = text.removeprefix("domain:")
        try:
            found.append(parse_target(text, "domain").value)
        except BadTarget as exc:
            raise BadTarget(f"{name}, line {number}: {exc}") from None
    return tuple(dict.fromkeys(found))


def disavowed(index: LinkIndex, pick: DisavowPick) -> list[str]:
    """The registered domains ``pick`` selects, sorted. ``BadTarget`` without a filter that names bad
    domains (a target alone would disavow every referrer); ``NoScores`` for a score filter before any
    rank."""
    if not pick.farm_only and pick.spam_mass_over is None and pick.domains is None:
        raise BadTarget("disavow: choose what to disavow (--farm-only, --spam-mass-over or --domains-file)")
    chosen: list[set[str]] = [] if pick.domains is None else [set(pick.domains)]
    if pick.farm_only or pick.spam_mass_over is not None:
        if index.scores_run() is None:
            raise NoScores("no scores: run `backlinks rank` first")
        over = pick.spam_mass_over
        chosen.append(
            {
                row.domain
                for row in index.scores("spam_mass", farm_only=pick.farm_only, limit=None)
                if (not pick.farm_only or row.farm_role == "member")
                and (over is None or (row.spam_mass is not None and row.spam_mass > over))
            }
        )
    if pick.target is not None:
        chosen.append(set(index.referring_domains(pick.target, Filters())))
    return sorted(set.intersection(*chosen))


def disavow_file(domains: Sequence[str], pick: DisavowPick, today: date | None = None) -> str:
    """Google Search Console's disavow format: ``#`` comments saying when and by which filters, then a
    ``domain:`` line a domain (punycode, sorted); UTF-8 text with a final newline."""
    day = (today or datetime.now(UTC).date()).isoformat()
    head = [
        f"# Disavow file made by backlinkspider on {day}",
        f"# Filters: {pick.described()}",
        f"# {len(domains)} domain{'' if len(domains) == 1 else 's'}",
    ]
    return "\n".join([*head, *(f"domain:{d}" for d in domains)]) + "\n"
