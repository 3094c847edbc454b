"""Captures written out of order (a web archive ingested after a crawl), their provenance and the
referring pages' server addresses, on every backend (``BACKENDS``, tests/contract/test_index.py).

Each test writes a few captures of one page with hand-picked dates and checks every field of the answer;
the random crawl of test_store_contract.py replays the same rules against a model.
"""

from __future__ import annotations

import random
import sqlite3
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest
from test_index import T0, index  # noqa: F401  (the fixture: every backend)

import backlinkspider.query as q
from backlinkspider.crawl.items import page_edges
from backlinkspider.index import open_index
from backlinkspider.records import Bucketing, CrawledPage, EdgeRow, Filters, Link, Page, PageState, Target

URL = "http://blog.a.com/p"
X = "http://www.t.com/x"
Y = "http://www.t.com/y"
T1, T2, T3 = T0 + timedelta(days=10), T0 + timedelta(days=20), T0 + timedelta(days=30)
ARCHIVE = "CC-MAIN-2025-43"


def capture(when, links, *, provenance="crawl", ip=None, failed=False) -> CrawledPage:
    return CrawledPage(
        URL, when, page_edges(Page(URL, links), False), failed, provenance=provenance, ip_address=ip
    )


def rows(store) -> dict[str, EdgeRow]:
    return {r.target_url: r for r in store.export()}


def ts(when) -> int:
    return int(when.timestamp())


def test_an_older_capture_lowers_first_seen_and_reverts_nothing_else(index):  # noqa: F811
    index.write([capture(T2, [Link(X, "text", "new", nofollow=True)], ip="192.0.2.1")])
    old = capture(T1, [Link(X, "text", "old"), Link(Y, "text", "gone")], provenance=ARCHIVE, ip="192.0.2.9")
    index.write([old])
    got = rows(index)
    assert got[X]._replace(edge_id=b"") == EdgeRow(
        b"", URL, X, "a.com", "t.com", "text", "new", True, False, False, ts(T1), ts(T2), None, "crawl"
    )
    # Y: only the older capture saw it; the newer one did not, so it is lost at the newer one.
    assert (got[Y].first_seen, got[Y].last_seen, got[Y].lost_at, got[Y].provenance) == (
        ts(T1),
        ts(T1),
        ts(T2),
        ARCHIVE,
    )
    assert index.page_states([URL]) == {URL: PageState(URL, ts(T2), 0, None, "192.0.2.1")}
    tally = index.tally(Target("domain", "t.com"), include_lost=False, since=[], top=5)
    assert (tally.backlinks, tally.referring_ips, tally.referring_subnets) == (1, 1, 1)
    assert tally.first_seen == ts(T1)


def test_an_older_capture_marks_nothing_seen_later_lost(index):  # noqa: F811
    index.write([capture(T2, [Link(X, "text", "x")])])
    index.write([capture(T1, [], provenance=ARCHIVE)])
    assert rows(index)[X].lost_at is None and rows(index)[X].provenance == "crawl"


def test_a_newer_capture_without_the_link_marks_it_lost_and_one_with_it_takes_it_over(index):  # noqa: F811
    index.write([capture(T1, [Link(X, "text", "x"), Link(Y, "text", "y")])])
    index.write([capture(T3, [Link(Y, "text", "y2")], provenance=ARCHIVE, ip="2001:db8::1")])
    got = rows(index)
    assert (got[X].lost_at, got[X].provenance, got[X].last_seen) == (ts(T3), "crawl", ts(T1))
    assert (got[Y].lost_at, got[Y].provenance, got[Y].anchor_text) == (None, ARCHIVE, "y2")
    # A capture between the two written last: X's newest sighting (its anchor, provenance, address), but
    # X stays lost at T3; Y's sighting at T3 is newer, so Y keeps it.
    index.write(
        [capture(T2, [Link(X, "text", "mid"), Link(Y, "text", "mid")], provenance="CC-X", ip="192.0.2.5")]
    )
    got = rows(index)
    assert (got[X].lost_at, got[X].last_seen, got[X].anchor_text, got[X].provenance) == (
        ts(T3),
        ts(T2),
        "mid",
        "CC-X",
    )
    assert (got[Y].provenance, got[Y].anchor_text, got[Y].last_seen) == (ARCHIVE, "y2", ts(T3))
    assert index.page_states([URL])[URL].ip_address == "2001:db8::1"


