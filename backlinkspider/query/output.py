"""How every output spells a record: ISO dates, JSON Lines and CSV rows (the CLI prints them, the API
sends them), without the private keys (``_cursor``) a listing carries for paging."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from functools import lru_cache
from typing import IO, Literal

Format = Literal["jsonl", "csv", "tsv"]


@lru_cache(maxsize=1 << 14)
def iso(ts: int) -> str:
    """Epoch seconds as ISO 8601 UTC, the form every output uses (remembered: the edges of a page share
    its crawl time, and spelling a date costs more than the rest of a row)."""
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def plain(row: Mapping[str, object]) -> dict[str, object]:
    """A row without its private keys (those starting with ``_``)."""
    return {k: v for k, v in row.items() if not k.startswith("_")}


def cells(row: Mapping[str, object]) -> dict[str, object]:
    """A row's CSV cells: booleans spelled as JSONL spells them (``true`` / ``false``), None empty."""
    return {k: str(v).lower() if isinstance(v, bool) else v for k, v in row.items()}


def write(
    rows: Iterable[Mapping[str, object]],
    fmt: Format,
    out: IO[str],
    fields: tuple[str, ...],
    *,
    header: bool = True,
) -> int:
    """Write rows as JSON Lines (their public keys) or CSV / TSV (``fields``, with a header row unless
    ``header`` is false); returns how many."""
    count = 0
    if fmt == "jsonl":
        for row in rows:
            out.write(json.dumps(plain(row), ensure_ascii=False) + "\n")
            count += 1
        return count
    writer = csv.DictWriter(
        out,
        fieldnames=fields,
        delimiter="," if fmt == "csv" else "\t",
        lineterminator="\n",
        extrasaction="ignore",
    )
    if header:
        writer.writeheader()
    for row in rows:
        writer.writerow(cells(row))
        count += 1
    return count
