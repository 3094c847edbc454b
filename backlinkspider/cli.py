"""The ``backlinks`` command: crawl, then ask the index who links where.

Every failure a person can cause (a bad argument, a missing index, a target with no backlinks) ends in one
line on stderr and a non-zero exit: 2 for a usage error, 1 for anything else.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, ClassVar

import click

from backlinkspider import cli_questions
from backlinkspider import query as queries
from backlinkspider.index import DEFAULT_INDEX, IndexUnavailable, LinkIndex, open_index
from backlinkspider.query import output
from backlinkspider.query.errors import BadTarget, NoBacklinks
from backlinkspider.records import (
    FIELDS,
    LINK_TYPES,
    QUERY_FIELDS,
    SCOPES,
    SCORE_FIELDS,
    SCORE_SORTS,
    SORTS,
    Listed,
    Target,
)
from backlinkspider.redact import redact
from backlinkspider.urls import BadURL, use_suffix_list

if TYPE_CHECKING:
    from redis import Redis
    from rich.table import Table
    from scrapy.settings import Settings

FORMATS = ("table", "jsonl", "csv")
Row = Any  # a record streamed to an output (Listed, ExportedEdge ...)
MAX_ROWS = 2**63 - 1  # what a SQLite or MongoDB integer holds

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
@click.option(
    "--resume",
    type=click.Path(file_okay=False),
    metavar="DIR",
    help="Keep the crawl's state in DIR; the same command again continues an interrupted crawl.",
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
    resume: str | None,
    index: str,
    overrides: tuple[str, ...],
) -> None:
    """Crawl from seed URLs and index every outbound link, with a live progress line.

    The exit code is 0 only when the crawl ran to its end and every page it fetched is in the index.
    """
    from scrapy.crawler import CrawlerProcess
    from scrapy.settings import Settings

    from backlinkspider import config
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
    try:
        for warning in config.check(settings):
            _warn(warning)
    except config.BadSetting as exc:
        raise click.BadParameter(str(exc), param_hint="-s") from None
    cluster = settings.get("REDIS_URL")
    if resume and cluster:
        raise click.UsageError("--resume is for one process: with REDIS_URL the cluster frontier persists")
    if not seeds and not recrawl and not cluster:
        raise click.UsageError("no seeds: give one or more URLs, or --seeds-file, or --recrawl")
    if resume:
        settings.set("JOBDIR", resume, priority="cmdline")
    try:
        use_suffix_list(settings.get("BACKLINKS_PSL_FILE") or None)
    except (OSError, ValueError) as exc:
        raise click.BadParameter(str(exc), param_hint="BACKLINKS_PSL_FILE") from None
    with _check_index(settings["BACKLINKS_INDEX"], create=not recrawl) as idx:
        try:
            idx.check_writable()
        except IndexUnavailable as exc:
            raise Failure(str(exc)) from None
    if cluster:
        _redis(cluster).close()
        idle = settings.getfloat("BACKLINKS_IDLE_TIMEOUT")
        click.echo(
            f"backlinks: running as a cluster worker of {redact(cluster)} (REDIS_URL): "
            + (
                f"stops after {idle:g} s without work"
                if idle
                else "never stops idle (BACKLINKS_IDLE_TIMEOUT=0)"
            ),
            err=True,
        )

    process = CrawlerProcess(settings)
    crawler = process.create_crawler(BacklinksSpider)
    process.crawl(crawler, seeds=seeds, max_depth=max_depth, max_pages=max_pages, recrawl=recrawl)
    process.start()
    problem = (
        crawler.spider.failure() if isinstance(crawler.spider, BacklinksSpider) else "crawl did not start"
    )
    if problem:
        raise Failure(problem)


def _warn(message: str) -> None:
    click.echo(f"backlinks: warning: {message}", err=True)


def _target_options(command: Any) -> Any:
    command = click.option(
        "--scope",
        type=click.Choice(SCOPES),
        default="auto",
        show_default=True,
        help="auto: a URL is a URL, anything else its registered domain (all hosts).",
    )(command)
    return click.argument("target")(command)


def _parse_target(target: str, scope: str) -> Target:
    try:
        return queries.parse_target(target, scope)
    except BadTarget as exc:
        raise click.BadParameter(str(exc), param_hint="TARGET") from None


redis_option = click.option(
    "--redis-url", envvar="REDIS_URL", required=True, help="The cluster's Redis (env REDIS_URL)."
)


def _redis(url: str) -> Redis:
    from backlinkspider.frontier.connection import RedisUnavailable, connect_once

    if not url.startswith(("redis://", "rediss://", "unix://")):
        raise click.BadParameter(
            f"{redact(url)!r} is not a Redis URL (redis://HOST:PORT/DB or rediss://...)",
            param_hint="--redis-url",
        )
    try:
        return connect_once(url)
    except RedisUnavailable as exc:
        raise Failure(str(exc)) from None


set_option = click.option(
    "-s", "--set", "overrides", multiple=True, metavar="NAME=VALUE", help="Any Scrapy or BACKLINKS_* setting."
)


@cli.command()
@click.argument("urls", nargs=-1)
@click.option("--seeds-file", type=click.Path(dir_okay=False), help="A file of seed URLs, one a line.")
@redis_option
@set_option
def seed(urls: tuple[str, ...], seeds_file: str | None, redis_url: str, overrides: tuple[str, ...]) -> None:
    """Push seed URLs into the cluster's shared frontier (deduplicated like any other request)."""
    from scrapy.utils.request import fingerprint

    from backlinkspider.frontier.queue import Frontier, push_item
    from backlinkspider.spiders.backlinks import BacklinksSpider

    seeds = _read_seeds(urls, seeds_file)
    if not seeds:
        raise click.UsageError("no seeds: give one or more URLs, or --seeds-file")
    server = _redis(redis_url)
    frontier = Frontier(server, "seed", _dupefilter(server, _settings(overrides)))
    spider = BacklinksSpider()
    requests = [spider.request(url, 0) for url in seeds]
    new, _ = frontier.push([push_item(r, spider, frontier.dupefilter, fingerprint(r)) for r in requests])
    click.echo(f"{new} of {len(seeds)} seeds queued ({len(seeds) - new} seen before)")


