"""The ``backlinks`` command: crawl, then ask the index who links where.

Every failure a person can cause (a bad argument, a missing index, a target with no backlinks) ends in one
line on stderr and a non-zero exit: 2 for a usage error, 1 for anything else.
"""

from __future__ import annotations

import csv
import json
import sys
from collections.abc import Iterable, Iterator
from typing import Any

import click

from backlinkspider.extract import LINK_TYPES
from backlinkspider.index import (
    DEFAULT_INDEX,
    FIELDS,
    BadTarget,
    IndexUnavailable,
    open_index,
    parse_target,
    redact,
)
from backlinkspider.urls import BadURL

FORMATS = ("table", "jsonl", "csv")

index_option = click.option(
    "--index",
    envvar="BACKLINKS_INDEX",
    default=DEFAULT_INDEX,
    show_default=True,
    help="Index URI (env BACKLINKS_INDEX).",
)


class Failure(click.ClickException):
    """A one-line error that is not a usage error (exit 1)."""


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="backlinkspider")
def cli() -> None:
    """A self-hosted backlink index: crawl the web, then ask who links to a domain, host or URL."""


@cli.command()
@click.argument("urls", nargs=-1)
@click.option("--seeds-file", type=click.Path(dir_okay=False), help="A file of seed URLs, one a line.")
@click.option("--max-depth", type=click.IntRange(min=0), help="Link hops from the seeds (0 = seeds only).")
@click.option("--max-pages", type=click.IntRange(min=1), help="Stop after about this many pages.")
@index_option
@click.option(
    "-s", "--set", "overrides", multiple=True, metavar="NAME=VALUE", help="Any Scrapy or BACKLINKS_* setting."
)
def crawl(
    urls: tuple[str, ...],
    seeds_file: str | None,
    max_depth: int | None,
    max_pages: int | None,
    index: str,
    overrides: tuple[str, ...],
) -> None:
    """Crawl from seed URLs and index every outbound link, with a live progress line."""
    from scrapy.crawler import CrawlerProcess
    from scrapy.settings import Settings

    from backlinkspider.spiders.backlinks import BacklinksSpider, read_seeds

    try:
        seeds = read_seeds(list(urls), seeds_file)
    except BadURL as exc:
        raise click.BadParameter(str(exc), param_hint="URL") from None
    except OSError as exc:
        raise click.BadParameter(f"cannot read {seeds_file}: {exc.strerror}", param_hint="--seeds-file") from None
    if not seeds:
        raise click.UsageError("no seeds: give one or more URLs, or --seeds-file")

    settings = Settings()
    settings.setmodule("backlinkspider.settings", priority="project")
    # The progress line replaces INFO logging on a terminal; -s LOG_LEVEL=INFO brings it back.
    settings.set("BACKLINKS_PROGRESS", True, priority="cmdline")
    settings.set("LOG_LEVEL", "WARNING", priority="cmdline")
    settings.set("BACKLINKS_INDEX", index, priority="cmdline")
    for item in overrides:
        name, sep, value = item.partition("=")
        if not sep or not name:
            raise click.BadParameter(f"{item!r} is not NAME=VALUE", param_hint="-s")
        settings.set(name, value, priority="cmdline")
    _check_index(settings["BACKLINKS_INDEX"], create=True)

    process = CrawlerProcess(settings)
    crawler = process.create_crawler(BacklinksSpider)
    process.crawl(crawler, seeds=seeds, max_depth=max_depth, max_pages=max_pages)
    process.start()
    reason = crawler.stats.get_value("finish_reason")
    if reason not in ("finished", "closespider_itemcount", "shutdown"):
        raise Failure(f"crawl ended early: {reason}")


@cli.command()
@click.argument("target")
@click.option(
    "--scope",
    type=click.Choice(["auto", "domain", "host", "url"]),
    default="auto",
    show_default=True,
    help="auto: a URL is a URL, anything else its registered domain (all hosts).",
)
@click.option("--follow-only", is_flag=True, help="Only links without nofollow, ugc or sponsored.")
@click.option("--type", "link_type", type=click.Choice(LINK_TYPES), help="Only links of this type.")
@click.option("--limit", type=click.IntRange(min=0), default=100, show_default=True, help="0 = all.")
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="table", show_default=True)
@index_option
def query(
    target: str, scope: str, follow_only: bool, link_type: str | None, limit: int, fmt: str, index: str
) -> None:
    """Backlinks of TARGET (a domain, host or URL), oldest first."""
    try:
        parsed = parse_target(target, scope)
    except BadTarget as exc:
        raise click.BadParameter(str(exc), param_hint="TARGET") from None
    with _check_index(index) as idx:
        rows = _guard(idx.query(parsed, follow_only=follow_only, link_type=link_type, limit=limit or None))
        first = next(rows, None)
        if first is None:
            raise Failure(f"no backlinks to {parsed.scope} {parsed.value} in {redact(index)}")
        _write(_chain(first, rows), fmt, title=f"Backlinks to {parsed.scope} {parsed.value}")


@cli.command()
@click.option("--format", "fmt", type=click.Choice(["jsonl", "csv"]), default="jsonl", show_default=True)
@index_option
def export(fmt: str, index: str) -> None:
    """Every edge in the index, streamed to stdout."""
    with _check_index(index) as idx:
        _write(_guard(idx.export()), fmt)


def _check_index(uri: str, create: bool = False) -> Any:
    try:
        idx = open_index(uri, create=create)
    except IndexUnavailable as exc:
        raise Failure(str(exc)) from None
    if create:
        idx.close()
    return idx


def _guard(rows: Iterator[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    """Turn a read failure in the middle of a stream into a one-line error."""
    try:
        yield from rows
    except IndexUnavailable as exc:
        raise Failure(str(exc)) from None


def _chain(first: dict[str, Any], rest: Iterable[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    yield first
    yield from rest


def _write(rows: Iterable[dict[str, Any]], fmt: str, title: str = "") -> None:
    out = sys.stdout
    if fmt == "jsonl":
        for row in rows:
            out.write(json.dumps(row, ensure_ascii=False) + "\n")
    elif fmt == "csv":
        writer = csv.DictWriter(out, fieldnames=FIELDS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    else:
        _table(rows, title)


def _table(rows: Iterable[dict[str, Any]], title: str) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=title, title_justify="left")
    for col in ("source", "anchor", "type", "rel", "target", "first seen", "last seen"):
        table.add_column(col, overflow="fold")
    for r in rows:
        rel = " ".join(flag for flag in ("nofollow", "ugc", "sponsored") if r[flag]) or "follow"
        table.add_row(
            r["source_url"],
            r["anchor_text"],
            r["link_type"],
            rel,
            r["target_url"],
            r["first_seen"][:10],
            r["last_seen"][:10],
        )
    Console().print(table)


def main(argv: list[str] | None = None) -> int:
    """Entry point: run the CLI, turning every error into one line on stderr. (Click itself ends quietly
    when the reader of stdout goes away, as in ``backlinks export | head``.)"""
    try:
        cli.main(args=argv, prog_name="backlinks", standalone_mode=False)
    except click.exceptions.Exit as exc:
        return exc.exit_code
    except click.exceptions.Abort:
        click.echo("backlinks: aborted", err=True)
        return 130
    except click.ClickException as exc:
        click.echo(f"backlinks: error: {exc.format_message()}", err=True)
        return exc.exit_code
    return 0


if __name__ == "__main__":
    sys.exit(main())
