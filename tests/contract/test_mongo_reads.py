"""What MongoDB's reads cost, counted on the stand-in by ``mongo_standin.Examined`` (the index keys and
documents a server would examine with the indexes the store declares): a page of a cursor walk costs
about a page at every scope and sort, ``pages_to_recrawl`` its limit, and a domain's summary, its weekly
history and a page of one link per domain the same at 5x the edges."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from mongo_standin import Examined, strict_client

from backlinkspider.crawl.items import page_edges
from backlinkspider.index.figures import DAY, NEW_DAY
from backlinkspider.index.mongo import MongoStore
from backlinkspider.index.mongo.documents import bson_date, document_for
from backlinkspider.index.mongo.figures import FIGURES
from backlinkspider.query.history import history
from backlinkspider.query.listing import backlinks, decode_cursor
from backlinkspider.query.summary import profile
from backlinkspider.records import EDGE_SORTS, Filters, Target
from backlinkspider.standards.extract import Link, Page

pytestmark = pytest.mark.filterwarnings("ignore:'(allowDiskUse|batchSize)' is accepted:UserWarning")

T0 = datetime(2026, 1, 5, tzinfo=UTC)
LIMIT = 20
TARGETS = [
    Target("domain", "big.example"),
    Target("host", "www.big.example"),
    Target("url", "http://www.big.example/p0"),
]


def filled(sources: int) -> MongoStore:
    """``sources`` pages, each linking to four pages of big.example and one of small.example, one
    page a minute; every tenth page's links nofollow. Loaded as documents (the stand-in's writes
    scan the collection per update) and counted by ``rebuild_figures``."""
    store = MongoStore("mongodb://standin/backlinks", client=strict_client())
    docs, pages = [], []
    for i in range(sources):
        links = [
            Link(f"http://www.big.example/p{j}", "text", f"anchor {i % 7}", nofollow=i % 10 == 0)
            for j in range(4)
        ]
        page = Page(f"http://s{i}.site{i % 50}.org/", [*links, Link("http://small.example/", "text")])
        seen = bson_date(T0 + timedelta(minutes=i))
        docs += [{"_id": edge.edge_id, **document_for(edge, seen)} for edge in page_edges(page, False)]
        pages.append(
            {
                "_id": page.url,
                "last_crawled": seen,
                "failures": 0,
                "target_domains": ["big.example", "small.example"],
            }
        )
    store._links.insert_many(docs)
    store._pages.insert_many(pages)
    for domain in ("big.example", "small.example"):
        store.rebuild_figures(domain)
    return store


@pytest.fixture(scope="module")
def store() -> MongoStore:
    return filled(300)


def test_the_instrument_counts_a_scan_and_a_sort_in_memory(store: MongoStore) -> None:
    """A filter no index bounds examines every document; a sort no index gives is a blocking SORT."""
    with Examined(store._client) as examined:
        list(store._links.find({"anchor_text": "anchor 1"}))
        list(store._links.find({"target_domain": "big.example"}).sort([("anchor_text", 1)]).limit(5))
    scan, sort = examined.reads
    assert (scan.index, scan.docs) == ("COLLSCAN", 1500)
    assert sort.blocking_sort and sort.keys + sort.docs >= 1200


@pytest.mark.parametrize("target", TARGETS, ids=lambda t: t.scope)
@pytest.mark.parametrize("sort", EDGE_SORTS)
def test_page_two_of_a_cursor_walk_examines_about_a_page(
    store: MongoStore, target: Target, sort: str
) -> None:
    first = list(backlinks(store, target, Filters(status="all"), sort=sort, limit=LIMIT))  # type: ignore[arg-type]
    with Examined(store._client) as examined:
        second = list(
            backlinks(
                store, target, Filters(status="all"), sort=sort, limit=LIMIT, cursor=first[-1]["_cursor"]
            )  # type: ignore[arg-type]
        )
    assert len(second) == LIMIT and second[0] != first[-1]
    read = next(r for r in examined.reads if r.collection == "links")  # then linking_back's
    assert not read.blocking_sort, read
    # Keys equal to the last row's sort value before its edge_id are read again (at most a page's).
    assert LIMIT <= read.keys <= 2 * LIMIT + 1, read


def per_domain(domains: int, lost_every: int = 0) -> MongoStore:
    """``domains`` referring domains of big.example, three edges each: two nofollow links from an
    older page, then one followed link from a newer one (the domain's best), the domains in turn, so a
    walk in any order meets two edges it skips for each it keeps. ``lost_every``: every so many
    domains' first link is lost a day after it was found."""
    store = MongoStore("mongodb://standin/backlinks", client=strict_client())
    docs = []
    for i in range(domains):
        for minute, url, links in (
            (
                2 * i,
                f"http://www.s{i:05d}.org/old",
                [
                    Link("http://big.example/a", "text", "x", nofollow=True),
                    Link("http://big.example/b", "text", "y", nofollow=True),
                ],
            ),
            (2 * i + 1, f"http://www.s{i:05d}.org/new", [Link("http://big.example/a", "text", "z")]),
        ):
            seen = bson_date(T0 + timedelta(minutes=minute))
            docs += [{"_id": e.edge_id, **document_for(e, seen)} for e in page_edges(Page(url, links), False)]
        if lost_every and i % lost_every == 0:
            docs[-3]["lost_at"] = docs[-3]["first_seen"] + timedelta(days=1)
    store._links.insert_many(docs)
    store.rebuild_figures("big.example")
    return store


def page_two_cost(store: MongoStore, sort: str) -> tuple[int, int, int]:
    """Reads, keys and documents page 2 of big.example's one link per domain examines."""
    target = Target("domain", "big.example")
    first = list(backlinks(store, target, sort=sort, limit=LIMIT, one_per_domain=True))  # type: ignore[arg-type]
    with Examined(store._client) as examined:
        second = list(
            store.edges(
                target,
                Filters(),
                sort=sort,  # type: ignore[arg-type]
                after=decode_cursor(first[-1]["_cursor"], sort),  # type: ignore[arg-type]
                limit=LIMIT,
                one_per_domain=True,
            )
        )
    domains = [row.source_domain for row in second]
    assert len(set(domains)) == LIMIT and domains[0] != first[-1]["source_domain"]
    assert {row.anchor_text for row in second} == {"z"}  # each domain's followed link
    assert not any(r.blocking_sort for r in examined.reads), examined.reads
    keys, docs = examined.total()
    return len(examined.reads), keys, docs


@pytest.mark.parametrize("sort", EDGE_SORTS)
def test_page_two_of_one_link_per_domain_costs_the_same_at_five_times_the_domains(sort: str) -> None:
    """Each domain's best edge is chosen from its own edges, never from a pass over the target's."""
    small, big = page_two_cost(per_domain(100), sort), page_two_cost(per_domain(500), sort)
    assert small == big
    assert small[1] < 10 * LIMIT  # the page's span of the order and its domains' edges, not 300 edges


@pytest.mark.parametrize("one", [False, True], ids=["all", "one_per_domain"])
def test_a_page_of_the_authority_sort_is_one_read_of_its_domains(one: bool) -> None:
    """The page's domains' links come in one read (the ``$in`` of each domain's best link, or one
    ``$unionWith`` branch a domain), whatever the page's size: then linking_back's one read."""
    store = per_domain(60)
    target = Target("domain", "big.example")

    def page(limit: int, cursor: str | None) -> tuple[list[Any], list[str]]:
        with Examined(store._client) as examined:
            rows = list(
                backlinks(store, target, sort="authority", limit=limit, cursor=cursor, one_per_domain=one)
            )
        assert len(rows) == limit
        return rows, [r.collection for r in examined.reads if r.collection == "links"]

    first, _ = page(5, None)
    for limit in (5, 20):
        rows, reads = page(limit, first[-1]["_cursor"])
        assert reads == ["links", "links"]  # the page's edges, then whether each links back
        assert rows[0]["_cursor"] != first[-1]["_cursor"]


def history_cost(domains: int) -> dict[str, Any]:
    """What the summary's counts and TLD split (``profile``), the weekly history and the daily levels'
    spans of referring domains read of big.example, one domain in ten having lost a link."""
    store = per_domain(domains, lost_every=10)
    target = Target("domain", "big.example")
    found: dict[str, Any] = {}
    for name, read in (
        ("profile", lambda: profile(store, target)),
        ("history", lambda: history(store, target)),
        ("spans", lambda: list(store.domain_spans(target, 86400))),
    ):
        with Examined(store._client) as examined:
            read()
        for collection in ("links", "figures"):
            reads = [r for r in examined.reads if r.collection == collection]
            found[f"{name} {collection}"] = (len(reads), sum(r.docs for r in reads))
    return found


def test_a_domain_summary_and_history_read_figures_not_edges() -> None:
    """The summary's counts read the same edges at 5x the referring domains; its TLD split, the weekly
    new and lost referring domains and the daily levels of referring domains read one figure a
    referring domain and the edges only of those that lost a link; the weekly new and lost links read
    one figure a day with activity (the edges are a day apart: two days) and the domain's edge count."""
    small, big = history_cost(100), history_cost(500)
    assert small["profile links"] == big["profile links"]
    for domains, cost in ((100, small), (500, big)):
        assert cost["profile figures"][1] <= domains + 60  # the ref_domain figures, a few tops
        assert cost["history links"] == (0, 0)
        assert cost["history figures"] == (3, domains + 3)  # and a new day, a lost day, the edge count
        assert cost["spans links"] == (1, 3 * domains // 10)  # the edges of the lossy domains
        assert cost["spans figures"] == (1, domains)


def test_a_domain_history_costs_its_days_not_its_edges() -> None:
    """Five times the edges over the same days from the same referring domains: the weekly history
    examines the same figure documents, and no edge."""

    def cost(sources: int) -> tuple[int, int, int]:
        store = MongoStore("mongodb://standin/backlinks", client=strict_client())
        docs = []
        for i in range(sources):
            page = Page(
                f"http://s{i}.site{i % 20}.org/", [Link(f"http://big.example/p{j}", "text") for j in range(4)]
            )
            seen = bson_date(T0 + timedelta(days=10 * i / sources))  # over ten days
            for edge in page_edges(page, False):
                lost = seen + timedelta(days=3) if i % 5 == 0 else None
                docs.append({"_id": edge.edge_id, **document_for(edge, seen), "lost_at": lost})
        store._links.insert_many(docs)
        store.rebuild_figures("big.example")
        with Examined(store._client) as examined:
            weeks = history(store, Target("domain", "big.example"))
        assert sum(w["new_backlinks"] for w in weeks) == 4 * sources
        assert sum(w["lost_backlinks"] for w in weeks) == 4 * sources // 5
        assert not [r for r in examined.reads if r.collection == "links"]
        return (len(examined.reads), *examined.total())

    small, big = cost(100), cost(500)
    assert small == big
    assert small[2] <= 20 + 10 + 10 + 1  # the referring domains, the new days, the lost days, the edges


def test_pages_to_recrawl_reads_its_limit_in_index_order(store: MongoStore) -> None:
    with Examined(store._client) as examined:
        assert len(list(store.pages_to_recrawl(limit=10))) == 10
    (read,) = examined.reads
    assert (read.index, read.keys, read.blocking_sort) == ("by_recrawl_order", 10, False)


def summary_cost(store: MongoStore) -> tuple[int, int, int]:
    """Reads, keys and documents a summary of big.example examines, its windows from midnights before
    every edge: each counts every edge, from the day figures."""
    midnight = int(T0.timestamp()) // DAY * DAY
    with Examined(store._client) as examined:
        tally = store.tally(
            Target("domain", "big.example"),
            include_lost=False,
            since=[midnight, midnight - 7 * DAY],
            top=10,
        )
    assert tally.backlinks > 0 and [new for new, _ in tally.new] == [tally.backlinks] * 2
    keys, docs = examined.total()
    return len(examined.reads), keys, docs


def test_a_domain_summary_costs_the_same_at_five_times_the_edges(store: MongoStore) -> None:
    """The same reads, keys and documents at 1,200 and 6,000 edges, but for the day figure of each day
    the bigger spans more: its figures (the windows' referring domains among them, 50 a window), two
    edges, never the window's edges."""
    bigger = filled(1500)
    (reads, keys, docs), (reads5, keys5, docs5) = summary_cost(store), summary_cost(bigger)

    def days(s: MongoStore) -> int:
        return int(s._db[FIGURES].count_documents({"t": "big.example", "d": NEW_DAY}))

    more = days(bigger) - days(store)
    assert (reads5, keys5 - more, docs5 - more) == (reads, keys, docs)
    assert keys < 150
