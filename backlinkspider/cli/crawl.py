"""``backlinks crawl``: one process, or a worker of the cluster frontier with ``REDIS_URL``."""

from __future__ import annotations

import click
from scrapy.crawler import CrawlerProcess

from backlinkspider.cli.options import Failure, index_option, set_option
from backlinkspider.cli.runs import check_settings, redis_client, run_settings, seed_urls
from backlinkspider.crawl.spider import BacklinksSpider
from backlinkspider.index import open_index
from backlinkspider.redact import redact
from backlinkspider.standards.urls import use_suffix_list


@click.command()
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
@set_option
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
    seeds = seed_urls(urls, seeds_file)
    if seeds and recrawl:
        raise click.UsageError("--recrawl re-visits the index and takes no seeds")
    # The progress line replaces INFO logging on a terminal; -s LOG_LEVEL=INFO brings it back.
    settings = run_settings(overrides, BACKLINKS_PROGRESS=True, LOG_LEVEL="WARNING", BACKLINKS_INDEX=index)
    check_settings(settings)
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
    with open_index(settings["BACKLINKS_INDEX"], create=not recrawl, settings=settings) as idx:
        idx.check_writable()  # before any fetch: no page is fetched that cannot be kept
    if cluster:
        _announce_worker(cluster, settings.getfloat("BACKLINKS_IDLE_TIMEOUT"))
    process = CrawlerProcess(settings)
    crawler = process.create_crawler(BacklinksSpider)
    process.crawl(crawler, seeds=seeds, max_depth=max_depth, max_pages=max_pages, recrawl=recrawl)
    process.start()
    spider = crawler.spider
    problem = spider.failure() if isinstance(spider, BacklinksSpider) else "crawl did not start"
    if problem:
        raise Failure(problem)


def _announce_worker(cluster: str, idle: float) -> None:
    """Say that this crawl is a cluster worker, and when it stops idle (after checking Redis answers)."""
    redis_client(cluster).close()
    stops = f"stops after {idle:g} s without work" if idle else "never stops idle (BACKLINKS_IDLE_TIMEOUT=0)"
    click.echo(f"backlinks: running as a cluster worker of {redact(cluster)} (REDIS_URL): {stops}", err=True)
