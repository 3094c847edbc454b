"""``backlinks ingest`` throughput and memory, over the real pages of ../shared/corpus written as a WARC
(gzip per record, as Common Crawl ships them) and as a WAT file, on one core:

- the bare loop: FastWARC reads the WARC, Lexbor (selectolax) parses each HTML body, Ada resolves every
  ``<a href>`` against the page URL; nothing is kept. The ceiling of any WARC ingest in Python.
- WARC ingest, no writes: ``ArchiveReader`` and ``crawled_pages`` (the crawl's extraction, the index's
  records), in the same run (rounds interleaved), as pages/s and as a ratio to the bare loop;
- WARC ingest with SQLite writes: the same into a fresh SQLite index (``Sink``, ``BatchWriter``);
- WAT ingest, no writes: records/s and pages/s, as a ratio to the WARC path per page;
- peak RSS of ``backlinks ingest`` (a child process) on the WARC and on one 4x bigger;
- index size per edge on SQLite (file bytes / edges) and, estimated, on MongoDB (BSON sizes of a links
  document and of its index keys, as deploy/ creates them).

Run:  python bench/ingest_bench.py [--rounds N]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import ada_url
from fastwarc.warc import ArchiveIterator, WarcRecordType
from selectolax.lexbor import LexborHTMLParser

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "support"))

from webarchives import Resp, corpus_responses, write_warc, write_wat  # noqa: E402

from backlinkspider.archives import ArchiveReader  # noqa: E402
from backlinkspider.archives.ingest import Options, Sink, crawled_pages  # noqa: E402
from backlinkspider.crawl.batches import BatchWriter  # noqa: E402
from backlinkspider.index import open_index  # noqa: E402
from backlinkspider.records import CrawledPage  # noqa: E402


def bare_loop(path: Path) -> int:
    """FastWARC read + Lexbor parse + Ada resolve of every href; the pages read."""
    pages = 0
    with path.open("rb") as stream:
        for record in ArchiveIterator(stream, record_types=WarcRecordType.response, parse_http=True):
            url = record.headers.get("WARC-Target-URI") or ""
            body = record.reader.read()
            tree = LexborHTMLParser(body)
            for node in tree.css("a[href]"):
                try:  # noqa: SIM105 (a with block costs more in this loop, the ceiling measured)
                    ada_url.join_url(url, node.attributes.get("href") or "")
                except ValueError:
                    pass
            pages += 1
    return pages


def ingest_no_writes(path: Path) -> int:
    reader = ArchiveReader(path, Options().limits)
    return sum(1 for _ in crawled_pages(reader, Options()))


def ingest_sqlite(path: Path, db: Path) -> int:
    db.unlink(missing_ok=True)
    with open_index(f"sqlite:///{db}") as index:
        writer = BatchWriter(index, 2000, 5.0, 300.0, 3)
        sink = Sink(index, writer, targets=False)
        pages = 0
        for page in crawled_pages(ArchiveReader(path), Options()):
            sink.add(page)
            pages += 1
        sink.flush()
    return pages


def best(rounds: int, runs: dict[str, Callable[[], int]]) -> dict[str, tuple[float, int]]:
    """Each run's best time of ``rounds`` and what it counted, the runs interleaved round by round so
    that a shared machine's load weighs on all of them alike (their ratios are the figures)."""
    times: dict[str, list[float]] = {name: [] for name in runs}
    counted: dict[str, int] = {}
    for _ in range(rounds):
        for name, run in runs.items():
            t = time.perf_counter()
            counted[name] = run()
            times[name].append(time.perf_counter() - t)
    return {name: (min(times[name]), counted[name]) for name in runs}