def test_an_edge_only_an_old_capture_saw_is_lost_at_the_newest_successful_fetch(index):  # noqa: F811
    """Even when the page's newest fetch failed (its links are kept until it failed three times)."""
    index.write([capture(T1, [Link(X, "text", "x")])])
    index.write([capture(T2, [], failed=True)])
    index.write([capture(T0, [Link(X, "text", "x"), Link(Y, "text", "y")], provenance=ARCHIVE)])
    got = rows(index)
    assert (got[X].first_seen, got[X].lost_at) == (ts(T0), None)
    assert (got[Y].first_seen, got[Y].lost_at) == (ts(T0), ts(T1))


def test_provenance_filters_every_listing(index):  # noqa: F811
    index.write([capture(T1, [Link(X, "text", "x"), Link(Y, "text", "y")])])
    index.write([capture(T2, [Link(Y, "text", "y")], provenance=ARCHIVE)])
    target = Target("domain", "t.com")
    for provenance, status, expected in (
        ("crawl", "all", [X]),
        (ARCHIVE, "all", [Y]),
        (ARCHIVE, "lost", []),
        ("crawl", "lost", [X]),
        ("CC-MAIN-2000-01", "all", []),
        (None, "all", [X, Y]),
    ):
        filters = q.query_filters(provenance=provenance, status=status)
        listed = [r["target_url"] for r in q.backlinks(index, target, filters)]
        assert sorted(listed) == expected, (provenance, status)
        provenances = sorted(r.provenance for r in index.edges(target, filters, sort="first_seen"))
        assert provenances == ([provenance] * len(expected) if provenance else [ARCHIVE, "crawl"])
    assert [r["provenance"] for r in q.export(index)] == [r.provenance for r in index.export()]
    assert q.query_filters(provenance="") == Filters()


ADDRESSES = [
    ("http://a.org/1", "192.0.2.1"),
    ("http://a.org/2", "192.0.2.1"),  # the same address
    ("http://b.org/", "192.0.2.200"),  # the same /24
    ("http://c.org/", "198.51.100.3"),
    ("http://d.org/", "2001:db8:1:2::1"),
    ("http://e.org/", "2001:db8:1:ffff::1"),  # the same /48
    ("http://f.org/", "2001:db8:2::1"),
    ("http://g.org/", None),  # through a proxy: counts in neither
    ("http://h.org/", "203.0.113.7"),  # its link is lost: not counted live
]


@pytest.mark.parametrize("target", [Target("domain", "t.com"), Target("url", X)])
def test_referring_ips_and_subnets_count_live_edges_with_an_address(index, target):  # noqa: F811
    pages = [
        CrawledPage(url, T1, page_edges(Page(url, [Link(X, "text", "x")]), False), ip_address=ip)
        for url, ip in ADDRESSES
    ]
    index.write(pages)
    index.write([CrawledPage("http://h.org/", T2, (), ip_address="203.0.113.7")])
    live = index.tally(target, include_lost=False, since=[], top=3)
    every = index.tally(target, include_lost=True, since=[], top=3)
    assert (live.backlinks, live.referring_ips, live.referring_subnets) == (8, 6, 4)
    assert (every.backlinks, every.referring_ips, every.referring_subnets) == (9, 7, 5)
    profile = q.profile(index, target)
    assert (profile["referring_ips"], profile["referring_subnets"]) == (6, 4)
    # The server moved: the page's newest capture says where it is now.
    moved = CrawledPage("http://c.org/", T2, page_edges(Page("http://c.org/", [Link(X, "text")]), False))
    index.write([moved])
    tally = index.tally(target, include_lost=False, since=[], top=3)
    assert (tally.referring_ips, tally.referring_subnets) == (5, 3)


