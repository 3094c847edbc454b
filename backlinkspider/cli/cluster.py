"""``backlinks seed`` and ``backlinks status``: the cluster's shared frontier, from any machine."""

from __future__ import annotations

import time
from typing import Any

import click
from rich.console import Console, Group
from rich.live import Live
from rich.table import Table
from rich.text import Text
from scrapy.settings import Settings
from scrapy.utils.request import fingerprint

from backlinkspider.cli.options import Failure, redis_option, set_option
from backlinkspider.cli.runs import redis_client, run_settings, seed_urls
from backlinkspider.crawl.spider import BacklinksSpider
from backlinkspider.frontier.dupefilter import DupeFilter, FrontierConfigError, from_settings
from backlinkspider.frontier.queue import Frontier, add_scope, agree_shards, push_item
from backlinkspider.frontier.status import figures, ingest_figures
from backlinkspider.standards.urls import host_of, registered_domain


@click.command()
@click.argument("urls", nargs=-1)
@click.option("--seeds-file", type=click.Path(dir_okay=False), help="A file of seed URLs, one a line.")
@redis_option
@set_option
def seed(urls: tuple[str, ...], seeds_file: str | None, redis_url: str, overrides: tuple[str, ...]) -> None:
    """Push seed URLs into the cluster's shared frontier (deduplicated like any other request)."""
    seeds = seed_urls(urls, seeds_file)
    if not seeds:
        raise click.UsageError("no seeds: give one or more URLs, or --seeds-file")
    server = redis_client(redis_url)
    settings = run_settings(overrides)
    filt = _dupefilter(server, settings)
    shards = settings.getint("BACKLINKS_FRONTIER_SHARDS")
    frontier = Frontier(server, "seed", filt, shards, settings.getint("BACKLINKS_MAX_PAGES_PER_HOST"))
    spider = BacklinksSpider()
    requests = [spider.request(url, 0) for url in seeds]
    add_scope(server, sorted({registered_domain(host_of(url)) for url in seeds}))  # BACKLINKS_SCOPE=seeds
    new, _, _, _ = frontier.push(
        [push_item(r, spider, frontier.dupefilter, fingerprint(r)) for r in requests]
    )
    click.echo(f"{new} of {len(seeds)} seeds queued ({len(seeds) - new} seen before)")


@click.command()
@click.option("--watch", is_flag=True, help="Refresh every 2 seconds until interrupted.")
@redis_option
@set_option
def status(watch: bool, redis_url: str, overrides: tuple[str, ...]) -> None:
    """The cluster: frontier size, URLs seen, leased requests, and per worker pages, links and pages/s;
    with an ingest queue, its files queued, leased, done and failed (and why)."""
    server = redis_client(redis_url)
    settings = run_settings(overrides)
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


def _dupefilter(server: Any, settings: Settings) -> DupeFilter:
    """The cluster's dupefilter and shards, as the settings ask and as the cluster agrees (else a one-line
    error); the shards first, which the dupefilter's structures are laid out by."""
    try:
        agree_shards(server, settings.getint("BACKLINKS_FRONTIER_SHARDS"))
        filt = from_settings(settings)
        filt.setup(server)
    except FrontierConfigError as exc:
        raise Failure(str(exc)) from None
    return filt


def _status_table(server: Any, settings: Settings) -> Table | Group:
    """The workers' table, and under it the ingest queue's files when there is one."""
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
        f"  workers {len(f['workers'])}  dropped entries {f['dropped']:,}  over budget {f['over_budget']:,}"
    )
    if (files := ingest_figures(server)) is None:
        return table
    lines = [
        f"ingest: files {files['files']:,}  queued {files['queued']:,}  leased {files['leased']:,}"
        f"  done {files['done']:,}  failed {files['failed']:,}  workers {files['workers']:,}",
        *(f"failed {path}: {why}" for path, why in files["failures"].items()),
    ]
    return Group(table, *(Text(line) for line in lines))
