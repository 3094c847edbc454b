from backlinkspider.crawl.seeds import *  # noqa: F403  (transitional shim: SHIMS.txt)
