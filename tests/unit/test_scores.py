"""The domain scores against their definitions: PageRank and TrustRank equal networkx's on random graphs,
authority is monotone, farms are the dense groups and the sites they push."""

from __future__ import annotations

import random

import networkx as nx
import numpy as np
import pytest
import scipy.sparse as sp

from backlinkspider.scores import compute, read_graph
from backlinkspider.scores import graph as graph_module
from backlinkspider.scores import pagerank as pagerank_module
from backlinkspider.scores.authority import authority
from backlinkspider.scores.farms import MEMBER, PUSHED, find_farms
from backlinkspider.scores.graph import NameIndex
from backlinkspider.scores.pagerank import pagerank
from backlinkspider.scores.spam_mass import spam_mass


def random_edges(seed: int, n: int, m: int) -> set[tuple[str, str]]:
    """A random digraph without self-loops, with nodes that link nowhere and some isolated pairs."""
    rng = random.Random(seed)
    names = [f"d{i:04d}.example" for i in range(n)]
    dangling = set(rng.sample(names, n // 5))
    edges = set()
    while len(edges) < m:
        s, t = rng.sample(names, 2)
        if s not in dangling:
            edges.add((s, t))
    for i in range(3):  # isolated pairs: a -> b, nothing else touches them
        edges.add((f"pair{i}-a.example", f"pair{i}-b.example"))
    edges.add(("pair-mutual-a.example", "pair-mutual-b.example"))
    edges.add(("pair-mutual-b.example", "pair-mutual-a.example"))
    return edges


def graph_of(edges):
    rows = sorted((s, t, 1) for s, t in edges)
    return read_graph(domains_of(rows), iter(rows))


def domains_of(rows):
    return sorted({d for s, t, _ in rows for d in (s, t)})


@pytest.mark.parametrize("seed, n, m", [(1, 30, 60), (2, 200, 900), (3, 1000, 3000), (4, 50, 1200)])
def test_pagerank_equals_networkx(seed, n, m):
    edges = random_edges(seed, n, m)
    graph = graph_of(edges)
    ours, steps = pagerank(graph)
    want = nx.pagerank(nx.DiGraph(list(edges)), tol=1e-13, max_iter=1000)
    assert set(want) == set(graph.names)
    assert max(abs(ours[i] - want[name]) for i, name in enumerate(graph.names)) < 1e-9
    assert abs(ours.sum() - 1) < 1e-12
    assert 10 < steps < 300


def test_pagerank_over_many_blocks_of_rows(monkeypatch):
    edges = random_edges(12, 300, 1500)
    graph = graph_of(edges)
    whole, _ = pagerank(graph)
    monkeypatch.setattr(pagerank_module, "block_edges", lambda graph: 7)
    blocked, _ = pagerank(graph)
    assert np.abs(blocked - whole).max() < 1e-15


@pytest.mark.parametrize("max_edges", [1, 3, 50, 10**6])
def test_transposed_blocks_make_up_the_adjacency_matrix(max_edges):
    graph = graph_of(random_edges(13, 80, 300))
    blocks = list(graph.transposed_blocks(max_edges))
    assert [first for first, _, _ in blocks] == [0, *[last for _, last, _ in blocks][:-1]]
    assert blocks[-1][1] == graph.n
    assert all(b.nnz <= max_edges or last - first == 1 for first, last, b in blocks)
    assert all(not b.nnz or np.shares_memory(b.indices, graph.indices) for _, _, b in blocks)  # no copy
    stacked = sp.hstack([b for _, _, b in blocks]).T.toarray()
    assert np.array_equal(stacked, graph.adjacency().toarray())


@pytest.mark.parametrize("seed", [5, 6, 7])
def test_trustrank_equals_networkx_personalized_pagerank(seed):
    edges = random_edges(seed, 300, 1200)
    graph = graph_of(edges)
    trusted = random.Random(seed).sample(graph.names.tolist(), 7)
    personal = np.array([1.0 if name in trusted else 0.0 for name in graph.names])
    ours, _ = pagerank(graph, personal)
    want = nx.pagerank(
        nx.DiGraph(list(edges)), personalization=dict.fromkeys(trusted, 1), tol=1e-13, max_iter=1000
    )
    assert max(abs(ours[i] - want[name]) for i, name in enumerate(graph.names)) < 1e-9
    scores = compute(graph, [*trusted, "not-in-the-graph.example"])
    assert scores.unknown_trusted == ["not-in-the-graph.example"]
    assert np.array_equal(scores.trust, ours)


def test_rows_in_any_order_give_the_same_graph():
    edges = random_edges(8, 100, 400)
    sorted_graph = graph_of(edges)
    shuffled = sorted((s, t, 1) for s, t in edges)
    random.Random(1).shuffle(shuffled)
    graph = read_graph(domains_of(shuffled), iter(shuffled))
    assert graph.names.tolist() == sorted_graph.names.tolist()
    assert np.array_equal(graph.indptr, sorted_graph.indptr)
    assert np.array_equal(graph.indices, sorted_graph.indices)


def test_rows_naming_a_domain_the_names_lack_are_left_out():
    """Rows written after the names were read (a crawl beside `rank`) name domains the names lack."""
    rows = [("a", "b", 1), ("a", "late", 1), ("b", "a", 2), ("late", "b", 1)]
    graph = read_graph(["a", "b"], iter(rows), keep_links=True)
    assert graph.names.tolist() == ["a", "b"]
    assert graph.indices.tolist() == [1, 0] and graph.indptr.tolist() == [0, 1, 2]
    assert graph.links is not None and graph.links.tolist() == [1, 2]


def test_names_whose_hashes_collide_are_told_apart(monkeypatch):
    edges = random_edges(9, 200, 800)
    want = graph_of(edges)
    monkeypatch.setattr(graph_module, "hash", lambda name: len(name) % 3, raising=False)
    got = graph_of(edges)
    assert got.names.tolist() == want.names.tolist()
    assert np.array_equal(got.indptr, want.indptr) and np.array_equal(got.indices, want.indices)
    assert NameIndex(got.names).ids(["pair0-a.example", "nowhere.example"]).tolist() == [
        want.names.tolist().index("pair0-a.example"),
        -1,
    ]


def test_sources_of_any_range_of_edges():
    graph = graph_of(random_edges(10, 60, 200))
    full = graph.sources()
    assert full.tolist() == [s for s in range(graph.n) for _ in range(graph.out_degree()[s])]
    for lo, hi in [(0, 0), (0, 1), (5, 17), (17, 17), (100, graph.edges), (graph.edges, graph.edges)]:
        assert graph.sources(lo, hi).tolist() == full[lo:hi].tolist()


@pytest.mark.parametrize("chunk", [1, 7, 1 << 18])
def test_reciprocal_edges_of_a_random_graph(chunk):
    edges = random_edges(11, 300, 2500)
    graph = graph_of(edges)
    names = graph.names.tolist()
    found = graph.reciprocal(chunk)
    pairs = zip(graph.sources().tolist(), graph.indices.tolist(), strict=True)
    assert [(names[t], names[s]) in edges for s, t in pairs] == found.tolist()
    assert found.any()


def test_reciprocal_edges_and_degrees():
    graph = graph_of({("a", "b"), ("b", "a"), ("a", "c"), ("c", "d"), ("d", "c"), ("b", "c")})
    src = graph.sources()
    pairs = {
        (graph.names[s], graph.names[t])
        for s, t, r in zip(src, graph.indices, graph.reciprocal(), strict=False)
        if r
    }
    assert pairs == {("a", "b"), ("b", "a"), ("c", "d"), ("d", "c")}
    scores = compute(graph)
    by_name = dict(zip(graph.names, scores.reciprocal_domains.tolist(), strict=False))
    assert by_name == {"a": 1, "b": 1, "c": 1, "d": 1}
    assert dict(zip(graph.names, scores.referring_domains.tolist(), strict=False)) == {
        "a": 1,
        "b": 1,
        "c": 3,
        "d": 1,
    }


def test_authority_is_logarithmic_and_monotone():
    pr = np.array([0.001, 0.01, 0.1, 0.001, 0.05])
    a = authority(pr)
    assert a[2] == 100 and a[0] == 0 and a[3] == 0
    assert a[1] == pytest.approx(50)  # a factor 10 of the factor 100 between min and max: half way
    order = np.argsort(pr, kind="stable")
    assert np.all(np.diff(a[order]) >= 0)


def test_spam_mass_is_the_share_of_pagerank_not_from_the_trusted_core():
    assert spam_mass(np.array([0.1, 0.1, 0.1]), np.array([0.0, 0.05, 0.3])).tolist() == [1.0, 0.5, 0.0]


def farm_graph(members=12, pushed=2, density=1.0, seed=3):
    rng = random.Random(seed)
    farm = [f"farm{i:02d}.biz" for i in range(members)]
    edges = set()
    for s in farm:
        others = [t for t in farm if t != s]
        for t in rng.sample(others, max(1, round(density * len(others)))):
            edges.add((s, t))
        for j in range(pushed):
            edges.add((s, f"money{j}.com"))
    # An organic ring with a hub, and one spam link into the farm.
    organic = [f"site{i:02d}.org" for i in range(40)]
    for i, s in enumerate(organic):
        edges.add((s, organic[(i + 1) % len(organic)]))
        edges.add((s, "hub.org"))
    edges.add(("hub.org", organic[0]))
    edges.add((organic[5], farm[0]))
    edges.add((farm[1], "hub.org"))  # farms link out to look organic
    return edges, farm


@pytest.mark.parametrize("density", [1.0, 0.6])
def test_a_dense_group_is_a_farm_and_its_money_sites_are_pushed(density):
    edges, farm = farm_graph(density=density)
    graph = graph_of(edges)
    farm_id, role = find_farms(graph, graph.reciprocal())
    flagged = {graph.names[i]: (int(farm_id[i]), int(role[i])) for i in np.flatnonzero(farm_id)}
    assert flagged == {
        **{m: (1, MEMBER) for m in farm},
        "money0.com": (1, PUSHED),
        "money1.com": (1, PUSHED),
    }


def test_groups_too_small_or_too_sparse_are_not_farms():
    edges, _ = farm_graph(members=9)
    graph = graph_of(edges)
    assert not find_farms(graph, graph.reciprocal())[0].any()
    edges, _ = farm_graph(members=20, density=0.3)
    graph = graph_of(edges)
    assert not find_farms(graph, graph.reciprocal())[0].any()


def test_two_farms_get_two_ids_largest_first():
    a, _ = farm_graph(members=12)
    b = {
        (s.replace("farm", "ring"), t.replace("farm", "ring").replace("money", "cash"))
        for s, t in farm_graph(members=15)[0]
    }
    graph = graph_of(a | b)
    farm_id, role = find_farms(graph, graph.reciprocal())
    ids = {graph.names[i]: int(farm_id[i]) for i in np.flatnonzero(role == MEMBER)}
    assert {v for k, v in ids.items() if k.startswith("ring")} == {1}
    assert {v for k, v in ids.items() if k.startswith("farm")} == {2}
