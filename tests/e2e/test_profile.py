"""The backlink profile on a crawled synthetic web: summaries and filters against the ground truth, and
a re-crawl after the web changed."""

from __future__ import annotations

import json
from collections import Counter

import pytest
from helpers import CALENDAR_BUDGET, FAST, run_cli
from synthweb import SyntheticWeb

TARGETS = [
    ("bob.github.io", "domain"),
    ("blueleaf.co.uk", "domain"),
    ("www.blueleaf.co.uk", "host"),
    ("http://www.blueleaf.co.uk/rel/0", "url"),
]


@pytest.fixture(scope="module")
def crawled(crawled_synthweb):
    """One crawl of the synthetic web, shared by the read-only tests here (and test_api's, test_web's):
    conftest's crawled_synthweb, made once per test run."""
    return crawled_synthweb


def truth_for(web: SyntheticWeb, value: str, scope: str):
    edges = web.expected(calendar_pages=CALENDAR_BUDGET)
    if scope == "domain":
        return [e for e in edges if e.target_domain == value]
    if scope == "host":
        return [e for e in edges if e.target_url.split("/")[2] == value]
    return [e for e in edges if e.target_url == value]


def top(values):
    return [
        {"value": v, "count": c}
        for v, c in sorted(Counter(values).items(), key=lambda kv: (-kv[1], kv[0]))[:10]
    ]


@pytest.mark.parametrize("value, scope", TARGETS)
def test_summary_figures_equal_the_ground_truth(crawled, web, value, scope):
    res = run_cli("summary", value, "--scope", scope, "--format", "json", "--index", crawled)
    assert res.returncode == 0, res.stderr
    got = json.loads(res.stdout)
    edges = truth_for(web, value, scope)
    assert got["backlinks"] == len(edges)
    assert got["referring_pages"] == len({e.source_url for e in edges})
    assert got["referring_domains"] == len({e.source_domain for e in edges})
    assert got["referring_hosts"] == len({e.source_url.split("/")[2] for e in edges})
    assert got["by_rel"] == {
        "follow": sum(not (e.nofollow or e.ugc or e.sponsored) for e in edges),
        "nofollow": sum(e.nofollow for e in edges),
        "ugc": sum(e.ugc for e in edges),
        "sponsored": sum(e.sponsored for e in edges),
    }
    assert got["by_type"] == {
        t: sum(e.link_type == t for e in edges) for t in ("text", "image", "canonical", "redirect")
    }
    assert got["top_anchors"] == top(e.anchor_text for e in edges)
    assert got["top_referring_domains"] == top(e.source_domain for e in edges)
    assert got["top_pages"] == top(e.target_url for e in edges)
    assert got["new"]["7d"] == {
        "backlinks": len(edges),
        "referring_domains": len({e.source_domain for e in edges}),
    }
    assert got["lost"]["30d"] == {"backlinks": 0, "referring_domains": 0}
    assert {
        "backlinks",
        "referring_pages",
        "referring_domains",
        "referring_hosts",
        "by_rel",
        "by_type",
        "top_anchors",
        "top_referring_domains",
        "top_pages",
        "first_seen",
        "last_seen",
        "new",
        "lost",
    } <= set(got)


def test_summary_table_for_people(crawled):
    res = run_cli("summary", "bob.github.io", "--index", crawled)
    assert res.returncode == 0 and "Backlink profile of domain bob.github.io" in res.stdout
    assert "Referring domains" in res.stdout and "hub-directory.com" in res.stdout


def query(uri, *args):
    res = run_cli("query", *args, "--format", "jsonl", "--limit", "0", "--index", uri)
    assert res.returncode in (0, 1), res.stderr
    return {
        (r["source_url"], r["target_url"], r["link_type"]) for r in map(json.loads, res.stdout.splitlines())
    }


def keys(edges):
    return {(e.source_url, e.target_url, e.link_type) for e in edges}


def test_each_filter_returns_exactly_the_ground_truth_subset(crawled, web):
    edges = truth_for(web, "blueleaf.co.uk", "domain")
    assert query(crawled, "blueleaf.co.uk") == keys(edges)
    assert query(crawled, "blueleaf.co.uk", "--follow-only") == keys(
        e for e in edges if not (e.nofollow or e.ugc or e.sponsored)
    )
    assert query(crawled, "blueleaf.co.uk", "--nofollow-only") == keys(
        e for e in edges if e.nofollow or e.ugc or e.sponsored
    )
    assert query(crawled, "blueleaf.co.uk", "--type", "image") == keys(
        e for e in edges if e.link_type == "image"
    )
    assert query(crawled, "blueleaf.co.uk", "--from-domain", "www.example-times.com") == keys(
        e for e in edges if e.source_domain == "example-times.com"
    )
    assert query(crawled, "blueleaf.co.uk", "--anchor-contains", "REL ") == keys(
        e for e in edges if "rel " in e.anchor_text.lower()
    )
    assert query(crawled, "blueleaf.co.uk", "--since", "2000-01-01") == keys(edges)
    assert query(crawled, "blueleaf.co.uk", "--since", "2999-01-01") == set()
    assert query(crawled, "blueleaf.co.uk", "--lost") == set()
    best = query(crawled, "blueleaf.co.uk", "--one-per-domain")
    assert len(best) == len({e.source_domain for e in edges})
    follow_domains = {e.source_domain for e in edges if not (e.nofollow or e.ugc or e.sponsored)}
    by_key = {(e.source_url, e.target_url, e.link_type): e for e in edges}
    assert {
        by_key[k].source_domain
        for k in best
        if not (by_key[k].nofollow or by_key[k].ugc or by_key[k].sponsored)
    } == follow_domains


