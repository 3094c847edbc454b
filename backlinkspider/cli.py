"""The ``backlinks`` command: crawl, then ask the index who links where.

Every failure a person can cause (a bad argument, a missing index, a target with no backlinks) ends in one
line on stderr and a non-zero exit: 2 for a usage error, 1 for anything else.
"""

from __future__ import annotations

import csv
import json
import sys
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from typing import Any

import click

from backlinkspider.extract import LINK_TYPES
from backlinkspider.index import (
    DEFAULT_INDEX,
    FIELDS,
    BadTarget,
    IndexUnavailable,
    Target,
    open_index,
    parse_target,
    redact,
)
from backlinkspider.index.base import SORTS
from backlinkspider.profile import NoBacklinks, query_filters, summary_document
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
@click.option(
    "--recrawl", is_flag=True, help="Re-visit the pages in the index, least recently crawled first."
)
@index_option
@click.option(
    "-s", "--set", "overrides", multiple=True, metavar="NAME=VALUE", help="Any Scrapy or BACKLINKS_* setting."
)
def crawl(
    urls: tuple[str, ...],
    seeds_file: str | None,
    max_depth: int | None,
    max_pages: int | None,
    recrawl: bool,
    index: str,
    overrides: tuple[str, ...],
) -> None:
    """Crawl from seed URLs and index every outbound link, with a live progress line."""
    from scrapy.crawler import CrawlerProcess
    from scrapy.settings import Settings

    from backlinkspider.spiders.backlinks import BacklinksSpider

    seeds = _read_seeds(urls, seeds_file)
    if seeds and recrawl:
        raise click.UsageError("--recrawl re-visits the index and takes no seeds")

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
    if not seeds and not recrawl and not settings.get("REDIS_URL"):  # a cluster worker may start empty
        raise click.UsageError("no seeds: give one or more URLs, or --seeds-file, or --recrawl")
    _check_index(settings["BACKLINKS_INDEX"], create=not recrawl).close()
    if settings.get("REDIS_URL"):
        _redis(settings["REDIS_URL"]).close()

    process = CrawlerProcess(settings)
    crawler = process.create_crawler(BacklinksSpider)
    process.crawl(crawler, seeds=seeds, max_depth=max_depth, max_pages=max_pages, recrawl=recrawl)
    process.start()
    reason = crawler.stats.get_value("finish_reason")
    if reason not in ("finished", "closespider_itemcount", "shutdown"):
        raise Failure(f"crawl ended early: {reason}")


def _target_options(command: Any) -> Any:
    command = click.option(
        "--scope",
        type=click.Choice(["auto", "domain", "host", "url"]),
        default="auto",
        show_default=True,
        help="auto: a URL is a URL, anything else its registered domain (all hosts).",
    )(command)
    return click.argument("target")(command)


def _parse_target(target: str, scope: str) -> Target:
    try:
        return parse_target(target, scope)
    except BadTarget as exc:
        raise click.BadParameter(str(exc), param_hint="TARGET") from None


redis_option = click.option(
    "--redis-url", envvar="REDIS_URL", required=True, help="The cluster's Redis (env REDIS_URL)."
)


def _redis(url: str) -> Any:
    from backlinkspider.frontier.connection import RedisUnavailable, connect_once

    try:
        return connect_once(url)
    except RedisUnavailable as exc:
        raise Failure(str(exc)) from None


@cli.command()
@click.argument("urls", nargs=-1)
@click.option("--seeds-file", type=click.Path(dir_okay=False), help="A file of seed URLs, one a line.")
@redis_option
def seed(urls: tuple[str, ...], seeds_file: str | None, redis_url: str) -> None:
    """Push seed URLs into the cluster's shared frontier (deduplicated like any other request)."""
    from scrapy import Request
    from scrapy.utils.request import fingerprint

    from backlinkspider.frontier import serializer
    from backlinkspider.frontier.dupefilter import from_settings

    seeds = _read_seeds(urls, seeds_file)
    if not seeds:
        raise click.UsageError("no seeds: give one or more URLs, or --seeds-file")
    server = _redis(redis_url)
    filt = from_settings(server, _settings())
    new = filt.push_new(
        [(fingerprint(Request(u, meta={"verbatim_url": True})), 0, serializer.dumps(u, 0, 0)) for u in seeds]
    )
    click.echo(f"{new} of {len(seeds)} seeds queued ({len(seeds) - new} seen before)")


@cli.command()
@click.option("--watch", is_flag=True, help="Refresh every 2 seconds until interrupted.")
@redis_option
def status(watch: bool, redis_url: str) -> None:
    """The cluster: frontier size, URLs seen, leased requests, and per worker pages, links and pages/s."""
    import time

    from rich.console import Console
    from rich.live import Live

    server = _redis(redis_url)
    if not watch:
        Console().print(_status_table(server, _settings()))
        return
    with Live(_status_table(server, _settings()), auto_refresh=False) as live:
        try:
            while True:
                time.sleep(2)
                live.update(_status_table(server, _settings()), refresh=True)
        except KeyboardInterrupt:
            pass


