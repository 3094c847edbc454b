"""Rank benchmark: read a domain graph of E edges / N domains from a SQLite index and rank it.

The graph: source domains uniform, target domains skewed (a power law: the top domains get most links),
no self-loops, each pair once; one followed link row per edge in the ``links`` table. It prints

- the seconds to read the graph out of the index (the GROUP BY on its partial index, streamed into
  the CSR arrays),
- the seconds to rank it: PageRank + TrustRank (1,000 trusted domains) + reciprocal edges + link farms,
- the peak growth of RSS from before the edges are read, per edge, for the read and for the ranking
  (measured in a fresh process, so the load does not count),
- the same ranking with int64 indices, the layout scipy needs past 2**31 edges.

The load writes rows with a plain INSERT (the per-domain summary triggers and the query indexes are
dropped first): this measures reading and ranking the graph, not crawling it (bench/index_bench.py does).

Run:  python bench/rank_bench.py [--edges 10000000] [--domains 1000000] [--db PATH]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np


def rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


class PeakRSS:
    """The highest RSS since ``reset``, sampled every 2 ms by a thread (ru_maxrss cannot be reset)."""

    def __init__(self) -> None:
        self.reset()
        threading.Thread(target=self._sample, daemon=True).start()

    def reset(self) -> None:
        self.base = self.peak = rss_mb()

    def growth(self) -> float:
        self.peak = max(self.peak, rss_mb())
        return self.peak - self.base

    def _sample(self) -> None:
        while True:
            self.peak = max(self.peak, rss_mb())
            time.sleep(0.002)


def load(path: Path, edges: int, domains: int, seed: int = 1) -> None:
    """Write the graph into a new SQLite index at ``path``."""
    from backlinkspider.index import open_index

    rng = np.random.default_rng(seed)
    keys = np.empty(0, dtype=np.int64)
    while len(keys) < edges:
        more = int((edges - len(keys)) * 1.1) + 1000
        s = rng.integers(0, domains, more)
        t = (domains * rng.random(more) ** 3).astype(np.int64)  # skewed: low ids are popular
        keys = np.unique(np.concatenate([keys, (s * domains + t)[s != t]]))
    keys = rng.permutation(keys)[:edges]
    keys.sort()
    open_index(f"sqlite:///{path}").close()
    import sqlite3

    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=OFF")
    for (name,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'").fetchall():
        db.execute(f"DROP TRIGGER {name}")
    for (name,) in db.execute(
        "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'links' AND sql IS NOT NULL"
    ).fetchall():
        db.execute(f"DROP INDEX {name}")

    def rows():
        for key in keys.tolist():
            s, t = divmod(key, domains)
            su, tu = f"http://d{s}.com/", f"http://d{t}.com/"
            edge_id = hashlib.blake2b(f"{su}\n{tu}\ntext".encode(), digest_size=16).digest()
            yield (
                edge_id,
                su,
                tu,
                "text",
                "",
                0,
                0,
                0,
                f"d{s}.com",
                f"d{s}.com",
                f"d{t}.com",
                f"d{t}.com",
                0,
                0,
            )

    started = time.monotonic()
    db.execute("BEGIN")
    db.executemany(
        "INSERT INTO links (edge_id, source_url, target_url, link_type, anchor_text, nofollow, ugc, sponsored,"
        " source_host, source_domain, target_host, target_domain, first_seen, last_seen)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        rows(),
    )
    db.execute("COMMIT")
    loaded = time.monotonic()
    from backlinkspider.index.sqlite.schema import GRAPH_INDEX

    db.execute(GRAPH_INDEX)
    print(
        f"load: {edges:,} edges in {loaded - started:.0f} s; the domain graph's partial index built in"
        f" {time.monotonic() - loaded:.0f} s",
        flush=True,
    )
    db.close()


def measure(path: Path, wide: bool) -> dict:
    """Read and rank in this process; RSS growth is from just before the read."""
    from backlinkspider.index import open_index
    from backlinkspider.scores import compute, graph, read_graph

    if wide:
        graph.INT32_MAX = 0  # the layout past 2**31 edges: int64 indices and indptr
    idx = open_index(f"sqlite:///{path}", create=False)
    peak = PeakRSS()
    started = time.monotonic()
    g = read_graph(idx.graph_domains(), idx.domain_graph())
    read_s = time.monotonic() - started
    read_peak = peak.growth()
    trusted = g.names[:: max(1, g.n // 1000)][:1000]
    started = time.monotonic()
    scores = compute(g, trusted)
    rank_s = time.monotonic() - started
    return {
        "edges": g.edges,
        "domains": g.n,
        "index_dtype": str(g.indices.dtype),
        "read_seconds": read_s,
        "rank_seconds": rank_s,
        "pagerank_iterations": scores.iterations,
        "trust_iterations": scores.trust_iterations,
        "farms": scores.farms,
        "read_peak_bytes_per_edge": read_peak * 2**20 / g.edges,
        "peak_bytes_per_edge": peak.growth() * 2**20 / g.edges,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--edges", type=int, default=10_000_000)
    parser.add_argument("--domains", type=int, default=1_000_000)
    parser.add_argument("--db", type=Path, help="The index file: built if missing, reused if there.")
    parser.add_argument("--measure", type=Path, help=argparse.SUPPRESS)  # the fresh measuring process
    parser.add_argument("--wide", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        print(json.dumps(measure(args.measure, args.wide)))
        return
    print(f"python bench/rank_bench.py --edges {args.edges} --domains {args.domains}", flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        path = args.db or Path(tmp) / "links.db"
        if not path.exists():
            load(path, args.edges, args.domains)
        for wide in (False, True):
            out = subprocess.run(
                [sys.executable, __file__, "--measure", str(path), *(["--wide"] if wide else [])],
                capture_output=True,
                text=True,
                check=True,
            )
            r = json.loads(out.stdout)
            print(
                f"{r['index_dtype']} indices: {r['domains']:,} domains, {r['edges']:,} edges;"
                f" read {r['read_seconds']:.1f} s (peak +{r['read_peak_bytes_per_edge']:.1f} B/edge);"
                f" rank {r['rank_seconds']:.1f} s (PageRank {r['pagerank_iterations']} + TrustRank"
                f" {r['trust_iterations']} iterations, {r['farms']} farms);"
                f" peak RSS growth {r['peak_bytes_per_edge']:.1f} B/edge",
                flush=True,
            )


if __name__ == "__main__":
    main()
