"""The storage contract: every primitive of index/protocols.py, answered by each store, equals a
brute-force computation in Python over the same edges.

``Model`` replays the write rules of ``EdgeStore.write`` on plain dicts; every read is then computed from
its edges by the most literal Python (filter, sort, count) and compared with the store's answer. The
crawl is random with a fixed seed: several source domains and hosts, live, lost, re-found, nofollow / ugc /
sponsored, text / image / canonical / redirect links, fetches spread over weeks, failures, a late write,
captures from web archives (older and newer than the crawl, with their names and server addresses).

A backend joins by one line in ``STORES``: a function of a directory that opens a connection to the index
kept there (called twice, two connections to one index).
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from typing import Any

import pytest
from mongo_standin import strict_client

from backlinkspider.crawl.items import MAX_ANCHOR, page_edges
from backlinkspider.index import open_index
from backlinkspider.index.figures import DAY, LOST_DAY, NEW_DAY
from backlinkspider.index.mongo import MongoStore
from backlinkspider.index.mongo.figures import FIGURES
from backlinkspider.query.history import WEEKS, history
from backlinkspider.records import (
    Bucketing,
    CrawledPage,
    Crossing,
    EdgeRow,
    Events,
    Filters,
    Group,
    Link,
    Outgoing,
    Page,
    PageState,
    PageStatus,
    ScoreRow,
    ScoreRun,
    Tally,
    Target,
)

pytestmark = pytest.mark.filterwarnings("ignore:'(allowDiskUse|batchSize)' is accepted:UserWarning")

_STANDINS: dict[Path, Any] = {}


def mongo_standin(path: Path) -> Any:
    """A MongoStore on the stand-in server of ``path`` (one in-memory server per test directory)."""
    return MongoStore("mongodb://standin/backlinks", client=_STANDINS.setdefault(path, strict_client()))


STORES: dict[str, Callable[[Path], Any]] = {
    "mongo-standin": mongo_standin,
    "sqlite": lambda path: open_index(f"sqlite:///{path / 'links.db'}"),
}


def connector(name: str, path: Path) -> Iterator[Callable[[], Any]]:
    """Opens connections to the index in ``path``; each is closed after its test (or module)."""
    opened: list[Any] = []

    def open_one() -> Any:
        opened.append(STORES[name](path))
        return opened[-1]

    yield open_one
    for store in opened:
        store.close()


@pytest.fixture(params=list(STORES))
def connect(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Callable[[], Any]]:
    yield from connector(request.param, tmp_path)


@pytest.fixture
def store(connect: Callable[[], Any]) -> Any:
    return connect()


# --- the reference: the write rules replayed on dicts ---------------------------------------------------

T0 = datetime(2026, 1, 5, 9, 30, 7, tzinfo=UTC)  # a Monday
LOST_AFTER = 3


@dataclass
class Stored:
    row: EdgeRow
    source_host: str
    target_host: str
    source_ip: str | None  # its page's server address when last seen, and that address's network
    source_subnet: str | None


class Model:
    """What a store holds after the same writes, by the protocol's rules read literally."""

    def __init__(self) -> None:
        self.edges: dict[bytes, Stored] = {}
        self.failures: dict[str, int] = {}
        self.crawled: dict[str, int] = {}
        self.states: dict[str, PageStatus | None] = {}  # the newest fetch's failure
        self.ips: dict[str, str | None] = {}  # the newest fetch's server address
        self.last_ok: dict[str, int] = {}  # the newest successful fetch

    def write(self, pages: list[CrawledPage]) -> int:
        for page in pages:
            self._page(page)
        return sum(len(page.edges) for page in pages)

    def _page(self, page: CrawledPage) -> None:
        seen = int(page.seen_at.timestamp())
        if seen >= self.crawled.get(page.url, seen):
            self.states[page.url] = page.failure
            self.ips[page.url] = page.ip_address
        self.crawled[page.url] = max(self.crawled.get(page.url, seen), seen)
        for edge in page.edges:
            self._sighting(edge, seen, page)
        failures = self.failures.get(page.url, 0) + 1 if page.failed else 0
        self.failures[page.url] = failures
        # A fetch older than the newest successful one: what only it saw is lost at that one.
        marked = seen if page.failed else max(seen, self.last_ok.get(page.url, seen))
        if not page.failed:
            self.last_ok[page.url] = max(self.last_ok.get(page.url, seen), seen)
        if page.failed and failures < LOST_AFTER:
            return
        for stored in self.edges.values():
            r = stored.row
            if r.source_url == page.url and r.lost_at is None and r.last_seen < marked:
                stored.row = r._replace(lost_at=marked)

    def _sighting(self, edge: Any, seen: int, page: CrawledPage) -> None:
        news = {
            "anchor_text": edge.anchor_text,
            "nofollow": edge.nofollow,
            "ugc": edge.ugc,
            "sponsored": edge.sponsored,
            "lost_at": None,
            "provenance": page.provenance,
        }
        old = self.edges.get(edge.edge_id)
        if old is None:
            row = EdgeRow(
                edge.edge_id,
                edge.source_url,
                edge.target_url,
                edge.source_domain,
                edge.target_domain,
                edge.link_type,
                first_seen=seen,
                last_seen=seen,
                **news,
            )
            self.edges[edge.edge_id] = Stored(
                row, edge.source_host, edge.target_host, page.ip_address, page.subnet
            )
            return
        r = old.row
        latest = seen >= r.last_seen  # the newest sighting: what the edge looks like, where from
        newer = latest and (r.lost_at is None or seen >= r.lost_at)  # and it is live again
        news["lost_at"] = None if newer else r.lost_at
        old.row = r._replace(
            first_seen=min(r.first_seen, seen), last_seen=max(r.last_seen, seen), **(news if latest else {})
        )
        if latest:
            old.source_ip, old.source_subnet = page.ip_address, page.subnet

    def rows(self) -> list[EdgeRow]:
        return sorted((s.row for s in self.edges.values()), key=lambda r: r.edge_id)

    def to(self, target: Target) -> list[Stored]:
        field = {"domain": "target_domain", "url": "target_url"}.get(target.scope)
        return [
            s
            for s in self.edges.values()
            if (s.target_host if field is None else getattr(s.row, field)) == target.value
        ]


