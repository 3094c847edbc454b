"""Transitional shim (SHIMS.txt): the spider moved to backlinkspider/crawl/spider.py."""

from backlinkspider.crawl.downloadermiddlewares.robotstxt import NetworkErrorsOnOneLine  # noqa: F401
from backlinkspider.crawl.spider import *  # noqa: F403
