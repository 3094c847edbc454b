"""Settings: backlinkspider's own (``BACKLINKS_*``, all defaults here) and Scrapy's, tuned for a polite
broad crawl. Override any of them with ``-s NAME=VALUE`` on ``scrapy crawl`` or ``backlinks crawl``.
"""

import os

from backlinkspider.frontier import defaults as frontier
from backlinkspider.index import DEFAULT_INDEX

BOT_NAME = "backlinkspider"
SPIDER_MODULES = ["backlinkspider.spiders"]
NEWSPIDER_MODULE = "backlinkspider.spiders"
# `scrapy crawl` checks settings and spider arguments first, and exits non-zero when pages were lost.
COMMANDS_MODULE = "backlinkspider.commands"

# --- backlinkspider ----------------------------------------------------------------------------------

# Where edges are stored (also the BACKLINKS_INDEX environment variable, or --index).
BACKLINKS_INDEX = os.environ.get("BACKLINKS_INDEX", DEFAULT_INDEX)  # sqlite:///backlinks.db
# Pages fetched per host at most, so calendars and other endless URL spaces end.
BACKLINKS_MAX_PAGES_PER_HOST = 5000
# Links to URLs longer than this are neither stored nor followed (0 = no limit).
BACKLINKS_MAX_URL_LENGTH = 2048
# The trap guard beside the budget: URLs whose path repeats one segment this many times (/a/b/a/b/a/b...)
# are not followed (0 = off).
BACKLINKS_MAX_SEGMENT_REPEATS = 3
# ... and URLs more than this many link hops deeper than the first link to a URL of the same shape (path
# with numbers as #) on the same host: a calendar of "next month" links ends after this many pages (0 = off;
# backlinkspider/traps.py).
BACKLINKS_TRAP_HOPS = 100
# "all": follow links to any host. "seeds": stay on the seeds' registered domains.
BACKLINKS_SCOPE = "all"
# Follow nofollow links (they are still indexed as nofollow) to discover more pages.
BACKLINKS_FOLLOW_NOFOLLOW = True
# Store internal links (same registered domain) as well as external ones.
BACKLINKS_KEEP_INTERNAL = False
# Who runs this crawler; goes into the User-Agent so site owners can reach you.
BACKLINKS_CONTACT_URL = "https://github.com/backlinkspider/backlinkspider"
# Edges written to the index per transaction, and the longest that edges wait before being written.
BACKLINKS_BATCH_SIZE = 2000
BACKLINKS_FLUSH_SECONDS = 5.0
# A page that fails this many re-crawls in a row (404, 410, 5xx, a gone host) has lost its links; one
# failure is a blip.
BACKLINKS_LOST_AFTER_FAILURES = 3
# Index writes that keep failing (a full disk, a lost server) are retried with backoff for this many
# seconds in a row; then the crawl stops and exits non-zero with the count of pages not indexed.
BACKLINKS_WRITE_RETRY_SECONDS = 300.0
# A public suffix list file (public_suffix_list.dat) newer than the one shipped with the package, read
# offline; it decides which hosts are one site (also the BACKLINKS_PSL_FILE environment variable, which
# the query commands read too). Empty: the shipped list.
BACKLINKS_PSL_FILE = os.environ.get("BACKLINKS_PSL_FILE", "")

# --- the cluster frontier (only with REDIS_URL; see backlinkspider/frontier) --------------------------

# redis://[:PASSWORD@]HOST:PORT/DB, or rediss:// for TLS (also the REDIS_URL environment variable). Unset:
# Scrapy's own scheduler, one process.
REDIS_URL = os.environ.get("REDIS_URL")
# A worker with no work closes after this many seconds (0 = never).
BACKLINKS_IDLE_TIMEOUT = frontier.IDLE_TIMEOUT  # 300
# A worker whose heartbeat (every TTL/5 s) has been missing this many seconds while Redis was up is dead:
# its leased requests go back to the frontier.
BACKLINKS_HEARTBEAT_TTL = frontier.HEARTBEAT_TTL  # 15
# While Redis is unreachable every call is tried again after 0.2 s, the wait doubling up to this many
# seconds between two tries.
BACKLINKS_REDIS_BACKOFF_MAX = frontier.REDIS_BACKOFF_MAX  # 5.0
# Seconds between two requests to one host, across all workers: the frontier pops a host's next request
# only this long after its last one (0 = off).
BACKLINKS_HOST_DELAY = frontier.HOST_DELAY  # 1.0
# "set": exact, 16 bytes of Redis per URL plus overhead. "bloom": a Bloom filter of about 1.8 bytes per
# URL at 0.1%, for BACKLINKS_BLOOM_CAPACITY URLs at BACKLINKS_BLOOM_ERROR_RATE false positives.
BACKLINKS_DUPEFILTER = frontier.DUPEFILTER  # "set"
BACKLINKS_BLOOM_CAPACITY = frontier.BLOOM_CAPACITY  # 100,000,000
BACKLINKS_BLOOM_ERROR_RATE = frontier.BLOOM_ERROR_RATE  # 0.001
# Requests pushed to Redis per round trip.
BACKLINKS_FRONTIER_BATCH = frontier.BATCH_SIZE  # 500

