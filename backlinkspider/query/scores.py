"""Domain scores as people read them: the domain list, one domain's scores, the authority bands of a
target's referring domains, and how fresh the scores are (``backlinks rank`` computes them)."""

from __future__ import annotations

import time

from backlinkspider.index.protocols import LinkIndex
from backlinkspider.query.output import iso
from backlinkspider.records import (
    SCORE_SORTS,
    AuthorityBand,
    DomainScore,
    Filters,
    Freshness,
    ScoreRow,
    ScoreRun,
    ScoreSignals,
    ScoreSort,
    Target,
)
from backlinkspider.standards.urls import host_of, registered_domain


def domains(
    index: LinkIndex, sort: ScoreSort = "authority", *, farm_only: bool = False, limit: int | None = 100
) -> list[DomainScore]:
    """Scored domains, best first by ``sort`` (nulls last, then by name); empty before the first rank."""
    if sort not in SCORE_SORTS:
        raise ValueError(f"unknown sort {sort!r}")
    run = index.scores_run()
    if run is None:
        return []
    return [_document(row, run) for row in index.scores(sort, farm_only=farm_only, limit=limit or None)]


def domain_score(index: LinkIndex, domain: str) -> DomainScore | None:
    """One registered domain's scores, or None (not scored, or no rank yet)."""
    run = index.scores_run()
    row = index.score(domain) if run else None
    return _document(row, run) if row and run else None


def _document(row: ScoreRow, run: ScoreRun) -> DomainScore:
    return {
        "domain": row.domain,
        "pagerank": row.pagerank,
        "authority": row.authority,
        "trust": row.trust,
        "spam_mass": row.spam_mass,
        "farm": row.farm,
        "farm_id": row.farm_id,
        "farm_role": row.farm_role,
        "reciprocal_domains": row.reciprocal_domains,
        "referring_domains": row.referring_domains,
        "linked_domains": row.linked_domains,
        "computed_at": iso(run.computed_at),
    }


def authority_bands(index: LinkIndex, domain: str) -> list[AuthorityBand]:
    """How many of ``domain``'s referring domains (other domains with a live, followed link to it) fall
    in each authority band, 0-10 to 90-100."""
    referring = (
        d for d in index.referring_domains(Target("domain", domain), Filters(rel="follow")) if d != domain
    )
    counts = [0] * 10
    for authority in index.authorities(referring).values():
        counts[min(int(authority / 10), 9)] += 1
    return [{"band": f"{b * 10}-{b * 10 + 10}", "referring_domains": n} for b, n in enumerate(counts)]


def freshness(index: LinkIndex, run: ScoreRun | None) -> Freshness:
    """``scores_computed_at``, their age in seconds, whether the index's edges changed since
    (``scores_stale``: the first item of the store's fingerprint moved), and a one-line ``scores_note``
    for people when they did."""
    if run is None:
        return {
            "scores_computed_at": None,
            "scores_age_seconds": None,
            "scores_stale": None,
            "scores_note": None,
        }
    age = max(0, int(time.time()) - run.computed_at)
    stale = index.fingerprint()[:1] != run.fingerprint[:1]
    note = (
        f"scores computed {_ago(age)} ago; the index changed since (run `backlinks rank` to update them)"
        if stale
        else None
    )
    return {
        "scores_computed_at": iso(run.computed_at),
        "scores_age_seconds": age,
        "scores_stale": stale,
        "scores_note": note,
    }


def score_signals(index: LinkIndex, target: Target | str) -> ScoreSignals:
    """The scores of the target's registered domain (null where no scores were computed, or the domain
    is not in the domain graph), its referring domains' authority bands (empty before a rank), and
    ``freshness``: what a summary shows after its counts."""
    if isinstance(target, str):
        domain = target
    elif target.scope == "domain":
        domain = target.value
    else:
        domain = registered_domain(host_of(target.value) if target.scope == "url" else target.value)
    run = index.scores_run()
    row = index.score(domain) if run else None
    return {
        "pagerank": row.pagerank if row else None,
        "authority": row.authority if row else None,
        "trust": row.trust if row else None,
        "spam_mass": row.spam_mass if row else None,
        "farm": row.farm if row else None,
        "farm_id": row.farm_id if row else None,
        "farm_role": row.farm_role if row else None,
        "reciprocal_domains": row.reciprocal_domains if row else None,
        "authority_bands": authority_bands(index, domain) if run else [],
        **freshness(index, run),
    }


def _ago(seconds: int) -> str:
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size:
            return f"{seconds // size} {unit}"
    return f"{seconds} s"
