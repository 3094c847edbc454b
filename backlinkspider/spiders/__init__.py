"""Transitional shim (SHIMS.txt): the spider is backlinkspider.crawl.spider; not in SPIDER_MODULES."""
