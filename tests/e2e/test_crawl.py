"""End to end: crawl the synthetic web with the real CLI and compare the index with the ground truth."""

from __future__ import annotations

import json
import re
import sqlite3
import subprocess
import sys
import time

from helpers import CALENDAR_BUDGET, FAST, REPO, SUPPORT, edge_key, truth
from synthweb import CALENDAR_HOST, HUB

ISO = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ")


def test_crawl_indexes_exactly_the_ground_truth(web, crawl):
    _, rows = crawl()
    got = [edge_key(r) for r in rows]
    assert len(got) == len(set(got)), "an edge was stored twice"
    assert set(got) == truth(web)
    assert all(ISO.fullmatch(r["first_seen"]) and ISO.fullmatch(r["last_seen"]) for r in rows)
    assert {tuple(r) for r in rows} == {
        (
            "source_url",
            "target_url",
            "source_domain",
            "target_domain",
            "link_type",
            "anchor_text",
            "nofollow",
            "ugc",
            "sponsored",
            "first_seen",
            "last_seen",
            "lost_at",
            "provenance",
        )
    }
    assert {r["provenance"] for r in rows} == {"crawl"}

    fetched = web.requests_per_url()
    # Pages that differ only in URL spelling are fetched once; so is everything else.
    assert [url for url, n in fetched.items() if n > 1] == []
    # robots.txt is obeyed: disallowed pages are never fetched (links to them are indexed, above).
    assert not [url for url in fetched if "/private/" in url]
    # The calendar trap ends at the per-host budget; the relative-link trap at the segment-repeat guard.
    assert sum(1 for url in fetched if url.startswith(CALENDAR_HOST + "/cal/")) == CALENDAR_BUDGET
    assert "blog.techfeed.net/tag/tag/" in fetched
    assert "blog.techfeed.net/tag/tag/tag/" not in fetched
    # URLs are requested as browsers spell them: a windows-1252 page's query, a raw Location byte.
    assert {"bob.github.io/search?q=caf%E9", "blog.techfeed.net/caf%E9"} <= set(fetched)
    # Links into images and PDFs are indexed but not fetched; a large non-HTML body is not downloaded.
    assert "docs.blueleaf.co.uk/report.pdf" not in fetched
    assert web.aborted == ["blog.techfeed.net/video?id=1"]


def test_keep_internal_stores_internal_links_too(web, crawl):
    _, rows = crawl("-s", "BACKLINKS_KEEP_INTERNAL=true")
    assert {edge_key(r) for r in rows} == truth(web, keep_internal=True)


def test_recrawl_is_idempotent_and_moves_last_seen(web, crawl, tmp_path):
    db = tmp_path / "again.db"
    _, first = crawl(db=db)
    time.sleep(1.1)  # timestamps have one-second resolution
    _, second = crawl(db=db)
    assert len(second) == len(first)
    before = {edge_key(r): r for r in first}
    for r in second:
        old = before[edge_key(r)]
        assert r["first_seen"] == old["first_seen"]
        assert r["last_seen"] > old["last_seen"]


def test_max_depth_zero_crawls_the_seeds_only(web, crawl):
    _, rows = crawl("--max-depth", "0")
    assert {r["source_url"] for r in rows} == {HUB}
    assert set(web.requests_per_url()) == {"www.hub-directory.com/robots.txt", "www.hub-directory.com/"}


def test_max_depth_one_stops_after_one_hop(web, crawl):
    _, rows = crawl("--max-depth", "1")
    hub_targets = {e.target_url for e in web.expected() if e.source_url == HUB}
    assert {r["source_url"] for r in rows} <= {HUB} | hub_targets
    assert {r["source_url"] for r in rows} > {HUB}


def test_scope_seeds_stays_on_the_seed_domains(web, crawl):
    _, rows = crawl("-s", "BACKLINKS_SCOPE=seeds", seeds=("http://blog.techfeed.net/",))
    assert {r["source_domain"] for r in rows} == {"techfeed.net"}
    expected = {k for k in truth(web) if k[7] == "techfeed.net"}
    assert {edge_key(r) for r in rows} == expected


def test_follow_nofollow_off_does_not_fetch_nofollow_targets(web, crawl):
    crawl("-s", "BACKLINKS_FOLLOW_NOFOLLOW=false", seeds=("http://news.example-times.com/rel",))
    fetched = set(web.requests_per_url())
    assert "www.blueleaf.co.uk/rel/6" in fetched  # no rel at all
    assert "www.blueleaf.co.uk/rel/4" in fetched  # noopener noreferrer
    assert "www.blueleaf.co.uk/rel/1" in fetched  # ugc alone is followed
    assert "www.blueleaf.co.uk/rel/3" not in fetched  # nofollow ugc sponsored
    assert "www.blueleaf.co.uk/rel/5" not in fetched  # external NOFOLLOW


