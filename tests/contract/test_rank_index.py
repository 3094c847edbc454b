"""The scores' index interface on every backend, staleness, and bad input to `backlinks rank`."""

from __future__ import annotations

import shutil
import subprocess
from datetime import timedelta

import pytest
from helpers import run_cli
from test_index import T0, crawled, index  # noqa: F401  (the fixture: every backend)

import backlinkspider.query as q
from backlinkspider.crawl.items import page_edges
from backlinkspider.index import IndexUnavailable, open_index
from backlinkspider.query import decode_cursor, encode_cursor
from backlinkspider.query import score_signals as summary_scores
from backlinkspider.records import QUERY_FIELDS, SCORE_FIELDS, CrawledPage, Filters, Link, Page, Target
from backlinkspider.scores import rank_index

PAGES = [
    crawled(
        "http://www.a.com/",
        [
            Link("http://b.org/1", "text", "b one"),
            Link("http://b.org/2", "image", "b two"),
            Link("http://www.a.com/about", "text", "internal: no edge"),
        ],
    ),
    crawled("http://b.org/1", [Link("http://a.com/", "text", "back to a")]),
    crawled(
        "http://blog.c.net/", [Link("http://b.org/", "text", "c to b"), Link("http://d.io/", "canonical")]
    ),
    crawled("http://d.io/", [Link("http://b.org/", "text", "paid", sponsored=True)]),  # no vote
    crawled("http://e.io/", [Link("http://b.org/", "text", "comment", ugc=True)]),
]


def test_domain_graph_is_grouped_in_the_store(index):  # noqa: F811
    index.write(PAGES)
    # Internal links kept (BACKLINKS_KEEP_INTERNAL): a domain linking only to itself is no node.
    own = Page(
        "http://www.self.net/", [Link("http://blog.self.net/", "text"), Link("http://www.a.com/x", "text")]
    )
    index.write([CrawledPage(own.url, T0, page_edges(own, keep_internal=True))])
    index.write(
        [
            CrawledPage(
                "http://alone.biz/",
                T0,
                page_edges(
                    Page("http://alone.biz/", [Link("http://alone.biz/x", "text")]), keep_internal=True
                ),
            )
        ]
    )
    assert list(index.domain_graph()) == [
        ("a.com", "b.org", 2),
        ("b.org", "a.com", 1),
        ("c.net", "b.org", 1),
        ("c.net", "d.io", 1),
        ("self.net", "a.com", 1),
    ]
    # e.io: only a ugc link; alone.biz: only a link to itself
    assert list(index.graph_domains()) == ["a.com", "b.org", "c.net", "d.io", "self.net"]


def test_scores_are_stored_and_read_back(index):  # noqa: F811
    index.write(PAGES)
    assert q.domains(index) == [] and index.scores_run() is None
    empty = summary_scores(index, Target("domain", "b.org"))
    assert (
        empty["authority"] is None and empty["authority_bands"] == [] and empty["scores_computed_at"] is None
    )
    assert [r["source_authority"] for r in q.backlinks(index, Target("domain", "b.org"))] == [None] * 5

    done = rank_index(index, ["a.com", "unknown.example"])
    assert done.scores.unknown_trusted == ["unknown.example"]
    rows = q.domains(index, limit=None)
    assert [r["domain"] for r in rows] == ["b.org", "a.com", "d.io", "c.net"]
    assert all(tuple(r) == SCORE_FIELDS for r in rows)
    b = rows[0]
    assert b["authority"] == 100 and b["referring_domains"] == 2 and b["reciprocal_domains"] == 1
    assert rows[-1]["authority"] == 0 and rows[-1]["linked_domains"] == 2
    assert q.domains(index, sort="trust", limit=1)[0]["domain"] in ("a.com", "b.org")
    assert q.domains(index, farm_only=True) == []
    assert q.domain_score(index, "b.org") == b and q.domain_score(index, "e.io") is None

    got = summary_scores(index, Target("host", "b.org"))
    assert (got["authority"], got["pagerank"], got["reciprocal_domains"], got["farm"]) == (
        100,
        b["pagerank"],
        1,
        False,
    )
    bands = {x["band"]: x["referring_domains"] for x in got["authority_bands"]}
    a_band = f"{int(rows[1]['authority'] // 10) * 10}-{int(rows[1]['authority'] // 10) * 10 + 10}"
    assert bands["0-10"] == 1 and bands[a_band] == 1 and sum(bands.values()) == 2
    assert got["scores_stale"] is False and got["scores_note"] is None

    queried = list(q.backlinks(index, Target("domain", "b.org")))
    assert all(set(QUERY_FIELDS) <= set(r) for r in queried)
    flags = {(r["source_domain"], r["reciprocal"], r["source_authority"]) for r in queried}
    assert flags == {
        ("a.com", True, rows[1]["authority"]),
        ("c.net", False, 0.0),
        ("d.io", False, rows[2]["authority"]),
        ("e.io", False, None),
    }

    # The index changes: the scores say how old they are.
    index.write([crawled("http://f.io/", [Link("http://b.org/", "text")], T0 + timedelta(days=1))])
    stale = summary_scores(index, "b.org")
    assert stale["scores_stale"] is True and "the index changed since" in stale["scores_note"]


