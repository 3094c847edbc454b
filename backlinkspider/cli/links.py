"""``backlinks query``, ``summary`` and ``export``: who links to a target, its profile, every edge."""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator
from datetime import UTC, datetime

import click

from backlinkspider import query as queries
from backlinkspider.cli.options import (
    MAX_ROWS,
    Failure,
    format_option,
    index_option,
    limit_option,
    parse_target,
    target_options,
)
from backlinkspider.cli.render import profile_tables, write
from backlinkspider.index import open_index
from backlinkspider.query.errors import BadTarget, NoBacklinks
from backlinkspider.records import LINK_TYPES, QUERY_FIELDS, SORTS, Listed
from backlinkspider.redact import redact


@click.command()
@target_options
@click.option("--follow-only", is_flag=True, help="Only links without nofollow, ugc or sponsored.")
@click.option("--nofollow-only", is_flag=True, help="Only links with nofollow, ugc or sponsored.")
@click.option("--type", "link_type", type=click.Choice(LINK_TYPES), help="Only links of this type.")
@click.option(
    "--since", type=click.DateTime(["%Y-%m-%d", "%Y-%m-%dT%H:%M:%S"]), help="First seen on or after."
)
@click.option("--from-domain", help="Only links from this referring (registered) domain.")
@click.option("--anchor-contains", help="Only anchors containing this text (case-insensitive).")
@click.option(
    "--provenance",
    metavar="NAME",
    help="Only links last seen from NAME: crawl, or a web archive's name (CC-MAIN-2025-43).",
)
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
@limit_option
@click.option("--offset", type=click.IntRange(0, MAX_ROWS), default=0, help="Skip this many rows.")
@click.option(
    "--cursor",
    help="Continue after the page that printed this cursor (stable while crawling; with --sort"
    " authority, until the next `backlinks rank`).",
)
@format_option
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
    provenance: str | None,
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
    parsed = parse_target(target, scope)
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
            provenance=provenance,
        )
    except BadTarget as exc:
        raise click.BadParameter(str(exc), param_hint="--from-domain") from None
    with open_index(index, create=False) as idx:
        try:
            rows = queries.backlinks(
                idx,
                parsed,
                filters,
                sort=sort,  # type: ignore[arg-type]  # click.Choice(SORTS)
                limit=limit or None,
                offset=offset,
                cursor=cursor,
                one_per_domain=one_per_domain,
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
            for row in itertools.chain([first], rows):
                last[:] = [row]
                yield row

        count = write(shown(), fmt, title=f"Backlinks to {parsed.scope} {parsed.value}", fields=QUERY_FIELDS)
        if limit and count == limit:
            click.echo(f"next page: --cursor {last[0]['_cursor']}", err=True)


@click.command()
@target_options
@click.option("--include-lost", is_flag=True, help="Count lost links too.")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)
@index_option
def summary(target: str, scope: str, include_lost: bool, fmt: str, index: str) -> None:
    """The backlink profile of TARGET: counts, rel and type split, top anchors, referring domains and
    pages, first and last seen, new and lost links over 7 and 30 days; with its domain's scores and the
    referring domains' authority bands once `backlinks rank` ran."""
    parsed = parse_target(target, scope)
    with open_index(index, create=False) as idx:
        try:
            profile = queries.summary(idx, parsed, include_lost=include_lost)
        except NoBacklinks as exc:
            raise Failure(f"{exc} in {redact(index)}") from None
    if profile["scores_note"]:
        click.echo(f"backlinks: note: {profile['scores_note']}", err=True)
    if fmt == "json":
        click.echo(json.dumps(profile, ensure_ascii=False, indent=2))
    else:
        profile_tables(profile, f"{parsed.scope} {parsed.value}")


@click.command()
@click.argument("domains", nargs=-1, required=True)
@index_option
def refigure(domains: tuple[str, ...], index: str) -> None:
    """Recount the summary figures of target DOMAINS from their edges (a repair: MongoDB on a
    standalone server can let them drift when a write fails part way; SQLite cannot)."""
    with open_index(index) as idx:
        for domain in domains:
            click.echo(f"{domain}: {idx.rebuild_figures(domain)} edges counted")


def _edge_id(ctx: click.Context, param: click.Parameter, value: str | None) -> bytes | None:
    if value is None:
        return None
    try:
        edge_id = bytes.fromhex(value)
    except ValueError:
        edge_id = b""
    if len(edge_id) != 16:
        raise click.BadParameter(f"not an edge id (32 hex digits): {value[:60]!r}")
    return edge_id


@click.command()
@click.option("--format", "fmt", type=click.Choice(["jsonl", "csv"]), default="jsonl", show_default=True)
@click.option(
    "--after",
    metavar="EDGE_ID",
    callback=_edge_id,
    help="Resume after this edge (32 hex digits): edges come in edge id order, and the id of a row is"
    " blake2b-128 of its source_url, target_url and link_type joined by newlines.",
)
@index_option
def export(fmt: str, after: bytes | None, index: str) -> None:
    """Every edge in the index, streamed to stdout in edge id order."""
    with open_index(index, create=False) as idx:
        write(queries.export(idx, after), fmt)
