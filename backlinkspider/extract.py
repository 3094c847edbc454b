"""Transitional shim (SHIMS.txt): the standards extractor, whose ``extract`` here still takes a Scrapy response."""

# isort: off
from backlinkspider.standards.extract import *  # noqa: F403
from backlinkspider.crawl.extraction import page_of as extract  # type: ignore[assignment]  # noqa: F401
