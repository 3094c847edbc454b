"""The link index contract, run against every backend."""

from __future__ import annotations

import os
import tracemalloc
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from backlinkspider.extract import Link, Page
from backlinkspider.index import (
    BadTarget,
    CrawledPage,
    Edge,
    IndexUnavailable,
    Target,
    open_index,
    parse_target,
)
from backlinkspider.pipelines import page_edges

T0 = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)


REAL_MONGO = os.environ.get("BACKLINKS_TEST_MONGO_URI")
BACKENDS = ["sqlite", "mongo-standin"] + (["mongo-real"] if REAL_MONGO else [])


def mongo_uri(base: str, database: str) -> str:
    """``base`` (a server URI with no database) with ``database`` as its path."""
    head, _, query = base.partition("?")
    return f"{head.rstrip('/')}/{database}" + (f"?{query}" if query else "")


@pytest.fixture(params=BACKENDS)
def index(request, tmp_path):
    """Every backend, fresh. ``mongo-real`` runs when BACKLINKS_TEST_MONGO_URI names a server."""
    if request.param == "sqlite":
        idx = open_index(f"sqlite:///{tmp_path / 'links.db'}")
    elif request.param == "mongo-standin":
        from backlinkspider.index.mongo import MongoIndex
        from mongo_standin import strict_client

        idx = MongoIndex("mongodb://standin/backlinks", client=strict_client())
    else:
        idx = open_index(mongo_uri(REAL_MONGO, f"backlinks_test_{uuid.uuid4().hex[:12]}"))
        request.addfinalizer(lambda: idx._client.drop_database(idx._links.database.name))
    yield idx
    idx.close()


def crawled(url: str, links: list[Link], when: datetime = T0) -> CrawledPage:
    return CrawledPage(url, when, page_edges(Page(url, links), keep_internal=False))


PAGES = [  # the second page is crawled a minute after the first: "oldest first" is well defined
    crawled("http://blog.a.com/1", [
        Link("http://www.target.co.uk/x", "text", "Target X"),
        Link("http://shop.target.co.uk/", "image", "logo", nofollow=True),
        Link("http://blog.a.com/internal", "text", "not stored"),
    ]),
    crawled("http://b.org/p", [
        Link("http://www.target.co.uk/x", "text", "X again", ugc=True),
        Link("http://www.target.co.uk/x", "canonical"),
        Link("http://other.net/", "redirect"),
    ], T0 + timedelta(minutes=1)),
]


def test_write_then_export_round_trips_every_field(index):
    assert index.write(PAGES) == 5
    rows = list(index.export())
    assert next(r for r in rows if r["anchor_text"] == "Target X") == {
        "source_url": "http://blog.a.com/1",
        "target_url": "http://www.target.co.uk/x",
        "source_domain": "a.com",
        "target_domain": "target.co.uk",
        "link_type": "text",
        "anchor_text": "Target X",
        "nofollow": False,
        "ugc": False,
        "sponsored": False,
        "first_seen": "2026-01-02T03:04:05Z",
        "last_seen": "2026-01-02T03:04:05Z",
    }
    assert sorted((r["source_url"], r["target_url"], r["link_type"]) for r in rows) == [
        ("http://b.org/p", "http://other.net/", "redirect"),
        ("http://b.org/p", "http://www.target.co.uk/x", "canonical"),
        ("http://b.org/p", "http://www.target.co.uk/x", "text"),
        ("http://blog.a.com/1", "http://shop.target.co.uk/", "image"),
        ("http://blog.a.com/1", "http://www.target.co.uk/x", "text"),
    ]
    assert index.count() == 5


