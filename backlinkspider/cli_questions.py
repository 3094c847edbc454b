"""The commands of the everyday SEO questions (issue 19): ``intersect``, ``broken``, ``anchors``,
``outlinks`` and ``disavow``, answered by ``backlinkspider.query.questions``.

As every command: a bad argument is one line and exit 2, a missing index or an empty answer one line and
exit 1. Rows print as a table, JSON Lines or CSV (the columns are the records' keys).
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from types import ModuleType
from typing import Any, TypeVar

import click

from backlinkspider.index import IndexUnavailable, LinkIndex
from backlinkspider.query import output, questions
from backlinkspider.query.errors import BadTarget, NoBacklinks
from backlinkspider.query.inputs import SINCE_FORMATS, query_filters
from backlinkspider.records import ANCHOR_FIELDS, BROKEN_FIELDS, INTERSECT_FIELDS, OUTLINK_FIELDS, Target
from backlinkspider.redact import redact

T = TypeVar("T")


def _print(rows: Sequence[Mapping[str, Any]], fmt: str, title: str, fields: tuple[str, ...]) -> None:
    if fmt != "table":
        output.write(rows, fmt, sys.stdout, fields)  # type: ignore[arg-type]  # click.Choice
        return
    from rich.console import Console
    from rich.table import Table

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


def _since(value: datetime | None) -> int | None:
    """A ``--since`` date (read as UTC) as epoch seconds."""
    return None if value is None else int(value.replace(tzinfo=UTC).timestamp())


Decorator = Callable[[Callable[..., None]], Callable[..., None]]


@dataclass(frozen=True, slots=True)
class _Base:
    """What the commands use of the module of the ``backlinks`` group: its options, how it opens an
    index and says a failure. Handed to ``register``, not imported: ``python -m`` and multiprocessing
    run that module under other names, and an import would load it twice."""

    index_option: Decorator
    target_options: Decorator
    format_option: Decorator
    check_index: Callable[[str], LinkIndex]
    failure: type[click.ClickException]
    parse_target: Callable[[str, str], Target]

    def answer(self, index: str, question: Callable[[LinkIndex], T], hint: str = "") -> T:
        """``question`` over the index at ``index``, its errors as one line: bad input exits 2, the
        rest 1."""
        with self.check_index(index) as idx:
            try:
                return question(idx)
            except BadTarget as exc:
                raise click.BadParameter(str(exc), param_hint=hint or None) from None
            except (NoBacklinks, questions.NoScores) as exc:
                raise self.failure(f"{exc} in {redact(index)}") from None
            except IndexUnavailable as exc:
                raise self.failure(str(exc)) from None


def register(group: click.Group, base: ModuleType) -> None:
    """Add the question commands to ``group``, made with the helpers of ``base``, its module."""
    helpers = _Base(
        base.index_option,
        base._target_options,
        click.option("--format", "fmt", type=click.Choice(base.FORMATS), default="table", show_default=True),
        base._check_index,
        base.Failure,
        base._parse_target,
    )
    for make in (_intersect, _broken, _anchors, _outlinks, _disavow):
        group.add_command(make(helpers))


def _intersect(b: _Base) -> click.Command:
    @click.command()
    @click.argument("domains", nargs=-1, required=True)
    @click.option("--not", "excluded", multiple=True, metavar="DOMAIN", help="Drop domains linking here.")
    @click.option("--min", "at_least", type=int, help="Link to at least this many of DOMAINS  [default: all]")
    @click.option("--follow-only", is_flag=True, help="Count only links without nofollow, ugc or sponsored.")
    @click.option("--include-lost", is_flag=True, help="Count lost links too.")
    @click.option(
        "--since", type=click.DateTime(list(SINCE_FORMATS)), help="Only links first seen on or after."
    )
    @b.format_option
    @b.index_option
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
        rows = b.answer(
            index,
            lambda idx: questions.intersect(
                idx, domains, excluded=excluded, at_least=at_least, filters=filters
            ),
            "DOMAINS / --not / --min",
        )
        _print(rows, fmt, f"Referring domains linking to {', '.join(domains)}", INTERSECT_FIELDS)

    return intersect


def _broken(b: _Base) -> click.Command:
    @click.command()
    @b.target_options
    @b.format_option
    @b.index_option
    def broken(target: str, scope: str, fmt: str, index: str) -> None:
        """Pages of TARGET whose last crawl failed (HTTP >= 400, DNS, connection) and the live links to them:
        links to win back, most referring domains first."""
        parsed = b.parse_target(target, scope)
        rows = b.answer(index, lambda idx: questions.broken(idx, parsed))
        _print(rows, fmt, f"Broken pages of {parsed.scope} {parsed.value}", BROKEN_FIELDS)

    return broken


def _anchors(b: _Base) -> click.Command:
    @click.command()
    @b.target_options
    @click.option("--include-lost", is_flag=True, help="Count lost links too.")
    @b.format_option
    @b.index_option
    def anchors(target: str, scope: str, include_lost: bool, fmt: str, index: str) -> None:
        """Anchor texts of TARGET's links by the referring domains using each, with links and follow share."""
        parsed = b.parse_target(target, scope)
        filters = query_filters(status="all" if include_lost else "live")
        rows = b.answer(index, lambda idx: questions.anchors(idx, parsed, filters))
        _print(rows, fmt, f"Anchors of {parsed.scope} {parsed.value}", ANCHOR_FIELDS)

    return anchors


def _outlinks(b: _Base) -> click.Command:
    @click.command()
    @click.argument("domain")
    @click.option("--include-lost", is_flag=True, help="Count lost links too.")
    @b.format_option
    @b.index_option
    def outlinks(domain: str, include_lost: bool, fmt: str, index: str) -> None:
        """The domains DOMAIN links to (live links), with links, followed ones and the top anchor."""
        rows = b.answer(
            index, lambda idx: questions.outlinks(idx, domain, "all" if include_lost else "live"), "DOMAIN"
        )
        _print(rows, fmt, f"Domains linked from {domain}", OUTLINK_FIELDS)

    return outlinks


def _disavow(b: _Base) -> click.Command:
    @click.command()
    @click.option("--farm-only", is_flag=True, help="Link farm members (from the last `backlinks rank`).")
    @click.option("--spam-mass-over", type=click.FloatRange(0, 1), help="Spam mass above this.")
    @click.option(
        "--domains-file", type=click.File(encoding="utf-8"), help="Domains, one a line (# comments)."
    )
    @click.option("--target", help="Only referring domains of this domain, host or URL.")
    @b.index_option
    def disavow(
        farm_only: bool, spam_mass_over: float | None, domains_file: Any, target: str | None, index: str
    ) -> None:
        """Print a disavow file for Google Search Console: the referring domains every given filter picks,
        as sorted `domain:` lines under a comment saying when and how."""
        try:
            listed = (
                None if domains_file is None else questions.read_domain_list(domains_file, domains_file.name)
            )
        except BadTarget as exc:
            raise click.BadParameter(str(exc), param_hint="--domains-file") from None
        parsed: Target | None = None if target is None else b.parse_target(target, "auto")
        pick = questions.DisavowPick(
            farm_only, spam_mass_over, listed, parsed, getattr(domains_file, "name", "")
        )
        picked = b.answer(index, lambda idx: questions.disavowed(idx, pick))
        click.echo(questions.disavow_file(picked, pick), nl=False)

    return disavow
