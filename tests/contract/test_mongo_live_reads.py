"""MongoDB's read path on a real server (BACKLINKS_TEST_MONGO_URI; skipped without one), measured by
``explain`` of the very commands the store sends (``mongo_explain``): page 2 of a cursor walk examines
about a page of keys at every scope and sort, ``pages_to_recrawl`` and every sort have no blocking SORT
stage, and the summary of a domain with 1M edges finishes within its time limit reading a bounded
number of keys. Each test works in a fresh database, dropped afterwards."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pymongo
import pytest
from mongo_explain import Captured, explained

from backlinkspider.crawl.items import page_edges
from backlinkspider.index.mongo import MongoStore
from backlinkspider.index.mongo.documents import bson_date, document_for
from backlinkspider.query.listing import backlinks, decode_cursor
from backlinkspider.records import EDGE_SORTS, CrawledPage, Edge, Filters, Target
from backlinkspider.standards.extract import Link, Page

URI = os.environ.get("BACKLINKS_TEST_MONGO_URI")
pytestmark = pytest.mark.skipif(not URI, reason="needs a real server: set BACKLINKS_TEST_MONGO_URI")

T0 = datetime(2026, 1, 5, tzinfo=UTC)
LIMIT = 20
TARGETS = [
    Target("domain", "big.example"),
    Target("host", "www.big.example"),
    Target("url", "http://www.big.example/p0"),
]
SUMMARY_SECONDS = 5.0  # the summary's time limit: pymongo.timeout sets maxTimeMS on each command


@pytest.fixture
def live() -> Iterator[tuple[MongoStore, Captured]]:
    assert URI is not None
    head, _, query = URI.partition("?")
    database = f"backlinks_test_{uuid.uuid4().hex[:12]}"
    captured = Captured()
    client: Any = pymongo.MongoClient(URI, event_listeners=[captured])
    store = MongoStore(f"{head.rstrip('/')}/{database}" + (f"?{query}" if query else ""), client=client)
    yield store, captured
    client.drop_database(database)
    client.close()


def written(store: MongoStore, sources: int) -> None:
    """Through the write path: each page links to four pages of big.example, one a minute."""
    pages = []
    for i in range(sources):
        links = [
            Link(f"http://www.big.example/p{j}", "text", f"a{i % 7}", nofollow=i % 10 == 0) for j in range(4)
        ]
        page = Page(f"http://s{i}.site{i % 50}.org/", links)
        pages.append(CrawledPage(page.url, T0 + timedelta(minutes=i), page_edges(page, False)))
    for k in range(0, len(pages), 500):
        store.write(pages[k : k + 500])


def measured(captured: Captured, client: Any, read: Any) -> list[Any]:
    captured.commands.clear()
    captured.on = True
    try:
        read()
    finally:
        captured.on = False
    return [explained(client, database, command) for database, command in captured.commands]


@pytest.mark.parametrize("target", TARGETS, ids=lambda t: t.scope)
@pytest.mark.parametrize("sort", EDGE_SORTS)
def test_page_two_examines_about_a_page_and_never_sorts(live: Any, target: Target, sort: str) -> None:
    store, captured = live
    written(store, 1500)
    first = list(backlinks(store, target, Filters(status="all"), sort=sort, limit=LIMIT))  # type: ignore[arg-type]

    def second() -> None:
        list(store.edges(target, Filters(status="all"), sort=sort, after=_after(first, sort), limit=LIMIT))  # type: ignore[arg-type]

    (plan,) = measured(captured, store._client, second)
    assert not plan.blocking_sort, plan.plan
    assert LIMIT <= plan.keys <= 2 * LIMIT + 1, plan


def _after(rows: list[Any], sort: str) -> Any:
    """The (sort value, edge_id) of the last row shown, as the listing's cursor holds it."""
    return decode_cursor(rows[-1]["_cursor"], sort)  # type: ignore[arg-type]


def test_pages_to_recrawl_never_sorts(live: Any) -> None:
    store, captured = live
    written(store, 300)
    (plan,) = measured(captured, store._client, lambda: list(store.pages_to_recrawl(limit=10)))
    assert not plan.blocking_sort and plan.keys == 10, plan


def test_a_summary_of_a_million_edges_reads_its_figures_within_its_time_limit(live: Any) -> None:
    store, captured = live
    batch = []
    for i in range(1_000_000):
        edge = Edge(
            f"http://s{i // 40}.org/p",
            f"http://www.big.example/t{i % 40}",
            "text",
            f"a{i % 300}",
            False,
            False,
            False,
            f"s{i // 40}.org",
            f"s{i // 40}.org",
            "www.big.example",
            "big.example",
        )
        batch.append({"_id": edge.edge_id, **document_for(edge, bson_date(T0 + timedelta(seconds=i)))})
        if len(batch) == 10_000:
            store._links.insert_many(batch, ordered=False)
            batch = []
    assert store.rebuild_figures("big.example") == 1_000_000
    end = int((T0 + timedelta(days=60)).timestamp())

    def summary() -> None:
        with pymongo.timeout(SUMMARY_SECONDS):
            tally = store.tally(
                Target("domain", "big.example"),
                include_lost=False,
                since=[end - 7 * 86400, end - 30 * 86400],
                top=10,
            )
        assert tally.backlinks == 1_000_000 and tally.referring_pages == 25_000

    plans = measured(captured, store._client, summary)
    assert sum(p.keys + p.docs for p in plans) < 1000, plans
    assert not any(p.blocking_sort for p in plans)
