"""bench/api_bench.py's fast build of the benchmark index (indexes on links dropped during the load and
made again by the schema, a big cache, big transactions) makes the same index as the plain write path:
the same rows in every table, the same schema, the same summary and query answers, an intact file.

A few seconds at 20,000 edges; ``python tests/unit/test_bench_build.py 50000`` compares a bigger pair.
"""

from __future__ import annotations

import contextlib
import sqlite3
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))
import api_bench

import backlinkspider.query as q
from backlinkspider.index import open_index
from backlinkspider.records import Target

EDGES = 20_000
NOW = datetime(2026, 1, 3, tzinfo=UTC)  # two days after the generator's first page: the windows count
TABLES = {"links": "id", "agg": "target_domain, dim, value", "pages": "url"}


def build_both(directory: Path, edges: int) -> tuple[Path, Path]:
    real, fast = directory / "real.db", directory / "fast.db"
    api_bench.build(real, edges, fast=False)
    api_bench.build(fast, edges)
    return real, fast


def rows(path: Path, sql: str) -> list[tuple]:
    with contextlib.closing(sqlite3.connect(path)) as db:
        return db.execute(sql).fetchall()


def targets(path: Path) -> list[Target]:
    """The biggest domain, one at the top percentile, the median one and one with the fewest links (the
    power law's median domain has one or two); the hosts of the first two."""
    by_size = rows(
        path, "SELECT target_domain FROM agg WHERE dim = 'edge' ORDER BY n_all DESC, target_domain"
    )
    biggest, top_percentile = by_size[0][0], by_size[len(by_size) // 100][0]
    median, fewest = by_size[len(by_size) // 2][0], by_size[-1][0]
    return [
        Target("domain", biggest),
        Target("domain", top_percentile),
        Target("domain", median),
        Target("domain", fewest),
        Target("host", f"www.{biggest}"),
        Target("host", f"www.{top_percentile}"),
    ]


def answers(path: Path, target: Target) -> dict:
    with open_index(f"sqlite:///{path}", create=False) as index:
        first = list(q.backlinks(index, target, limit=100))
        return {
            "summary": q.profile(index, target, now=NOW),
            "summary_all": q.profile(index, target, include_lost=True, now=NOW),
            "first_page": first,
            "next_page": list(q.backlinks(index, target, limit=100, cursor=first[-1]["_cursor"])),
            "by_source": list(q.backlinks(index, target, sort="source_domain", limit=100)),
            "every_row": list(q.backlinks(index, target)),
            "history": q.history(index, target),
        }


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(api_bench, "LOAD_BATCH", EDGES // 4)  # several transactions, as at 5M edges
        return build_both(tmp_path_factory.mktemp("bench_build"), EDGES)


def test_same_rows_in_every_table(built: tuple[Path, Path]) -> None:
    real, fast = built
    for table, key in TABLES.items():
        assert rows(real, f"SELECT * FROM {table} ORDER BY {key}") == rows(
            fast, f"SELECT * FROM {table} ORDER BY {key}"
        ), table
    # Some edges were written twice (a page linking one URL twice): the upsert's update ran too.
    assert rows(real, "SELECT count(*) FROM links")[0][0] < EDGES


def test_same_schema_and_intact(built: tuple[Path, Path]) -> None:
    real, fast = built
    schema = "SELECT type, name, tbl_name, sql FROM sqlite_master ORDER BY type, name"
    assert rows(real, schema) == rows(fast, schema)
    assert {name for _, name, _, _ in rows(fast, schema)} >= {
        "links_by_target_url",
        "links_by_target_domain",
        "links_by_domain_last_seen",
        "links_by_domain_source",
        "links_lost",
        "agg_insert",
        "agg_update",
    }
    for path in built:
        assert rows(path, "PRAGMA integrity_check") == [("ok",)]
        assert rows(path, "PRAGMA journal_mode") == [("wal",)]


def test_same_answers(built: tuple[Path, Path]) -> None:
    real, fast = built
    for target in targets(real):
        expected = answers(real, target)
        assert expected["summary"]["backlinks"] > 0
        assert answers(fast, target) == expected, target


if __name__ == "__main__":  # a bigger pair, compared and summed up
    import tempfile
    import time

    edges = int(sys.argv[1]) if len(sys.argv) > 1 else 50_000
    with tempfile.TemporaryDirectory() as tmp:
        t = time.perf_counter()
        pair = build_both(Path(tmp), edges)
        print(f"both built in {time.perf_counter() - t:.0f} s")
        for table, key in TABLES.items():
            same = rows(pair[0], f"SELECT * FROM {table} ORDER BY {key}") == rows(
                pair[1], f"SELECT * FROM {table} ORDER BY {key}"
            )
            print(
                f"table {table:6} {rows(pair[0], f'SELECT count(*) FROM {table}')[0][0]:>9,} rows  same: {same}"
            )
        test_same_schema_and_intact(pair)
        print("schema same, integrity_check ok on both")
        for target in targets(pair[0]):
            a, b = answers(pair[0], target), answers(pair[1], target)
            print(
                f"{target.scope:6} {target.value:20} {a['summary']['backlinks']:>7,} backlinks"
                f"  summary, pages, every row, history the same: {a == b}"
            )
