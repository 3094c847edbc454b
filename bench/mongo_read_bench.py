"""MongoDB read bench: what the summary of the biggest domain and page 2 of a cursor walk examine, at
two index sizes 5x apart. A read that costs what a page costs examines the same at both: the last lines
give each read's keys and documents at every size over those at the first.

The index: ``size`` edges, 40 a source page, a fifth of them to the biggest domain (big.example), the
rest spread over 1000 other domains, the pages first seen evenly over a year at every size (so both
indexes hold the same days: the summary reads one figure a day with links new or lost, what its
history costs, not its edges), one edge in 20 lost (all on one day), one in 8 nofollow. The
edges are loaded as documents (the write path is the contract suite's business) and the biggest
domain's figures counted by ``rebuild_figures``, so the figures are those the write path keeps.

Counted: index keys and documents examined, summed over the read's commands. On the stand-in (no
server) by ``tests/support/mongo_standin.Examined``, which models each read on the declared indexes;
with ``BACKLINKS_TEST_MONGO_URI`` also on that server, by ``explain`` (``executionStats``) of every
command the store sent (``tests/support/mongo_explain.py``), in a fresh database dropped afterwards.

Run:  python bench/mongo_read_bench.py [--sizes 1000000,5000000] [--real-sizes 1000000,5000000]
      BACKLINKS_TEST_MONGO_URI=mongodb://HOST:27017 python bench/mongo_read_bench.py
The stand-in holds every document in Python and runs each command by a scan of the collection (the
counts model a server; its own work does not): 1M and 5M took 8 minutes at 5.6 GB peak (~1.1 KB an
edge) on a shared two-core machine.
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "support"))

from mongo_explain import Captured, explained
from mongo_standin import Examined, insert_documents, strict_client

from backlinkspider.index.mongo import MongoStore
from backlinkspider.index.mongo.documents import Document, bson_date, document_for
from backlinkspider.records import Edge, Filters, Target

BIG = "big.example"
DOMAINS = 1000
LINKS_PER_PAGE = 40
LIMIT = 100
T0 = datetime(2025, 1, 1, tzinfo=UTC)
SPAN = 365 * 86400  # seconds the pages' first-seen dates spread over, whatever the size
LOST = bson_date(T0 + timedelta(days=366))


def documents(size: int, seed: int = 7) -> Iterator[Document]:
    """``size`` edge documents (see the module docstring), in a fixed random order. Equal strings and
    dates are one object (a page's URL and date, the domains, hosts and anchors), not one a document:
    the stand-in holds them in Python, 5M documents in ~5 GB."""
    rng = random.Random(seed)
    pages = -(-size // LINKS_PER_PAGE)
    one: dict[str, str] = {}
    seen = bson_date(T0)
    source_url = ""
    for i in range(size):
        page, k = divmod(i, LINKS_PER_PAGE)
        domain = BIG if rng.random() < 0.2 else one.setdefault(d := f"d{rng.randrange(DOMAINS)}.example", d)
        source_domain = one.setdefault(s := f"s{page % 20_000}.org", s)
        source_host = one.setdefault(s := f"www.{source_domain}", s)
        target_host = one.setdefault(t := f"www.{domain}", t)
        if k == 0:
            source_url = f"http://{source_host}/p{page}"
            seen = bson_date(T0 + timedelta(seconds=page * SPAN // pages))
        edge = Edge(
            source_url,
            f"http://{target_host}/t{rng.randrange(500)}?k={k}",  # one edge a (page, link)
            "text",
            one.setdefault(a := f"anchor {rng.randrange(300)}", a),
            k % 8 == 0,
            False,
            False,
            source_host,
            source_domain,
            target_host,
            domain,
        )
        doc = {"_id": edge.edge_id, **document_for(edge, seen)}
        if rng.random() < 0.05:
            doc["lost_at"] = LOST
        yield doc


def load(store: MongoStore, size: int, insert: Callable[[list[Document]], object]) -> None:
    """The edges, 10,000 a batch by ``insert``, then the biggest domain's figures."""
    batch: list[Document] = []
    for doc in documents(size):
        batch.append(doc)
        if len(batch) == 10_000:
            insert(batch)
            batch = []
    if batch:
        insert(batch)
    store.rebuild_figures(BIG)


def reads(store: MongoStore) -> dict[str, Callable[[], object]]:
    """The two reads measured; page 2 continues after page 1's last row."""
    target = Target("domain", BIG)
    first = list(store.edges(target, Filters(), sort="first_seen", limit=LIMIT))
    after = (first[-1].first_seen, first[-1].edge_id)
    end = int((T0 + timedelta(days=400)).timestamp())
    since = [end - 7 * 86400, end - 30 * 86400]
    return {
        "summary (tally)": lambda: store.tally(target, include_lost=False, since=since, top=10),
        f"page 2 ({LIMIT} rows)": lambda: list(
            store.edges(target, Filters(), sort="first_seen", after=after, limit=LIMIT)
        ),
    }


def standin(size: int) -> list[tuple[str, int, int, int, bool]]:
    store = MongoStore("mongodb://standin/backlinks", client=strict_client())
    load(store, size, lambda batch: insert_documents(store._links, batch))
    found = []
    for name, read in reads(store).items():
        with Examined(store._client) as examined:
            read()
        keys, docs = examined.total()
        blocking = any(r.blocking_sort for r in examined.reads)
        found.append((name, len(examined.reads), keys, docs, blocking))
    store.close()
    return found


def real(uri: str, size: int) -> list[tuple[str, int, int, int, bool]]:
    head, _, query = uri.partition("?")
    database = f"backlinks_bench_{uuid.uuid4().hex[:12]}"
    captured = Captured()
    import pymongo

    client: Any = pymongo.MongoClient(uri, event_listeners=[captured])
    store = MongoStore(f"{head.rstrip('/')}/{database}" + (f"?{query}" if query else ""), client=client)
    try:
        load(store, size, lambda batch: store._links.insert_many(batch, ordered=False))
        found = []
        for name, read in reads(store).items():
            captured.commands.clear()
            captured.on = True
            read()
            captured.on = False
            plans = [explained(client, db, command) for db, command in captured.commands]
            found.append(
                (
                    name,
                    len(plans),
                    sum(p.keys for p in plans),
                    sum(p.docs for p in plans),
                    any(p.blocking_sort for p in plans),
                )
            )
        return found
    finally:
        client.drop_database(database)
        client.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="1000000,5000000", help="edges on the stand-in, comma-separated")
    parser.add_argument("--real-sizes", default="1000000,5000000", help="edges on a real server")
    args = parser.parse_args()
    print("command: python bench/mongo_read_bench.py " + " ".join(sys.argv[1:]))
    runs: list[tuple[str, Callable[[int], list[Any]], str]] = [("stand-in", standin, args.sizes)]
    if os.environ.get("BACKLINKS_TEST_MONGO_URI"):
        uri = os.environ["BACKLINKS_TEST_MONGO_URI"]
        runs.append(("server", lambda size: real(uri, size), args.real_sizes))
    print(
        f"{'backend':<9} {'edges':>10} {'big.example':>11}  {'read':<18} {'commands':>8} {'keys':>6} {'docs':>6}  sort"
    )
    for backend, measure, sizes in runs:
        measured: dict[int, list[tuple[str, int, int, int, bool]]] = {}
        for size in map(int, sizes.split(",")):
            started = time.monotonic()
            measured[size] = measure(size)
            for name, commands, keys, docs, blocking in measured[size]:
                print(
                    f"{backend:<9} {size:>10,} {'~' + format(size // 5, ','):>11}  {name:<18} {commands:>8} {keys:>6}"
                    f" {docs:>6}  {'in memory' if blocking else 'index'}"
                )
            print(f"  ({backend}, {size:,} edges: loaded and measured in {time.monotonic() - started:.0f}s)")
        ratios(backend, measured)


def ratios(backend: str, measured: dict[int, list[tuple[str, int, int, int, bool]]]) -> None:
    """Each read's keys and documents at every size over those at the first: 1.00x is a read that
    costs what its answer costs, not what the index holds."""
    first, *rest = measured
    for size in rest:
        for (name, _, keys0, docs0, _), (_, _, keys, docs, _) in zip(
            measured[first], measured[size], strict=True
        ):
            print(
                f"  ({backend}) {name}: {size:,} vs {first:,} edges ({size / first:.0f}x):"
                f" keys {keys / max(keys0, 1):.2f}x, docs {docs / max(docs0, 1):.2f}x"
            )


if __name__ == "__main__":
    main()
