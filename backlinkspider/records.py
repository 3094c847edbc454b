"""The one schema: every record that crosses a layer, declared once.

Inputs (what a crawl or an archive gives the index) and the rows a store answers with are frozen
slotted dataclasses or, where millions are made, named tuples (``Link``, ``EdgeRow``), with dates as
epoch seconds (UTC). The documents people get (CLI JSON/CSV, the
API's answers) are the ``TypedDict`` classes at the end: ``backlinkspider.query`` builds them, the API
declares them as its response models and serializes through them, and the CSV/JSONL columns are their
keys (``FIELDS``, ``QUERY_FIELDS``, ``SCORE_FIELDS``), so a field is named in one place.
"""

from __future__ import annotations

import hashlib
import ipaddress
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal, NamedTuple, get_args

from typing_extensions import TypedDict  # pydantic reads only this one on Python < 3.12

# --- the words a person chooses from ----------------------------------------------------------------

Scope = Literal["domain", "host", "url"]
ScopeChoice = Literal["auto", Scope]  # auto: a URL is a URL, anything else a domain
EdgeSort = Literal["first_seen", "last_seen", "source_domain"]  # what a store orders by
Sort = Literal[EdgeSort, "authority"]  # what a listing orders by
Status = Literal["live", "lost", "all"]
Rel = Literal["follow", "nofollow"]  # follow: none of nofollow / ugc / sponsored; nofollow: any
LinkType = Literal["text", "image", "canonical", "redirect"]
ScoreSort = Literal["authority", "trust", "spam_mass", "referring_domains"]
FarmRole = Literal["member", "pushed"]
# Why a fetch failed: its HTTP status (>= 400) or a failure kind ("dns", "connection", "timeout", "error").
PageStatus = int | str
GroupBy = Literal["anchor_text", "target_url", "source_domain"]  # what ``EdgeStore.groups`` groups by

SCOPES: tuple[ScopeChoice, ...] = get_args(ScopeChoice)
SORTS: tuple[Sort, ...] = get_args(Sort)
EDGE_SORTS: tuple[EdgeSort, ...] = get_args(EdgeSort)
STATUSES: tuple[Status, ...] = get_args(Status)
RELS: tuple[Rel, ...] = get_args(Rel)
LINK_TYPES: tuple[LinkType, ...] = get_args(LinkType)
SCORE_SORTS: tuple[ScoreSort, ...] = get_args(ScoreSort)
REL_FLAGS = ("nofollow", "ugc", "sponsored")

# One link per referring domain keeps the domain's best edge: followed before any of nofollow / ugc /
# sponsored ("flagged"), then the oldest first_seen, then the lowest edge_id. Every store orders by this.
BEST_EDGE_ORDER = ("flagged", "first_seen", "edge_id")

# --- what a crawl produces ----------------------------------------------------------------------------


class Link(NamedTuple):
    """One outbound link of a page (a tuple: a page holds hundreds, made in a hot loop)."""

    target_url: str
    link_type: str
    anchor_text: str = ""
    nofollow: bool = False
    ugc: bool = False
    sponsored: bool = False


