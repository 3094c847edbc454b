"""A synthetic web for the everyday questions (issue 19), written into an index through ``write``.

Three competitors and "me" share some referring domains (an IDN one among them); the referrers' pages
use a known set of anchors with every rel; crawls spread over 14 months drop, add and re-find links (a
domain goes dark for weeks, then links again); pages of "me" and of a competitor were fetched and failed
with known statuses (404, 410, 500, dns, connection), one recovered, one failure written late, one never
fetched (robots.txt). Scores are saved for the referrers (authority, spam mass, farm members).
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from backlinkspider.crawl.items import page_edges
from backlinkspider.records import CrawledPage, Link, Page, PageStatus, ScoreRow, ScoreRun

COMPETITORS = ["comp-a.com", "comp-b.com", "comp-c.co.uk"]
ME = "me.org"
LONELY = ["lonely.org", "alone.org"]  # one referrer each, not the same: their intersect is empty
REFERRERS = [f"ref{i}.net" for i in range(16)] + ["xn--caf-dma.fr", "blog.news-site.com", "www.partner.io"]
ANCHORS = ["best widgets", "Best Widgets", "click here", "", "Café – menu", "comp", "$100 off", "home"]
TARGET_PAGES = {
    d: [f"http://www.{d}/", f"http://www.{d}/pricing", f"http://blog.{d}/post"] for d in [*COMPETITORS, ME]
}
# Pages of "me" (and one competitor's) whose fetch failed, by their last status: backlinks to win back.
BROKEN: dict[str, PageStatus] = {
    f"http://www.{ME}/gone": 404,
    f"http://www.{ME}/removed": 410,
    f"http://www.{ME}/error": 500,
    f"http://old.{ME}/": "dns",
    f"http://www.{ME}/slow": "connection",
    f"http://www.{COMPETITORS[0]}/old-offer": 503,
}
NOT_BROKEN = [
    f"http://www.{ME}/recovered",  # failed, then fetched fine
    f"http://www.{ME}/late",  # fetched fine; a failure of an older fetch written after it
    f"http://www.{ME}/private",  # never fetched (robots.txt): not broken
    f"http://www.{ME}/pricing",  # fetched fine
]


@dataclass
class Web:
    batches: list[list[CrawledPage]] = field(default_factory=list)
    statuses: dict[str, PageStatus] = field(default_factory=dict)  # the broken pages' expected status
    checked: dict[str, int] = field(default_factory=dict)  # their expected last fetch (epoch seconds)
    scores: list[ScoreRow] = field(default_factory=list)
    now: datetime = field(default_factory=lambda: datetime.now(UTC))


def build(seed: int = 19) -> Web:
    rng = random.Random(seed)
    web = Web()
    start = web.now - timedelta(days=430)
    sources = [f"http://{host}/{page}" for host in REFERRERS for page in ("", "links", "blog/1")]
    every_target = [url for urls in TARGET_PAGES.values() for url in urls] + list(BROKEN) + NOT_BROKEN

    def links_for(source: str) -> list[Link]:
        domain_bias = rng.sample([*COMPETITORS, ME], rng.randint(1, 3))
        chosen = [u for u in every_target if any(d in u for d in domain_bias) and rng.random() < 0.35]
        return [
            Link(u, rng.choice(["text", "text", "image"]), rng.choice(ANCHORS), *rng.choice(_FLAGS))
            for u in chosen
        ]

    links = {source: links_for(source) for source in sources}
    links[sources[0]] += [Link(url, "text", "broken one") for url in BROKEN]  # links to every broken page
    links[sources[0]].append(Link(f"http://{LONELY[0]}/", "text", "lonely"))
    links[sources[0]].append(Link(f"http://{REFERRERS[1]}/", "text", "a friend"))  # a referrer linked to
    links[sources[3]] += [Link(url, "text", "fine one") for url in NOT_BROKEN]
    links[sources[3]].append(Link(f"http://{LONELY[1]}/", "text", "alone"))

    def fetch(source: str, when: datetime) -> CrawledPage:
        return CrawledPage(source, when, page_edges(Page(source, links[source]), keep_internal=False))

    web.batches.append([fetch(s, start + timedelta(hours=i)) for i, s in enumerate(sources)])
    dark = sources[6:9]  # a referring domain's pages: their links go, other links come weeks later
    for month in range(1, 14):
        when = start + timedelta(days=30 * month + rng.randint(0, 5), hours=rng.randint(0, 23))
        batch = []
        for source in rng.sample(sources, 12):
            if source in dark:
                continue
            kept = [link for link in links[source] if rng.random() < 0.85]
            links[source] = kept + (links_for(source)[:2] if rng.random() < 0.5 else [])
            batch.append(fetch(source, when))
        if month in (3, 6):
            for source in dark:
                links[source] = [] if month == 3 else [Link(f"http://www.{ME}/comeback", "text", "comeback")]
                batch.append(fetch(source, when))
        web.batches.append(batch)
    web.batches.append(_fetches_of_targets(web))
    web.scores = _scores(rng)
    return web


_FLAGS = [(False, False, False)] * 4 + [(True, False, False), (False, True, False), (False, False, True)]


def _fetches_of_targets(web: Web) -> list[CrawledPage]:
    """The target pages' own fetches: failures with known statuses, one recovery, one late failure."""
    when = web.now - timedelta(days=2)
    batch = []
    for i, (url, status) in enumerate(BROKEN.items()):
        batch.append(CrawledPage(url, when - timedelta(days=3), (), failed=True, status=500))
        fetched = when + timedelta(minutes=i)
        batch.append(CrawledPage(url, fetched, (), failed=True, status=status))
        web.statuses[url], web.checked[url] = status, int(fetched.timestamp())
    recovered, late, _, fine = NOT_BROKEN
    batch.append(CrawledPage(recovered, when - timedelta(days=1), (), failed=True, status=404))
    batch.append(CrawledPage(recovered, when, ()))
    batch.append(CrawledPage(late, when, ()))
    batch.append(CrawledPage(late, when - timedelta(days=9), (), failed=True, status=404))
    batch.append(CrawledPage(fine, when, ()))
    return batch


def _scores(rng: random.Random) -> list[ScoreRow]:
    from backlinkspider.standards.urls import registered_domain

    domains = sorted({registered_domain(host) for host in REFERRERS})
    return [
        ScoreRow(
            domain=d,
            pagerank=rng.random(),
            authority=float(rng.choice([10, 20, 35, 50, 50, 80])),  # ties, broken by name
            trust=rng.random(),
            spam_mass=None if i == 0 else round(rng.random(), 2),
            farm=i % 4 == 1,
            farm_id=i % 3 if i % 4 == 1 else None,
            farm_role=("member" if i % 8 == 1 else "pushed") if i % 4 == 1 else None,
            reciprocal_domains=0,
            referring_domains=1,
            linked_domains=2,
        )
        for i, d in enumerate(domains)
        if i != 5  # one referrer never scored: its authority is null
    ]


def write(index: object, web: Web) -> None:
    """Write the web's batches and save its scores into ``index`` (any store)."""
    for batch in web.batches:
        index.write(batch)  # type: ignore[attr-defined]
    run = ScoreRun(int(web.now.timestamp()), index.fingerprint(), len(web.scores), 0, 1, None, None, 1)  # type: ignore[attr-defined]
    index.save_scores(web.scores, run)  # type: ignore[attr-defined]