def test_max_pages_stops_the_crawl(web, crawl):
    _, _rows = crawl("--max-pages", "5", "-s", "CONCURRENT_REQUESTS=1")
    pages = {url for url in web.requests_per_url() if not url.endswith("/robots.txt")}
    assert 5 <= len(pages) <= 8  # pages already in flight when the limit is reached finish


def test_scrapy_crawl_command_gives_the_same_index(web, proxy_env, tmp_path):
    """The documented `scrapy crawl backlinks` runs the same spider and pipeline as `backlinks crawl`."""
    db = tmp_path / "scrapy.db"
    res = subprocess.run(
        [
            sys.executable,
            "-m",
            "scrapy",
            "crawl",
            "backlinks",
            "-a",
            f"seeds={HUB}",
            "-s",
            f"BACKLINKS_INDEX=sqlite:///{db}",
            "-s",
            f"BACKLINKS_MAX_PAGES_PER_HOST={CALENDAR_BUDGET}",
            "-s",
            "LOG_LEVEL=WARNING",
            *FAST,
        ],
        capture_output=True,
        text=True,
        env=proxy_env,
        cwd=REPO,
        timeout=300,
    )
    assert res.returncode == 0, res.stderr
    with sqlite3.connect(db) as conn:
        rows = conn.execute(
            "SELECT source_url, target_url, link_type, anchor_text, nofollow, ugc, sponsored,"
            " source_domain, target_domain FROM links"
        ).fetchall()
    assert {(*r[:4], bool(r[4]), bool(r[5]), bool(r[6]), *r[7:]) for r in rows} == truth(web)


def test_user_agent_names_the_contact_url(web, crawl):
    crawl("--max-depth", "0", "-s", "BACKLINKS_CONTACT_URL=https://ops.example.org/crawler")
    agents = {ua for *_, ua in web.log}
    assert agents and all(
        ua.startswith("backlinkspider/") and "+https://ops.example.org/crawler" in ua for ua in agents
    )


def test_crawl_into_mongodb_gives_the_same_export_as_sqlite(web, crawl, proxy_env):
    """`BACKLINKS_INDEX=mongodb://...` (here the in-process stand-in, tests/support/mongo_standin.py): the same
    rows, in the same order, as the SQLite crawl."""
    _, sqlite_rows = crawl()
    uri = "mongodb://standin/backlinks"
    res = subprocess.run(
        [
            sys.executable,
            str(SUPPORT / "mongo_standin.py"),
            "crawl",
            HUB,
            *FAST,
            "-s",
            f"BACKLINKS_MAX_PAGES_PER_HOST={CALENDAR_BUDGET}",
            "--",
            "query",
            "bob.github.io",
            "--format",
            "jsonl",
            "--limit",
            "0",
            "--",
            "export",
            "--format",
            "jsonl",
        ],
        capture_output=True,
        text=True,
        env={**proxy_env, "BACKLINKS_INDEX": uri},
        timeout=300,
    )
    assert res.returncode == 0, res.stderr
    lines = [json.loads(line) for line in res.stdout.splitlines()]
    bob = [r for r in sqlite_rows if r["target_domain"] == "bob.github.io"]
    mongo_query, mongo_export = lines[: len(bob)], lines[len(bob) :]

    def strip(rows):
        return [{k: v for k, v in r.items() if k not in ("first_seen", "last_seen")} for r in rows]

    assert strip(mongo_export) == strip(sqlite_rows)
    assert sorted(map(edge_key, mongo_query)) == sorted(map(edge_key, bob))
    assert all(ISO.fullmatch(r["first_seen"]) for r in mongo_export)


def test_robots_txt_network_errors_are_logged_on_one_line():
    import logging

    from scrapy.exceptions import CannotResolveHostError

    from backlinkspider.crawl.downloadermiddlewares.robotstxt import NetworkErrorsOnOneLine

    filt = NetworkErrorsOnOneLine((CannotResolveHostError,))

    def record(exc):
        try:
            raise exc
        except Exception:
            return logging.LogRecord(
                "scrapy", logging.ERROR, __file__, 1, "Error downloading", (), sys.exc_info()
            )

    dns = record(CannotResolveHostError("DNS lookup failed"))
    assert filt.filter(dns) and dns.exc_info is None and dns.levelname == "WARNING"
    bug = record(ValueError("a real bug"))
    assert filt.filter(bug) and bug.exc_info is not None and bug.levelname == "ERROR"