@dataclass(slots=True)
class Page:
    """A fetched page and the links it holds, in document order."""

    url: str
    links: list[Link] = field(default_factory=list)
    nofollow: bool = False  # the page said nofollow for all its links (meta robots / X-Robots-Tag)
    failed: bool = False  # the fetch failed (404, 410, 5xx, a gone host): the page has no links now
    status: PageStatus | None = None  # why a failed fetch failed (see CrawledPage)
    ip_address: str | None = None  # the server's address, where known (see CrawledPage)


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
    """The edges one fetch of ``url`` produced, and when it was fetched.

    A fetched page's edges replace what the index held for it: its edges missing this time are marked
    lost, those seen again are live. A ``failed`` fetch (404, 410, a gone host ...) changes nothing until
    the page has failed ``lost_after_failures`` times in a row; then all its edges are lost.

    Captures may be written in any order (an archive of last year ingested after today's crawl): one
    older than what the index holds lowers an edge's ``first_seen`` when it saw the edge earlier, and
    reverts nothing else (last seen, lost marks, anchor and rel flags, provenance, the page's status and
    address); an edge only it saw is lost at the page's newest successful fetch, which did not see it.
    """

    url: str
    seen_at: datetime
    edges: tuple[Edge, ...]
    failed: bool = False
    status: PageStatus | None = None  # why a failed fetch failed, when the crawl knows
    # Where this capture comes from: "crawl", or an archive's name (CC-MAIN-2025-43).
    provenance: str = "crawl"
    # The page's server address in canonical spelling (2001:db8::1), None when unknown (through a proxy).
    ip_address: str | None = None

    @property
    def failure(self) -> PageStatus | None:
        """What a store keeps as the page's status: why it failed ("error" when unknown), None if not."""
        return (self.status or "error") if self.failed else None

    @property
    def subnet(self) -> str | None:
        """The network ``ip_address`` is counted in: its IPv4 /24 or IPv6 /48 (the class-C subnets
        Ahrefs and Majestic count; a /48 is one IPv6 site's allocation), e.g. ``192.0.2.0/24``."""
        if self.ip_address is None:
            return None
        address = ipaddress.ip_address(self.ip_address)
        return str(ipaddress.ip_network(f"{address}/{24 if address.version == 4 else 48}", strict=False))


# --- what a query asks ----------------------------------------------------------------------------


class Target(NamedTuple):
    """What a query asks about: a URL, a host or a registered domain."""

    scope: Scope
    value: str


@dataclass(frozen=True, slots=True)
class Filters:
    """What a query keeps. ``rel``: "follow" (none of nofollow / ugc / sponsored) or "nofollow" (any);
    ``since``: first seen at or after (epoch seconds); ``status``: live, lost or all; ``provenance``:
    last seen from "crawl" or the archive of that name."""

    rel: Rel | None = None
    link_type: str | None = None
    since: int | None = None
    from_domain: str | None = None
    anchor_contains: str | None = None
    status: Status = "live"
    provenance: str | None = None  # last seen from this source ("crawl" or an archive's name)


# --- what a store answers ---------------------------------------------------------------------------


class EdgeRow(NamedTuple):
    """A stored edge as a store reads it back (a tuple, as ``Link``: a listing makes one a row)."""

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
    provenance: str  # where the edge was last seen from: "crawl" or an archive's name


@dataclass(frozen=True, slots=True)
class Tally:
    """The counts of one target's edges a summary is made of (live only, or live and lost).

    ``top_*``: (value, count) pairs, most first then by value, at most ``top`` of them. ``new`` and
    ``lost``: one (backlinks, referring_domains) pair per window start, in the order asked, counted over
    every edge live or lost (a referring domain is new at its first edge, lost when its last live edge
    was lost at or after the start). ``referring_ips`` / ``referring_subnets``: the distinct server
    addresses (and their /24 or /48 networks) of the counted edges' pages; edges with none count in
    neither."""

    backlinks: int
    referring_pages: int
    referring_hosts: int
    referring_ips: int
    referring_subnets: int
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
    farm_role: FarmRole | None
    reciprocal_domains: int
    referring_domains: int
    linked_domains: int


@dataclass(frozen=True, slots=True)
class ScoreRun:
    """What a rank stores about itself: when, over which index state, and its counts.
    ``fingerprint``: the store's ``fingerprint()`` read before the rank read the graph."""

    computed_at: int
    fingerprint: list[int | None]
    domains: int
    edges: int
    iterations: int
    trust_iterations: int | None
    trusted: int | None
    farms: int


@dataclass(frozen=True, slots=True)
class PageState:
    """A fetched page's last crawl: when (the newest fetch), its failures in a row, why the newest fetch
    failed (None: it succeeded) and its server's address."""

    url: str
    last_crawled: int
    failures: int
    status: PageStatus | None
    ip_address: str | None = None  # the newest fetch's server address, where known


@dataclass(frozen=True, slots=True)
class Group:
    """A target's edges sharing one value of a column: how many, from how many referring domains, and
    how many followed (none of nofollow / ugc / sponsored)."""

    value: str
    backlinks: int
    referring_domains: int
    follow: int


