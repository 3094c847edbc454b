"""Index write benchmark: edges/s written through the real index code, and bytes per edge, per backend.

Edges have a realistic shape: source pages on many sites, URLs of typical length, anchors of a few words,
a power-law of targets. SQLite always; MongoDB when BACKLINKS_TEST_MONGO_URI names a real server (the
in-process stand-in would measure itself). Without a server it prints the BSON size of the documents
we write, and how to run against one.

Run:  python bench/index_bench.py [--edges N] [--batch N]
      BACKLINKS_TEST_MONGO_URI=mongodb://localhost:27017 python bench/index_bench.py
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

from backlinkspider.crawl.items import page_edges
from backlinkspider.index import open_index
from backlinkspider.records import CrawledPage
from backlinkspider.standards.extract import Link, Page

WORDS = [
    "best",
    "garden",
    "tools",
    "review",
    "cheap",
    "seeds",
    "organic",
    "guide",
    "how",
    "to",
    "grow",
    "tomatoes",
    "winter",
    "shop",
    "news",
]


def synthetic_pages(edges: int, seed: int = 1) -> list[CrawledPage]:
    """Pages of ~40 external links each; targets drawn from a Zipf-like distribution over 50k sites."""
    rng = random.Random(seed)
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    pages, made = [], 0
    while made < edges:
        site = f"www.{rng.choice(WORDS)}-{rng.randrange(200_000)}.com"
        url = (
            f"https://{site}/{rng.choice(WORDS)}/{rng.randrange(10**6)}-{'-'.join(rng.sample(WORDS, 4))}.html"
        )
        links = []
        for _ in range(min(40, edges - made)):
            target_site = int(50_000 * rng.paretovariate(1.2)) % 50_000
            target = f"https://site{target_site}.example.org/{'/'.join(rng.sample(WORDS, 2))}?id={rng.randrange(10**5)}"
            rel = rng.random()
            links.append(
                Link(
                    target,
                    "text",
                    " ".join(rng.sample(WORDS, rng.randint(1, 5))),
                    rel < 0.2,
                    0.2 <= rel < 0.23,
                    0.23 <= rel < 0.25,
                )
            )
        page = Page(url, links)
        pages.append(CrawledPage(url, t0 + timedelta(seconds=len(pages)), page_edges(page, False)))
        made += len(page.links)
    return pages


def measure(index, pages: list[CrawledPage], batch: int) -> tuple[float, int]:
    written, i = 0, 0
    started = time.perf_counter()
    while i < len(pages):
        chunk, n = [], 0
        while i < len(pages) and n < batch:
            chunk.append(pages[i])
            n += len(pages[i].edges)
            i += 1
        written += index.write(chunk)
    return written / (time.perf_counter() - started), written


def mongo_key_bytes(sample: list, seen: datetime) -> None:
    """Per edge, the BSON bytes of every index's keys (``documents.INDEXES``, ``_id``, the shard key) and
    of the per-target figures it adds (``figures.py``: documents and their index keys), before
    WiredTiger's compression (prefix compression shrinks index keys that share a start, such as a
    domain's). deploy/README.md's sizing is computed from these lines."""
    import bson

    from backlinkspider.index.figures import values
    from backlinkspider.index.mongo import documents as d
    from backlinkspider.index.mongo.figures import FIGURE_INDEXES, key

    def key_bytes(doc: dict, fields: list[tuple[str, int]]) -> int:
        """An index entry: its values (a type byte and the value, no field names) and the record id."""
        return sum(len(bson.encode({"": doc.get(name)})) - 5 for name, _ in fields) + 8

    indexes = [*d.INDEXES, ("_id_", [("_id", 1)]), ("shard key", [("target_domain", 1), ("_id", 1)])]
    per_index = dict.fromkeys((name for name, _ in indexes), 0)
    figures: dict[str, dict] = {}
    for e in sample:
        doc = {"_id": e.edge_id, **d.document_for(e, seen)}
        for name, fields in indexes:
            per_index[name] += key_bytes(doc, fields)
        for dim, value in values(doc):
            figures.setdefault(key(e.target_domain, dim, value), {"t": e.target_domain, "d": dim, "v": value})
    n = len(sample)
    listed = ", ".join(f"{name} {total / n:,.0f}" for name, total in per_index.items())
    print(f"mongodb index keys, bytes/edge: {listed}; all {sum(per_index.values()) / n:,.0f}")
    fig_docs = [
        {"_id": k, **f, "n_all": 1, "n_live": 1, "first_seen": seen, "lost_at": None}
        for k, f in figures.items()
    ]
    doc_total = sum(len(bson.encode(f)) for f in fig_docs)
    key_total = sum(
        key_bytes(f, fields) for f in fig_docs for _, fields in [*FIGURE_INDEXES, ("_id_", [("_id", 1)])]
    )
    print(
        f"mongodb figures: {len(fig_docs) / n:.2f} documents/edge, {doc_total / n:,.0f} bytes/edge of BSON,"
        f" {key_total / n:,.0f} bytes/edge of index keys (these {n:,} edges; fewer a new edge as a domain grows)"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--edges", type=int, default=500_000)
    ap.add_argument("--batch", type=int, default=2000, help="edges per write (BACKLINKS_BATCH_SIZE)")
    args = ap.parse_args()
    pages = synthetic_pages(args.edges)
    print(f"{args.edges:,} edges on {len(pages):,} pages, batches of {args.batch:,} edges")

    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "bench.db"
        with open_index(f"sqlite:///{db}") as idx:
            rate, n = measure(idx, pages, args.batch)
            again, _ = measure(idx, pages, args.batch)  # a re-crawl: every write is an update
        size = sum(p.stat().st_size for p in Path(tmp).iterdir())
        print(
            f"sqlite: {rate:,.0f} edges/s new, {again:,.0f} edges/s re-crawl; {size / n:,.0f} bytes/edge on disk"
            " (edges, their indexes, per-domain aggregates, pages)"
        )

    import bson

    from backlinkspider.index.mongo import document_for

    sample = [e for p in pages[:2000] for e in p.edges]
    doc_bytes = 0
    for e in sample:
        doc = {"_id": e.edge_id, **document_for(e, pages[0].seen_at, pages[0])}
        doc_bytes += len(bson.encode(doc))
    print(
        f"mongodb: {doc_bytes / len(sample):,.0f} bytes/edge of BSON per document (before compression and"
        " indexes)"
    )
    mongo_key_bytes(sample, pages[0].seen_at)
    uri = os.environ.get("BACKLINKS_TEST_MONGO_URI")
    if not uri:
        print(
            "mongodb edges/s and on-disk bytes/edge need a real server: "
            f"BACKLINKS_TEST_MONGO_URI=mongodb://HOST:27017 {sys.executable} bench/index_bench.py"
        )
    else:
        head, _, query = uri.partition("?")
        name = f"backlinks_bench_{uuid.uuid4().hex[:8]}"
        idx = open_index(f"{head.rstrip('/')}/{name}" + (f"?{query}" if query else ""))
        try:
            rate, n = measure(idx, pages, args.batch)
            again, _ = measure(idx, pages, args.batch)
            stats = idx._links.database.command("collStats", "links")
            on_disk = stats["storageSize"] + stats["totalIndexSize"]
            print(
                f"mongodb: {rate:,.0f} edges/s new, {again:,.0f} edges/s re-crawl; {on_disk / n:,.0f} bytes/edge"
                " on disk (compressed collection + indexes)"
            )
        finally:
            idx._client.drop_database(name)
            idx.close()
    print(f"reproduce: {sys.executable} bench/index_bench.py --edges {args.edges} --batch {args.batch}")


if __name__ == "__main__":
    main()
