"""Link farms: groups of domains densely interlinked to pass PageRank around, and the sites they push.

A farm is a group of at least ``min_size`` domains in which every member links to at least half of the
other members (the density Wu & Davison, "Identifying link farm spam pages", WWW 2005, look for in
in-link/out-link intersections). Found in three vectorized passes over the CSR graph:

1. candidates: the ``CORE``-core of the reciprocal graph (s <-> t): farms trade links both ways, organic
   sites rarely have three reciprocal partners, so this leaves a small candidate set;
2. each connected component of the candidates is peeled like a densest-subgraph search: the members with
   the fewest links to the rest of the group leave, a batch at a time, until every member left links to
   at least half of the others (a farm if ``min_size`` or more remain and they hang together); what was
   peeled off is searched again for smaller farms;
   a domain outside the candidates that links to half of a farm's members, and that ``CORE`` of them link
   to, joins it;
3. a site outside every farm is *pushed* by a farm when at least k = ceil((min_size - 1) / 2) of the
   farm's members link to it and they are most (more than half) of its referring domains: the money
   sites a farm exists for.

A farm whose members link to half of the others but rarely both ways (fewer than ``CORE`` reciprocal
partners each) is not found.

Farms are numbered 1, 2, ... by size (largest first), then by their first member's name.
"""

from __future__ import annotations

import math

import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import connected_components

from backlinkspider.scores.graph import DomainGraph

MIN_SIZE = 10
CORE = 3
MEMBER, PUSHED = 1, 2  # farm_role codes


def find_farms(
    graph: DomainGraph, reciprocal: np.ndarray, *, min_size: int = MIN_SIZE
) -> tuple[np.ndarray, np.ndarray]:
    """Per node: the farm id (0: none) and the role (0, MEMBER or PUSHED)."""
    n = graph.n
    k = math.ceil((min_size - 1) / 2)
    farm_id = np.zeros(n, dtype=np.int32)
    role = np.zeros(n, dtype=np.int8)
    src = graph.sources()
    mutual_src, mutual_dst = src[reciprocal], graph.indices[reciprocal]
    del src
    # 1. the CORE-core of the reciprocal graph (each mutual pair appears once in each direction).
    alive = np.bincount(mutual_src, minlength=n) >= CORE
    while True:
        both = alive[mutual_src] & alive[mutual_dst]
        still = alive & (np.bincount(mutual_src[both], minlength=n) >= CORE)
        if np.array_equal(still, alive):
            break
        alive = still
    both = alive[mutual_src] & alive[mutual_dst]
    core = sp.csr_array(
        (np.ones(int(both.sum()), dtype=np.int8), (mutual_src[both], mutual_dst[both])), shape=(n, n)
    )
    del mutual_src, mutual_dst, both
    # 2. peel each component down to a group where every member links to half of the others.
    adjacency = graph.adjacency(np.int8)
    groups = _components(core, np.flatnonzero(alive), min_size)
    farms: list[np.ndarray] = []
    while groups:
        group = groups.pop()
        dense = _peel(adjacency, group, min_size)
        if dense is None:
            continue  # no dense group in it
        parts = _components(core, dense, min_size)
        if len(parts) == 1 and len(parts[0]) == len(dense):
            farms.append(dense)
        else:
            groups.extend(parts)
        groups.extend(_components(core, np.setdiff1d(group, dense), min_size))
    # A member with fewer reciprocal partners joins when it links to the farm as its members do.
    outside = np.ones(n, dtype=bool)
    for group in farms:
        outside[group] = False
    for i, group in enumerate(farms):
        member = np.zeros(n, dtype=np.int32)
        member[group] = 1
        links_to, linked_from = adjacency @ member, adjacency.T @ member
        joins = outside & (2 * links_to >= len(group)) & (linked_from >= CORE)
        farms[i] = np.union1d(group, np.flatnonzero(joins))
        outside[joins] = False
    farms.sort(key=lambda g: (-len(g), graph.names[g.min()]))
    for number, group in enumerate(farms, 1):
        farm_id[group] = number
        role[group] = MEMBER
    # 3. the sites each farm pushes.
    if farms:
        src = graph.sources()
        from_farm = farm_id[src] > 0
        to_outside = farm_id[graph.indices] == 0
        pick = from_farm & to_outside
        targets, via = graph.indices[pick], farm_id[src[pick]]
        del src, from_farm, to_outside, pick
        pairs, counts = np.unique(targets.astype(np.int64) * (len(farms) + 1) + via, return_counts=True)
        site, farm = pairs // (len(farms) + 1), pairs % (len(farms) + 1)
        referring = graph.in_degree()
        pushed = (counts >= k) & (2 * counts > referring[site])
        # A site pushed by two farms (impossible: each needs a majority) would take the last one.
        farm_id[site[pushed]] = farm[pushed]
        role[site[pushed]] = PUSHED
    return farm_id, role


def _peel(adjacency: sp.csr_array, group: np.ndarray, min_size: int) -> np.ndarray | None:
    """The largest subset left when the members with the fewest links inside are removed, a batch at a
    time, until each one left links to at least half of the others; None below ``min_size``."""
    while len(group) >= min_size:
        links_in = np.asarray(adjacency[group][:, group].sum(axis=1)).ravel()
        if np.all(2 * links_in >= len(group) - 1):
            return group
        group = group[links_in > links_in.min()]
    return None


def _components(core: sp.csr_array, nodes: np.ndarray, min_size: int) -> list[np.ndarray]:
    """The connected components of ``core`` restricted to ``nodes`` with at least ``min_size`` members."""
    if len(nodes) < min_size:
        return []
    sub = core[nodes][:, nodes]
    count, labels = connected_components(sub, directed=False)
    sizes = np.bincount(labels, minlength=count)
    return [nodes[labels == c] for c in np.flatnonzero(sizes >= min_size)]
