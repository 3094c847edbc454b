"""Authority: a domain's PageRank on a 0-100 logarithmic scale, like Domain Rating.

    authority = 100 * ln(pagerank / min) / ln(max / min)

over the PageRank values of the graph: a domain nobody links to (the minimum) gets 0, the best domain of
the index 100, and each factor of ``(max / min) ** 0.1`` in PageRank adds 10. It is monotone: a higher
PageRank never gets a lower authority. When every domain has the same PageRank, all get 100.
"""

from __future__ import annotations

import numpy as np


def authority(pagerank: np.ndarray) -> np.ndarray:
    low, high = float(pagerank.min()), float(pagerank.max())
    if high <= low:
        return np.full(len(pagerank), 100.0)
    scaled = 100.0 * np.log(pagerank / low) / np.log(high / low)
    clipped: np.ndarray = np.clip(scaled, 0.0, 100.0)
    return clipped


def band(value: float) -> str:
    """The 10-point band of an authority, as backlink tools show a referring-domain distribution."""
    low = min(int(value // 10) * 10, 90)
    return f"{low}-{low + 10}"


BANDS = [f"{low}-{low + 10}" for low in range(0, 100, 10)]
