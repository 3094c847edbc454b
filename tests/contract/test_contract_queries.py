"""The query layer's contract: every listing, summary, history and score read, on every backend.

Each backend answers the same questions over the same crawl with equal answers
(``test_every_backend_gives_the_same_answers``), and on each backend the answers equal what a few lines
of Python compute from the exported edges (the brute-force tests below), so a backend cannot be wrong
in the same way as another. ``BACKENDS`` (tests/test_index.py) is the list of backends.
"""

from __future__ import annotations

import random
from collections import Counter, defaultdict
from datetime import timedelta

import pytest
from test_index import BACKENDS, T0, crawled, index  # noqa: F401  (the fixture: every backend)

import backlinkspider.query as q
from backlinkspider.query.history import week_start
from backlinkspider.query.output import iso
from backlinkspider.query.summary import tld_of
from backlinkspider.records import SCORE_SORTS, SORTS, CrawledPage, EdgeRow, Filters, Link, Target
from backlinkspider.scores import rank_index
from backlinkspider.standards.urls import host_of, registered_domain

NOW = T0 + timedelta(days=65)
DAY = 86400
TARGETS = [
    Target("domain", "t.com"),
    Target("host", "www.t.com"),
    Target("url", "http://www.t.com/a"),
    Target("domain", "u.org"),
    Target("domain", "nobody.net"),
]
FILTERS = [
    Filters(),
    Filters(status="lost"),
    Filters(status="all"),
    Filters(rel="follow"),
    Filters(rel="nofollow", status="all"),
    Filters(link_type="image"),
    Filters(since=int((T0 + timedelta(days=20)).timestamp())),
    Filters(from_domain="s3.com", status="all"),
    Filters(anchor_contains="ANCHOR 1"),
]


def web() -> list[list[CrawledPage]]:
    """Batches of a crawl over ten weeks: 40 pages on 12 domains linking to t.com, u.org and each other
    with every link type and rel, then re-crawls that lose links, and a page that fails for good."""
    rng = random.Random(7)
    targets = [
        "http://www.t.com/a",
        "http://www.t.com/b",
        "http://shop.t.com/",
        "http://u.org/x",
        "http://s1.com/",
    ]
    pages = []
    for i in range(40):
        source = f"http://{'www.' if i % 3 else 'blog.'}s{i % 12}.com/p{i}"
        links = [
            Link(
                rng.choice(targets),
                rng.choice(("text", "text", "image", "canonical", "redirect")),
                f"anchor {rng.randrange(6)}",
                nofollow=rng.random() < 0.2,
                ugc=rng.random() < 0.1,
                sponsored=rng.random() < 0.1,
            )
            for _ in range(rng.randrange(1, 5))
        ]
        pages.append((source, links, T0 + timedelta(days=i + rng.randrange(3), seconds=i)))
    batches = [[crawled(url, links, when)] for url, links, when in pages]
    for url, links, when in pages[::4]:  # re-crawled weeks later with fewer links: the rest are lost
        batches.append([crawled(url, links[:1], when + timedelta(days=15))])
    gone = pages[5][0]
    batches.append(
        [CrawledPage(gone, T0 + timedelta(days=60 + n), (), failed=True) for n in range(3)]
    )  # fails three times: all its links are lost
    return batches


def filled(idx):
    for batch in web():
        idx.write(batch)
    return idx


def listing(idx, target, filters=Filters(), **kwargs):
    return [
        {k: v for k, v in r.items() if k != "_cursor"} for r in q.backlinks(idx, target, filters, **kwargs)
    ]


def answers(idx) -> dict:
    """Every question the query layer answers, asked of one backend (before and after a rank)."""
    got: dict = {"count": idx.count(), "export": list(q.export(idx)), "recrawl": list(idx.pages_to_recrawl())}
    for target in TARGETS:
        for lost in (False, True):
            got[target, "profile", lost] = q.profile(idx, target, include_lost=lost, now=NOW)
        got[target, "history"] = q.history(idx, target)
        for filters in FILTERS:
            for sort in SORTS:
                for one in (False, True):
                    got[target, filters, sort, one] = listing(
                        idx, target, filters, sort=sort, one_per_domain=one
                    )
    got["graph"] = (list(idx.graph_domains()), list(idx.domain_graph()))
    rank_index(idx, ["s1.com"])
    for sort in SCORE_SORTS:
        for farm_only in (False, True):
            got["domains", sort, farm_only] = [
                {k: v for k, v in r.items() if k != "computed_at"}
                for r in q.domains(idx, sort, farm_only=farm_only)
            ]
    for target in TARGETS:
        signals = q.score_signals(idx, target)
        got[target, "signals"] = {
            k: v for k, v in signals.items() if k not in ("scores_age_seconds", "scores_computed_at")
        }
        got[target, "by authority"] = listing(idx, target, sort="authority")
        got[target, "bands"] = q.authority_bands(idx, target.value)
    return got


