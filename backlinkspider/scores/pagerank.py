"""PageRank and TrustRank by power iteration over the CSR domain graph, with networkx.pagerank's
semantics exactly: damping ``alpha``, a start vector uniform over all nodes, a teleport vector
(uniform, or the normalized ``personalization``), and the mass of nodes without out-links spread like the
teleport vector. Each step is

    x' = alpha * (A_norm^T x + sum(x[dangling]) * p) + (1 - alpha) * p

with A_norm the row-normalized adjacency, until the L1 change ``sum |x' - x|`` is below ``tol`` (networkx
stops below ``n * tol``: pass ``tol=1e-13`` there to compare). The values sum to 1.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from backlinkspider.scores.graph import DomainGraph

ALPHA = 0.85
TOL = 1e-10
# The L1 change shrinks by a factor alpha a step: 0.85 needs about 150 steps to reach 1e-10.
MAX_ITER = 1000


def block_edges(graph: DomainGraph) -> int:
    """Edges a block of the matrix: a quarter of the graph (2 bytes an edge of ones, where the whole
    matrix would take 8), and at least 4M so that a small graph is one block."""
    return max(1 << 22, -(-graph.edges // 4))


class NotConverged(RuntimeError):
    pass


def pagerank(
    graph: DomainGraph,
    personalization: np.ndarray | None = None,
    *,
    alpha: float = ALPHA,
    tol: float = TOL,
    max_iter: int = MAX_ITER,
    progress: Callable[[int, float], None] | None = None,
) -> tuple[np.ndarray, int]:
    """PageRank of every node and the number of steps taken. ``personalization``: a non-negative weight
    per node (TrustRank: 1 on the trusted domains), normalized here; None is uniform."""
    n = graph.n
    if personalization is None:
        p = np.full(n, 1.0 / n)
    else:
        p = np.asarray(personalization, dtype=np.float64)
        if p.sum() <= 0:
            raise ValueError("the personalization vector is all zero")
        p = p / p.sum()
    out = graph.out_degree()
    dangling = np.flatnonzero(out == 0)
    inv_out = np.zeros(n)
    np.divide(1.0, out, out=inv_out, where=out != 0)
    del out
    blocks = list(graph.transposed_blocks(block_edges(graph)))  # A^T y = sum of A[f:l].T @ y[f:l]
    x = np.full(n, 1.0 / n)
    work = np.empty(n)  # the step's input and its change are computed in place
    for step in range(1, max_iter + 1):
        last_x = x
        np.multiply(last_x, inv_out, out=work)
        x = np.zeros(n)
        for first, last, block_t in blocks:
            x += block_t @ work[first:last]
        x += last_x[dangling].sum() * p
        x *= alpha
        x += (1 - alpha) * p
        err = float(np.abs(np.subtract(x, last_x, out=work), out=work).sum())
        if progress:
            progress(step, err)
        if err < tol:
            return x, step
    raise NotConverged(f"PageRank did not converge in {max_iter} steps")
