"""An alias kept for users' settings: ``DOWNLOADER_MIDDLEWARES`` naming
``backlinkspider.robots.RobotsTxtMiddleware`` (the README's settings). The middleware is
``backlinkspider.crawl.downloadermiddlewares.robotstxt``."""

from backlinkspider.crawl.downloadermiddlewares.robotstxt import RobotsTxtMiddleware

__all__ = ["RobotsTxtMiddleware"]
