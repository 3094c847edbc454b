"""Domain scores end to end: a synthetic web with a link farm crawled into SQLite and into the MongoDB
stand-in, then `backlinks rank`, `graph` and `domains` checked against the generator's ground truth."""

from __future__ import annotations

import itertools
import json
import os
import subprocess
import sys

import networkx as nx
import pytest
from farmweb import SEED, FarmWeb
from helpers import BACKLINKS, FAST, SUPPORT
from synthweb import ProxyServer


@pytest.fixture(scope="module")
def farmweb():
    web = FarmWeb()
    with ProxyServer(web) as server:  # type: ignore[arg-type]
        env = {
            k: v for k, v in os.environ.items() if k.lower() not in ("no_proxy", "http_proxy", "https_proxy")
        }
        yield web, {**env, "http_proxy": server.url, "https_proxy": server.url}


@pytest.fixture(scope="module")
def trusted(farmweb, tmp_path_factory):
    """A reviewer's list: the ten oldest organic sites, and one domain the crawl never saw."""
    web, _ = farmweb
    path = tmp_path_factory.mktemp("trusted") / "trusted.txt"
    path.write_text("# good sites\n" + "\n".join(web.organic[:10]) + "\nnever-crawled.example\n")
    return path


def run(*args, env=None):
    return subprocess.run([*BACKLINKS, *args], capture_output=True, text=True, env=env, timeout=300)


def parse(stdout: str) -> tuple[list[dict], list[dict]]:
    """The graph rows and the domain rows of a run's output."""
    rows = [json.loads(line) for line in stdout.splitlines() if line.startswith("{")]
    return [r for r in rows if "source_domain" in r], [r for r in rows if "domain" in r]


@pytest.fixture(scope="module")
def sqlite_run(farmweb, trusted, tmp_path_factory):
    _, env = farmweb
    uri = f"sqlite:///{tmp_path_factory.mktemp('rank') / 'links.db'}"
    res = run("crawl", SEED, "--index", uri, *FAST, env=env)
    assert res.returncode == 0, res.stderr
    res = run("rank", "--trusted", str(trusted), "--index", uri)
    assert res.returncode == 0, res.stderr
    assert "ranked " in res.stdout and " iterations" in res.stdout
    assert "1 trusted domains are not in the domain graph: never-crawled.example" in res.stderr
    graph = run("graph", "--format", "jsonl", "--index", uri)
    domains = run("domains", "--format", "jsonl", "--limit", "0", "--index", uri)
    assert graph.returncode == 0 and domains.returncode == 0, graph.stderr + domains.stderr
    return uri, parse(graph.stdout)[0], parse(domains.stdout)[1]


@pytest.fixture(scope="module")
def mongo_run(farmweb, trusted):
    """The same on the MongoDB backend (the in-process stand-in: one process runs every command)."""
    _, env = farmweb
    res = subprocess.run(
        [
            sys.executable,
            str(SUPPORT / "mongo_standin.py"),
            *("crawl", SEED, *FAST, "--"),
            *("rank", "--trusted", str(trusted), "--"),
            *("graph", "--format", "jsonl", "--"),
            *("domains", "--format", "jsonl", "--limit", "0"),
        ],
        capture_output=True,
        text=True,
        env={**env, "BACKLINKS_INDEX": "mongodb://standin/backlinks"},
        timeout=300,
    )
    assert res.returncode == 0, res.stderr
    return parse(res.stdout)


@pytest.fixture(params=["sqlite", "mongo"])
def ranked(request):
    if request.param == "sqlite":
        return request.getfixturevalue("sqlite_run")[1:]
    return request.getfixturevalue("mongo_run")


def test_the_graph_is_the_generators_followed_domain_graph(farmweb, ranked):
    web, _ = farmweb
    graph, _ = ranked
    truth = web.followed_graph()
    assert {(r["source_domain"], r["target_domain"]): r["links"] for r in graph} == truth
    assert any(links > 1 for links in truth.values())
    assert {(r["source_domain"], r["target_domain"]) for r in graph if r["reciprocal"]} == {
        (s, t) for s, t in truth if (t, s) in truth
    }
    assert all(r["source_domain"] != r["target_domain"] for r in graph)


def test_every_reciprocal_pair_is_found(farmweb, ranked):
    web, _ = farmweb
    _graph, domains = ranked
    truth = web.followed_graph()
    by_domain = {d["domain"]: d for d in domains}
    for a, b in web.exchanges:
        assert by_domain[a]["reciprocal_domains"] >= 1 and by_domain[b]["reciprocal_domains"] >= 1
    for d, row in by_domain.items():
        assert row["reciprocal_domains"] == sum(1 for s, t in truth if s == d and (t, s) in truth)
        assert row["referring_domains"] == sum(1 for _, t in truth if t == d)