def _settings() -> Any:
    from scrapy.settings import Settings

    settings = Settings()
    settings.setmodule("backlinkspider.settings", priority="project")
    return settings


def _status_table(server: Any, settings: Any) -> Any:
    from rich.table import Table

    from backlinkspider.frontier.status import figures

    f = figures(server, settings)
    table = Table(title="backlinkspider cluster", title_justify="left")
    for col in ("worker", "pages", "links indexed", "errors", "pages/s"):
        table.add_column(col, justify="right" if col != "worker" else "left")
    total = {"pages": 0, "links": 0, "errors": 0, "pages_per_s": 0.0}
    for w in f["workers"]:
        table.add_row(
            w["name"], f"{w['pages']:,}", f"{w['links']:,}", f"{w['errors']:,}", f"{w['pages_per_s']:,.1f}"
        )
        for k in total:
            total[k] += w[k]
    table.add_row(
        "all",
        f"{int(total['pages']):,}",
        f"{int(total['links']):,}",
        f"{int(total['errors']):,}",
        f"{total['pages_per_s']:,.1f}",
        style="bold",
    )
    table.caption = (
        f"frontier {f['queue']:,}  seen {f['seen']:,}  leased {f['leased']:,}  workers {len(f['workers'])}"
        f"  dropped entries {f['dropped']:,}"
    )
    return table


@cli.command()
@_target_options
@click.option("--follow-only", is_flag=True, help="Only links without nofollow, ugc or sponsored.")
@click.option("--nofollow-only", is_flag=True, help="Only links with nofollow, ugc or sponsored.")
@click.option("--type", "link_type", type=click.Choice(LINK_TYPES), help="Only links of this type.")
@click.option(
    "--since", type=click.DateTime(["%Y-%m-%d", "%Y-%m-%dT%H:%M:%S"]), help="First seen on or after."
)
@click.option("--from-domain", help="Only links from this referring (registered) domain.")
@click.option("--anchor-contains", help="Only anchors containing this text (case-insensitive).")
@click.option("--live/--lost", default=True, help="Live links (the default) or lost ones.")
@click.option("--include-lost", is_flag=True, help="Live and lost links.")
@click.option(
    "--one-per-domain", is_flag=True, help="The best link per referring domain (follow, then oldest)."
)
@click.option("--sort", type=click.Choice(SORTS), default="first_seen", show_default=True)
@click.option("--limit", type=click.IntRange(min=0), default=100, show_default=True, help="0 = all.")
@click.option("--offset", type=click.IntRange(min=0), default=0, help="Skip this many rows.")
@click.option("--cursor", help="Continue after the page that printed this cursor (stable while crawling).")
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="table", show_default=True)
@index_option
def query(
    target: str,
    scope: str,
    follow_only: bool,
    nofollow_only: bool,
    link_type: str | None,
    since: datetime | None,
    from_domain: str | None,
    anchor_contains: str | None,
    live: bool,
    include_lost: bool,
    one_per_domain: bool,
    sort: str,
    limit: int,
    offset: int,
    cursor: str | None,
    fmt: str,
    index: str,
) -> None:
    """Backlinks of TARGET (a domain, host or URL), oldest first.

    When a page is cut by --limit, the cursor of its last row is printed to stderr: pass it as --cursor
    for the next page.
    """
    parsed = _parse_target(target, scope)
    if follow_only and nofollow_only:
        raise click.UsageError("--follow-only and --nofollow-only exclude each other")
    if cursor and offset:
        raise click.UsageError("use --cursor or --offset, not both")
    try:
        filters = query_filters(
            rel="follow" if follow_only else "nofollow" if nofollow_only else None,
            link_type=link_type,
            since=int(since.replace(tzinfo=UTC).timestamp()) if since else None,
            from_domain=from_domain,
            anchor_contains=anchor_contains,
            status="all" if include_lost else "live" if live else "lost",
        )
    except BadTarget as exc:
        raise click.BadParameter(str(exc), param_hint="--from-domain") from None
    with _check_index(index) as idx:
        try:
            rows = _guard(
                idx.query(
                    parsed,
                    filters,
                    sort=sort,
                    limit=limit or None,
                    offset=offset,
                    cursor=cursor,
                    one_per_domain=one_per_domain,
                )
            )
            first = next(rows, None)
        except BadTarget as exc:
            raise click.BadParameter(str(exc), param_hint="--cursor") from None
        if first is None:
            if cursor or offset:  # the end of a paginated listing is not an error
                click.echo("no more rows", err=True)
                return
            raise Failure(f"no backlinks to {parsed.scope} {parsed.value} match in {redact(index)}")
        last: list[dict[str, Any]] = []

        def shown() -> Iterator[dict[str, Any]]:
            for row in _chain(first, rows):
                last[:] = [row]
                yield {k: v for k, v in row.items() if not k.startswith("_")}

        count = _write(shown(), fmt, title=f"Backlinks to {parsed.scope} {parsed.value}")
        if limit and count == limit:
            click.echo(f"next page: --cursor {last[0]['_cursor']}", err=True)