@dataclass(frozen=True, slots=True)
class Outgoing:
    """A source domain's edges to one target domain with one anchor: how many, how many followed."""

    target_domain: str
    anchor_text: str
    backlinks: int
    follow: int


@dataclass(frozen=True, slots=True)
class Crossing:
    """A referring domain and its edges to each of the domains asked about, in their order (0: none)."""

    source_domain: str
    backlinks: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class Span:
    """Time buckets ``[start, end)`` over which ``source_domain`` had a live link (``end`` None: open)."""

    source_domain: str
    start: int
    end: int | None


# --- the documents people get (JSONL / CSV rows, JSON answers) -------------------------------------


class ExportedEdge(TypedDict):
    """One edge as ``backlinks export`` prints it; its keys are the JSONL keys and CSV columns, in
    order. Dates are ISO 8601 UTC; ``lost_at`` is null while the link is live; ``provenance``: where it
    was last seen from, "crawl" or a web archive's name (``CC-MAIN-2025-43``)."""

    source_url: str
    target_url: str
    source_domain: str
    target_domain: str
    link_type: str
    anchor_text: str
    nofollow: bool
    ugc: bool
    sponsored: bool
    first_seen: str
    last_seen: str
    lost_at: str | None
    provenance: str


class Backlink(ExportedEdge):
    """One row of a listing (``backlinks query``, ``/api/v1/backlinks``): the edge, the referring
    domain's authority (null before ``rank``) and whether the target's domain links back (followed)."""

    source_authority: float | None
    reciprocal: bool


class Listed(Backlink):
    """A listing's row with ``_cursor``, the page token that continues after it (private: outputs drop
    keys starting with ``_``)."""

    _cursor: str


class TargetDoc(TypedDict):
    """How a target was read: its scope and the registered domain, host or normalized URL."""

    scope: Scope
    value: str


class Count(TypedDict):
    value: str
    count: int


class Window(TypedDict):
    backlinks: int
    referring_domains: int


Windows = TypedDict("Windows", {"7d": Window, "30d": Window})


class RelSplit(TypedDict):
    follow: int
    nofollow: int
    ugc: int
    sponsored: int


class TypeSplit(TypedDict):
    text: int
    image: int
    canonical: int
    redirect: int


class Profile(TypedDict):
    """The counts of a target's backlinks (a summary without its target and score signals);
    ``referring_tlds``: referring domains per public suffix; ``referring_ips`` / ``referring_subnets``:
    the referring pages' distinct server addresses and their IPv4 /24 or IPv6 /48 networks (pages whose
    address is unknown count in neither)."""

    backlinks: int
    referring_pages: int
    referring_domains: int
    referring_hosts: int
    referring_ips: int
    referring_subnets: int
    referring_tlds: list[Count]
    by_rel: RelSplit
    by_type: TypeSplit
    top_anchors: list[Count]
    top_referring_domains: list[Count]
    top_pages: list[Count]
    first_seen: str | None
    last_seen: str | None
    new: Windows
    lost: Windows


class AuthorityBand(TypedDict):
    band: str
    referring_domains: int


class Freshness(TypedDict):
    """When the scores were computed, their age, whether the index changed since, and a note."""

    scores_computed_at: str | None
    scores_age_seconds: int | None
    scores_stale: bool | None
    scores_note: str | None


class _DomainSignals(TypedDict):
    pagerank: float | None
    authority: float | None
    trust: float | None
    spam_mass: float | None
    farm: bool | None
    farm_id: int | None
    farm_role: FarmRole | None
    reciprocal_domains: int | None
    authority_bands: list[AuthorityBand]


class ScoreSignals(_DomainSignals, Freshness):
    """The target's registered domain's scores (null where none), its referring domains' authority
    bands (empty before a rank), and how fresh the scores are."""


class _Targeted(TypedDict):
    target: TargetDoc


class Level(TypedDict):
    """Backlinks and referring domains live at the end of ``date`` (YYYY-MM-DD, UTC)."""

    date: str
    backlinks: int
    referring_domains: int