def test_farms_and_money_sites_are_flagged(farmweb, ranked):
    web, _ = farmweb
    _, domains = ranked
    flagged = {d["domain"] for d in domains if d["farm"]}
    spam = set(web.farm) | set(web.money)
    precision = len(flagged & spam) / len(flagged)
    recall = len(flagged & spam) / len(spam)
    assert precision >= 0.9 and recall >= 0.9, (precision, recall)
    by_domain = {d["domain"]: d for d in domains}
    assert len({by_domain[d]["farm_id"] for d in spam if by_domain[d]["farm"]}) == 1
    assert {by_domain[m]["farm_role"] for m in web.money} == {"pushed"}
    assert all(by_domain[m]["spam_mass"] >= 0.5 for m in web.money)
    organic = sorted((d for d in domains if d["domain"] in web.organic), key=lambda d: -d["pagerank"])
    assert not any(d["farm"] for d in organic[:30])
    # The popular organic sites get their PageRank from the trusted core: a low spam mass.
    assert sum(d["spam_mass"] < 0.5 for d in organic[:10]) >= 8


def test_authority_is_monotone_in_pagerank_and_pagerank_is_networkx_on_the_graph_file(ranked):
    graph, domains = ranked
    by_pagerank = sorted(domains, key=lambda d: d["pagerank"])
    assert all(a["authority"] <= b["authority"] for a, b in itertools.pairwise(by_pagerank))
    assert by_pagerank[-1]["authority"] == 100 and by_pagerank[0]["authority"] == 0
    assert abs(sum(d["pagerank"] for d in domains) - 1) < 1e-9
    want = nx.pagerank(
        nx.DiGraph([(r["source_domain"], r["target_domain"]) for r in graph]), tol=1e-13, max_iter=1000
    )
    assert max(abs(d["pagerank"] - want[d["domain"]]) for d in domains) < 1e-9
    assert [d["authority"] for d in domains] == sorted((d["authority"] for d in domains), reverse=True)


def test_both_backends_give_the_same_scores_and_flags(sqlite_run, mongo_run):
    _, sqlite_graph, sqlite_domains = sqlite_run
    mongo_graph, mongo_domains = mongo_run
    assert sqlite_graph == mongo_graph
    assert [d["domain"] for d in sqlite_domains] == [d["domain"] for d in mongo_domains]
    for a, b in zip(sqlite_domains, mongo_domains, strict=True):
        for key in ("pagerank", "authority", "trust", "spam_mass"):
            assert abs(a[key] - b[key]) <= 1e-12, (a, b)
        for key in (
            "farm",
            "farm_id",
            "farm_role",
            "reciprocal_domains",
            "referring_domains",
            "linked_domains",
        ):
            assert a[key] == b[key]


def test_summary_and_query_show_the_scores(farmweb, sqlite_run):
    web, _ = farmweb
    uri, _, domains = sqlite_run
    by_domain = {d["domain"]: d for d in domains}
    money = web.money[0]
    res = run("summary", money, "--format", "json", "--index", uri)
    assert res.returncode == 0, res.stderr
    got = json.loads(res.stdout)
    row = by_domain[money]
    assert (got["authority"], got["pagerank"], got["trust"], got["spam_mass"], got["farm"]) == (
        row["authority"],
        row["pagerank"],
        row["trust"],
        row["spam_mass"],
        True,
    )
    assert got["reciprocal_domains"] == row["reciprocal_domains"]
    assert sum(b["referring_domains"] for b in got["authority_bands"]) == row["referring_domains"]
    assert [b["band"] for b in got["authority_bands"]] == [f"{i}-{i + 10}" for i in range(0, 100, 10)]
    assert got["scores_computed_at"] == row["computed_at"] and got["scores_stale"] is False
    res = run("query", money, "--sort", "authority", "--format", "jsonl", "--limit", "0", "--index", uri)
    rows = [json.loads(line) for line in res.stdout.splitlines()]
    authorities = [r["source_authority"] for r in rows]
    assert authorities == sorted(authorities, reverse=True) and None not in authorities
    assert {r["source_domain"] for r in rows} >= {f for f in web.farm if by_domain[f]["farm_role"]}
    assert all(r["source_authority"] == by_domain[r["source_domain"]]["authority"] for r in rows)


def test_domains_farm_only_and_table(farmweb, sqlite_run):
    _web, _ = farmweb
    uri, _, domains = sqlite_run
    res = run(
        "domains", "--farm-only", "--sort", "spam_mass", "--format", "jsonl", "--limit", "0", "--index", uri
    )
    rows = [json.loads(line) for line in res.stdout.splitlines()]
    assert {r["domain"] for r in rows} == {d["domain"] for d in domains if d["farm"]}
    assert [r["spam_mass"] for r in rows] == sorted((r["spam_mass"] for r in rows), reverse=True)
    res = run("domains", "--limit", "5", "--index", uri)
    assert res.returncode == 0 and "Domains by authority" in res.stdout and domains[0]["domain"] in res.stdout
