"""The domain graph as a sparse array: one node per registered domain, one unweighted edge s -> t when a
page of s has at least one live, followed link to t (see ``LinkIndex.domain_graph``).

Nodes are numbered in the order of their names (so every backend gives the same numbering and the same
floating-point sums), edges are kept as CSR rows by source with int32 column indices: 4 bytes an edge
while the graph has fewer than 2**31 edges and nodes, 8 bytes past that (scipy then needs int64).
"""

from __future__ import annotations

from array import array
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

INT32_MAX = 2**31 - 1
Progress = Callable[[str, int, int | None], None]


class EmptyGraph(ValueError):
    """The index holds no live, followed link between two domains."""


@dataclass(eq=False)
class DomainGraph:
    """Out-links of node ``i``: ``indices[indptr[i]:indptr[i + 1]]``, sorted; ``names[i]`` its domain."""

    names: list[str]
    indptr: np.ndarray
    indices: np.ndarray
    links: np.ndarray | None = None  # per edge, the links behind it (read_graph(keep_links=True))

    @property
    def n(self) -> int:
        return len(self.names)

    @property
    def edges(self) -> int:
        return len(self.indices)

    def out_degree(self) -> np.ndarray:
        return np.diff(self.indptr)

    def in_degree(self) -> np.ndarray:
        """Referring domains of each node."""
        return np.bincount(self.indices, minlength=self.n)

    def sources(self) -> np.ndarray:
        """The source node of each edge, in CSR order."""
        return np.repeat(np.arange(self.n, dtype=self.indices.dtype), self.out_degree())

    def adjacency(self, dtype: type = np.float64) -> sp.csr_array:
        """The 0/1 adjacency matrix (rows: sources); its data array is the only new allocation."""
        data: np.ndarray = np.ones(self.edges, dtype=dtype)
        return sp.csr_array((data, self.indices, self.indptr), shape=(self.n, self.n))

    def reciprocal(self, chunk: int = 1 << 20) -> np.ndarray:
        """Per edge s -> t: is t -> s an edge too? Looked up by binary search on the sorted edge keys
        (s * n + t), a chunk at a time so the temporary arrays stay small."""
        n = np.int64(self.n)
        src = self.sources()
        keys = src.astype(np.int64) * n + self.indices  # sorted: CSR rows in order, columns sorted
        out = np.zeros(self.edges, dtype=bool)
        for lo in range(0, self.edges, chunk):
            hi = min(lo + chunk, self.edges)
            back = self.indices[lo:hi].astype(np.int64) * n + src[lo:hi]
            pos = np.searchsorted(keys, back)
            pos[pos == len(keys)] = 0
            out[lo:hi] = keys[pos] == back
        return out


def read_graph(
    rows: Iterable[tuple[str, str, int]], progress: Progress | None = None, *, keep_links: bool = False
) -> DomainGraph:
    """Build the graph from (source, target, links) rows ordered by source then target, each pair
    once, as ``LinkIndex.domain_graph`` yields them (any other order costs one extra sort)."""
    ids: dict[str, int] = {}
    src, dst = array("i"), array("i")  # 4 bytes a node id: fewer than 2**31 domains
    counts = array("q")
    last, sid = None, 0
    for count, (s, t, n_links) in enumerate(rows, 1):
        if s != last:  # rows come grouped by source: one lookup per source domain
            last, sid = s, ids.setdefault(s, len(ids))
        src.append(sid)
        dst.append(ids.setdefault(t, len(ids)))
        if keep_links:
            counts.append(n_links)
        if progress and not count % 1_000_000:
            progress("read", count, None)
    if not ids:
        raise EmptyGraph("the index holds no live, followed link between two domains")
    names = list(ids)
    del ids
    if progress:
        progress("read", len(dst), len(dst))
    # Renumber the nodes in name order: the rows then come in CSR order already.
    order = sorted(range(len(names)), key=names.__getitem__)
    names = [names[i] for i in order]
    wide = len(dst) > INT32_MAX or len(names) > INT32_MAX
    itype = np.int64 if wide else np.int32
    new_id = np.empty(len(order), dtype=itype)
    new_id[np.asarray(order, dtype=np.int64)] = np.arange(len(order), dtype=itype)
    del order
    if wide:
        sources: np.ndarray = new_id[np.frombuffer(src, dtype=np.int32)]
        del src
        indices: np.ndarray = new_id[np.frombuffer(dst, dtype=np.int32)]
        del dst
    else:  # renumbered in place, a chunk at a time: no second copy of the edges
        sources, indices = np.frombuffer(src, dtype=np.int32), np.frombuffer(dst, dtype=np.int32)
        for lo in range(0, len(indices), 1 << 20):
            part = slice(lo, lo + (1 << 20))
            sources[part] = new_id[sources[part]]
            indices[part] = new_id[indices[part]]
    links = np.frombuffer(counts, dtype=np.int64) if keep_links else None
    if len(sources) > 1 and not (
        np.all(sources[1:] >= sources[:-1])
        and np.all((sources[1:] > sources[:-1]) | (indices[1:] > indices[:-1]))
    ):
        perm = np.lexsort((indices, sources))
        sources, indices = sources[perm], indices[perm]
        links = links[perm] if links is not None else None
        del perm
    indptr = np.zeros(len(names) + 1, dtype=itype)
    np.cumsum(np.bincount(sources, minlength=len(names)), out=indptr[1:])
    return DomainGraph(names, indptr, indices, links)
