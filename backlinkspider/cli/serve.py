"""``backlinks serve``: the web page and the read-only JSON API over the index."""

from __future__ import annotations

import os

import click

from backlinkspider.cli.options import Failure, index_option
from backlinkspider.index import open_index
from backlinkspider.redact import redact
from backlinkspider.web.app import TOKEN_ENV, is_loopback
from backlinkspider.web.app import serve as run


@click.command()
@index_option
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to bind.")
@click.option("--port", type=click.IntRange(0, 65535), default=8000, show_default=True)
@click.option(
    "--workers", type=click.IntRange(min=1), help="Server processes  [default: the machine's cores]"
)
def serve(index: str, host: str, port: int, workers: int | None) -> None:
    """The web page (/) and the read-only JSON API (/api/v1, docs at /docs) over the index. Any address
    but loopback needs BACKLINKS_API_TOKEN, a bearer token every API request must carry."""
    if not is_loopback(host) and not os.environ.get(TOKEN_ENV):
        raise Failure(f"refusing to serve on {host} without a token: set {TOKEN_ENV} (or bind 127.0.0.1)")
    open_index(index, create=False).close()
    click.echo(f"serving {redact(index)}: the page at /, the API at /api/v1, its docs at /docs", err=True)
    run(index, host, port, workers or len(os.sched_getaffinity(0)))
