from backlinkspider.crawl.signals import *  # noqa: F403  (transitional shim: SHIMS.txt)
