"""The commands of the everyday SEO questions (issue 19): ``intersect``, ``broken``, ``anchors``,
``outlinks`` and ``disavow``, answered by ``backlinkspider.query.questions``.

As every command: a bad argument is one line and exit 2, a missing index or an empty answer one line and
exit 1. Rows print as a table, JSON Lines or CSV (the columns are the records' keys).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, TypeVar

import click

from backlinkspider.cli.options import Failure, format_option, index_option, parse_target, target_options
from backlinkspider.cli.render import fields_table
from backlinkspider.index import LinkIndex, open_index
from backlinkspider.query import questions
from backlinkspider.query.errors import BadTarget, NoBacklinks
from backlinkspider.query.inputs import SINCE_FORMATS, query_filters
from backlinkspider.records import ANCHOR_FIELDS, BROKEN_FIELDS, INTERSECT_FIELDS, OUTLINK_FIELDS, Target
from backlinkspider.redact import redact

T = TypeVar("T")


def _since(value: datetime | None) -> int | None:
    """A ``--since`` date (read as UTC) as epoch seconds."""
    return None if value is None else int(value.replace(tzinfo=UTC).timestamp())


def _answer(index: str, question: Callable[[LinkIndex], T], hint: str = "") -> T:
    """``question`` over the index at ``index``: bad input is a usage error (exit 2), an empty answer
    one line (exit 1)."""
    with open_index(index, create=False) as idx:
        try:
            return question(idx)
        except BadTarget as exc:
            raise click.BadParameter(str(exc), param_hint=hint or None) from None
        except (NoBacklinks, questions.NoScores) as exc:
            raise Failure(f"{exc} in {redact(index)}") from None


@click.command()
@click.argument("domains", nargs=-1, required=True)
@click.option("--not", "excluded", multiple=True, metavar="DOMAIN", help="Drop domains linking here.")
@click.option("--min", "at_least", type=int, help="Link to at least this many of DOMAINS  [default: all]")
@click.option("--follow-only", is_flag=True, help="Count only links without nofollow, ugc or sponsored.")
@click.option("--include-lost", is_flag=True, help="Count lost links too.")
@click.option("--since", type=click.DateTime(list(SINCE_FORMATS)), help="Only links first seen on or after.")
@format_option
@index_option
def intersect(
    domains: tuple[str, ...],
    excluded: tuple[str, ...],
    at_least: int | None,
    follow_only: bool,
    include_lost: bool,
    since: datetime | None,
    fmt: str,
    index: str,
) -> None:
    """Referring domains linking to at least --min of DOMAINS (competitors) and to none of --not (you):
    best authority first. Live links of any rel unless --follow-only or --include-lost."""
    filters = query_filters(
        rel="follow" if follow_only else None,
        since=_since(since),
        status="all" if include_lost else "live",
    )
    rows = _answer(
        index,
        lambda idx: questions.intersect(idx, domains, excluded=excluded, at_least=at_least, filters=filters),
        "DOMAINS / --not / --min",
    )
    fields_table(rows, fmt, f"Referring domains linking to {', '.join(domains)}", INTERSECT_FIELDS)


@click.command()
@target_options
@format_option
@index_option
def broken(target: str, scope: str, fmt: str, index: str) -> None:
    """Pages of TARGET whose last crawl failed (HTTP >= 400, DNS, connection) and the live links to them:
    links to win back, most referring domains first."""
    parsed = parse_target(target, scope)
    rows = _answer(index, lambda idx: questions.broken(idx, parsed))
    fields_table(rows, fmt, f"Broken pages of {parsed.scope} {parsed.value}", BROKEN_FIELDS)


@click.command()
@target_options
@click.option("--include-lost", is_flag=True, help="Count lost links too.")
@format_option
@index_option
def anchors(target: str, scope: str, include_lost: bool, fmt: str, index: str) -> None:
    """Anchor texts of TARGET's links by the referring domains using each, with links and follow share."""
    parsed = parse_target(target, scope)
    filters = query_filters(status="all" if include_lost else "live")
    rows = _answer(index, lambda idx: questions.anchors(idx, parsed, filters))
    fields_table(rows, fmt, f"Anchors of {parsed.scope} {parsed.value}", ANCHOR_FIELDS)


@click.command()
@click.argument("domain")
@click.option("--include-lost", is_flag=True, help="Count lost links too.")
@format_option
@index_option
def outlinks(domain: str, include_lost: bool, fmt: str, index: str) -> None:
    """The domains DOMAIN links to (live links), with links, followed ones and the top anchor."""
    rows = _answer(
        index, lambda idx: questions.outlinks(idx, domain, "all" if include_lost else "live"), "DOMAIN"
    )
    fields_table(rows, fmt, f"Domains linked from {domain}", OUTLINK_FIELDS)


@click.command()
@click.option("--farm-only", is_flag=True, help="Link farm members (from the last `backlinks rank`).")
@click.option("--spam-mass-over", type=click.FloatRange(0, 1), help="Spam mass above this.")
@click.option("--domains-file", type=click.File(encoding="utf-8"), help="Domains, one a line (# comments).")
@click.option("--target", help="Only referring domains of this domain, host or URL.")
@index_option
def disavow(
    farm_only: bool, spam_mass_over: float | None, domains_file: Any, target: str | None, index: str
) -> None:
    """Print a disavow file for Google Search Console: the referring domains every given filter picks,
    as sorted `domain:` lines under a comment saying when and how."""
    try:
        listed = None if domains_file is None else questions.read_domain_list(domains_file, domains_file.name)
    except BadTarget as exc:
        raise click.BadParameter(str(exc), param_hint="--domains-file") from None
    parsed: Target | None = None if target is None else parse_target(target, "auto")
    pick = questions.DisavowPick(farm_only, spam_mass_over, listed, parsed, getattr(domains_file, "name", ""))
    picked = _answer(index, lambda idx: questions.disavowed(idx, pick))
    click.echo(questions.disavow_file(picked, pick), nl=False)
