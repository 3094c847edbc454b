"""The scores a backlink summary shows for its target, and how fresh they are."""

from __future__ import annotations

import time
from typing import Any

from backlinkspider.index.base import SCORE_COLUMNS, LinkIndex, Target
from backlinkspider.urls import host_of, registered_domain

# The target's own scores a summary carries (then its referring domains' authority bands and freshness).
DOMAIN_KEYS = tuple(c for c in SCORE_COLUMNS if c not in ("domain", "referring_domains", "linked_domains"))


def freshness(index: LinkIndex, run: dict[str, Any] | None) -> dict[str, Any]:
    """``scores_computed_at``, their age in seconds, whether the index changed since (``scores_stale``),
    and a one-line ``scores_note`` for people when it did."""
    from backlinkspider.index.base import iso

    if run is None:
        return {
            "scores_computed_at": None,
            "scores_age_seconds": None,
            "scores_stale": None,
            "scores_note": None,
        }
    age = max(0, int(time.time()) - run["computed_at"])
    stale = index.index_fingerprint() != run["fingerprint"]
    note = (
        f"scores computed {_ago(age)} ago; the index changed since (run `backlinks rank` to update them)"
        if stale
        else None
    )
    return {
        "scores_computed_at": iso(run["computed_at"]),
        "scores_age_seconds": age,
        "scores_stale": stale,
        "scores_note": note,
    }


def summary_scores(index: LinkIndex, target: Target | str) -> dict[str, Any]:
    """The target's registered domain's authority, pagerank, trust, spam_mass, farm, farm_id,
    reciprocal_domains and its referring domains' authority bands (null where no scores were computed,
    or the domain is not in the domain graph), with ``freshness``."""
    if isinstance(target, Target):
        value = target.value
        domain = (
            value
            if target.scope == "domain"
            else registered_domain(host_of(value) if "://" in value else value)
        )
    else:
        domain = target
    run = index.scores_run()
    row = index.domain_score(domain) if run else None
    result: dict[str, Any] = {k: (row or {}).get(k) for k in DOMAIN_KEYS}
    result["authority_bands"] = index.authority_bands(domain) if run else []
    result.update(freshness(index, run))
    return result


def _ago(seconds: int) -> str:
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size:
            return f"{seconds // size} {unit}"
    return f"{seconds} s"