class Summary(_Targeted, Profile, ScoreSignals):
    """``backlinks summary --format json`` and ``GET /api/v1/summary``: the profile of a target with its
    score signals (null until ``backlinks rank`` ran), then its ``history`` of live levels, in this key
    order."""

    history: list[Level]


class Week(TypedDict):
    """New and lost backlinks and referring domains in the week starting ``week`` (a Monday, UTC)."""

    week: str
    new_backlinks: int
    lost_backlinks: int
    new_referring_domains: int
    lost_referring_domains: int


class History(TypedDict):
    """``GET /api/v1/history``: ``weeks`` holds every week from the first to the last with activity."""

    target: TargetDoc
    weeks: list[Week]


class BacklinksPage(TypedDict):
    """A page of ``GET /api/v1/backlinks``: pass ``next_cursor`` as ``cursor`` for the next page; it is
    null on the last."""

    target: TargetDoc
    rows: list[Backlink]
    next_cursor: str | None


class DomainScore(TypedDict):
    """One row of ``backlinks domains`` / ``GET /api/v1/domains``: a ``ScoreRow`` and when it was
    computed (ISO 8601 UTC)."""

    domain: str
    pagerank: float
    authority: float
    trust: float | None
    spam_mass: float | None
    farm: bool
    farm_id: int | None
    farm_role: FarmRole | None
    reciprocal_domains: int
    referring_domains: int
    linked_domains: int
    computed_at: str


class Domains(TypedDict):
    """``GET /api/v1/domains``: empty until ``backlinks rank`` computed scores."""

    domains: list[DomainScore]


class IntersectRow(TypedDict):
    """A referring domain of ``backlinks intersect``: the asked domains it links to (sorted), its links
    to them, and its authority (null before ``rank``)."""

    referring_domain: str
    links_to: list[str]
    backlinks: int
    authority: float | None


class BrokenRow(TypedDict):
    """A target page whose last crawl failed (``status``: HTTP status or failure kind), with the live
    links to it and when it was last fetched (ISO 8601 UTC)."""

    target_url: str
    status: PageStatus
    referring_domains: int
    backlinks: int
    last_checked: str


class AnchorRow(TypedDict):
    """An anchor text of a target's live links: the domains using it, the links, the share followed."""

    anchor: str
    referring_domains: int
    backlinks: int
    follow_share: float


class OutlinkRow(TypedDict):
    """A domain a source domain links to: its links there, how many followed, its most used anchor."""

    target_domain: str
    backlinks: int
    follow: int
    top_anchor: str


class Intersect(TypedDict):
    targets: list[str]
    excluded: list[str]
    min: int
    rows: list[IntersectRow]
    total: int  # rows in the whole answer; ``rows`` is the page asked for


class Broken(TypedDict):
    target: TargetDoc
    rows: list[BrokenRow]
    total: int  # rows in the whole answer; ``rows`` is the page asked for


class Anchors(TypedDict):
    target: TargetDoc
    rows: list[AnchorRow]
    total: int  # rows in the whole answer; ``rows`` is the page asked for


class Outlinks(TypedDict):
    source: str
    rows: list[OutlinkRow]
    total: int  # rows in the whole answer; ``rows`` is the page asked for


FIELDS: tuple[str, ...] = tuple(ExportedEdge.__annotations__)
QUERY_FIELDS: tuple[str, ...] = tuple(Backlink.__annotations__)
SCORE_FIELDS: tuple[str, ...] = tuple(DomainScore.__annotations__)
SCORE_COLUMNS: tuple[str, ...] = SCORE_FIELDS[:-1]  # a ScoreRow's fields, as stored
INTERSECT_FIELDS: tuple[str, ...] = tuple(IntersectRow.__annotations__)
BROKEN_FIELDS: tuple[str, ...] = tuple(BrokenRow.__annotations__)
ANCHOR_FIELDS: tuple[str, ...] = tuple(AnchorRow.__annotations__)
OUTLINK_FIELDS: tuple[str, ...] = tuple(OutlinkRow.__annotations__)
