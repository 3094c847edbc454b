"""backlinkspider: a self-hosted backlink index built on Scrapy."""

__version__ = "0.1.0"
