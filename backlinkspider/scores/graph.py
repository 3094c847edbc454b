"""The domain graph as a sparse array: one node per registered domain, one unweighted edge s -> t when a
page of s has at least one live, followed link to t (see ``LinkIndex.domain_graph``).

Nodes are numbered in the order of their names (so every backend gives the same numbering and the same
floating-point sums), edges are kept as CSR rows by source with int32 column indices: 4 bytes an edge
while the graph has fewer than 2**31 edges, 8 bytes past that (scipy then needs int64 for both arrays).
Node ids are int32: fewer than 2**31 domains (the web has about 400M registered domains).
"""

from __future__ import annotations

from array import array
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from itertools import compress, islice

import numpy as np
import scipy.sparse as sp
from numpy.dtypes import StringDType

INT32_MAX = 2**31 - 1
READ_CHUNK = 1 << 14  # rows mapped to node ids at a time
Progress = Callable[[str, int, int | None], None]


class EmptyGraph(ValueError):
    """The index holds no live, followed link between two domains."""


@dataclass(eq=False)
class DomainGraph:
    """Out-links of node ``i``: ``indices[indptr[i]:indptr[i + 1]]``, sorted; ``names[i]`` its domain."""

    names: np.ndarray  # numpy StringDType, sorted
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

    def in_degree(self, chunk: int = 1 << 20) -> np.ndarray:
        """Referring domains of each node, counted a chunk of edges at a time (bincount copies them to
        int64); a chunk is at least as long as the count vector it is added to."""
        chunk = max(chunk, self.n)
        counts = np.zeros(self.n, dtype=np.int64)
        for lo in range(0, self.edges, chunk):
            counts += np.bincount(self.indices[lo : lo + chunk], minlength=self.n)
        return counts

    def sources(self, lo: int = 0, hi: int | None = None) -> np.ndarray:
        """The source node of each edge ``lo:hi`` (all by default), in CSR order."""
        hi = self.edges if hi is None else hi
        first = int(np.searchsorted(self.indptr, lo, side="right")) - 1
        last = int(np.searchsorted(self.indptr, hi, side="left"))  # rows starting before hi
        counts = np.diff(np.clip(self.indptr[first : last + 1], lo, hi))
        return np.repeat(np.arange(first, last, dtype=self.indices.dtype), counts)

    def transposed_blocks(self, max_edges: int) -> Iterator[tuple[int, int, sp.csc_array]]:
        """The float64 0/1 adjacency matrix A as blocks of whole rows ``first:last`` with at most
        ``max_edges`` edges each (a row with more is a block alone), each given transposed,
        ``A[first:last].T``, as a CSC array over the graph's own column indices. The blocks share one
        array of ones: the matrix costs ``8 * max_edges`` bytes beside the graph (more only while a
        row longer than that is a block of its own), not 8 an edge."""
        ones = np.ones(min(max_edges, self.edges))
        first = 0
        while first < self.n:
            last = int(np.searchsorted(self.indptr, int(self.indptr[first]) + max_edges, side="right")) - 1
            last = min(self.n, max(last, first + 1))
            lo, hi = int(self.indptr[first]), int(self.indptr[last])
            block = sp.csc_array((self.n, last - first))
            # Put in place, not passed to the constructor: it copies a view of less than half an array.
            block.indptr = (self.indptr[first : last + 1] - lo).astype(self.indices.dtype)
            block.indices = self.indices[lo:hi]
            block.data = ones[: hi - lo] if hi - lo <= len(ones) else np.ones(hi - lo)
            yield first, last, block
            first = last

    def adjacency(self, dtype: type = np.float64) -> sp.csr_array:
        """The 0/1 adjacency matrix (rows: sources); its data array is the only new allocation."""
        data: np.ndarray = np.ones(self.edges, dtype=dtype)
        return sp.csr_array((data, self.indices, self.indptr), shape=(self.n, self.n))

    def reciprocal(self, chunk: int = 1 << 18) -> np.ndarray:
        """Per edge s -> t: is t -> s an edge too? A binary search for s among t's sorted out-links,
        vectorized over a chunk of edges at a time, so that nothing of the graph's size is made but
        the answer (1 byte an edge)."""
        out = np.empty(self.edges, dtype=bool)
        end = max(self.edges - 1, 0)
        for lo in range(0, self.edges, chunk):
            hi = min(lo + chunk, self.edges)
            s, t = self.sources(lo, hi), self.indices[lo:hi]
            first, last = self.indptr[t], self.indptr[t + 1]  # s, if there, is in indices[first:last]
            while np.any(live := first < last):
                mid = first + (last - first) // 2  # no overflow of int32 index pointers
                below = self.indices[np.minimum(mid, end)] < s
                first = np.where(live & below, mid + 1, first)
                last = np.where(live & ~below, mid, last)
            out[lo:hi] = (first < self.indptr[t + 1]) & (self.indices[np.minimum(first, end)] == s)
        return out