def test_every_backend_gives_the_same_answers(tmp_path, request):
    """The whole contract at once: each backend's answers equal the first's (SQLite's)."""
    found = {}
    for name, opener in BACKENDS.items():
        (tmp_path / name).mkdir()
        idx = filled(opener(request, tmp_path / name))
        try:
            found[name] = answers(idx)
        finally:
            idx.close()
    first, *others = found
    for name in others:
        for key, value in found[first].items():
            assert found[name][key] == value, (name, key)
    assert found[first]["count"] > 100  # the crawl is big enough to mean something


# --- brute force: the answers equal what Python computes from the exported edges --------------------


def of_target(rows: list[EdgeRow], target: Target) -> list[EdgeRow]:
    if target.scope == "domain":
        return [r for r in rows if r.target_domain == target.value]
    if target.scope == "host":
        return [r for r in rows if host_of(r.target_url) == target.value]
    return [r for r in rows if r.target_url == target.value]


def flagged(r: EdgeRow) -> bool:
    return r.nofollow or r.ugc or r.sponsored


def passes(r: EdgeRow, f: Filters) -> bool:
    return (
        (f.status == "all" or (r.lost_at is None) == (f.status == "live"))
        and (f.rel is None or flagged(r) == (f.rel == "nofollow"))
        and (f.link_type is None or r.link_type == f.link_type)
        and (f.since is None or r.first_seen >= f.since)
        and (f.from_domain is None or r.source_domain == f.from_domain)
        and (f.anchor_contains is None or f.anchor_contains.lower() in r.anchor_text.lower())
    )


def ranked(values) -> list[dict]:
    return [
        {"value": v, "count": c} for v, c in sorted(Counter(values).items(), key=lambda kv: (-kv[1], kv[0]))
    ]


@pytest.mark.parametrize("target", TARGETS[:4])
@pytest.mark.parametrize("include_lost", [False, True])
def test_profile_equals_counts_from_the_export(index, target, include_lost):  # noqa: F811
    filled(index)
    every = of_target(list(index.export()), target)
    rows = [r for r in every if include_lost or r.lost_at is None]
    got = q.profile(index, target, include_lost=include_lost, now=NOW)
    domains = {r.source_domain for r in rows}
    want = {
        "backlinks": len(rows),
        "referring_pages": len({r.source_url for r in rows}),
        "referring_domains": len(domains),
        "referring_hosts": len({host_of(r.source_url) for r in rows}),
        "referring_tlds": ranked(tld_of(d) for d in domains),
        "by_rel": {
            "follow": sum(not flagged(r) for r in rows),
            "nofollow": sum(r.nofollow for r in rows),
            "ugc": sum(r.ugc for r in rows),
            "sponsored": sum(r.sponsored for r in rows),
        },
        "by_type": {
            t: sum(r.link_type == t for r in rows) for t in ("text", "image", "canonical", "redirect")
        },
        "top_anchors": ranked(r.anchor_text for r in rows)[:10],
        "top_referring_domains": ranked(r.source_domain for r in rows)[:10],
        "top_pages": ranked(r.target_url for r in rows)[:10],
        "first_seen": iso(min(r.first_seen for r in rows)),
        "last_seen": iso(max(r.last_seen for r in rows)),
    }
    assert {k: got[k] for k in want} == want
    first_by_domain: dict[str, int] = {}
    live_by_domain: dict[str, bool] = defaultdict(bool)
    lost_by_domain: dict[str, int] = defaultdict(int)
    for r in every:  # the windows count every edge, live or lost
        first_by_domain[r.source_domain] = min(
            first_by_domain.get(r.source_domain, r.first_seen), r.first_seen
        )
        live_by_domain[r.source_domain] |= r.lost_at is None
        lost_by_domain[r.source_domain] = max(lost_by_domain[r.source_domain], r.lost_at or 0)
    for window, days in (("7d", 7), ("30d", 30)):
        start = int((NOW - timedelta(days=days)).timestamp())
        assert got["new"][window] == {
            "backlinks": sum(r.first_seen >= start for r in every),
            "referring_domains": sum(f >= start for f in first_by_domain.values()),
        }
        assert got["lost"][window] == {
            "backlinks": sum(r.lost_at is not None and r.lost_at >= start for r in every),
            "referring_domains": sum(
                not live_by_domain[d] and lost_by_domain[d] >= start for d in first_by_domain
            ),
        }


