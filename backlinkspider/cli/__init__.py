"""The ``backlinks`` command: crawl, then ask the index who links where.

One module per group of commands (``init``, ``crawl``, ``ingest``, ``cluster``, ``links``, ``scores``,
``questions``, ``serve``), each
imported only when one of its commands runs (click's lazy group), so ``backlinks query`` does not load
Scrapy. Every failure a person can cause ends in one line on stderr and a non-zero exit, mapped once in
``main``: 2 for a usage error, 1 for anything else.
"""

from __future__ import annotations

import importlib

import click

from backlinkspider.index import IndexUnavailable

# name -> "module:attribute" of each command, in the order ``backlinks --help`` lists them.
COMMANDS = {
    "init": "backlinkspider.cli.init:init",
    "crawl": "backlinkspider.cli.crawl:crawl",
    "ingest": "backlinkspider.cli.ingest:ingest_command",
    "seed": "backlinkspider.cli.cluster:seed",
    "status": "backlinkspider.cli.cluster:status",
    "query": "backlinkspider.cli.links:query",
    "summary": "backlinkspider.cli.links:summary",
    "export": "backlinkspider.cli.links:export",
    "refigure": "backlinkspider.cli.links:refigure",
    "graph": "backlinkspider.cli.scores:graph",
    "rank": "backlinkspider.cli.scores:rank",
    "domains": "backlinkspider.cli.scores:domains",
    "intersect": "backlinkspider.cli.questions:intersect",
    "broken": "backlinkspider.cli.questions:broken",
    "anchors": "backlinkspider.cli.questions:anchors",
    "outlinks": "backlinkspider.cli.questions:outlinks",
    "disavow": "backlinkspider.cli.questions:disavow",
    "serve": "backlinkspider.cli.serve:serve",
}


class LazyGroup(click.Group):
    """A group whose commands are imported when they are looked up (click's documented lazy loading)."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in COMMANDS:
            return None
        module, _, attribute = COMMANDS[cmd_name].partition(":")
        command = getattr(importlib.import_module(module), attribute)
        assert isinstance(command, click.Command)
        return command


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="backlinkspider")
def cli() -> None:
    """A self-hosted backlink index: crawl the web, then ask who links to a domain, host or URL."""


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
    except IndexUnavailable as exc:  # an index that cannot be opened or read, at any point of a command
        click.echo(f"backlinks: error: {exc}", err=True)
        return 1
    return 0
