"""API load benchmark: 50 concurrent closed-loop clients against ``backlinks serve``.

The index is bench/profile_bench.py's (the same generator and seed: the biggest target domain holds about
a fifth of all edges, ~1M backlinks at 5M edges), built once into ``--db`` and reused by later runs. It is
written through the real write path (``index.write``: the upsert, the triggers that keep the per-domain
aggregates, the pages table), set up for a bulk load: the indexes on ``links`` that no write reads are
dropped first and made again at the end by the schema itself, no journal, a big page cache, 50,000 edges
a transaction (see ``build``). 5M edges take minutes (8.5 on a 2-core machine) where the plain write
path takes hours; tests/unit/test_bench_build.py shows both make the same index.

The server runs as users run it (``backlinks serve``, one worker per core); the load generator runs on
the same machine (one asyncio process, each client sending its next request when the last one is
answered). For ``summary`` (with its daily history) and the first page (100 rows) of ``backlinks`` of the
biggest domain, and the ``intersect`` of the three biggest, it prints p50, p99 and requests/s; and the
first summary and intersect, uncached, the first requests to a just started server.

Run:  python bench/api_bench.py [--edges 5000000] [--db PATH] [--clients 50] [--seconds 20]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import random
import re
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

import httpx

sys.path.insert(0, str(Path(__file__).parent))
from profile_bench import LINKS_PER_PAGE, TargetDraw, fill  # the profile benchmark's generator

from backlinkspider.index import open_index

# The fast build's bulk-load settings. The cache is an upper bound (SQLite takes pages as it needs them):
# at 5M edges the B-trees a write touches at random (edge ids, source URLs, aggregates) fit in it.
LOAD_CACHE_KIB = 4_000_000
LOAD_BATCH = 50_000  # edges a transaction
# The one index on links a write reads (a fetched page's edges by URL, to mark those gone as lost).
WRITE_READS = {"links_by_source_url"}


def build(path: Path, edges: int, *, fast: bool = True) -> None:
    """The profile benchmark's index of ``edges`` edges, written through ``index.write``.

    ``fast`` changes how, not what: the indexes on links that no write reads are dropped before the load
    and made again after it by the schema (opening the index runs its ``CREATE INDEX IF NOT EXISTS``); the
    load runs without a journal or fsync (``journal_mode=OFF``, ``synchronous=OFF``: a crashed build is
    thrown away, not recovered), with a big page cache and 50,000 edges a transaction. The rows, their ids,
    the aggregates and the pages are written by the same statements and triggers in the same order
    either way (tests/unit/test_bench_build.py compares the two). The file is built aside and moved into place,
    so an interrupted build leaves no half index to be reused."""
    t = time.perf_counter()
    part = path.with_name(path.name + ".part")
    for leftover in (part, Path(f"{part}-wal"), Path(f"{part}-shm")):
        leftover.unlink(missing_ok=True)
    rng = random.Random(5)  # profile_bench's seed: the same index
    with open_index(f"sqlite:///{part}") as index:
        if fast:
            db = index._db
            db.execute("PRAGMA journal_mode = OFF")
            db.execute("PRAGMA synchronous = OFF")
            db.execute(f"PRAGMA cache_size = -{LOAD_CACHE_KIB}")
            indexes = db.execute(
                "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'links' AND sql IS NOT NULL"
            ).fetchall()
            for (name,) in indexes:
                if name not in WRITE_READS:
                    db.execute(f'DROP INDEX "{name}"')
        batch = {"batch": LOAD_BATCH} if fast else {}
        fill(index, edges, rng, TargetDraw(rng), datetime(2026, 1, 1, tzinfo=UTC), 0, **batch)
    if fast:
        with open_index(f"sqlite:///{part}"):
            pass  # back to WAL, and the schema makes the dropped indexes again
    part.rename(path)
    print(f"built {edges:,} edges in {time.perf_counter() - t:,.0f} s", flush=True)


def start_server(uri: str, log: Path) -> tuple[subprocess.Popen, str]:
    with open(log, "w") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "backlinkspider.cli", "serve", "--index", uri, "--port", "0"],
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    deadline = time.monotonic() + 60
    while not (found := re.search(r"Uvicorn running on (http://\S+:\d+)", log.read_text())):
        if proc.poll() is not None or time.monotonic() > deadline:
            raise SystemExit(f"server did not start: {log.read_text()}")
        time.sleep(0.1)
    url = found.group(1)
    while True:
        try:
            if httpx.get(f"{url}/api/v1/healthz").status_code == 200:
                return proc, url
        except httpx.TransportError:
            time.sleep(0.1)


async def load(url: str, clients: int, seconds: float, warmup: float = 3.0) -> tuple[list[float], int]:
    """Closed loop: each client, on its own keep-alive connection, sends its next request when the last
    is answered. Plain HTTP/1.1 over asyncio streams: the generator shares the server's cores, so it must
    cost far less per request than the server does."""
    parts = urlsplit(url)
    request = f"GET {parts.path}?{parts.query} HTTP/1.1\r\nHost: {parts.netloc}\r\n\r\n".encode()
    latencies: list[float] = []
    errors = 0
    start = time.perf_counter()
    measure_from, end = start + warmup, start + warmup + seconds

    async def one() -> None:
        nonlocal errors
        reader, writer = await asyncio.open_connection(parts.hostname, parts.port)
        while (now := time.perf_counter()) < end:
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            length = int(re.search(rb"(?i)content-length: *(\d+)", head).group(1))  # type: ignore[union-attr]
            await reader.readexactly(length)
            done = time.perf_counter()
            if now >= measure_from:
                latencies.append(done - now)
                errors += not head.startswith(b"HTTP/1.1 200")
        writer.close()

    await asyncio.gather(*(one() for _ in range(clients)))
    return latencies, errors


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--edges", type=int, default=5_000_000)
    ap.add_argument("--db", help="the index file: built if missing, reused if there")
    ap.add_argument("--clients", type=int, default=50)
    ap.add_argument("--seconds", type=float, default=20)
    args = ap.parse_args()
    tmp = tempfile.TemporaryDirectory()
    db = Path(args.db) if args.db else Path(tmp.name) / "api.db"
    if not db.exists():
        build(db, args.edges)
    else:  # a page holds LINKS_PER_PAGE edges but the last: the pages tell which --edges built it
        with contextlib.closing(sqlite3.connect(db)) as check:
            pages = check.execute("SELECT count(*) FROM pages").fetchone()[0]
        if pages != -(-args.edges // LINKS_PER_PAGE):
            raise SystemExit(f"{db} was not built with --edges {args.edges}: pass its size or remove it")
    uri = f"sqlite:///{db}"
    with open_index(uri, create=False) as index:
        edges = index.count()
    proc, base = start_server(uri, Path(tmp.name) / "serve.log")
    try:
        domain = "target0.com"
        summary = f"{base}/api/v1/summary?target={domain}"
        t = time.perf_counter()
        backlinks = httpx.get(summary, timeout=60).json()["backlinks"]
        uncached = (time.perf_counter() - t) * 1000
        print(
            f"index {edges:,} edges; {domain}: {backlinks:,} backlinks; server workers: "
            f"{len(os.sched_getaffinity(0))}; {args.clients} clients, {args.seconds:.0f} s each;"
            f" load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}",
            flush=True,
        )
        print(f"first (uncached) summary, with its daily history: {uncached:.0f} ms", flush=True)
        big = "&".join(f"target=target{rank}.com" for rank in range(3))  # the three biggest domains
        intersect = f"{base}/api/v1/intersect?{big}"
        t = time.perf_counter()
        shared = httpx.get(intersect, timeout=60).json()["total"]
        print(
            f"first (uncached) intersect of the 3 biggest: {(time.perf_counter() - t) * 1000:.0f} ms, "
            f"{shared:,} referring domains",
            flush=True,
        )
        for name, url in (
            ("summary (with history)", summary),
            ("backlinks, first page (100 rows)", f"{base}/api/v1/backlinks?target={domain}&limit=100"),
            ("intersect of the 3 biggest (100 rows)", intersect),
        ):
            latencies, errors = asyncio.run(load(url, args.clients, args.seconds))
            q = statistics.quantiles(latencies, n=100)
            print(
                f"{name:38} p50 {q[49] * 1000:6.1f} ms  p99 {q[98] * 1000:6.1f} ms  "
                f"{len(latencies) / args.seconds:7.0f} req/s  errors {errors}",
                flush=True,
            )
    finally:
        proc.terminate()
        proc.wait(timeout=20)
        tmp.cleanup()
    print(
        f"reproduce: {sys.executable} bench/api_bench.py --edges {args.edges}"
        + (f" --db {args.db}" if args.db else "")
        + f" --clients {args.clients} --seconds {args.seconds:.0f}"
    )


if __name__ == "__main__":
    main()
