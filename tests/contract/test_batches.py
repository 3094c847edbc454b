"""``crawl.batches.BatchWriter`` (the write policy ``backlinks ingest`` runs in place) against a store that
fails as a failing-over replica set does (the MongoDB stand-in with ``Flaky``), and rows it refuses."""

from __future__ import annotations

from mongo_standin import Flaky, strict_client
from test_index import T0

from backlinkspider.crawl.batches import BatchWriter, WritesFailed
from backlinkspider.crawl.items import crawled_page
from backlinkspider.index.mongo import MongoStore
from backlinkspider.standards.extract import Link, Page


def store() -> MongoStore:
    # retry_seconds: the store's own retries, shortened, so that failures reach the writer.
    return MongoStore("mongodb://standin/backlinks", client=strict_client(), retry_seconds=0.1)


def page(url: str, *targets: str) -> object:
    return crawled_page(Page(url, [Link(t, "text", "x") for t in targets]), False, T0)


def test_failed_writes_are_retried_with_backoff_and_nothing_is_lost():
    index = store()
    flaky = Flaky(index._links, fail_before=set(range(1, 40)), fail_after=set())
    waits: list[float] = []
    writer = BatchWriter(index, 2, 60.0, 3600.0, 3, sleep=waits.append)
    writer.add(page("http://a.org/", "http://b.org/1", "http://b.org/2"))
    assert index.count() == 2 and writer.written == 1 and writer.not_indexed == 0
    assert flaky.calls >= 40
    assert waits[:3] == [0.5, 1.0, 2.0] and max(waits) <= 30.0


def test_writes_failing_past_the_retry_time_are_given_up_and_counted():
    index = store()
    Flaky(index._links, fail_before=set(range(1, 10_000)), fail_after=set())
    writer = BatchWriter(index, 2, 60.0, 0.0, 3, sleep=lambda _: None)
    try:
        writer.add(page("http://a.org/", "http://b.org/1", "http://b.org/2"))
    except WritesFailed as exc:
        assert "index writes failed for 0 s" in str(exc)
    else:
        raise AssertionError("no WritesFailed")
    writer.add(page("http://c.org/", "http://b.org/3"))
    assert (writer.not_indexed, writer.written, index.count()) == (2, 0, 0)


def test_a_refused_page_is_set_aside_and_the_rest_written(tmp_path):
    from backlinkspider.index import open_index

    index = open_index(f"sqlite:///{tmp_path / 'x.db'}")
    writer = BatchWriter(index, 100, 60.0, 60.0, 3)
    for url, anchor in [
        ("http://a.org/", "fine"),
        ("http://bad.org/", "lone \udcff"),
        ("http://c.org/", "ok"),
    ]:
        writer.add(crawled_page(Page(url, [Link(f"http://t.org/{url[7]}", "text", anchor)]), False, T0))
    writer.flush()
    assert (writer.written, writer.not_indexed, index.count()) == (2, 1, 2)
