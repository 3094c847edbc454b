"""What several commands share: their options, the one-line failure, reading a target."""

from __future__ import annotations

from typing import Any

import click

from backlinkspider import query as queries
from backlinkspider.index import DEFAULT_INDEX
from backlinkspider.query.errors import BadTarget
from backlinkspider.records import SCOPES, Target

FORMATS = ("table", "jsonl", "csv")
MAX_ROWS = 2**63 - 1  # what a SQLite or MongoDB integer holds


class Failure(click.ClickException):
    """A one-line error that is not a usage error (exit 1)."""


def warn(message: str) -> None:
    click.echo(f"backlinks: warning: {message}", err=True)


index_option = click.option(
    "--index",
    envvar="BACKLINKS_INDEX",
    default=DEFAULT_INDEX,
    show_default=True,
    help="Index URI (env BACKLINKS_INDEX).",
)
set_option = click.option(
    "-s", "--set", "overrides", multiple=True, metavar="NAME=VALUE", help="Any Scrapy or BACKLINKS_* setting."
)
redis_option = click.option(
    "--redis-url", envvar="REDIS_URL", required=True, help="The cluster's Redis (env REDIS_URL)."
)
format_option = click.option(
    "--format", "fmt", type=click.Choice(FORMATS), default="table", show_default=True
)
limit_option = click.option(
    "--limit", type=click.IntRange(0, MAX_ROWS), default=100, show_default=True, help="0 = all."
)


def target_options(command: Any) -> Any:
    """TARGET and --scope, read by ``parse_target``."""
    command = click.option(
        "--scope",
        type=click.Choice(SCOPES),
        default="auto",
        show_default=True,
        help="auto: a URL is a URL, anything else its registered domain (all hosts).",
    )(command)
    return click.argument("target")(command)


def parse_target(target: str, scope: str) -> Target:
    try:
        return queries.parse_target(target, scope)
    except BadTarget as exc:
        raise click.BadParameter(str(exc), param_hint="TARGET") from None
