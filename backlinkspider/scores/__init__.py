"""Domain scores from the link index: the domain graph (``graph``), PageRank and TrustRank
(``pagerank``), authority (``authority``), spam mass (``spam_mass``), link farms (``farms``); ``rank``
computes and stores them; ``backlinkspider.query.scores`` reads them back for people."""

from __future__ import annotations

from backlinkspider.scores.graph import DomainGraph, EmptyGraph, read_graph
from backlinkspider.scores.rank import NothingTrusted, RankRun, compute, rank_index, trusted_domains

__all__ = [
    "DomainGraph",
    "EmptyGraph",
    "NothingTrusted",
    "RankRun",
    "compute",
    "rank_index",
    "read_graph",
    "trusted_domains",
]