@cli.command()
@click.option("--watch", is_flag=True, help="Refresh every 2 seconds until interrupted.")
@redis_option
@set_option
def status(watch: bool, redis_url: str, overrides: tuple[str, ...]) -> None:
    """The cluster: frontier size, URLs seen, leased requests, and per worker pages, links and pages/s."""
    import time

    from rich.console import Console
    from rich.live import Live

    server = _redis(redis_url)
    settings = _settings(overrides)
    _dupefilter(server, settings)  # the cluster agrees with the settings, else one line
    if not watch:
        Console().print(_status_table(server, settings))
        return
    with Live(_status_table(server, settings), auto_refresh=False) as live:
        try:
            while True:
                time.sleep(2)
                live.update(_status_table(server, settings), refresh=True)
        except KeyboardInterrupt:
            pass


def _settings(overrides: tuple[str, ...] = ()) -> Settings:
    from scrapy.settings import Settings

    settings = Settings()
    settings.setmodule("backlinkspider.settings", priority="project")
    for item in overrides:
        name, sep, value = item.partition("=")
        if not sep or not name:
            raise click.BadParameter(f"{item!r} is not NAME=VALUE", param_hint="-s")
        settings.set(name, value, priority="cmdline")
    return settings


def _dupefilter(server: Any, settings: Any) -> Any:
    """The cluster's dupefilter, as the settings ask and as the cluster agrees (else a one-line error)."""
    from backlinkspider.frontier.dupefilter import FrontierConfigError, from_settings

    try:
        filt = from_settings(settings)
        filt.setup(server)
    except FrontierConfigError as exc:
        raise Failure(str(exc)) from None
    return filt


