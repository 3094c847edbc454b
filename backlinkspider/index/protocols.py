"""What a storage backend implements: primitives over stored edges and scores, and no policy.

Every rule a person can see (which sorts exist, cursors, one link per domain's order, the authority
sort, the 7/30-day windows, TLDs, the rel split, authority bands, history buckets, output shapes) lives
once, in ``backlinkspider.query``, which calls these primitives. A backend holds only the SQL or the
aggregation code that answers them, so two backends cannot disagree on a rule, only on arithmetic that
the contract suite (tests/contract) checks with equal answers on both.

Like httpx's ``BaseTransport``, the cut is deliberate: a primitive is added only when a question cannot
be answered from the ones here at the cost of a page (not of the target's size).

Values cross this interface as stored: dates as epoch seconds (UTC), ``edge_id`` as 16 bytes. Errors:
``IndexUnavailable`` (cannot reach, read or write now: may succeed later) and ``BadRow`` (data a backend
refuses: never succeeds), both with one line for a person and no password.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import Protocol

from backlinkspider.records import (
    Bucketing,
    CrawledPage,
    Crossing,
    EdgeRow,
    EdgeSort,
    Events,
    Filters,
    Group,
    GroupBy,
    Outgoing,
    PageState,
    ScoreRow,
    ScoreRun,
    ScoreSort,
    Span,
    Status,
    Tally,
    Target,
)


class EdgeStore(Protocol):
    """Edges, written in batches of fetched pages and read by target."""

    uri: str

    def write(self, pages: Sequence[CrawledPage], *, lost_after_failures: int = 3) -> int:
        """Record a batch of fetched pages; return the number of edges written. A page's edges replace
        what the store held for it (missing ones are marked lost at its ``seen_at``); a failed page
        changes nothing until it failed ``lost_after_failures`` times in a row, then all its edges are
        lost. Idempotent, and a fetch older than what an edge reflects reverts nothing: it only moves
        ``first_seen`` back, and what only it saw is lost at the page's newest successful fetch (the
        rules in ``records.CrawledPage``). Each edge keeps the ``provenance`` and ``ip_address`` of the
        fetch that last saw it, each page its newest fetch's address."""
        ...

    def check_writable(self) -> None:
        """Raise ``IndexUnavailable`` unless a write would be accepted now; changes no data."""
        ...

    def edges(
        self,
        target: Target,
        filters: Filters,
        *,
        sort: EdgeSort,
        after: tuple[int | str, bytes] | None = None,
        limit: int | None = None,
        offset: int = 0,
        one_per_domain: bool = False,
    ) -> Iterator[EdgeRow]:
        """Edges to ``target`` passing ``filters``, ordered by ``(sort, edge_id)``, strictly after
        ``after`` (a sort value and edge_id), then ``offset`` skipped and at most ``limit`` given.
        ``one_per_domain``: each referring domain's best edge by ``records.BEST_EDGE_ORDER``, chosen
        before ``after``/``offset``/``limit`` apply. Streamed: a page costs what a page costs."""
        ...

    def domains_edges(
        self,
        target: Target,
        filters: Filters,
        domains: Sequence[str],
        *,
        after: bytes | None = None,
        limit: int | None = None,
        one_per_domain: bool = False,
    ) -> Iterator[EdgeRow]:
        """The edges to ``target`` passing ``filters`` from each referring domain of ``domains`` in turn
        (the order given; ``filters.from_domain`` is not read), each domain's in edge_id order, or with
        ``one_per_domain`` its best edge (``records.BEST_EDGE_ORDER``); the first domain's only after
        edge_id ``after``; at most ``limit`` in all. The authority sort's page: one read where a round
        trip costs, not one a domain."""
        ...

    def export(self, after: bytes | None = None) -> Iterator[EdgeRow]:
        """Every edge, live and lost, in edge_id order, in constant memory; with ``after``, those whose
        edge_id is greater (an export resumed after the last edge it gave)."""
        ...

    def rebuild_figures(self, domain: str) -> int:
        """Recount a target domain's per-target figures (``index/figures.py``) from its edges; the
        number of its edges. A repair: SQLite keeps them in each write's transaction, MongoDB on a
        standalone server may let them drift (``mongo/figures.py``)."""
        ...

    def count(self) -> int:
        """Edges held, live and lost (MongoDB: the collection's metadata count, exact after a clean
        shutdown)."""
        ...

    def pages_to_recrawl(self, limit: int | None = None) -> Iterator[str]:
        """Pages fetched, least recently first (ties by URL)."""
        ...

    def fingerprint(self) -> list[int | None]:
        """A cheap JSON value that changes whenever a write commits, equal across connections: readers
        cache by it. Its first item moves on every edge write (a batch that changes no date too: a
        write counter), the rest on score saves: a rank stores the value it read before reading the
        graph, and its scores are stale once the first item differs."""
        ...

    def tally(self, target: Target, *, include_lost: bool, since: Sequence[int], top: int) -> Tally:
        """The counts a summary is made of (see ``records.Tally``); ``since``: the window starts (epoch
        seconds) that new and lost links and referring domains are counted from."""
        ...

    def referring_domains(self, target: Target, filters: Filters) -> Iterator[str]:
        """The distinct source domains of the edges to ``target`` passing ``filters``, in binary
        order, streamed (a big target has 100k+)."""
        ...

    def events(self, target: Target, bucketing: Bucketing) -> Events:
        """New and lost links and referring domains of ``target`` per time bucket (``Events``). A domain's
        cost its days with activity and its referring domains, not its edges, where the store keeps
        figures (``index/figures.py``: links per day, in buckets of whole days)."""
        ...

    def linking_back(self, pairs: Iterable[tuple[str, str]]) -> set[tuple[str, str]]:
        """Those ``(target_domain, source_domain)`` pairs where the target's domain has a live,
        followed link to the source's (reciprocal links)."""
        ...

    def graph_domains(self) -> Iterator[str]:
        """Every domain that is one end of a ``domain_graph`` row, each once, in binary order."""
        ...

    def domain_graph(self) -> Iterator[tuple[str, str, int]]:
        """(source_domain, target_domain, links) per pair of distinct registered domains with at least
        one live, followed link, ordered by source then target domain (binary order)."""
        ...

    def groups(self, target: Target, filters: Filters, by: GroupBy) -> Iterator[Group]:
        """The edges to ``target`` passing ``filters``, grouped by the column ``by``: one ``Group`` a
        value (edges, distinct source domains, followed edges), in binary order of the value. Costs the
        target's edges; a store may answer from aggregates it keeps."""
        ...

    def page_states(self, urls: Iterable[str]) -> dict[str, PageState]:
        """The last crawl of each of ``urls`` that was fetched (a page of lookups by URL). A page's
        ``status`` is the newest fetch's: a fetch older than the page's ``last_crawled`` leaves it."""
        ...

    def crossings(
        self, domains: Sequence[str], excluded: Sequence[str], filters: Filters, at_least: int
    ) -> Iterator[Crossing]:
        """The source domains with edges passing ``filters`` to at least ``at_least`` of the registered
        ``domains`` and to none of ``excluded``, each with its edge count per domain (in the order of
        ``domains``), in binary order of the source domain (a domain in both lists excludes its referrers). The set arithmetic runs in the store: it
        costs the domains' referring domains, not their edges, where the store keeps aggregates."""
        ...

    def outgoing(self, source_domain: str, status: Status) -> Iterator[Outgoing]:
        """The edges from the registered domain ``source_domain`` (live, lost or all) to other domains,
        grouped by (target_domain, anchor_text) in binary order: edges and followed edges a group."""
        ...

    def domain_spans(self, target: Target, width: int) -> Iterator[Span]:
        """Per source domain of the edges to ``target`` (live and lost), spans whose union is the union
        of its edges' ``[first_seen // width, lost_at // width)`` (open while live), ordered by domain,
        start, then end (None last). Distinct spans, not one an edge; a store may merge some (one open
        span for a domain none of whose edges was lost, from aggregates it keeps)."""
        ...

    def close(self) -> None:
        """Release the connection; safe to call twice."""
        ...


class ScoreStore(Protocol):
    """Domain scores computed by ``backlinks rank`` (backlinkspider.scores), replaced whole."""

    def save_scores(self, rows: Iterable[ScoreRow], run: ScoreRun) -> None:
        """Replace every stored score at once: readers see the old set until the new one is complete."""
        ...

    def scores_run(self) -> ScoreRun | None:
        """What the last rank stored about itself, or None before the first."""
        ...

    def scores(self, sort: ScoreSort, *, farm_only: bool, limit: int | None) -> list[ScoreRow]:
        """Scored domains, highest ``sort`` first (nulls last), ties by domain."""
        ...

    def score(self, domain: str) -> ScoreRow | None:
        """One registered domain's scores, or None."""
        ...

    def authorities(self, domains: Iterable[str]) -> dict[str, float]:
        """The stored authority of each of ``domains`` that has one."""
        ...


class LinkIndex(EdgeStore, ScoreStore, Protocol):
    """One open index: what ``open_index(uri)`` returns; ``with open_index(uri) as index`` closes it."""

    def __enter__(self) -> LinkIndex: ...

    def __exit__(self, *exc: object) -> None: ...