def ascii_lower(text: str) -> str:
    return "".join(c.lower() if c.isascii() else c for c in text)


def flagged(r: EdgeRow) -> bool:
    return r.nofollow or r.ugc or r.sponsored


def passes(r: EdgeRow, f: Filters) -> bool:
    checks = [
        f.status == "all" or (r.lost_at is None) == (f.status == "live"),
        f.rel is None or flagged(r) == (f.rel == "nofollow"),
        not f.link_type or r.link_type == f.link_type,
        f.since is None or r.first_seen >= f.since,
        not f.from_domain or r.source_domain == f.from_domain,
        not f.anchor_contains or ascii_lower(f.anchor_contains) in ascii_lower(r.anchor_text),
        not f.provenance or r.provenance == f.provenance,
    ]
    return all(checks)


def sort_key(sort: str) -> Callable[[EdgeRow], tuple[Any, bytes]]:
    return lambda r: (getattr(r, sort), r.edge_id)


def expected_edges(
    model: Model, target: Target, f: Filters, sort: str, one_per_domain: bool
) -> list[EdgeRow]:
    rows = [s.row for s in model.to(target) if passes(s.row, f)]
    if one_per_domain:
        best: dict[str, EdgeRow] = {}
        for r in sorted(rows, key=lambda r: (flagged(r), r.first_seen, r.edge_id)):
            best.setdefault(r.source_domain, r)
        rows = list(best.values())
    return sorted(rows, key=sort_key(sort))


# --- the crawl -------------------------------------------------------------------------------------------

SOURCES = [
    "http://blog.a.com",
    "http://www.a.com",
    "http://b.org",
    "http://news.c-times.com",
    "http://shop.c-times.com",
    "http://d.net",
    "http://www.e.co.uk",
    "http://xn--caf-dma.fr",
    "http://www.target.co.uk",  # the target links back to some of its referrers
]
TARGETS = [
    "http://www.target.co.uk/",
    "http://www.target.co.uk/x",
    "http://www.target.co.uk/y?q=1",
    "http://shop.target.co.uk/",
    "http://docs.target.co.uk/report.pdf",
    "http://other.net/",
    "http://other.net/deep/page",
    "http://blog.a.com/post",
    "http://b.org/",
    "http://d.net/",
]
# The server address of each source host (None: crawled through a proxy): a.com and the .fr share a /24,
# the c-times.com hosts a /48, e.co.uk and the target one address.
ADDRESSES = {
    "blog.a.com": "192.0.2.10",
    "www.a.com": "192.0.2.11",
    "b.org": "198.51.100.7",
    "news.c-times.com": "2001:db8:1:2::5",
    "shop.c-times.com": "2001:db8:1:ff::6",
    "d.net": None,
    "www.e.co.uk": "203.0.113.9",
    "xn--caf-dma.fr": "192.0.2.200",
    "www.target.co.uk": "203.0.113.9",
}
OLD_ARCHIVE, NEW_ARCHIVE = "CC-MAIN-2025-47", "CC-MAIN-2026-13"
ANCHORS = ["Target X", "target x", "Café", "CAFÉ menu", "$100 off", "", "click here", "Report (PDF)"]
TYPES = ["text", "text", "text", "image", "canonical", "redirect"]


def random_links(rng: random.Random) -> list[Link]:
    links = []
    for target in rng.sample(TARGETS, rng.randint(1, 6)):
        flags = rng.choice(
            [(False, False, False)] * 3
            + [(True, False, False), (False, True, False), (False, False, True), (True, False, True)]
        )
        links.append(Link(target, rng.choice(TYPES), rng.choice(ANCHORS), *flags))
    return links


