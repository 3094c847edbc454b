"""``backlinks init``: make the index ready before any worker writes it."""

from __future__ import annotations

import click

from backlinkspider.cli.options import index_option
from backlinkspider.index import open_index
from backlinkspider.redact import redact


@click.command()
@index_option
def init(index: str) -> None:
    """Create the index (SQLite: the file and its tables; MongoDB: the collections' indexes) and check
    that this user may write it. Run it once, as a user allowed to create indexes, before the workers
    start: they then find everything in place. Running it again changes nothing."""
    with open_index(index, create=True) as idx:
        idx.check_writable()
    click.echo(f"backlinks: index ready at {redact(index)}", err=True)
