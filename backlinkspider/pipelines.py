"""An alias kept for users' settings: ``ITEM_PIPELINES = {"backlinkspider.pipelines.IndexPipeline": 300}``
(the README's "Your own spiders into the index"). The pipeline is ``backlinkspider.crawl.pipeline``."""

from backlinkspider.crawl.pipeline import IndexPipeline

__all__ = ["IndexPipeline"]