def crawl() -> list[list[CrawledPage]]:
    """Write batches: a first crawl of every page, then re-crawls a week or more apart that drop, add and
    change links, pages that fail (one three times: its links are lost), a page found empty, a link
    re-found after it was lost, an internal link kept, and a late write of an old fetch; then web archives
    written after the crawl: one older than it (links the crawl saw, seen earlier, and links gone by the
    crawl, some from a page that fails now), one newer (links gone since, a server moved)."""
    rng = random.Random(16)
    pages = [f"{s}/{p}" for s in SOURCES for p in ("", "about", "links")]
    links = {url: random_links(rng) for url in pages}
    first = dict(links)

    def fetch(url: str, when: datetime, keep_internal: bool = False) -> CrawledPage:
        address = ADDRESSES[url.split("/")[2]]
        return CrawledPage(url, when, page_edges(Page(url, links[url]), keep_internal), ip_address=address)

    batches = [
        [fetch(url, T0 + timedelta(minutes=i % 4)) for i, url in enumerate(pages[i : i + 9])]
        for i in range(0, len(pages), 9)
    ]
    failing = rng.sample(pages, 3)
    for week in range(1, 7):
        when = T0 + timedelta(days=7 * week + rng.randint(0, 3), hours=rng.randint(0, 23))
        batch = []
        for url in rng.sample(pages, 10):
            if url == failing[0] or (url in failing and week % 2):
                batch.append(CrawledPage(url, when, (), failed=True, status=404 if week % 3 else "dns"))
                continue
            kept = [link for link in links[url] if rng.random() < 0.8]
            links[url] = kept + (random_links(rng) if rng.random() < 0.5 else [])
            batch.append(fetch(url, when, keep_internal=week == 3))
        batches.append(batch)
    for attempt in range(LOST_AFTER):
        batches.append([CrawledPage(failing[0], T0 + timedelta(days=60 + attempt), (), failed=True)])
    empty = pages[1]
    links[empty] = []
    batches.append([fetch(empty, T0 + timedelta(days=61))])
    links[empty] = [Link(TARGETS[1], "text", "back again")]
    batches.append([fetch(empty, T0 + timedelta(days=62))])
    batches.append(
        [CrawledPage(pages[2], T0 + timedelta(days=2), page_edges(Page(pages[2], random_links(rng)), False))]
    )
    # a failure of an old fetch written late (its status is not the page's), one with no status given
    batches.append([CrawledPage(failing[1], T0 + timedelta(days=1), (), failed=True, status=503)])
    batches.append([CrawledPage(pages[4], T0 + timedelta(days=63), (), failed=True)])
    old = [
        replace(
            fetch(url, T0 - timedelta(days=40, minutes=i)),
            edges=page_edges(Page(url, first[url][1:] + random_links(rng)), False),
            provenance=OLD_ARCHIVE,
            ip_address="198.51.100.99" if url.startswith("http://b.org") else ADDRESSES[url.split("/")[2]],
        )
        for i, url in enumerate([*pages[::4], failing[0]])
    ]
    batches += [old[: len(old) // 2], old[len(old) // 2 :]]
    new = []
    for url in pages[1::5]:
        links[url] = links[url][1:]
        address = "2001:db8:9::1" if url.startswith("http://d.net") else ADDRESSES[url.split("/")[2]]
        new.append(replace(fetch(url, T0 + timedelta(days=64)), provenance=NEW_ARCHIVE, ip_address=address))
    batches.append(new)
    return batches


BATCHES = crawl()


@pytest.fixture(scope="module")
def model() -> Model:
    model = Model()
    for batch in BATCHES:
        model.write(batch)
    return model


def fill(store: Any) -> Any:
    for batch in BATCHES:
        store.write(batch, lost_after_failures=LOST_AFTER)
    return store


@pytest.fixture(scope="module", params=list(STORES))
def filled(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """One store with the crawl written, shared by the tests that only read it."""
    for connect in connector(request.param, tmp_path_factory.mktemp("filled")):
        yield fill(connect())


@pytest.fixture
def written(store: Any) -> Any:
    """A store of its own with the crawl written, for a test that writes more."""
    return fill(store)


# --- writes ---------------------------------------------------------------------------------------------


def test_the_crawl_covers_what_the_contract_needs(model: Model) -> None:
    rows = model.rows()
    assert {r.link_type for r in rows} == {"text", "image", "canonical", "redirect"}
    assert all(any(getattr(r, flag) for r in rows) for flag in ("nofollow", "ugc", "sponsored"))
    assert sum(r.lost_at is not None for r in rows) >= 10 and sum(r.lost_at is None for r in rows) >= 50
    assert any(r.source_domain == r.target_domain for r in rows)  # an internal link kept
    assert len({r.first_seen // (7 * 86400) for r in rows}) >= 5
    assert any(r.lost_at is None and r.last_seen > r.first_seen for r in rows)
    assert {r.provenance for r in rows} == {"crawl", OLD_ARCHIVE, NEW_ARCHIVE}
    old, new = (int(when.timestamp()) for when in (T0 - timedelta(days=39), T0 + timedelta(days=64)))
    assert sum(r.first_seen < old and r.last_seen > old for r in rows) >= 5  # seen earlier by the archive
    # seen only by the old archive, lost at a later successful fetch
    assert sum(r.last_seen < old and r.lost_at is not None and r.lost_at > old for r in rows) >= 5
    assert sum(r.provenance == NEW_ARCHIVE and r.lost_at is None for r in rows) >= 5
    assert sum(r.lost_at == new for r in rows) >= 2  # the newer archive marks lost what it lacks
    stored = model.edges.values()
    assert {s.source_ip is None for s in stored} == {True, False}
    assert len({s.source_ip for s in stored} - {None}) > len({s.source_subnet for s in stored} - {None})


def test_write_returns_the_edges_written_and_export_equals_the_model(store: Any, model: Model) -> None:
    reference = Model()
    for batch in BATCHES:
        assert store.write(batch, lost_after_failures=LOST_AFTER) == reference.write(batch)
    assert list(store.export()) == model.rows()
    assert store.count() == len(model.rows())


def test_writes_are_idempotent_and_a_late_fetch_reverts_nothing(written: Any, model: Model) -> None:
    for batch in BATCHES[:3] + BATCHES[-1:]:
        written.write(batch, lost_after_failures=LOST_AFTER)
    assert list(written.export()) == model.rows()


def test_an_anchor_is_cut_at_a_character_to_the_documented_length(store: Any) -> None:
    """BACKLINKS_MAX_ANCHOR characters (code points: a multi-byte one is kept whole or not at all), the
    same in every backend, and what a summary's top anchors show."""
    long = "é" * (MAX_ANCHOR - 1) + "🔗" + "x" * 5000  # the last character kept is four bytes in UTF-8
    page = Page(
        "http://a.org/", [Link("http://t.org/", "text", long), Link("http://t.org/b", "text", "short")]
    )
    store.write([CrawledPage(page.url, T0, page_edges(page, False))])
    anchors = sorted(r.anchor_text for r in store.export())
    assert anchors == ["short", long[:MAX_ANCHOR]] and anchors[1].endswith("é🔗")
    tally = store.tally(Target("domain", "t.org"), include_lost=False, since=[], top=1)
    assert tally.top_anchors == [("short", 1)]  # one each: in binary order, "s" < "é"
    cut = page_edges(page, False, max_anchor=3)
    assert [e.anchor_text for e in cut] == ["ééé", "sho"]


def test_an_empty_batch_writes_nothing(store: Any) -> None:
    assert store.write([], lost_after_failures=LOST_AFTER) == 0
    assert list(store.export()) == [] and store.count() == 0


def test_check_writable_changes_nothing(filled: Any, model: Model) -> None:
    before = filled.fingerprint()
    filled.check_writable()
    assert filled.fingerprint() == before and list(filled.export()) == model.rows()


def test_the_fingerprint_moves_with_every_write_and_is_shared(
    written: Any, connect: Callable[[], Any]
) -> None:
    """Its first item moves with every batch of edges (one that only marks links lost, one that changes
    nothing), the rest with a score save; every connection reads the same value."""
    other = connect()
    seen = [written.fingerprint()]
    assert other.fingerprint() == seen[0]
    url = BATCHES[0][0].url
    for days in (70, 71):  # the page found empty: its links are lost, then nothing changes
        written.write([CrawledPage(url, T0 + timedelta(days=days), ())], lost_after_failures=LOST_AFTER)
        seen.append(written.fingerprint())
        assert other.fingerprint() == seen[-1] and seen[-1][0] != seen[-2][0]
    written.save_scores([], run_for(seen[-1], 0))
    assert other.fingerprint()[0] == seen[-1][0] and other.fingerprint() != seen[-1]


def test_a_store_is_a_context_manager(connect: Callable[[], Any]) -> None:
    with connect() as store:
        assert store.count() == 0


def test_pages_to_recrawl_least_recently_fetched_first(filled: Any, model: Model) -> None:
    expected = [url for url, _ in sorted(model.crawled.items(), key=lambda kv: (kv[1], kv[0]))]
    assert list(filled.pages_to_recrawl()) == expected
    assert list(filled.pages_to_recrawl(limit=5)) == expected[:5]


# --- edges ----------------------------------------------------------------------------------------------

SINCE = int((T0 + timedelta(days=20)).timestamp())
QUERY_TARGETS = [
    Target("domain", "target.co.uk"),
    Target("host", "www.target.co.uk"),
    Target("url", "http://www.target.co.uk/x"),
    Target("domain", "other.net"),
    Target("domain", "nosuch.org"),
]
FILTERS = [
    Filters(),
    Filters(status="all"),
    Filters(status="lost"),
    Filters(rel="follow"),
    Filters(rel="nofollow", status="all"),
    Filters(link_type="image", status="all"),
    Filters(since=SINCE),
    Filters(from_domain="c-times.com", status="all"),
    Filters(anchor_contains="caf"),  # ASCII folded only: "CAFÉ" matches, "É" does not fold to "é"
    Filters(anchor_contains="é", status="all"),
    Filters(anchor_contains="$1"),
    Filters(rel="follow", link_type="text", since=SINCE, status="all"),
    Filters(provenance="crawl"),
    Filters(provenance=OLD_ARCHIVE, status="all"),
    Filters(provenance=NEW_ARCHIVE, status="lost"),
    Filters(provenance="nosuch", status="all"),
]


@pytest.mark.parametrize("target", QUERY_TARGETS, ids=lambda t: f"{t.scope}:{t.value}")
def test_edges_in_every_sort_scope_and_filter(filled: Any, model: Model, target: Target) -> None:
    for f in FILTERS:
        for sort in ("first_seen", "last_seen", "source_domain"):
            for one in (False, True):
                got = list(filled.edges(target, f, sort=sort, one_per_domain=one))
                assert got == expected_edges(model, target, f, sort, one), (f, sort, one)


PAGED = [
    (Target("domain", "target.co.uk"), Filters(status="all")),
    (Target("host", "www.target.co.uk"), Filters(rel="follow")),
    (Target("domain", "target.co.uk"), Filters(since=SINCE)),
]


@pytest.mark.parametrize(("target", "f"), PAGED)
@pytest.mark.parametrize("sort", ["first_seen", "last_seen", "source_domain"])
@pytest.mark.parametrize("one", [False, True])
def test_pages_by_offset_and_by_after_cut_the_same_list(
    filled: Any, model: Model, target: Target, f: Filters, sort: str, one: bool
) -> None:
    full = expected_edges(model, target, f, sort, one)
    assert len(full) >= (4 if one else 10)
    for offset, limit in ((0, 3), (2, 4), (len(full) - 1, 5), (len(full), 2), (1, None), (0, 0)):
        got = list(filled.edges(target, f, sort=sort, offset=offset, limit=limit, one_per_domain=one))
        assert got == full[offset : None if limit is None else offset + limit], (offset, limit)
    walked: list[EdgeRow] = []
    while len(walked) < len(full) + 1:
        after = (getattr(walked[-1], sort), walked[-1].edge_id) if walked else None
        page = list(filled.edges(target, f, sort=sort, after=after, limit=3, one_per_domain=one))
        if not page:
            break
        walked += page
    assert walked == full
    middle = full[len(full) // 2]
    after = (getattr(middle, sort), middle.edge_id)
    got = list(filled.edges(target, f, sort=sort, after=after, offset=1, limit=2, one_per_domain=one))
    assert got == full[len(full) // 2 + 2 : len(full) // 2 + 4]


def test_export_streams_every_edge_in_edge_id_order(filled: Any, model: Model) -> None:
    rows = filled.export()
    assert next(rows) == model.rows()[0]
    assert [next(rows) for _ in range(3)] == model.rows()[1:4]


def test_an_export_resumes_after_the_last_edge_it_gave(filled: Any, model: Model) -> None:
    every = model.rows()
    for k in (0, len(every) // 2, len(every) - 1):
        assert list(filled.export(after=every[k].edge_id)) == every[k + 1 :]
    assert list(filled.export(after=b"\x00" * 16)) == every  # an id no edge has: those above it
    assert list(filled.export(after=b"\xff" * 16)) == []


# --- summaries, history, referring domains ------------------------------------------------------------


def expected_tally(model: Model, target: Target, include_lost: bool, since: list[int], top: int) -> Tally:
    every = model.to(target)
    shown = [s for s in every if include_lost or s.row.lost_at is None]
    rows = [s.row for s in shown]

    def tops(values: list[str]) -> list[tuple[str, int]]:
        return sorted(Counter(values).items(), key=lambda kv: (-kv[1], kv[0]))[:top]

    domains: dict[str, list[EdgeRow]] = {}
    for s in every:
        domains.setdefault(s.row.source_domain, []).append(s.row)

    def lost_domain(edges: list[EdgeRow], start: int) -> bool:
        return all(r.lost_at is not None for r in edges) and max(r.lost_at or 0 for r in edges) >= start

    return Tally(
        backlinks=len(rows),
        referring_pages=len({r.source_url for r in rows}),
        referring_hosts=len({s.source_host for s in shown}),
        referring_ips=len({s.source_ip for s in shown} - {None}),
        referring_subnets=len({s.source_subnet for s in shown} - {None}),
        follow=sum(not flagged(r) for r in rows),
        nofollow=sum(r.nofollow for r in rows),
        ugc=sum(r.ugc for r in rows),
        sponsored=sum(r.sponsored for r in rows),
        by_type=dict(Counter(r.link_type for r in rows)),
        top_anchors=tops([r.anchor_text for r in rows]),
        top_referring_domains=tops([r.source_domain for r in rows]),
        top_pages=tops([r.target_url for r in rows]),
        first_seen=min((r.first_seen for r in rows), default=None),
        last_seen=max((r.last_seen for r in rows), default=None),
        new=[
            (
                sum(s.row.first_seen >= start for s in every),
                sum(min(r.first_seen for r in edges) >= start for edges in domains.values()),
            )
            for start in since
        ],
        lost=[
            (
                sum(s.row.lost_at is not None and s.row.lost_at >= start for s in every),
                sum(lost_domain(edges, start) for edges in domains.values()),
            )
            for start in since
        ],
    )


@pytest.mark.parametrize("target", QUERY_TARGETS, ids=lambda t: f"{t.scope}:{t.value}")
def test_tally(filled: Any, model: Model, target: Target) -> None:
    end = max(r.last_seen for r in model.rows())
    since = [end - 7 * 86400, end - 30 * 86400, 0, end + 1, end - 45 * 86400]
    for include_lost in (False, True):
        for top in (3, 10):
            got = filled.tally(target, include_lost=include_lost, since=since, top=top)
            assert got == expected_tally(model, target, include_lost, since, top), (include_lost, top)


def test_figures_rebuilt_from_the_edges_give_the_same_answers(written: Any, model: Model) -> None:
    end = max(r.last_seen for r in model.rows())
    since = [end - 7 * 86400, end - 30 * 86400, 0]
    domains = sorted({r.target_domain for r in model.rows()})
    for domain in domains:
        assert written.rebuild_figures(domain) == sum(r.target_domain == domain for r in model.rows())
    assert written.rebuild_figures("nosuch.org") == 0
    for domain in domains:
        for include_lost in (False, True):
            got = written.tally(Target("domain", domain), include_lost=include_lost, since=since, top=5)
            assert got == expected_tally(model, Target("domain", domain), include_lost, since, 5)


@pytest.mark.parametrize("target", QUERY_TARGETS, ids=lambda t: f"{t.scope}:{t.value}")
def test_referring_domains(filled: Any, model: Model, target: Target) -> None:
    for f in FILTERS:
        expected = sorted({s.row.source_domain for s in model.to(target) if passes(s.row, f)})
        assert list(filled.referring_domains(target, f)) == expected, f


def expected_events(model: Model, target: Target, b: Bucketing) -> Events:
    def bucket(t: int) -> int:
        return (t + b.offset) // b.width

    events = Events()
    domains: dict[str, list[EdgeRow]] = {}
    for s in model.to(target):
        r = s.row
        events.new_links[bucket(r.first_seen)] = events.new_links.get(bucket(r.first_seen), 0) + 1
        if r.lost_at is not None:
            events.lost_links[bucket(r.lost_at)] = events.lost_links.get(bucket(r.lost_at), 0) + 1
        domains.setdefault(r.source_domain, []).append(r)
    for edges in domains.values():
        first = bucket(min(r.first_seen for r in edges))
        events.new_domains[first] = events.new_domains.get(first, 0) + 1
        if all(r.lost_at is not None for r in edges):
            lost = bucket(max(r.lost_at or 0 for r in edges))
            events.lost_domains[lost] = events.lost_domains.get(lost, 0) + 1
    return events


@pytest.mark.parametrize("target", QUERY_TARGETS, ids=lambda t: f"{t.scope}:{t.value}")
def test_events(filled: Any, model: Model, target: Target) -> None:
    for bucketing in (Bucketing(7 * 86400, 3 * 86400), Bucketing(86400), Bucketing(5 * 3600, 1234)):
        assert filled.events(target, bucketing) == expected_events(model, target, bucketing), bucketing


def test_a_week_bucket_starts_on_monday(filled: Any) -> None:
    weekly = filled.events(Target("domain", "target.co.uk"), Bucketing(7 * 86400, 3 * 86400))
    first = min(weekly.new_links)
    start = datetime.fromtimestamp(first * 7 * 86400 - 3 * 86400, UTC)
    assert start.weekday() == 0 and start.time() == time(0)  # the first edge: from a Wednesday's archive


def day_figures(store: Any, domain: str) -> dict[tuple[str, str], int]:
    """A domain's per-day figures (``index/figures.py``: NEW_DAY, LOST_DAY) as the store keeps them,
    those that count an edge."""
    days = [NEW_DAY, LOST_DAY]
    if isinstance(store, MongoStore):
        docs = store._db[FIGURES].find({"t": domain, "d": {"$in": days}})
        found = {(doc["d"], doc["v"]): doc["n_all"] for doc in docs}
    else:
        sql = "SELECT dim, value, n_all FROM agg WHERE target_domain = ? AND dim IN (?, ?)"
        found = {(dim, value): n for dim, value, n in store._db.execute(sql, [domain, *days])}
    return {k: n for k, n in found.items() if n}


def expected_days(model: Model, domain: str) -> dict[tuple[str, str], int]:
    counts: Counter[tuple[str, str]] = Counter()
    for s in model.to(Target("domain", domain)):
        counts[(NEW_DAY, str(s.row.first_seen // DAY))] += 1
        if s.row.lost_at is not None:
            counts[(LOST_DAY, str(s.row.lost_at // DAY))] += 1
    return dict(counts)


def test_a_domain_s_history_follows_re_crawls_from_its_day_figures(store: Any) -> None:
    """Links dated by re-crawls, each step on both backends equal to the model: the day figures are the
    edges' days, and the weekly and daily events read from them equal the edges' (a link lost, its
    first_seen moved back by an older capture, found again; a page that fails until its link is lost;
    a batch sent twice; and after a rebuild), as do the summary's windows, which start mid-day (its
    edges before the start on the start's day left out) or at midnight."""
    target, x, y = Target("domain", "t.com"), "http://www.t.com/x", "http://t.com/y"
    midnight = int(T0.timestamp()) // DAY * DAY
    starts = [int((T0 + timedelta(days=k)).timestamp()) for k in (0, 3, 10.25, 10.75, 20, 42.5)]
    starts += [midnight + 10 * DAY, midnight + 11 * DAY]

    def page(url: str, days: float, links: list[str], failed: bool = False) -> CrawledPage:
        edges = page_edges(Page(url, [Link(link, "text", "a") for link in links]), False)
        return CrawledPage(url, T0 + timedelta(days=days), () if failed else edges, failed)

    a, b = "http://a.org/", "http://www.b.net/p"
    steps = [
        [page(a, 10, [x, y]), page(b, 10.5, [x])],
        [page(a, 20, [x])],  # y lost on day 20
        [page(a, 3, [x, y])],  # an archive: x and the lost y first seen on day 3, y still lost
        [page(a, 30, [x, y])],  # y found again: it leaves its lost day
        [page(b, 40 + k, [], failed=True) for k in range(LOST_AFTER)],  # b's link lost at its third failure
        [page(a, 30, [x, y])],  # a batch re-sent
    ]
    model = Model()
    for step in steps:
        store.write(step, lost_after_failures=LOST_AFTER)
        model.write(step)
        assert day_figures(store, "t.com") == expected_days(model, "t.com")
        for bucketing in (WEEKS, Bucketing(DAY)):
            assert store.events(target, bucketing) == expected_events(model, target, bucketing)
        tally = store.tally(target, include_lost=False, since=starts, top=3)
        want = expected_tally(model, target, False, starts, 3)
        assert (tally.new, tally.lost) == (want.new, want.lost)
    weekly = history(store, target)
    moved = [(w["week"], w["new_backlinks"], w["lost_backlinks"]) for w in weekly]
    assert [m for m in moved if m[1:] != (0, 0)] == [
        ("2026-01-05", 2, 0),  # x and y, first seen on day 3 (a Thursday)
        ("2026-01-12", 1, 0),  # b's x, day 10
        ("2026-02-16", 0, 1),  # b's x, lost at the third failure (day 42)
    ]
    store.rebuild_figures("t.com")
    assert day_figures(store, "t.com") == expected_days(model, "t.com")
    assert history(store, target) == weekly


# --- the domain graph -----------------------------------------------------------------------------------


def live_followed(model: Model) -> list[EdgeRow]:
    return [r for r in model.rows() if r.lost_at is None and not flagged(r)]


def test_domain_graph_and_its_nodes(filled: Any, model: Model) -> None:
    pairs = Counter(
        (r.source_domain, r.target_domain) for r in live_followed(model) if r.source_domain != r.target_domain
    )
    assert list(filled.domain_graph()) == sorted((s, t, n) for (s, t), n in pairs.items())
    assert list(filled.graph_domains()) == sorted({d for pair in pairs for d in pair})


def test_linking_back(filled: Any, model: Model) -> None:
    links = {(r.source_domain, r.target_domain) for r in live_followed(model)}
    pairs = {(r.target_domain, r.source_domain) for r in model.rows()}
    assert filled.linking_back(pairs) == {(t, s) for t, s in pairs if (t, s) in links}
    assert any((t, s) in links for t, s in pairs)  # the target links back to some of its referrers
    assert filled.linking_back([]) == set()


# --- the questions' groupings -------------------------------------------------------------------------


def test_page_states_keep_the_newest_fetch_s_failure(filled: Any, model: Model) -> None:
    expected = {
        url: PageState(url, model.crawled[url], model.failures[url], model.states[url], model.ips[url])
        for url in model.crawled
    }
    assert filled.page_states([*model.crawled, "http://nosuch.org/"]) == expected
    statuses = {state.status for state in expected.values()}
    assert {None, 404, "error"} <= statuses and 503 not in statuses  # the late write kept none
    assert filled.page_states([]) == {}


@pytest.mark.parametrize("target", QUERY_TARGETS, ids=lambda t: f"{t.scope}:{t.value}")
def test_groups(filled: Any, model: Model, target: Target) -> None:
    for f in FILTERS:
        for by in ("anchor_text", "target_url", "source_domain"):
            rows: dict[str, list[EdgeRow]] = {}
            for s in model.to(target):
                if passes(s.row, f):
                    rows.setdefault(getattr(s.row, by), []).append(s.row)
            expected = [
                Group(v, len(rs), len({r.source_domain for r in rs}), sum(not flagged(r) for r in rs))
                for v, rs in sorted(rows.items())
            ]
            assert list(filled.groups(target, f, by)) == expected, (f, by)


CROSSED = ["target.co.uk", "other.net", "a.com", "b.org", "d.net", "nosuch.org"]


def expected_crossings(
    model: Model, domains: list[str], excluded: list[str], f: Filters, at_least: int
) -> list[Crossing]:
    counts: dict[str, Counter[str]] = {}
    for r in model.rows():
        if passes(r, f):
            counts.setdefault(r.source_domain, Counter())[r.target_domain] += 1
    return [
        Crossing(source, tuple(c[d] for d in domains))
        for source, c in sorted(counts.items())
        if sum(c[d] > 0 for d in domains) >= at_least and not any(c[d] for d in excluded)
    ]


@pytest.mark.parametrize(
    ("domains", "excluded", "at_least"),
    [
        (CROSSED[:2], [], 2),
        (CROSSED[:2], [], 1),
        (CROSSED[:3], ["d.net"], 2),
        (CROSSED[1:5], ["target.co.uk"], 2),
        (CROSSED, [], 3),
        (["other.net"], ["other.net"], 1),
        (["nosuch.org", "target.co.uk"], [], 1),
        ([], [], 1),
    ],
)
def test_crossings(filled: Any, model: Model, domains: list[str], excluded: list[str], at_least: int) -> None:
    found = 0
    for f in (Filters(), Filters(status="all"), Filters(rel="follow"), Filters(since=SINCE, status="lost")):
        expected = expected_crossings(model, domains, excluded, f, at_least)
        assert list(filled.crossings(domains, excluded, f, at_least)) == expected, f
        found += len(expected)
    assert found or not domains or domains == ["other.net"]


def test_outgoing(filled: Any, model: Model) -> None:
    sources = [*sorted({r.source_domain for r in model.rows()}), "nosuch.org"]
    for source in sources:
        for status in ("live", "lost", "all"):
            groups: dict[tuple[str, str], list[EdgeRow]] = {}
            for r in model.rows():
                if r.source_domain == source != r.target_domain and passes(r, Filters(status=status)):
                    groups.setdefault((r.target_domain, r.anchor_text), []).append(r)
            expected = [
                Outgoing(t, a, len(rs), sum(not flagged(r) for r in rs))
                for (t, a), rs in sorted(groups.items())
            ]
            assert list(filled.outgoing(source, status)) == expected, (source, status)


INF = 2**62


def union(spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Half-open intervals merged (empty ones dropped), in order."""
    merged: list[tuple[int, int]] = []
    for a, b in sorted(x for x in spans if x[1] > x[0]):
        if merged and a <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], b))
        else:
            merged.append((a, b))
    return merged


@pytest.mark.parametrize("target", QUERY_TARGETS, ids=lambda t: f"{t.scope}:{t.value}")
def test_domain_spans(filled: Any, model: Model, target: Target) -> None:
    for width in (86400, 7 * 86400, 3600):
        got = list(filled.domain_spans(target, width))
        assert got == sorted(got, key=lambda s: (s.source_domain, s.start, s.end is None, s.end or 0))
        assert len(got) == len(set(got))
        expected: dict[str, list[tuple[int, int]]] = {}
        for st in model.to(target):
            r = st.row
            end = INF if r.lost_at is None else r.lost_at // width
            expected.setdefault(r.source_domain, []).append((r.first_seen // width, end))
        answered: dict[str, list[tuple[int, int]]] = {}
        for span in got:
            answered.setdefault(span.source_domain, []).append(
                (span.start, INF if span.end is None else span.end)
            )
        assert {d: union(x) for d, x in answered.items()} == {d: union(x) for d, x in expected.items()}, width


# --- scores ---------------------------------------------------------------------------------------------


def score_rows(domains: list[str], seed: int) -> list[ScoreRow]:
    rng = random.Random(seed)
    return [
        ScoreRow(
            domain=d,
            pagerank=rng.random(),
            authority=round(rng.uniform(0, 100), 1 if i % 3 else 0),
            trust=None if i % 4 == 0 else rng.random(),
            spam_mass=None if i % 5 == 0 else round(rng.random(), 1),
            farm=i % 3 == 0,
            farm_id=i // 3 if i % 3 == 0 else None,
            farm_role="member" if i % 3 == 0 else None,
            reciprocal_domains=rng.randint(0, 3),
            referring_domains=rng.randint(0, 4),
            linked_domains=rng.randint(0, 9),
        )
        for i, d in enumerate(domains)
    ]


def run_for(fingerprint: list[int | None], domains: int) -> ScoreRun:
    return ScoreRun(1_767_600_000, fingerprint, domains, 120, 31, 12, 2, 1)


def expected_scores(rows: list[ScoreRow], sort: str, farm_only: bool, limit: int | None) -> list[ScoreRow]:
    kept = [r for r in rows if r.farm or not farm_only]
    ranked = sorted(kept, key=lambda r: (getattr(r, sort) is None, -(getattr(r, sort) or 0), r.domain))
    return ranked[:limit]


def test_scores_before_any_rank(store: Any) -> None:
    assert store.scores_run() is None and store.score("a.com") is None
    assert store.scores("authority", farm_only=False, limit=10) == []
    assert store.authorities(["a.com"]) == {}


def test_scores_are_saved_read_and_replaced_whole(written: Any, connect: Callable[[], Any]) -> None:
    domains = list(written.graph_domains())
    first = score_rows(domains, 1)
    run = run_for(written.fingerprint(), len(domains))
    written.save_scores(iter(first), run)
    reader = connect()
    assert reader.scores_run() == run
    for sort in ("authority", "trust", "spam_mass", "referring_domains"):
        for farm_only in (False, True):
            for limit in (None, 3):
                got = reader.scores(sort, farm_only=farm_only, limit=limit)
                assert got == expected_scores(first, sort, farm_only, limit), (sort, farm_only, limit)
    assert reader.score(domains[1]) == first[1] and reader.score("nosuch.org") is None
    asked = [*domains[::2], "nosuch.org"]
    assert reader.authorities(iter(asked)) == {r.domain: r.authority for r in first[::2]}
    second = score_rows(domains[1:3], 2)
    written.save_scores(second, replace(run, domains=2))
    assert reader.scores_run() == replace(run, domains=2)
    assert reader.scores("authority", farm_only=False, limit=None) == expected_scores(
        second, "authority", False, None
    )
    assert reader.score(domains[0]) is None