def test_sort_by_authority_pages_with_a_cursor(index):  # noqa: F811
    many = [
        crawled(f"http://s{i}.com/", [Link("http://t.org/", "text"), Link(f"http://s{i + 1}.com/", "text")])
        for i in range(12)
    ]
    index.write(many)
    rank_index(index)
    target = Target("domain", "t.org")
    every = list(q.backlinks(index, target, sort="authority"))
    keys = [(-r["source_authority"], r["source_url"]) for r in every]
    assert len(every) == 12 and [k[0] for k in keys] == sorted(k[0] for k in keys)
    seen, cursor = [], None
    while True:
        page = list(q.backlinks(index, target, sort="authority", limit=5, cursor=cursor))
        if not page:
            break
        seen += [r["source_url"] for r in page]
        cursor = page[-1]["_cursor"]
    assert seen == [r["source_url"] for r in every]


def test_sort_by_authority_is_the_brute_force_order_for_every_filter(index):  # noqa: F811
    """Domains tie (the leaves s0..s5 share one authority), hold several links each, and one is written
    after the rank (no scores: last); every page walk, offset and filter gives the brute-force order."""
    pages = [
        crawled(
            f"http://s{i}.com/p{j}",
            [
                Link(f"http://t.org/{j}", "text", f"a{i}"),
                Link("http://www.t.org/", "image", nofollow=j == 1),
            ],
        )
        for i in range(6)
        for j in range(3)
    ]
    pages.append(crawled("http://hub.com/", [Link(f"http://s{i}.com/", "text") for i in range(3)]))
    pages.append(crawled("http://hub.com/t", [Link("http://t.org/hub", "text")]))
    index.write(pages)
    rank_index(index)
    index.write([crawled("http://late.net/", [Link("http://t.org/late", "text")])])  # after the rank

    def brute(target, filters, one):
        rows = list(q.backlinks(index, target, filters, one_per_domain=one))
        edge = {id(r): decode_cursor(r["_cursor"], "first_seen")[1] for r in rows}
        scored = {id(r): -1.0 if r["source_authority"] is None else r["source_authority"] for r in rows}
        rows.sort(key=lambda r: (-scored[id(r)], r["source_domain"], edge[id(r)]))
        return [r["source_url"] + " " + r["target_url"] for r in rows]

    filter_sets = (
        Filters(),
        Filters(rel="follow"),
        Filters(from_domain="s2.com"),
        Filters(from_domain=""),  # as `--from-domain ""` gives: no filter
        Filters(link_type="image", status="all"),
        Filters(anchor_contains="A1", since=0),
    )
    answered = 0
    for target in (Target("domain", "t.org"), Target("host", "www.t.org"), Target("url", "http://t.org/1")):
        for filters in filter_sets:
            for one in (False, True):
                want = brute(target, filters, one)
                key = [
                    r["source_url"] + " " + r["target_url"]
                    for r in q.backlinks(index, target, filters, sort="authority", one_per_domain=one)
                ]
                assert key == want
                answered += bool(want)
                for size in (1, 4):
                    walked, cursor = [], None
                    while page := list(
                        q.backlinks(
                            index,
                            target,
                            filters,
                            sort="authority",
                            limit=size,
                            cursor=cursor,
                            one_per_domain=one,
                        )
                    ):
                        walked += [r["source_url"] + " " + r["target_url"] for r in page]
                        cursor = page[-1]["_cursor"]
                    assert walked == want
                assert [
                    r["source_url"] + " " + r["target_url"]
                    for r in q.backlinks(
                        index, target, filters, sort="authority", offset=3, limit=2, one_per_domain=one
                    )
                ] == want[3:5]
    assert answered >= 30  # of 36: the url has no image links
    every = list(q.backlinks(index, Target("domain", "t.org"), sort="authority"))
    # A cursor whose domain is gone resumes where that domain would sort.
    gone = encode_cursor([every[20]["source_authority"], "s3.co"], bytes(16))
    assert list(q.backlinks(index, Target("domain", "t.org"), sort="authority", cursor=gone)) == every[19:]
    assert [r["source_domain"] for r in every[::6]] == [
        "s0.com",
        "s1.com",
        "s2.com",
        "hub.com",
        "s3.com",
        "s4.com",
        "s5.com",
    ]
    assert every[-1]["source_domain"] == "late.net" and every[-1]["source_authority"] is None