def test_rewrite_is_idempotent_keeps_first_seen_and_moves_last_seen(index):
    index.write(PAGES)
    later = T0 + timedelta(days=3)
    changed = crawled("http://blog.a.com/1", [Link("http://www.target.co.uk/x", "text", "New anchor", sponsored=True)],
                      later)
    index.write([changed])
    index.write([changed])
    assert index.count() == 5
    row = next(r for r in index.export() if r["source_url"] == "http://blog.a.com/1" and r["link_type"] == "text")
    assert (row["first_seen"], row["last_seen"]) == ("2026-01-02T03:04:05Z", "2026-01-05T03:04:05Z")
    assert (row["anchor_text"], row["sponsored"]) == ("New anchor", True)
    # An older fetch written late never moves last_seen back.
    index.write([crawled("http://blog.a.com/1", [Link("http://www.target.co.uk/x", "text", "old")], T0)])
    row = next(r for r in index.export() if r["source_url"] == "http://blog.a.com/1" and r["link_type"] == "text")
    assert row["last_seen"] == "2026-01-05T03:04:05Z"


def test_query_by_scope(index):
    index.write(PAGES)
    url = list(index.query(Target("url", "http://www.target.co.uk/x")))
    host = list(index.query(Target("host", "shop.target.co.uk")))
    domain = list(index.query(Target("domain", "target.co.uk")))
    assert [r["source_url"] for r in url] == ["http://blog.a.com/1", "http://b.org/p", "http://b.org/p"]
    assert {r["link_type"] for r in url[1:]} == {"text", "canonical"}
    assert [r["target_url"] for r in host] == ["http://shop.target.co.uk/"]
    assert len(domain) == 4
    assert list(index.query(Target("domain", "nobody.com"))) == []


def test_query_filters(index):
    index.write(PAGES)
    domain = Target("domain", "target.co.uk")
    follow = list(index.query(domain, follow_only=True))
    assert [(r["source_url"], r["link_type"]) for r in follow] == [
        ("http://blog.a.com/1", "text"), ("http://b.org/p", "canonical")
    ]
    assert [r["link_type"] for r in index.query(domain, link_type="image")] == ["image"]
    assert len(list(index.query(domain, limit=2))) == 2


def test_parse_target():
    assert parse_target("https://WWW.Target.co.uk/x#y") == Target("url", "https://www.target.co.uk/x")
    assert parse_target("shop.target.co.uk") == Target("domain", "target.co.uk")
    assert parse_target("shop.target.co.uk", "host") == Target("host", "shop.target.co.uk")
    assert parse_target("http://shop.target.co.uk/a", "domain") == Target("domain", "target.co.uk")
    assert parse_target("Bücher.de") == Target("domain", "xn--bcher-kva.de")
    for bad in ("", "not a host", "http://", "ftp://x.org/"):
        with pytest.raises(BadTarget):
            parse_target(bad)
    with pytest.raises(BadTarget):
        parse_target("x.org", "planet")


def test_export_streams_in_constant_memory(index, request):
    if "standin" in request.node.callspec.id:
        pytest.skip("the stand-in keeps its data in this process: this would measure the stand-in")
    many = [crawled(f"http://s{i}.example.com/", [Link(f"http://t.org/{j}", "text", "x" * 40) for j in range(50)])
            for i in range(2000)]
    index.write(many)
    tracemalloc.start()
    n = sum(1 for _ in index.export())
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert n == 100_000
    assert peak < 5_000_000  # the 100k rows would take ~60 MB as a list


def test_a_failed_batch_changes_nothing(tmp_path):
    idx = open_index(f"sqlite:///{tmp_path / 'links.db'}")
    idx.write(PAGES)
    bad = Edge("http://x.org/", "http://y.org/", "text", None, False, False, False,  # type: ignore[arg-type]
               "x.org", "x.org", "y.org", "y.org")
    good = page_edges(Page("http://z.org/", [Link("http://y.org/", "text", "ok")]), False)
    with pytest.raises(IndexUnavailable):
        idx.write([CrawledPage("http://x.org/", T0, (*good, bad))])
    assert idx.count() == 5
    idx.close()


def test_opening_a_missing_index_for_reading_fails_clearly(tmp_path):
    with pytest.raises(IndexUnavailable, match="no index at"):
        open_index(f"sqlite:///{tmp_path / 'none.db'}", create=False)
    for uri in ("backlinks.db", "sqlite://", "postgres://x/y"):
        with pytest.raises(IndexUnavailable):
            open_index(uri)
    with pytest.raises(IndexUnavailable, match="cannot open"):
        open_index(f"sqlite:///{tmp_path}")  # a directory