def test_an_index_made_before_provenance_and_addresses_gets_them(tmp_path):
    """A SQLite file with the previous version's tables and triggers: opened, its rows read as crawled,
    and new writes count addresses (the triggers were remade)."""
    path = tmp_path / "old.db"
    db = sqlite3.connect(path)
    db.executescript((Path(__file__).parent.parent / "support" / "index_before_provenance.sql").read_text())
    db.execute(
        "INSERT INTO links (edge_id, source_url, target_url, link_type, anchor_text, nofollow, ugc, sponsored,"
        " source_host, source_domain, target_host, target_domain, first_seen, last_seen)"
        " VALUES (x'00', 'http://old.org/', ?, 'text', 'old', 0, 0, 0, 'old.org', 'old.org', 'www.t.com',"
        " 't.com', ?, ?)",
        (X, ts(T0), ts(T0)),
    )
    db.execute("INSERT INTO pages VALUES ('http://old.org/', ?, 0, NULL)", (ts(T0),))
    db.commit()
    db.close()
    with open_index(f"sqlite:///{path}") as store:
        assert [r.provenance for r in store.export()] == ["crawl"]
        store.write([capture(T1, [Link(X, "text", "x")], provenance=ARCHIVE, ip="192.0.2.1")])
        tally = store.tally(Target("domain", "t.com"), include_lost=False, since=[], top=3)
        assert (tally.backlinks, tally.referring_ips, tally.referring_subnets) == (2, 1, 1)
        assert tally.referring_pages == 2  # the old edge's page: the old triggers counted it
        assert [r["provenance"] for r in q.backlinks(store, Target("domain", "t.com"))] == ["crawl", ARCHIVE]
        # The old page's newest fetch succeeded: an older capture's new edge is lost at it.
        old = CrawledPage(
            "http://old.org/",
            T0 - timedelta(days=1),
            page_edges(Page("http://old.org/", [Link(Y, "text")]), False),
        )
        store.write([old])
        assert rows(store)[Y].lost_at == ts(T0)
    with open_index(f"sqlite:///{path}") as again:  # migrated once: opening again changes nothing
        assert len(list(again.export())) == 3


