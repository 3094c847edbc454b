"""The per-target figures every backend keeps on write: one declaration, read by both.

Per target domain, each dimension counts the domain's edges (all, and live) under each of its values: the
summary of a domain with millions of backlinks is read from these counts, never from its edges, and its
history from the two per-day dimensions (``NEW_DAY``, ``LOST_DAY``): one figure a day with activity.
SQLite's triggers are generated from ``DIMENSIONS`` (``sqlite/schema.py``), MongoDB's figure documents are
updated from it (``mongo/figures.py``); a dimension added here is counted by both (SQLite: an index made
before it gets it by a migration, ``schema.VERSIONS``; MongoDB: by ``backlinks refigure``).
"""

from __future__ import annotations

import calendar
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from backlinkspider.records import Bucketing, Tally

FLAGS = ("nofollow", "ugc", "sponsored")
DAY = 86400
NEW_DAY = "new_day"  # edges by the day of their first_seen, lost or not
LOST_DAY = "lost_day"  # edges lost now, by the day of their lost_at


@dataclass(frozen=True)
class Dimension:
    """``name``: the dimension; an edge counts under the value of its field ``field`` or, without one,
    under the constant ``value``; only when ``when`` holds: an edge flag, "follow" (none of ``FLAGS``)
    or None (always). An ``optional`` field counts only edges that have a value (an edge with no known
    server address counts in no IP). ``day``: the value is the day (``DAY``s since the epoch) of the date
    in ``field``. Field names are those of an edge row in both backends."""

    name: str
    field: str | None = None
    value: str = ""
    when: str | None = None
    optional: bool = False
    day: bool = False

    def holds(self, edge: Mapping[str, Any]) -> bool:
        if self.when is None:
            return not self.optional or edge.get(self.field or "") is not None
        if self.when == "follow":
            return not any(edge[flag] for flag in FLAGS)
        return bool(edge[self.when])

    def value_of(self, edge: Mapping[str, Any]) -> str:
        if self.day:
            return str(_epoch(edge[self.field or ""]) // DAY)
        return str(edge[self.field]) if self.field else self.value


def _epoch(when: int | datetime) -> int:
    """A date as either backend stores it (SQLite: epoch seconds; MongoDB: a naive UTC datetime)."""
    return when if isinstance(when, int) else calendar.timegm(when.utctimetuple())


DIMENSIONS = (
    Dimension("edge"),
    Dimension("rel", value="follow", when="follow"),
    Dimension("rel", value="nofollow", when="nofollow"),
    Dimension("rel", value="ugc", when="ugc"),
    Dimension("rel", value="sponsored", when="sponsored"),
    Dimension("type", "link_type"),
    Dimension("anchor", "anchor_text"),
    Dimension("ref_domain", "source_domain"),
    Dimension("ref_host", "source_host"),
    Dimension("ref_page", "source_url"),
    Dimension("page", "target_url"),
    Dimension("ref_ip", "source_ip", optional=True),
    Dimension("ref_subnet", "source_subnet", optional=True),
    # A re-sighting that moves first_seen back moves the edge's day; a lost link found again leaves its
    # lost day (it has no lost_at): the figures follow the edge's fields, as every dimension's do.
    Dimension(NEW_DAY, "first_seen", day=True),
    Dimension(LOST_DAY, "lost_at", optional=True, day=True),
)


def values(edge: Mapping[str, Any]) -> Iterator[tuple[str, str]]:
    """The (dimension, value) pairs ``edge`` counts under."""
    return ((dim.name, dim.value_of(edge)) for dim in DIMENSIONS if dim.holds(edge))


@dataclass(frozen=True)
class Days:
    """A domain's links per day (``DAY``s since the epoch) from its ``NEW_DAY`` and ``LOST_DAY`` figures:
    first seen that day (lost or not), lost that day (lost now)."""

    new: dict[int, int]
    lost: dict[int, int]

    @classmethod
    def of(cls, rows: Iterable[tuple[str, str, int]], edges: tuple[int, int]) -> Days | None:
        """From ``(dimension, day, n_all)`` figures and the domain's ``edges`` (all, live: its ``edge``
        figure); None when they do not add up to those (all, lost), as the figures of a MongoDB index
        written before they were kept, until ``backlinks refigure`` recounts them (an edge counted before
        has no day to leave: it nets zero)."""
        counts: dict[str, dict[int, int]] = {NEW_DAY: {}, LOST_DAY: {}}
        for dim, day, n in rows:
            if n:
                counts[dim][int(day)] = n
        days = cls(counts[NEW_DAY], counts[LOST_DAY])
        if (sum(days.new.values()), sum(days.lost.values())) != (edges[0], edges[0] - edges[1]):
            return None
        return days

    def buckets(self, bucketing: Bucketing) -> tuple[dict[int, int], dict[int, int]] | None:
        """New and lost links per bucket of ``bucketing``; None for buckets that cut a day."""
        if bucketing.width % DAY or bucketing.offset % DAY:
            return None
        found: tuple[dict[int, int], dict[int, int]] = ({}, {})
        for per_day, per_bucket in zip((self.new, self.lost), found, strict=True):
            for day, n in per_day.items():
                bucket = (day * DAY + bucketing.offset) // bucketing.width
                per_bucket[bucket] = per_bucket.get(bucket, 0) + n
        return found

    def since(self, start: int, that_day: Callable[[str, int, int | None], int]) -> tuple[int, int]:
        """Links new and lost since ``start`` (epoch seconds): its whole days from the figures and, when
        it starts mid-day, the rest of that day from ``that_day(field, start, end)``, the edges whose
        ``first_seen`` or ``lost_at`` is in [start, end): at most a day's edges, never the domain's."""
        first = -(-start // DAY)  # the first whole day

        def rest(field: str) -> int:
            return that_day(field, start, first * DAY) if start % DAY else 0

        return (
            rest("first_seen") + sum(n for d, n in self.new.items() if d >= first),
            rest("lost_at") + sum(n for d, n in self.lost.items() if d >= first),
        )


def links_since(
    days: Days | None, start: int, between: Callable[[str, int, int | None], int]
) -> tuple[int, int]:
    """Links new and lost since ``start``: from the day figures (``Days.since``), or with none to trust
    from the edges, every one since ``start`` counted. ``between(field, start, end)`` counts the edges
    whose ``first_seen`` or ``lost_at`` is in [start, end) (end None: no end)."""
    if days is None:
        return between("first_seen", start, None), between("lost_at", start, None)
    return days.since(start, between)


def tally_of(
    counts: Callable[[str], dict[str, int]],
    distinct: Callable[[str], int],
    ranked: Callable[[str], list[tuple[str, int]]],
    *,
    first_seen: int | None,
    last_seen: int | None,
    since: Sequence[int],
    days: Callable[[], Days | None],
    between: Callable[[str, int, int | None], int],
    domains_since: Callable[[int], tuple[int, int]],
) -> Tally:
    """A domain's ``Tally`` from a backend's readers of its figures: ``counts(dim)`` (value -> edges),
    ``distinct(dim)`` (its values with an edge) and ``ranked(dim)`` (the top values), so which dimension
    answers which figure is said once for every backend. Its windows, one a start in ``since``: the links
    new and lost since then from its day figures (``days()``, read only for windows) and ``between``
    (``links_since``), its referring domains new and lost since then from ``domains_since(start)``."""
    found = days() if since else None
    windows = [(links_since(found, start, between), domains_since(start)) for start in since]
    rel = counts("rel")
    return Tally(
        backlinks=counts("edge").get("", 0),
        referring_pages=distinct("ref_page"),
        referring_hosts=distinct("ref_host"),
        referring_ips=distinct("ref_ip"),
        referring_subnets=distinct("ref_subnet"),
        follow=rel.get("follow", 0),
        nofollow=rel.get("nofollow", 0),
        ugc=rel.get("ugc", 0),
        sponsored=rel.get("sponsored", 0),
        by_type=counts("type"),
        top_anchors=ranked("anchor"),
        top_referring_domains=ranked("ref_domain"),
        top_pages=ranked("page"),
        first_seen=first_seen,
        last_seen=last_seen,
        new=[(links[0], domains[0]) for links, domains in windows],
        lost=[(links[1], domains[1]) for links, domains in windows],
    )
