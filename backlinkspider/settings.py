"""Settings: backlinkspider's own (``BACKLINKS_*``) and Scrapy's, tuned for a polite broad crawl. Override
any of them with ``-s NAME=VALUE`` on ``scrapy crawl`` or ``backlinks crawl``.

Every value that is not a component's place comes from one table, ``backlinkspider/config.py`` (default,
type, bounds, help); the environment (``BACKLINKS_INDEX``, ``BACKLINKS_PSL_FILE``, ``REDIS_URL``) is
applied when a run's settings are built (``config.project_settings``), not here.
"""

from backlinkspider import config

BOT_NAME = "backlinkspider"
# The Scrapy layer is backlinkspider/crawl/, each component in a module named by its role.
SPIDER_MODULES = ["backlinkspider.crawl.spider"]
# `scrapy crawl` checks settings and spider arguments first, and exits non-zero when pages were lost.
COMMANDS_MODULE = "backlinkspider.crawl.commands"

# Every BACKLINKS_* setting and the Scrapy settings tuned for a polite broad crawl (ROBOTSTXT_OBEY,
# AutoThrottle, DOWNLOAD_DELAY, CONCURRENT_REQUESTS ...): see config.SETTINGS.
globals().update(config.defaults())

# Broad crawls: prefer hosts with free download slots over one busy host.
SCHEDULER_PRIORITY_QUEUE = "scrapy.pqueues.DownloaderAwarePriorityQueue"
# Scrapy's caching resolver, refusing names that resolve to internal addresses (backlinkspider/crawl/resolver.py).
TWISTED_DNS_RESOLVER = "backlinkspider.crawl.resolver.PrivateAddressResolver"

SPIDER_MIDDLEWARES = {
    # The spider keeps its own depth (a redirect is not a hop); see BacklinksSpider.
    "scrapy.spidermiddlewares.depth.DepthMiddleware": None,
    # Nearest the spider: judges the links it follows, a page at a time, before any other middleware.
    "backlinkspider.crawl.spidermiddlewares.traps.TrapMiddleware": 950,
}
DOWNLOADER_MIDDLEWARES = {
    # Scrapy's, fixed so that requests waiting for one robots.txt all obey it (see
    # backlinkspider/crawl/downloadermiddlewares/robotstxt.py).
    "scrapy.downloadermiddlewares.robotstxt.RobotsTxtMiddleware": None,
    "backlinkspider.crawl.downloadermiddlewares.robotstxt.RobotsTxtMiddleware": 100,
    # After RobotsTxtMiddleware (100): disallowed pages do not use up a host's budget.
    "backlinkspider.crawl.downloadermiddlewares.hostbudget.HostBudgetMiddleware": 120,
    # After RetryMiddleware (550), so a name refused by the resolver is a skip, not retried.
    "backlinkspider.crawl.downloadermiddlewares.privateaddress.PrivateAddressMiddleware": 560,
}
# With REDIS_URL: the cluster frontier's scheduler (see backlinkspider/frontier/addon.py); the crawl's
# User-Agent (backlinkspider/crawl/addon.py).
ADDONS = {
    "backlinkspider.frontier.addon.ClusterFrontier": 0,
    "backlinkspider.crawl.addon.BacklinksCrawl": 0,
}
ITEM_PIPELINES = {
    "backlinkspider.crawl.pipeline.IndexPipeline": 300,
}
EXTENSIONS = {
    "backlinkspider.crawl.extensions.progress.ProgressLine": 500,
}
