"""``backlinks rank``: read the domain graph from the index, compute every score, store them."""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from backlinkspider.index.protocols import LinkIndex
from backlinkspider.records import FarmRole, ScoreRow, ScoreRun
from backlinkspider.scores.authority import authority
from backlinkspider.scores.farms import MEMBER, PUSHED, find_farms
from backlinkspider.scores.graph import DomainGraph, NameIndex, Progress, read_graph
from backlinkspider.scores.pagerank import pagerank
from backlinkspider.scores.spam_mass import spam_mass
from backlinkspider.standards.urls import BadURL, normalize_host, registered_domain


class NothingTrusted(ValueError):
    """None of the trusted domains is in the domain graph."""


@dataclass
class Scores:
    """Every score of every node of ``graph``, as arrays indexed by node id."""

    graph: DomainGraph
    pagerank: np.ndarray
    iterations: int
    authority: np.ndarray
    trust: np.ndarray | None
    trust_iterations: int
    spam_mass: np.ndarray | None
    farm_id: np.ndarray
    farm_role: np.ndarray
    reciprocal_domains: np.ndarray
    referring_domains: np.ndarray
    linked_domains: np.ndarray
    unknown_trusted: list[str] = field(default_factory=list)

    @property
    def farms(self) -> int:
        return int(self.farm_id.max(initial=0))

    def rows(self, chunk: int = 50_000) -> Iterator[ScoreRow]:
        """Score rows in plain Python types, a chunk of arrays at a time."""
        roles: dict[int, FarmRole | None] = {0: None, MEMBER: "member", PUSHED: "pushed"}
        for lo in range(0, self.graph.n, chunk):
            hi = min(lo + chunk, self.graph.n)
            part = slice(lo, hi)
            nulls = [None] * (hi - lo)
            farm_id = self.farm_id[part].tolist()
            yield from map(
                ScoreRow,
                self.graph.names[part].tolist(),
                self.pagerank[part].tolist(),
                self.authority[part].tolist(),
                self.trust[part].tolist() if self.trust is not None else nulls,
                self.spam_mass[part].tolist() if self.spam_mass is not None else nulls,
                [f > 0 for f in farm_id],
                [f or None for f in farm_id],
                [roles[r] for r in self.farm_role[part].tolist()],
                self.reciprocal_domains[part].tolist(),
                self.referring_domains[part].tolist(),
                self.linked_domains[part].tolist(),
            )


def trusted_domains(lines: Iterable[str]) -> list[str]:
    """The registered domains a trusted file names (one domain, host or URL a line; # comments)."""
    found = []
    for line in lines:
        text = line.split("#", 1)[0].strip()
        if not text:
            continue
        try:
            host = text.split("://", 1)[1].split("/", 1)[0] if "://" in text else text
            found.append(registered_domain(normalize_host(host)))
        except BadURL:
            found.append(text)  # reported as unknown
    return sorted(set(found))


def compute(graph: DomainGraph, trusted: list[str] | None = None, progress: Progress | None = None) -> Scores:
    """Every score of ``graph``. ``trusted``: registered domains for TrustRank (None: no trust and no
    spam mass); those the graph lacks are listed in ``unknown_trusted``; if it has none of them,
    ``NothingTrusted``."""
    unknown: list[str] = []
    personal = None
    if trusted is not None:
        personal = np.zeros(graph.n)
        ids = NameIndex(graph.names).ids(trusted)
        personal[ids[ids >= 0]] = 1.0
        unknown = [domain for domain, i in zip(trusted, ids.tolist(), strict=True) if i < 0]
        if not personal.any():
            raise NothingTrusted(
                f"none of the {len(trusted)} trusted domains is in the domain graph"
                f" ({', '.join(unknown[:5])}{', ...' if len(unknown) > 5 else ''})"
            )

    def step(stage: str) -> Any:
        return (lambda i, err: progress(stage, i, None)) if progress else None

    pr, iterations = pagerank(graph, progress=step("pagerank"))
    trust, trust_iterations = (None, 0)
    if personal is not None:
        trust, trust_iterations = pagerank(graph, personal, progress=step("trustrank"))
    if progress:
        progress("farms", 0, None)
    reciprocal = graph.reciprocal()
    reciprocal_domains = np.bincount(graph.sources()[reciprocal], minlength=graph.n)
    farm_id, role = find_farms(graph, reciprocal)
    del reciprocal
    return Scores(
        graph=graph,
        pagerank=pr,
        iterations=iterations,
        authority=authority(pr),
        trust=trust,
        trust_iterations=trust_iterations,
        spam_mass=spam_mass(pr, trust) if trust is not None else None,
        farm_id=farm_id,
        farm_role=role,
        reciprocal_domains=reciprocal_domains,
        referring_domains=graph.in_degree(),
        linked_domains=graph.out_degree(),
        unknown_trusted=unknown,
    )


@dataclass
class RankRun:
    scores: Scores
    read_seconds: float
    rank_seconds: float
    write_seconds: float
    run: ScoreRun


def rank_index(
    index: LinkIndex, trusted: list[str] | None = None, progress: Progress | None = None
) -> RankRun:
    """Read the domain graph from ``index``, compute every score and store them with the time."""
    fingerprint = index.fingerprint()  # before the read: a write during the rank makes it stale
    started = time.monotonic()
    graph = read_graph(index.graph_domains(), index.domain_graph(), progress)
    read = time.monotonic()
    scores = compute(graph, trusted, progress)
    ranked = time.monotonic()
    run = ScoreRun(
        computed_at=int(time.time()),
        fingerprint=fingerprint,
        domains=graph.n,
        edges=graph.edges,
        iterations=scores.iterations,
        trust_iterations=scores.trust_iterations,
        trusted=None if trusted is None else len(trusted) - len(scores.unknown_trusted),
        farms=scores.farms,
    )
    if progress:
        progress("write", 0, graph.n)
    index.save_scores(scores.rows(), run)
    return RankRun(scores, read - started, ranked - read, time.monotonic() - ranked, run)