# A live progress line on the terminal (backlinks crawl turns it on).
BACKLINKS_PROGRESS = False

# --- safety (see the README's "Safety") -------------------------------------------------------------------

# Fetch internal addresses (127/8, 10/8, 169.254.169.254, names resolving to them ...): off, so a crawler on
# a cloud machine cannot be pointed at its own network. Links to them are indexed either way.
BACKLINKS_ALLOW_PRIVATE_ADDRESSES = False
# Links are extracted in this many worker processes, off the reactor; a page whose extraction takes longer
# than BACKLINKS_EXTRACT_TIMEOUT seconds is abandoned (its worker killed and replaced), counted and logged.
BACKLINKS_EXTRACT_PROCESSES = 2
BACKLINKS_EXTRACT_TIMEOUT = 5.0
# Of one page's links, the first this many (document order) are stored and followed; the rest are counted.
BACKLINKS_MAX_LINKS_PER_PAGE = 10000

# --- Scrapy, for a polite broad crawl -------------------------------------------------------------------

# USER_AGENT is built from BACKLINKS_CONTACT_URL unless set explicitly.
ROBOTSTXT_OBEY = True
AUTOTHROTTLE_ENABLED = True
AUTOTHROTTLE_START_DELAY = 1.0
AUTOTHROTTLE_MAX_DELAY = 30.0
AUTOTHROTTLE_TARGET_CONCURRENCY = 1.0
DOWNLOAD_DELAY = 0.5
CONCURRENT_REQUESTS = 64
CONCURRENT_REQUESTS_PER_DOMAIN = 2
# Broad crawls: prefer hosts with free download slots over one busy host.
SCHEDULER_PRIORITY_QUEUE = "scrapy.pqueues.DownloaderAwarePriorityQueue"
DOWNLOAD_TIMEOUT = 30
DOWNLOAD_MAXSIZE = 10 * 1024 * 1024
DOWNLOAD_WARNSIZE = 2 * 1024 * 1024
RETRY_TIMES = 2
COOKIES_ENABLED = False
TELNETCONSOLE_ENABLED = False
# Scrapy's remote-control HTTP server (it runs Python sent to it): off, like the telnet console.
REMOTE_CONTROL_ENABLED = False
# Scrapy's caching resolver, refusing names that resolve to internal addresses (backlinkspider.addresses).
TWISTED_DNS_RESOLVER = "backlinkspider.addresses.PrivateAddressResolver"
LOG_LEVEL = "INFO"
# The spider reads 3xx responses and meta refreshes itself: each is an edge, then a request.
REDIRECT_ENABLED = False
METAREFRESH_ENABLED = False

SPIDER_MIDDLEWARES = {
    # The spider keeps its own depth (a redirect is not a hop); see BacklinksSpider.
    "scrapy.spidermiddlewares.depth.DepthMiddleware": None,
}
DOWNLOADER_MIDDLEWARES = {
    # Scrapy's, fixed so that requests waiting for one robots.txt all obey it (see backlinkspider/robots.py).
    "scrapy.downloadermiddlewares.robotstxt.RobotsTxtMiddleware": None,
    "backlinkspider.robots.RobotsTxtMiddleware": 100,
    # After RobotsTxtMiddleware (100): disallowed pages do not use up a host's budget.
    "backlinkspider.middlewares.HostBudgetMiddleware": 120,
    # After RetryMiddleware (550), so a name refused by the resolver is a skip, not retried.
    "backlinkspider.addresses.PrivateAddressMiddleware": 560,
}
# With REDIS_URL: the cluster frontier's scheduler (see backlinkspider/frontier/addon.py).
ADDONS = {
    "backlinkspider.frontier.addon.ClusterFrontier": 0,
}
ITEM_PIPELINES = {
    "backlinkspider.pipelines.IndexPipeline": 300,
}
EXTENSIONS = {
    "backlinkspider.progress.ProgressLine": 500,
}
