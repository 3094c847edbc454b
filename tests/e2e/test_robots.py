"""robots.txt under concurrency: every request that waited for a host's robots.txt obeys it."""

from __future__ import annotations

import asyncio

from scrapy.downloadermiddlewares.robotstxt import RobotsTxtMiddleware as ScrapyRobotsTxtMiddleware
from scrapy.exceptions import IgnoreRequest
from scrapy.http import Request, TextResponse
from scrapy.utils.defer import maybe_deferred_to_future
from scrapy.utils.test import get_crawler
from twisted.internet.defer import Deferred

from backlinkspider.crawl.downloadermiddlewares.robotstxt import RobotsTxtMiddleware

ROBOTS = b"User-agent: *\nDisallow: /private/\n"
URLS = [
    "http://h.example/private/a",
    "http://h.example/private/b",
    "http://h.example/",
    "http://h.example/private/c",
]
OBEYED = ["refused", "refused", "allowed", "refused"]


def verdicts(middleware_class: type) -> list[str]:
    """Four requests to one host arrive together; its robots.txt arrives after all of them."""

    async def scenario() -> list[str]:
        robots_txt: Deferred = Deferred()

        class Engine:  # Scrapy's engine, as far as the middleware uses it: the robots.txt download
            async def download_async(self, request: Request) -> TextResponse:
                return await maybe_deferred_to_future(robots_txt)

        crawler = get_crawler(settings_dict={"ROBOTSTXT_OBEY": True})
        crawler.engine = Engine()
        middleware = middleware_class.from_crawler(crawler)
        waiting = [asyncio.ensure_future(middleware.process_request(Request(url))) for url in URLS]
        await asyncio.sleep(0.01)
        assert not any(w.done() for w in waiting)
        robots_txt.callback(TextResponse("http://h.example/robots.txt", body=ROBOTS))
        done = await asyncio.gather(*waiting, return_exceptions=True)
        return ["refused" if isinstance(r, IgnoreRequest) else "allowed" for r in done]

    return asyncio.run(scenario())


def test_every_request_waiting_for_robots_txt_obeys_it():
    assert verdicts(RobotsTxtMiddleware) == OBEYED


def test_scrapys_middleware_lets_later_waiters_through():
    """The bug our subclass fixes, so the test above is known to fail without it: the request that
    fetched robots.txt and the first waiter get the parser, later waiters None ("allow all"), and
    /private/c is let through. When this fails, Scrapy has fixed it: drop crawl/downloadermiddlewares/robotstxt.py and
    its lines in settings.py."""
    assert verdicts(ScrapyRobotsTxtMiddleware) == ["refused", "refused", "allowed", "allowed"]


def test_settings_use_ours_in_place_of_scrapys():
    from backlinkspider import settings

    assert (
        settings.DOWNLOADER_MIDDLEWARES["scrapy.downloadermiddlewares.robotstxt.RobotsTxtMiddleware"] is None
    )
    assert (
        settings.DOWNLOADER_MIDDLEWARES[
            "backlinkspider.crawl.downloadermiddlewares.robotstxt.RobotsTxtMiddleware"
        ]
        == 100
    )


def test_a_crawl_from_several_disallowed_seeds_fetches_none_of_them(crawl, web):
    private = [f"http://news.example-times.com/private/p{i}" for i in range(6)]
    crawl("--max-depth", "0", seeds=("http://news.example-times.com/", *private))
    fetched = set(web.requests_per_url())
    assert "news.example-times.com/" in fetched  # the allowed seed was crawled
    assert not [url for url in fetched if "/private/" in url]
