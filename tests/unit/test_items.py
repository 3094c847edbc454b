"""``crawl.items.crawled_page``: the one way a page item, crawled or archived, becomes what the index
writes, with the capture's date, provenance and server address."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from backlinkspider.archives import ArchivedPage
from backlinkspider.crawl.items import crawled_page, page_edges
from backlinkspider.records import CrawledPage
from backlinkspider.standards.extract import Link, Page

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
CAPTURED = datetime(2025, 10, 7, 8, 9, 10, tzinfo=UTC)
LINKS = [Link("http://b.org/x", "text", "x", nofollow=True), Link("http://a.org/in", "text", "in")]


def test_a_crawled_page_is_seen_now_from_the_crawl():
    page = Page("http://a.org/", LINKS, ip_address="192.0.2.7")
    assert crawled_page(page, False, NOW) == CrawledPage(
        "http://a.org/", NOW, page_edges(page, False), ip_address="192.0.2.7"
    )
    assert crawled_page(page, False, NOW).provenance == "crawl"
    assert len(crawled_page(page, True, NOW).edges) == 2  # keep_internal passes on to page_edges


def test_an_archived_page_is_seen_at_its_capture_from_its_archive():
    page = ArchivedPage(
        url="http://a.org/",
        links=LINKS,
        captured_at=CAPTURED,
        ip_address="2001:db8::1",
        archive="CC-MAIN-2025-43",
    )
    got = crawled_page(page, False, NOW)
    assert (got.seen_at, got.provenance, got.ip_address) == (CAPTURED, "CC-MAIN-2025-43", "2001:db8::1")
    assert [e.target_url for e in got.edges] == ["http://b.org/x"]
    assert got.edges[0].nofollow


def test_a_failed_archived_page_keeps_its_failure_and_capture():
    page = ArchivedPage(
        url="http://a.org/gone", failed=True, status=404, captured_at=CAPTURED, ip_address=None, archive="x"
    )
    got = crawled_page(page, False, NOW)
    assert (got.failed, got.failure, got.seen_at, got.edges) == (True, 404, CAPTURED, ())


@pytest.mark.parametrize(
    ("given", "kept"),
    [
        ("2001:DB8:0:0::0001", "2001:db8::1"),
        (" 192.0.2.1 ", "192.0.2.1"),
        ("not an address", None),
        (None, None),
    ],
)
def test_a_dict_item_s_address_is_kept_in_canonical_spelling(given, kept):
    got = crawled_page({"url": "http://a.org/", "links": [], "ip_address": given}, False, NOW)
    assert got.ip_address == kept


def test_a_naive_capture_date_is_utc():
    item = {"url": "http://a.org/", "captured_at": CAPTURED.replace(tzinfo=None) + timedelta(seconds=1)}
    assert crawled_page(item, False, NOW).seen_at == CAPTURED + timedelta(seconds=1)


def test_an_item_without_a_target_url_raises():
    with pytest.raises(ValueError, match="no target_url"):
        crawled_page({"url": "http://a.org/", "links": [{"anchor_text": "x"}]}, False, NOW)