@cli.command()
@_target_options
@click.option("--include-lost", is_flag=True, help="Count lost links too.")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)
@index_option
def summary(target: str, scope: str, include_lost: bool, fmt: str, index: str) -> None:
    """The backlink profile of TARGET: counts, rel and type split, top anchors, referring domains and
    pages, first and last seen, new and lost links over 7 and 30 days."""
    parsed = _parse_target(target, scope)
    with _check_index(index) as idx:
        try:
            profile = summary_document(idx, parsed, include_lost=include_lost)
        except IndexUnavailable as exc:
            raise Failure(str(exc)) from None
        except NoBacklinks as exc:
            raise Failure(f"{exc} in {redact(index)}") from None
    if fmt == "json":
        click.echo(json.dumps(profile, ensure_ascii=False, indent=2))
    else:
        _profile_tables(profile, f"{parsed.scope} {parsed.value}")


@cli.command()
@click.option("--format", "fmt", type=click.Choice(["jsonl", "csv"]), default="jsonl", show_default=True)
@index_option
def export(fmt: str, index: str) -> None:
    """Every edge in the index, streamed to stdout."""
    with _check_index(index) as idx:
        _write(_guard(idx.export()), fmt)


@cli.command()
@index_option
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to bind.")
@click.option("--port", type=click.IntRange(0, 65535), default=8000, show_default=True)
@click.option(
    "--workers", type=click.IntRange(min=1), help="Server processes  [default: the machine's cores]"
)
def serve(index: str, host: str, port: int, workers: int | None) -> None:
    """The web page (/) and the read-only JSON API (/api/v1, docs at /docs) over the index. Any address
    but loopback needs BACKLINKS_API_TOKEN, a bearer token every API request must carry."""
    import os

    from backlinkspider.web.app import TOKEN_ENV, is_loopback
    from backlinkspider.web.app import serve as run

    if not is_loopback(host) and not os.environ.get(TOKEN_ENV):
        raise Failure(f"refusing to serve on {host} without a token: set {TOKEN_ENV} (or bind 127.0.0.1)")
    _check_index(index).close()
    click.echo(f"serving {redact(index)}: the page at /, the API at /api/v1, its docs at /docs", err=True)
    run(index, host, port, workers or len(os.sched_getaffinity(0)))


def _read_seeds(urls: tuple[str, ...], seeds_file: str | None) -> list[str]:
    from backlinkspider.spiders.backlinks import read_seeds

    try:
        return read_seeds(list(urls), seeds_file)
    except BadURL as exc:
        raise click.BadParameter(str(exc), param_hint="URL") from None
    except OSError as exc:
        raise click.BadParameter(
            f"cannot read {seeds_file}: {exc.strerror}", param_hint="--seeds-file"
        ) from None


def _check_index(uri: str, create: bool = False) -> Any:
    try:
        return open_index(uri, create=create)
    except IndexUnavailable as exc:
        raise Failure(str(exc)) from None


def _guard(rows: Iterator[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    """Turn a read failure in the middle of a stream into a one-line error."""
    try:
        yield from rows
    except IndexUnavailable as exc:
        raise Failure(str(exc)) from None


def _chain(first: dict[str, Any], rest: Iterable[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    yield first
    yield from rest


def _write(rows: Iterable[dict[str, Any]], fmt: str, title: str = "") -> int:
    """Print rows in a format; returns how many."""
    out = sys.stdout
    count = 0
    if fmt == "jsonl":
        for row in rows:
            out.write(json.dumps(row, ensure_ascii=False) + "\n")
            count += 1
    elif fmt == "csv":
        writer = csv.DictWriter(out, fieldnames=FIELDS, lineterminator="\n")
        writer.writeheader()
        for row in rows:
            writer.writerow(row)
            count += 1
    else:
        count = _table(rows, title)
    return count


def _table(rows: Iterable[dict[str, Any]], title: str) -> int:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=title, title_justify="left")
    for col in ("source", "anchor", "type", "rel", "target", "first seen", "last seen"):
        table.add_column(col, overflow="fold")
    count = 0
    for r in rows:
        count += 1
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
    return count


def _profile_tables(p: dict[str, Any], title: str) -> None:
    from rich.columns import Columns
    from rich.console import Console
    from rich.table import Table

    console = Console()
    head = Table(title=f"Backlink profile of {title}", title_justify="left", show_header=False)
    for label, value in (
        ("backlinks", p["backlinks"]),
        ("referring pages", p["referring_pages"]),
        ("referring domains", p["referring_domains"]),
        ("referring hosts", p["referring_hosts"]),
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
    console.print(Columns(tops))


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