def test_pagination_with_a_cursor_walks_every_row_once(crawled, web):
    edges = truth_for(web, "bob.github.io", "domain")
    seen, cursor = [], None
    while True:
        args = ["query", "bob.github.io", "--format", "jsonl", "--limit", "5", "--index", crawled]
        res = run_cli(*args, *(["--cursor", cursor] if cursor else []))
        rows = [json.loads(line) for line in res.stdout.splitlines()]
        seen += [(r["source_url"], r["target_url"], r["link_type"]) for r in rows]
        if "next page: --cursor" not in res.stderr:
            break
        cursor = res.stderr.split("--cursor ")[1].split()[0]
    assert len(seen) == len(set(seen)) and set(seen) == keys(edges)


def test_a_recrawl_after_the_web_changed_marks_exactly_the_removed_edges_lost(tmp_path, proxy_env):
    """Shortened: the web has 8 random sites of 5 pages beside the hand-made ones (not 24 of 10): the pages
    that change are hand-made, and every edge of the smaller web is still checked live or lost."""
    from synthweb import ProxyServer

    web = SyntheticWeb(bulk_sites=8, pages_per_site=5)
    uri = f"sqlite:///{tmp_path / 'recrawl.db'}"
    with ProxyServer(web) as server:
        env = {**proxy_env, "http_proxy": server.url, "https_proxy": server.url}
        res = run_cli(
            "crawl",
            "http://www.hub-directory.com/",
            "--index",
            uri,
            *FAST,
            "-s",
            f"BACKLINKS_MAX_PAGES_PER_HOST={CALENDAR_BUDGET}",
            env=env,
        )
        assert res.returncode == 0, res.stderr
        before = web.expected(calendar_pages=CALENDAR_BUDGET)
        web.mutate()
        after = web.expected(calendar_pages=CALENDAR_BUDGET)
        web.reset_log()
        res = run_cli(
            "crawl", "--recrawl", "--index", uri, *FAST, "-s", "BACKLINKS_LOST_AFTER_FAILURES=1", env=env
        )
        assert res.returncode == 0, res.stderr
        fetched = web.requests_per_url()
    # The re-crawl re-visited the pages in the index and followed no new links.
    assert "bob.github.io/new-partner" not in fetched and "shop.greenleaf.co.uk/products" in fetched
    export = [json.loads(line) for line in run_cli("export", "--index", uri).stdout.splitlines()]
    lost = query_lost(uri, export)  # one `query --lost` per domain: asked once, checked twice
    live = {(r["source_url"], r["target_url"], r["link_type"]) for r in export} - lost
    assert live == keys(after)
    assert lost == keys(before) - keys(after)
    assert keys(after) - keys(before) == {
        ("http://shop.greenleaf.co.uk/products", "http://bob.github.io/new-partner", "text")
    }
    new = run_cli("summary", "bob.github.io", "--format", "json", "--index", uri)
    profile = json.loads(new.stdout)
    assert profile["lost"]["7d"]["backlinks"] == 0
    lost_blue = json.loads(run_cli("summary", "blueleaf.co.uk", "--format", "json", "--index", uri).stdout)
    assert lost_blue["lost"]["7d"]["backlinks"] == len(keys(before) - keys(after))


def query_lost(uri, export):
    """Every domain's lost links, from the query layer (`query --lost` is this call; the CLI's own tests
    run it), in one process rather than one CLI run a domain."""
    import backlinkspider.query as q
    from backlinkspider.index import open_index
    from backlinkspider.records import Filters, Target

    with open_index(uri, create=False) as index:
        return {
            (r["source_url"], r["target_url"], r["link_type"])
            for d in {r["target_domain"] for r in export}
            for r in q.backlinks(index, Target("domain", d), Filters(status="lost"))
        }


def test_one_failed_recrawl_is_a_blip(tmp_path, proxy_env):
    from synthweb import ProxyServer

    web = SyntheticWeb()
    uri = f"sqlite:///{tmp_path / 'blip.db'}"
    with ProxyServer(web) as server:
        env = {**proxy_env, "http_proxy": server.url, "https_proxy": server.url}
        seed = "http://blog.techfeed.net/files"
        assert run_cli("crawl", seed, "--max-depth", "0", "--index", uri, *FAST, env=env).returncode == 0
        web.mutate()
        assert run_cli("crawl", "--recrawl", "--index", uri, *FAST, env=env).returncode == 0
    assert query(uri, "blueleaf.co.uk") == {(seed, "http://docs.blueleaf.co.uk/report.pdf", "text")}
    assert query(uri, "blueleaf.co.uk", "--lost") == set()
