"""``scrapy crawl``, checked like ``backlinks crawl``: a bad setting or spider argument is one line on
stderr and exit 2 before anything starts (Scrapy itself would print a traceback from deep inside a
component), and the exit code is 1 unless the crawl ran to its end with every fetched page indexed."""

from __future__ import annotations

import inspect
import sys
from typing import TYPE_CHECKING

from scrapy.commands.crawl import Command as ScrapyCrawl
from scrapy.exceptions import UsageError

from backlinkspider import config
from backlinkspider.crawl.spider import BacklinksSpider, BadArgument, arguments

if TYPE_CHECKING:
    import argparse

_ARGUMENTS = set(inspect.signature(arguments).parameters)


class Command(ScrapyCrawl):
    def process_options(self, args: list[str], opts: argparse.Namespace) -> None:
        super().process_options(args, opts)
        assert self.settings is not None
        config.apply_environment(self.settings)  # Scrapy has loaded the project module and -s
        try:
            for warning in config.check(self.settings):
                print(f"scrapy: warning: {warning}", file=sys.stderr)
            if args[:1] == [BacklinksSpider.name]:
                arguments(**{k: v for k, v in opts.spargs.items() if k in _ARGUMENTS})
        except (config.BadSetting, BadArgument) as exc:
            print(f"scrapy: error: {exc}", file=sys.stderr)
            sys.exit(2)

    def run(self, args: list[str], opts: argparse.Namespace) -> None:
        if len(args) != 1:
            raise UsageError("give one spider: scrapy crawl [options] <spider>")
        assert self.crawler_process is not None
        crawler = self._create_crawler(args[0])
        self.crawler_process.crawl(crawler, **opts.spargs)
        self.crawler_process.start()
        problem = crawler.spider.failure() if isinstance(crawler.spider, BacklinksSpider) else None
        if problem:
            print(f"scrapy: error: {problem}", file=sys.stderr)
        if problem or self.crawler_process.bootstrap_failed:
            self.exitcode = 1
