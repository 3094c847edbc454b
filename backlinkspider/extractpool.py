from backlinkspider.crawl.extraction import *  # noqa: F403  (transitional shim: SHIMS.txt)