def test_rank_bad_input_is_one_line(tmp_path):
    uri = f"sqlite:///{tmp_path / 'links.db'}"
    with open_index(uri) as idx:
        idx.write([crawled("http://www.a.com/", [Link("http://www.a.com/x", "text")])])  # internal only
    res = run_cli("rank", "--index", uri)
    assert res.returncode == 1 and res.stderr.count("\n") == 1 and "nothing to rank" in res.stderr
    res = run_cli("domains", "--index", uri)
    assert res.returncode == 1 and "run `backlinks rank` first" in res.stderr
    with open_index(uri) as idx:
        idx.write(PAGES)
    trusted = tmp_path / "trusted.txt"
    trusted.write_text("nowhere.example\nhttp://www.elsewhere.example/page\n")
    res = run_cli("rank", "--trusted", str(trusted), "--index", uri)
    assert res.returncode == 1 and res.stderr.count("\n") == 1
    assert "none of the 2 trusted domains is in the domain graph" in res.stderr
    res = run_cli("rank", "--trusted", str(tmp_path / "missing.txt"), "--index", uri)
    assert res.returncode == 2 and "missing.txt" in res.stderr
    res = run_cli("rank", "--index", uri)
    assert res.returncode == 0 and "ranked 4 domains, 4 edges" in res.stdout
    res = run_cli("summary", "b.org", "--format", "json", "--index", uri)
    assert res.returncode == 0 and '"scores_stale": false' in res.stdout and not res.stderr


@pytest.mark.skipif(not shutil.which("chattr"), reason="needs chattr to make a file read-only for root")
def test_rank_on_a_read_only_index_is_one_line(tmp_path):
    path = tmp_path / "links.db"
    with open_index(f"sqlite:///{path}") as idx:
        idx.write(PAGES)
    if subprocess.run(["chattr", "+i", str(path)], capture_output=True).returncode:
        pytest.skip("this file system has no immutable flag")
    try:
        res = run_cli("rank", "--index", f"sqlite:///{path}")
    finally:
        subprocess.run(["chattr", "-i", str(path)], check=True)
    assert res.returncode == 1 and res.stderr.count("\n") == 1 and "Traceback" not in res.stderr
    assert "readonly" in res.stderr or "read-only" in res.stderr


def test_rank_on_a_read_only_mongodb_user_is_one_error():
    from mongo_standin import strict_client
    from pymongo.errors import OperationFailure

    from backlinkspider.index.mongo import MongoStore

    idx = MongoStore("mongodb://standin/backlinks", client=strict_client())
    idx.write(PAGES)

    def refuse(*args, **kwargs):
        raise OperationFailure("not authorized on backlinks to execute command { insert: ... }", 13)

    idx._links.database.domain_scores_a.insert_many = refuse
    with pytest.raises(
        IndexUnavailable, match="cannot write scores to index mongodb://standin/backlinks: not authorized"
    ):
        rank_index(idx)
