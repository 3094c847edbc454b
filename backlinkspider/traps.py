from backlinkspider.crawl.spidermiddlewares.traps import *  # noqa: F403  (transitional shim: SHIMS.txt)
