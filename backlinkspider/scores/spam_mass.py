"""Relative spam mass (Gyongyi, Berkhin, Garcia-Molina, Pedersen: "Link spam detection based on mass
estimation", VLDB 2006).

A domain's PageRank ``p`` is the sum of the contributions of every domain's teleport; the part that
comes from the good core is estimated by the core-based PageRank ``p'`` (PageRank whose teleport goes to
the trusted domains only: our ``trust``). The estimated spam mass is ``p - p'`` and the relative mass

    spam_mass = clip((p - p') / p, 0, 1) = clip(1 - trust / pagerank, 0, 1)

with both vectors normalized to sum 1 (the paper's core jump vector scaled to gamma = 1). A site whose
PageRank comes from a link farm gets most of it from outside the core (close to 1); a popular organic site
that the trusted core reaches gets as much trust as PageRank (close to 0). As in the paper, it is a
signal for domains with a high PageRank: an obscure domain the core does not reach has a high relative
mass too, with little PageRank behind it.
"""

from __future__ import annotations

import numpy as np


def spam_mass(pagerank: np.ndarray, trust: np.ndarray) -> np.ndarray:
    clipped: np.ndarray = np.clip(1.0 - trust / pagerank, 0.0, 1.0)
    return clipped