@pytest.mark.parametrize("target", TARGETS[:4])
def test_history_equals_weeks_from_the_export(index, target):  # noqa: F811
    filled(index)
    every = of_target(list(index.export()), target)

    def week(t: int) -> int:
        return (t // DAY + 3) // 7  # Monday to Sunday, UTC

    new, lost, new_domains, lost_domains = Counter(), Counter(), Counter(), Counter()
    by_domain = defaultdict(list)
    for r in every:
        new[week(r.first_seen)] += 1
        if r.lost_at is not None:
            lost[week(r.lost_at)] += 1
        by_domain[r.source_domain].append(r)
    for rows in by_domain.values():
        new_domains[week(min(r.first_seen for r in rows))] += 1
        if all(r.lost_at is not None for r in rows):
            lost_domains[week(max(r.lost_at for r in rows))] += 1
    got = q.history(index, target)
    weeks = sorted(set(new) | set(lost))
    assert len(got) == weeks[-1] - weeks[0] + 1
    for w, row in zip(range(weeks[0], weeks[-1] + 1), got, strict=True):
        assert row == {
            "week": week_start(w),
            "new_backlinks": new[w],
            "lost_backlinks": lost[w],
            "new_referring_domains": new_domains[w],
            "lost_referring_domains": lost_domains[w],
        }


@pytest.mark.parametrize("target", TARGETS[:4])
def test_listings_equal_the_export_filtered_and_sorted(index, target):  # noqa: F811
    filled(index)
    every = of_target(list(index.export()), target)
    key = lambda r: (r.source_url, r.target_url, r.link_type)  # noqa: E731
    for filters in FILTERS:
        rows = [r for r in every if passes(r, filters)]
        best: dict[str, EdgeRow] = {}
        for r in sorted(rows, key=lambda r: (flagged(r), r.first_seen, r.edge_id)):
            best.setdefault(r.source_domain, r)
        for sort in ("first_seen", "last_seen", "source_domain"):
            for one, pool in ((False, rows), (True, list(best.values()))):
                want = [key(r) for r in sorted(pool, key=lambda r: (getattr(r, sort), r.edge_id))]
                got = listing(index, target, filters, sort=sort, one_per_domain=one)
                assert [(r["source_url"], r["target_url"], r["link_type"]) for r in got] == want, (
                    filters,
                    sort,
                )
                paged, cursor = [], None  # a cursor walk gives the same rows, whatever the page size
                while page := list(
                    q.backlinks(index, target, filters, sort=sort, limit=3, cursor=cursor, one_per_domain=one)
                ):
                    paged += [(r["source_url"], r["target_url"], r["link_type"]) for r in page]
                    cursor = page[-1]["_cursor"]
                assert paged == want


def test_scores_reads_equal_the_graph_and_the_stored_rows(index):  # noqa: F811
    filled(index)
    edges = list(index.export())
    rank_index(index, ["s1.com"])
    scored = {r["domain"]: r for r in q.domains(index, limit=None)}
    for sort in SCORE_SORTS:
        rows = q.domains(index, sort, limit=None)
        values = [(-(r[sort] if r[sort] is not None else float("-inf")), r["domain"]) for r in rows]
        assert values == sorted(values) and len(rows) == len(scored)
        assert q.domains(index, sort, limit=2) == rows[:2]
    for target in TARGETS[:4]:
        domain = registered_domain(host_of(target.value) if target.scope == "url" else target.value)
        followers = {
            r.source_domain
            for r in edges
            if r.target_domain == domain
            and r.lost_at is None
            and not flagged(r)
            and r.source_domain != domain
        }
        bands = Counter(min(int(scored[d]["authority"] / 10), 9) for d in followers if d in scored)
        assert q.authority_bands(index, domain) == [
            {"band": f"{b * 10}-{b * 10 + 10}", "referring_domains": bands[b]} for b in range(10)
        ]
        signals = q.score_signals(index, target)
        own = scored.get(domain)
        assert signals["authority"] == (own["authority"] if own else None)
        assert signals["scores_stale"] is False
        by_authority = listing(index, target, sort="authority")
        want = sorted(
            (r for r in of_target(edges, target) if r.lost_at is None),
            key=lambda r: (
                -(scored[r.source_domain]["authority"] if r.source_domain in scored else -1.0),
                r.source_domain,
                r.edge_id,
            ),
        )
        assert [(r["source_url"], r["target_url"], r["link_type"]) for r in by_authority] == [
            (r.source_url, r.target_url, r.link_type) for r in want
        ]
    index.write([crawled("http://late.io/", [Link("http://www.t.com/a", "text")], NOW)])
    assert q.score_signals(index, "t.com")["scores_stale"] is True


def test_fingerprint_sees_every_committed_write(index):  # noqa: F811
    """A write that changes no date (a re-crawl in the same second that only marks a link lost) still
    moves the fingerprint readers cache by; saving scores moves it too, without making them stale."""
    later = T0 + timedelta(days=1)
    index.write([crawled("http://a.com/", [Link("http://t.com/1", "text"), Link("http://t.com/2", "text")])])
    index.write([crawled("http://b.com/", [Link("http://t.com/3", "text")], later)])
    before = index.fingerprint()
    index.write([crawled("http://a.com/", [Link("http://t.com/1", "text")], later)])  # only t.com/2 lost
    assert index.fingerprint() != before
    assert [r["lost_at"] is not None for r in q.export(index)].count(True) == 1
    ranked_at = index.fingerprint()
    rank_index(index)
    assert index.fingerprint() != ranked_at
    assert q.score_signals(index, "t.com")["scores_stale"] is False