def read_graph(
    domains: Iterable[str],
    rows: Iterable[tuple[str, str, int]],
    progress: Progress | None = None,
    *,
    keep_links: bool = False,
) -> DomainGraph:
    """Build the graph from the node names (``LinkIndex.graph_domains``, sorted) and the (source, target,
    links) rows ordered by source then target, each pair once (``LinkIndex.domain_graph``; any other
    order costs one extra sort).

    Names are kept in one numpy string array (16 bytes a short name) and rows are mapped to node ids a
    chunk at a time by a ``NameIndex``: the read holds about 8 bytes an edge and 28 a node. A row naming
    a domain that ``domains`` lacks was written after the names were read and is left out (the
    fingerprint ``rank`` takes first marks such scores stale)."""
    names = np.fromiter(domains, dtype=StringDType())
    if len(names) > 1 and not np.all(names[1:] > names[:-1]):
        names = np.unique(names)
    if not len(names):
        raise EmptyGraph("the index holds no live, followed link between two domains")
    lookup = NameIndex(names)
    src, dst = array("i"), array("i")  # node ids: 4 bytes while there are fewer than 2**31 domains
    counts = array("q")
    it = iter(rows)
    while chunk := list(islice(it, READ_CHUNK)):
        s, t = lookup.ids([r[0] for r in chunk]), lookup.ids([r[1] for r in chunk])
        known = (s >= 0) & (t >= 0)
        src.frombytes(s[known].tobytes())
        dst.frombytes(t[known].tobytes())
        if keep_links:
            counts.frombytes(np.array([r[2] for r in chunk], dtype=np.int64)[known].tobytes())
        if progress:
            progress("read", len(dst), None)
    if not dst:
        raise EmptyGraph("the index holds no live, followed link between two domains")
    if progress:
        progress("read", len(dst), len(dst))
    sources_, indices = np.frombuffer(src, dtype=np.int32), np.frombuffer(dst, dtype=np.int32)
    links = np.frombuffer(counts, dtype=np.int64) if keep_links else None
    if len(sources_) > 1 and not (
        np.all(sources_[1:] >= sources_[:-1])
        and np.all((sources_[1:] > sources_[:-1]) | (indices[1:] > indices[:-1]))
    ):
        perm = np.lexsort((indices, sources_))
        sources_, indices = sources_[perm], indices[perm]
        links = links[perm] if links is not None else None
        del perm
    itype = np.int64 if len(indices) > INT32_MAX else np.int32  # scipy: one dtype for both arrays
    # Row i starts at the first edge whose source is i (bincount would copy the sources to int64).
    indptr = np.searchsorted(sources_, np.arange(len(names) + 1, dtype=np.int32)).astype(itype)
    del sources_, src, lookup
    return DomainGraph(names, indptr, indices.astype(itype, copy=False), links)


class NameIndex:
    """Node ids of domain names: a binary search over the names' 64-bit hashes (Python's, fixed for the
    process), each hit checked against the name. 12 bytes a name, where a dict of the names costs ~130.
    (numpy 2.4's own searchsorted over StringDType arrays answers wrongly for names past 15 bytes.)"""

    def __init__(self, names: np.ndarray) -> None:
        self.names = names
        keys = np.fromiter(map(hash, names), dtype=np.int64, count=len(names))
        self.order = np.argsort(keys, kind="stable").astype(np.int32)
        self.hashes = keys[self.order]
        del keys
        shared = self.hashes[1:][self.hashes[1:] == self.hashes[:-1]]  # names whose hashes collide
        self.clashes = {names[i]: int(i) for i in self.order[np.isin(self.hashes, shared)].tolist()}

    def ids(self, domains: Sequence[str]) -> np.ndarray:
        """The node id of each domain, -1 where it is not a node. Runs of one name (a source's rows)
        are looked up once; the hashes are searched in sorted order, which keeps the search in cache."""
        wanted = np.array(domains, dtype=StringDType())
        first = np.ones(len(wanted), dtype=bool)  # the first of each run of equal names
        first[1:] = wanted[1:] != wanted[:-1]
        wanted = wanted[first]
        keys = np.fromiter(map(hash, compress(domains, first)), dtype=np.int64, count=len(wanted))
        by_key = np.argsort(keys)
        pos = np.empty(len(keys), dtype=np.intp)
        pos[by_key] = np.searchsorted(self.hashes, keys[by_key])
        pos[pos == len(self.hashes)] = 0
        ids = self.order[pos]
        hit = (self.hashes[pos] == keys) & (self.names[ids] == wanted)
        ids[~hit] = -1
        if self.clashes:
            for i in np.flatnonzero(~hit).tolist():
                ids[i] = self.clashes.get(wanted[i], -1)
        found: np.ndarray = ids[np.cumsum(first) - 1]
        return found
