"""How the commands print: rows as a table, JSON Lines or CSV; a profile and the domain scores as
tables. The JSONL and CSV spellings are the query layer's (``query.output``), shared with the API."""

from __future__ import annotations

import sys
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from rich.columns import Columns
from rich.console import Console
from rich.table import Table

from backlinkspider.query import output
from backlinkspider.records import FIELDS


def write(rows: Iterable[Any], fmt: str, title: str = "", fields: tuple[str, ...] = FIELDS) -> int:
    """Print rows in a format (table, jsonl, csv); returns how many."""
    if fmt == "table":
        return _links_table(rows, title)
    return output.write(rows, fmt, sys.stdout, fields)  # type: ignore[arg-type]  # click.Choice


def _links_table(rows: Iterable[Mapping[str, Any]], title: str) -> int:
    table = Table(title=title, title_justify="left")
    for col in ("source", "auth", "anchor", "type", "rel", "target", "first seen", "last seen"):
        table.add_column(col, overflow="fold", no_wrap=col == "auth")
    count = 0
    for r in rows:
        count += 1
        rel = " ".join(flag for flag in ("nofollow", "ugc", "sponsored") if r[flag]) or "follow"
        authority = r.get("source_authority")
        table.add_row(
            r["source_url"] + (" ⇄" if r.get("reciprocal") else ""),
            "-" if authority is None else f"{authority:.0f}",
            r["anchor_text"],
            r["link_type"],
            rel,
            r["target_url"],
            r["first_seen"][:10],
            r["last_seen"][:10] + (f", lost {r['lost_at'][:10]}" if r.get("lost_at") else ""),
        )
    Console().print(table)
    return count


def profile_tables(p: Mapping[str, Any], title: str) -> None:
    console = Console()
    head = Table(title=f"Backlink profile of {title}", title_justify="left", show_header=False)
    for label, value in (
        ("backlinks", p["backlinks"]),
        ("referring pages", p["referring_pages"]),
        ("referring domains", p["referring_domains"]),
        ("referring hosts", p["referring_hosts"]),
        ("referring IPs / subnets", f"{p['referring_ips']:,} / {p['referring_subnets']:,}"),
        ("follow / nofollow / ugc / sponsored", " / ".join(f"{p['by_rel'][k]:,}" for k in p["by_rel"])),
        ("text / image / canonical / redirect", " / ".join(f"{p['by_type'][k]:,}" for k in p["by_type"])),
        ("first seen / last seen", f"{p['first_seen']} / {p['last_seen']}"),
        (
            "new 7d / 30d (links, domains)",
            " / ".join(
                f"{p['new'][w]['backlinks']:,}, {p['new'][w]['referring_domains']:,}" for w in ("7d", "30d")
            ),
        ),
        (
            "lost 7d / 30d (links, domains)",
            " / ".join(
                f"{p['lost'][w]['backlinks']:,}, {p['lost'][w]['referring_domains']:,}" for w in ("7d", "30d")
            ),
        ),
    ):
        head.add_row(label, f"{value:,}" if isinstance(value, int) else value)
    if p.get("scores_computed_at"):
        for label, key in (
            ("authority", "authority"),
            ("pagerank", "pagerank"),
            ("trust", "trust"),
            ("spam mass", "spam_mass"),
            ("link farm", "farm"),
            ("reciprocal domains", "reciprocal_domains"),
            ("scores computed", "scores_computed_at"),
        ):
            head.add_row(label, _score_text(key, p[key]))
    console.print(head)
    tops = []
    for key, label, title in (
        ("top_referring_domains", "referring domain", "Top referring domains"),
        ("top_anchors", "anchor", "Top anchors"),
        ("top_pages", "target page", "Top pages"),
        ("referring_tlds", "TLD", "Referring domains by TLD"),
    ):
        t = Table(title=title, title_justify="left")
        t.add_column(label, overflow="fold", max_width=48)
        t.add_column("links" if key != "referring_tlds" else "domains", justify="right")
        for entry in p[key]:
            t.add_row(entry["value"] or "(empty)", f"{entry['count']:,}")
        tops.append(t)
    if p.get("authority_bands"):
        t = Table(title="Referring domains by authority", title_justify="left")
        t.add_column("authority")
        t.add_column("domains", justify="right")
        for entry in p["authority_bands"]:
            t.add_row(entry["band"], f"{entry['referring_domains']:,}")
        tops.append(t)
    console.print(Columns(tops))


def _score_text(key: str, value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if key == "pagerank":
        return f"{value:.3g}"
    if isinstance(value, float):
        return f"{value:.1f}" if key == "authority" else f"{value:.2f}"
    return f"{value:,}" if isinstance(value, int) else str(value)


def domains_table(rows: Sequence[Mapping[str, Any]], title: str) -> None:
    table = Table(title=title, title_justify="left")
    columns = (
        ("domain", "domain"),
        ("auth", "authority"),
        ("PR", "pagerank"),
        ("trust", "trust"),
        ("spam", "spam_mass"),
        ("farm", "farm_id"),
        ("ref", "referring_domains"),
        ("recip", "reciprocal_domains"),
        ("out", "linked_domains"),
    )
    for label, _ in columns:
        table.add_column(label, justify="left" if label == "domain" else "right", no_wrap=label == "domain")
    for r in rows:
        cells = [_score_text(key, r[key]) for _, key in columns]
        if r["farm_role"]:
            cells[5] = f"{r['farm_id']} ({r['farm_role']})"
        table.add_row(*cells)
    Console().print(table)


def fields_table(rows: Sequence[Mapping[str, Any]], fmt: str, title: str, fields: tuple[str, ...]) -> None:
    """Rows as a table of ``fields`` (or JSON Lines / CSV with those columns)."""
    if fmt != "table":
        output.write(rows, fmt, sys.stdout, fields)  # type: ignore[arg-type]  # click.Choice
        return
    table = Table(title=title, title_justify="left")
    for name in fields:
        table.add_column(name.replace("_", " "), overflow="fold")
    for row in rows:
        table.add_row(*(_cell(row[name]) for name in fields))
    Console().print(table)


def _cell(value: object) -> str:
    if value is None:
        return "-"
    if isinstance(value, list):
        return ", ".join(map(str, value))
    if isinstance(value, float):
        return f"{value:.2f}"
    return f"{value:,}" if isinstance(value, int) else str(value)