def test_an_index_made_before_the_day_figures_counts_them_from_its_edges_once(tmp_path):
    """A SQLite file of the previous version (its triggers keep no day figures; user_version 0) holding
    live and lost links to two domains: opened, each domain's day figures are counted from its edges
    and its history is read from them; new writes keep them (the triggers were remade); opening it
    again counts nothing twice."""
    path = tmp_path / "old.db"
    db = sqlite3.connect(path)
    db.executescript((Path(__file__).parent.parent / "support" / "index_before_day_figures.sql").read_text())
    old = [  # (source page, target, first_seen, lost_at)
        (URL, X, T0, None),
        (URL, Y, T0 + timedelta(days=1), T1),
        ("http://c.org/", "http://u.com/", T1, T2),
    ]
    for source, target, first, lost in old:
        (e,) = page_edges(Page(source, [Link(target, "text", "old")]), False)
        db.execute(
            "INSERT INTO links (edge_id, source_url, target_url, link_type, anchor_text, nofollow, ugc,"
            " sponsored, source_host, source_domain, target_host, target_domain, first_seen, last_seen,"
            " lost_at) VALUES (?, ?, ?, 'text', 'old', 0, 0, 0, ?, ?, ?, ?, ?, ?, ?)",
            (
                e.edge_id,
                source,
                target,
                e.source_host,
                e.source_domain,
                e.target_host,
                e.target_domain,
                ts(first),
                ts(first),
                lost and ts(lost),
            ),
        )
    db.execute("INSERT INTO pages VALUES (?, ?, 0, NULL, NULL, ?)", (URL, ts(T1), ts(T1)))
    db.commit()
    db.close()
    day = Bucketing(86400)

    def days(store) -> list[tuple]:
        sql = "SELECT target_domain, dim, value, n_all FROM agg WHERE dim IN ('new_day', 'lost_day')"
        return sorted(store._db.execute(sql + " AND n_all > 0"))

    def d(when) -> str:
        return str(ts(when) // 86400)

    with open_index(f"sqlite:///{path}") as store:
        assert store._db.execute("PRAGMA user_version").fetchone() == (1,)
        assert days(store) == [
            ("t.com", "lost_day", d(T1), 1),
            ("t.com", "new_day", d(T0), 1),
            ("t.com", "new_day", d(T0 + timedelta(days=1)), 1),
            ("u.com", "lost_day", d(T2), 1),
            ("u.com", "new_day", d(T1), 1),
        ]
        t_com = Target("domain", "t.com")
        assert store.events(t_com, day).lost_links == {ts(T1) // 86400: 1}
        store.write([capture(T2, [Link(X, "text", "x"), Link(Y, "text", "y")])])  # Y found again
        store.write([capture(T0 - timedelta(days=1), [Link(X, "text", "x")], provenance=ARCHIVE)])
        migrated = days(store)
        assert [row for row in migrated if row[0] == "t.com"] == [
            ("t.com", "new_day", d(T0 - timedelta(days=1)), 1),  # X, seen a day earlier by the archive
            ("t.com", "new_day", d(T0 + timedelta(days=1)), 1),
        ]
        events = store.events(t_com, day)
        assert (events.new_links, events.lost_links) == ({ts(T0) // 86400 - 1: 1, ts(T0) // 86400 + 1: 1}, {})
    with open_index(f"sqlite:///{path}") as again:  # migrated once: opening again changes nothing
        assert days(again) == migrated


def test_a_referring_domain_lost_by_a_late_capture_is_lost_when_its_last_link_was(index):  # noqa: F811
    """The old capture's link is lost at T1, before the domain's other link (lost at T3): the domain was
    lost at T3, whatever the order the marks were written in."""
    other = "http://www.a.com/other"  # the same referring domain as URL
    index.write([CrawledPage(other, T0, page_edges(Page(other, [Link(X, "text")]), False))])
    index.write([CrawledPage(other, T3, ())])
    index.write([capture(T1, [])])
    index.write([capture(T0 - timedelta(days=1), [Link(Y, "text")], provenance=ARCHIVE)])
    assert sorted(r.lost_at for r in index.export()) == [ts(T1), ts(T3)]
    target = Target("domain", "t.com")
    tally = index.tally(target, include_lost=True, since=[ts(T2)], top=1)
    assert tally.lost == [(1, 1)]  # one link lost since T2, and the domain with it
    day = Bucketing(86400)
    events = index.events(target, day)
    assert events.lost_domains == {ts(T3) // 86400: 1}


@pytest.mark.parametrize("seed", range(6))
def test_captures_in_any_order_give_the_index_of_the_time_order(index, seed):  # noqa: F811
    """Twelve captures of a page (crawls and archives, links coming and going, anchors and flags
    changing, the server moving) written in a random order equal them written in time order: every edge's
    dates, look and provenance, which are live, the page's state, and the summary's counts. Only a lost
    mark may come later (the first fetch the index knows did not see the link)."""
    rng = random.Random(seed)
    paths = [f"/{i}" for i in range(6)]
    captures = []
    for k in range(12):
        links = [
            (path, rng.choice(["a", "b", "c"]), rng.random() < 0.3) for path in paths if rng.random() < 0.6
        ]
        provenance = rng.choice(["crawl", ARCHIVE, "CC-MAIN-2026-04"])
        ip = rng.choice([None, "192.0.2.1", "192.0.2.77", "2001:db8:5::1"])
        captures.append((T0 + timedelta(days=3 * k, hours=rng.randint(0, 23)), links, provenance, ip))

    def write(url: str, domain: str, order: list) -> None:
        for when, links, provenance, ip in order:
            edges = page_edges(
                Page(url, [Link(f"http://www.{domain}{p}", "text", a, nofollow=f) for p, a, f in links]),
                False,
            )
            index.write([CrawledPage(url, when, edges, provenance=provenance, ip_address=ip)])

    shuffled = captures[:]
    rng.shuffle(shuffled)
    write("http://a.org/", "t.com", captures)
    write("http://b.org/", "u.com", shuffled)

    def edges(domain: str) -> dict:
        return {
            r.target_url.split(domain)[1]: r
            for r in index.edges(Target("domain", domain), Filters(status="all"), sort="first_seen")
        }

    timely, late = edges("t.com"), edges("u.com")
    assert timely.keys() == late.keys() and len(timely) >= 4
    look = ("first_seen", "last_seen", "anchor_text", "nofollow", "provenance")
    for path, r in timely.items():
        other = late[path]
        assert [getattr(other, f) for f in look] == [getattr(r, f) for f in look], path
        assert (other.lost_at is None) == (r.lost_at is None), path
        assert r.lost_at is None or other.lost_at >= r.lost_at, path
    states = index.page_states(["http://a.org/", "http://b.org/"])
    assert replace(states["http://a.org/"], url="") == replace(states["http://b.org/"], url="")
    tallies = [
        index.tally(Target("domain", d), include_lost=False, since=[], top=3) for d in ("t.com", "u.com")
    ]
    for tally in tallies:  # the names differ (a.org, b.org; t.com, u.com): compare their counts
        assert len(tally.top_referring_domains) == 1
    unnamed = [replace(t, top_referring_domains=[], top_pages=[n for _, n in t.top_pages]) for t in tallies]
    assert unnamed[0] == unnamed[1]
