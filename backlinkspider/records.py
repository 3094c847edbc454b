"""The one schema: every record that crosses a layer, declared once.

Inputs (what a crawl or an archive gives the index) and the rows a store answers with are frozen
slotted dataclasses; the documents people get (CLI JSON/CSV, the API) are built from these by
``backlinkspider.query`` and typed there. Dates are epoch seconds (UTC) until the output layer
spells them.

DRAFT by the lead (interface of index/protocols.py): the query-layer helper owns this file and moves
``Edge``, ``CrawledPage``, ``Filters``, ``Target`` and the score columns here from index/base.py.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

Scope = Literal["domain", "host", "url"]
EdgeSort = Literal["first_seen", "last_seen", "source_domain"]
ScoreSort = Literal["authority", "trust", "spam_mass", "referring_domains"]

# One link per referring domain keeps the domain's best edge: followed before any of nofollow / ugc /
# sponsored, then the oldest first_seen, then the lowest edge_id. Both backends order by exactly this.
BEST_EDGE_ORDER = ("flagged", "first_seen", "edge_id")


@dataclass(frozen=True, slots=True)
class EdgeRow:
    """A stored edge as a store reads it back."""

    edge_id: bytes
    source_url: str
    target_url: str
    source_domain: str
    target_domain: str
    link_type: str
    anchor_text: str
    nofollow: bool
    ugc: bool
    sponsored: bool
    first_seen: int
    last_seen: int
    lost_at: int | None


@dataclass(frozen=True, slots=True)
class Tally:
    """The counts of one target's edges a summary is made of (live only, or live and lost).

    ``top_*``: (value, count) pairs, most first then by value, at most ``top`` of them. ``new`` and
    ``lost``: one (backlinks, referring_domains) pair per window start, in the order asked, counted over
    every edge live or lost (a referring domain is new at its first edge, lost when its last live edge
    was lost at or after the start)."""

    backlinks: int
    referring_pages: int
    referring_hosts: int
    follow: int
    nofollow: int
    ugc: int
    sponsored: int
    by_type: dict[str, int]
    top_anchors: list[tuple[str, int]]
    top_referring_domains: list[tuple[str, int]]
    top_pages: list[tuple[str, int]]
    first_seen: int | None
    last_seen: int | None
    new: list[tuple[int, int]]
    lost: list[tuple[int, int]]


@dataclass(frozen=True, slots=True)
class Bucketing:
    """Time buckets: an epoch second ``t`` falls in bucket ``(t + offset) // width``."""

    width: int
    offset: int = 0


@dataclass(frozen=True, slots=True)
class Events:
    """Counts per bucket number: links new (first_seen) and lost (lost_at, if still lost); referring
    domains new (their first edge) and lost (their last live edge lost, if none is live)."""

    new_links: dict[int, int] = field(default_factory=dict)
    lost_links: dict[int, int] = field(default_factory=dict)
    new_domains: dict[int, int] = field(default_factory=dict)
    lost_domains: dict[int, int] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class ScoreRow:
    """One domain's scores from a rank. farm_role: "member" of a farm, or a site it "pushes"."""

    domain: str
    pagerank: float
    authority: float
    trust: float | None
    spam_mass: float | None
    farm: bool
    farm_id: int | None
    farm_role: str | None
    reciprocal_domains: int
    referring_domains: int
    linked_domains: int


@dataclass(frozen=True, slots=True)
class ScoreRun:
    """What a rank stores about itself: when, over which index state, and its counts."""

    computed_at: int
    fingerprint: list[int | None]
    domains: int
    edges: int
    iterations: int
    trust_iterations: int | None
    trusted: int | None
    farms: int


# Bridge until the query layer's move of these records from index/base.py lands (see the note above);
# the MongoDB store imports them from here, where they will live.
from backlinkspider.index.base import CrawledPage, Edge, Filters, Target, page_edges  # noqa: E402

__all__ = [
    "BEST_EDGE_ORDER",
    "Bucketing",
    "CrawledPage",
    "Edge",
    "EdgeRow",
    "EdgeSort",
    "Events",
    "Filters",
    "Scope",
    "ScoreRow",
    "ScoreRun",
    "ScoreSort",
    "Tally",
    "Target",
    "page_edges",
]