def peak_rss(path: Path, db: Path) -> int:
    """Peak RSS (bytes) of ``backlinks ingest`` of one file into a fresh SQLite index, in a child."""
    db.unlink(missing_ok=True)
    child = subprocess.Popen(
        [sys.executable, "-m", "backlinkspider.cli", "ingest", str(path), "--index", f"sqlite:///{db}"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    _, status, usage = os.wait4(child.pid, 0)
    assert status == 0, status
    return usage.ru_maxrss * 1024


def mongo_bytes_per_edge(pages: list[CrawledPage]) -> tuple[float, float]:
    """Mean BSON bytes of the links documents of the pages' edges and of their index entries (the key fields
    of every index in ``documents.INDEXES`` and ``_id``'s, each with an 8-byte record id). An estimate:
    WiredTiger compresses documents (snappy) and index keys (prefix compression), so a real collection
    is smaller; the pages collection is left out."""
    import bson

    from backlinkspider.index.mongo import documents

    seen = datetime(2025, 10, 12, tzinfo=UTC)
    doc_bytes = key_bytes = edges = 0
    for page, edge in ((p, e) for p in pages for e in p.edges):
        edges += 1
        doc = {"_id": edge.edge_id, **documents.document_for(edge, seen, page)}
        doc_bytes += len(bson.encode(doc))
        for _, keys in [*documents.INDEXES, ("_id_", [("_id", 1)])]:
            key_bytes += len(bson.encode({name: doc[name] for name, _ in keys})) + 8
    return doc_bytes / edges, key_bytes / edges


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})  # one core
    responses = corpus_responses()
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        warc = write_warc(d / "corpus.warc.gz", responses)
        wat = write_wat(d / "corpus.warc.wat.gz", responses)
        bigger = [
            Resp(f"{r.url}{'&' if '?' in r.url else '?'}copy={k}", r.body)
            for k in range(4)
            for r in responses
        ]
        warc4 = write_warc(d / "corpus4.warc.gz", bigger)
        n = len(responses)
        doc, keys = mongo_bytes_per_edge(list(crawled_pages(ArchiveReader(warc), Options())))

        timed = best(
            args.rounds,
            {
                "bare": lambda: bare_loop(warc),
                "warc": lambda: ingest_no_writes(warc),
                "sqlite": lambda: ingest_sqlite(warc, d / "links.db"),
                "wat": lambda: ingest_no_writes(wat),
            },
        )
        (t_bare, _), (t_warc, pages), (t_sqlite, _), (t_wat, wat_pages) = timed.values()
        wat_records = sum(1 for _ in ArchiveIterator(wat.open("rb")))
        with open_index(f"sqlite:///{d / 'links.db'}") as index:
            edges = index.count()
        db_bytes = sum(f.stat().st_size for f in d.glob("links.db*"))
        rss1, rss4 = peak_rss(warc, d / "rss.db"), peak_rss(warc4, d / "rss.db")
    print(f"corpus: {n} pages ({pages} read), {edges:,} edges stored; best of {args.rounds}, one core")
    print(f"bare loop (FastWARC + Lexbor + Ada, nothing kept): {n / t_bare:,.0f} pages/s")
    print(f"WARC ingest, no writes: {pages / t_warc:,.0f} pages/s = {t_bare / t_warc:.2f} x the bare loop")
    print(
        f"WARC ingest, SQLite writes: {pages / t_sqlite:,.0f} pages/s = {t_bare / t_sqlite:.2f} x the bare loop"
    )
    print(
        f"WAT ingest, no writes: {wat_records / t_wat:,.0f} records/s, {wat_pages / t_wat:,.0f} pages/s"
        f" = {t_warc / t_wat:.2f} x the WARC path per page"
    )
    print(
        f"peak RSS of backlinks ingest: {rss1 / 2**20:,.0f} MiB ({n} pages), {rss4 / 2**20:,.0f} MiB ({4 * n})"
    )
    print(f"SQLite: {db_bytes / edges:,.0f} bytes per edge (files / edges)")
    print(
        f"MongoDB (estimate from BSON sizes): {doc:,.0f} bytes a links document + {keys:,.0f} bytes of"
        f" index entries = {doc + keys:,.0f} bytes per edge before compression"
    )
    print(f"reproduce: {sys.executable} bench/ingest_bench.py --rounds {args.rounds}")


if __name__ == "__main__":
    main()
