from backlinkspider.crawl.extensions.progress import *  # noqa: F403  (transitional shim: SHIMS.txt)
