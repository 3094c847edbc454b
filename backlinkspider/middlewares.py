from backlinkspider.crawl.downloadermiddlewares.hostbudget import *  # noqa: F403  (transitional shim: SHIMS.txt)