def _status_table(server: Any, settings: Settings) -> Table:
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
        f"frontier {f['queue']:,} on {f['hosts']:,} hosts  seen {f['seen']:,}  leased {f['leased']:,}"
        f"  workers {len(f['workers'])}  dropped entries {f['dropped']:,}"
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
@click.option(
    "--sort",
    type=click.Choice(SORTS),
    default="first_seen",
    show_default=True,
    help="authority: the referring domain's authority, best first (from the last `backlinks rank`).",
)
@click.option("--limit", type=click.IntRange(0, MAX_ROWS), default=100, show_default=True, help="0 = all.")
@click.option("--offset", type=click.IntRange(0, MAX_ROWS), default=0, help="Skip this many rows.")
@click.option(
    "--cursor",
    help="Continue after the page that printed this cursor (stable while crawling; with --sort"
    " authority, until the next `backlinks rank`).",
)
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
        filters = queries.query_filters(
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
                queries.backlinks(
                    idx,
                    parsed,
                    filters,
                    sort=sort,  # type: ignore[arg-type]  # click.Choice(SORTS)
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
        last: list[Listed] = []

        def shown() -> Iterator[Listed]:
            for row in _chain(first, rows):
                last[:] = [row]
                yield row

        count = _write(shown(), fmt, title=f"Backlinks to {parsed.scope} {parsed.value}", fields=QUERY_FIELDS)
        if limit and count == limit:
            click.echo(f"next page: --cursor {last[0]['_cursor']}", err=True)


@cli.command()
@_target_options
@click.option("--include-lost", is_flag=True, help="Count lost links too.")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)
@index_option
def summary(target: str, scope: str, include_lost: bool, fmt: str, index: str) -> None:
    """The backlink profile of TARGET: counts, rel and type split, top anchors, referring domains and
    pages, first and last seen, new and lost links over 7 and 30 days; with its domain's scores and the
    referring domains' authority bands once `backlinks rank` ran."""
    parsed = _parse_target(target, scope)
    with _check_index(index) as idx:
        try:
            profile = queries.summary(idx, parsed, include_lost=include_lost)
        except IndexUnavailable as exc:
            raise Failure(str(exc)) from None
        except NoBacklinks as exc:
            raise Failure(f"{exc} in {redact(index)}") from None
    if profile["scores_note"]:
        click.echo(f"backlinks: note: {profile['scores_note']}", err=True)
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
        _write(_guard(queries.export(idx)), fmt)


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
    """The seeds; a bad seeds-file line is a warning with its number, and the other lines are used."""
    from backlinkspider.seeds import read_seeds

    try:
        seeds = read_seeds(urls, seeds_file)
    except BadURL as exc:
        raise click.BadParameter(str(exc), param_hint="URL") from None
    except OSError as exc:
        raise click.BadParameter(
            f"cannot read {seeds_file}: {exc.strerror}", param_hint="--seeds-file"
        ) from None
    for line in seeds.bad_lines:
        _warn(f"skipped seed: {line}")
    return seeds.urls


def _check_index(uri: str, create: bool = False) -> LinkIndex:
    try:
        return open_index(uri, create=create)
    except IndexUnavailable as exc:
        raise Failure(str(exc)) from None


def _guard(rows: Iterator[Row]) -> Iterator[Row]:
    """Turn a read failure in the middle of a stream into a one-line error."""
    try:
        yield from rows
    except IndexUnavailable as exc:
        raise Failure(str(exc)) from None


def _chain(first: Row, rest: Iterable[Row]) -> Iterator[Row]:
    yield first
    yield from rest


def _write(rows: Iterable[Any], fmt: str, title: str = "", fields: tuple[str, ...] = FIELDS) -> int:
    """Print rows in a format; returns how many."""
    if fmt == "table":
        return _table(rows, title)
    return output.write(rows, fmt, sys.stdout, fields)  # type: ignore[arg-type]  # click.Choice


def _table(rows: Iterable[Mapping[str, Any]], title: str) -> int:
    from rich.console import Console
    from rich.table import Table

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


def _profile_tables(p: Mapping[str, Any], title: str) -> None:
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


# --- domain scores: the domain graph, rank, domains ------------------------------------------------------

GRAPH_FIELDS = ("source_domain", "target_domain", "links", "reciprocal")


@cli.command()
@click.option(
    "--format", "fmt", type=click.Choice(["jsonl", "csv", "tsv"]), default="jsonl", show_default=True
)
@index_option
def graph(fmt: str, index: str) -> None:
    """The domain graph: an edge per pair of registered domains with a live, followed link between them
    (source_domain, target_domain, links, reciprocal), grouped in the index. Loads into networkx, Gephi,
    WebGraph."""
    from backlinkspider.scores import EmptyGraph, read_graph

    with _check_index(index) as idx:
        try:
            g = read_graph(idx.graph_domains(), idx.domain_graph(), keep_links=True)
        except IndexUnavailable as exc:
            raise Failure(str(exc)) from None
        except EmptyGraph as exc:
            raise Failure(f"{exc} in {redact(index)}") from None
    assert g.links is not None
    names = g.names.tolist()
    pairs = zip(
        g.sources().tolist(), g.indices.tolist(), g.links.tolist(), g.reciprocal().tolist(), strict=True
    )
    rows = (dict(zip(GRAPH_FIELDS, (names[s], names[t], n, r), strict=True)) for s, t, n, r in pairs)
    output.write(rows, fmt, sys.stdout, GRAPH_FIELDS)  # type: ignore[arg-type]  # click.Choice


@cli.command()
@click.option(
    "--trusted",
    type=click.File(encoding="utf-8"),
    help="Trusted domains, one a line, for TrustRank and spam mass (without it both are null).",
)
@index_option
def rank(trusted: Any, index: str) -> None:
    """Compute and store every domain's scores from the domain graph: PageRank, authority (0-100),
    trust (TrustRank), spam mass, link farms, reciprocal and referring domains."""
    from backlinkspider.scores import EmptyGraph, NothingTrusted, rank_index, trusted_domains

    seeds = trusted_domains(trusted) if trusted else None
    if trusted and not seeds:
        raise Failure(f"no domain in {trusted.name}")
    with _check_index(index) as idx, _RankProgress() as progress:
        try:
            done = rank_index(idx, seeds, progress)
        except IndexUnavailable as exc:
            raise Failure(str(exc)) from None
        except EmptyGraph:
            raise Failure(
                f"nothing to rank: {redact(index)} holds no live, followed link between two domains"
            ) from None
        except NothingTrusted as exc:
            raise Failure(f"{exc} (from {trusted.name})") from None
    s = done.scores
    if s.unknown_trusted:
        click.echo(
            f"backlinks: note: {len(s.unknown_trusted)} trusted domains are not in the domain graph:"
            f" {', '.join(s.unknown_trusted[:10])}{' ...' if len(s.unknown_trusted) > 10 else ''}",
            err=True,
        )
    click.echo(
        f"ranked {s.graph.n:,} domains, {s.graph.edges:,} edges: pagerank {s.iterations} iterations"
        + (f", trust {s.trust_iterations} iterations" if s.trust is not None else "")
        + f", {s.farms} link farms; read {done.read_seconds:.1f} s, ranked {done.rank_seconds:.1f} s,"
        f" stored {done.write_seconds:.1f} s"
    )


class _RankProgress:
    """The stage of a rank and its count, live on stderr when it is a terminal (else silent: the result
    line says it all)."""

    LABELS: ClassVar[dict[str, str]] = {
        "read": "reading the domain graph: {done:,} edges",
        "pagerank": "PageRank: iteration {done}",
        "trustrank": "TrustRank: iteration {done}",
        "farms": "finding link farms",
        "write": "storing {total:,} domains' scores",
    }

    def __enter__(self) -> _RankProgress:
        from rich.console import Console

        console = Console(stderr=True)
        self.status = console.status("") if console.is_terminal else None
        if self.status:
            self.status.start()
        return self

    def __call__(self, stage: str, done: int, total: int | None) -> None:
        if self.status:
            self.status.update(self.LABELS[stage].format(done=done, total=total))

    def __exit__(self, *exc: object) -> None:
        if self.status:
            self.status.stop()


@cli.command()
@click.option("--sort", type=click.Choice(SCORE_SORTS), default="authority", show_default=True)
@click.option("--farm-only", is_flag=True, help="Only link farm members and the sites they push.")
@click.option("--limit", type=click.IntRange(0, MAX_ROWS), default=100, show_default=True, help="0 = all.")
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="table", show_default=True)
@index_option
def domains(sort: str, farm_only: bool, limit: int, fmt: str, index: str) -> None:
    """Scored domains, best first: every score `backlinks rank` stored (null trust and spam mass when it
    had no trusted list)."""
    with _check_index(index) as idx:
        try:
            rows = queries.domains(idx, sort, farm_only=farm_only, limit=limit or None)  # type: ignore[arg-type]
            fresh = queries.freshness(idx, idx.scores_run())
        except IndexUnavailable as exc:
            raise Failure(str(exc)) from None
    if fresh["scores_computed_at"] is None:
        raise Failure(f"no scores in {redact(index)}: run `backlinks rank` first")
    if fresh["scores_note"]:
        click.echo(f"backlinks: note: {fresh['scores_note']}", err=True)
    if fmt == "table":
        _domains_table(rows, f"Domains by {sort} (computed {fresh['scores_computed_at']})")
    else:
        _write(rows, fmt, fields=SCORE_FIELDS)


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


def _domains_table(rows: Sequence[Mapping[str, Any]], title: str) -> None:
    from rich.console import Console
    from rich.table import Table

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


cli_questions.register(cli, sys.modules[__name__])  # the question commands, made with this module's helpers


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
