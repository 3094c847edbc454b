"""The cluster frontier: with ``REDIS_URL`` set, every ``scrapy crawl backlinks`` process shares one queue,
one dupefilter and one per-host politeness budget in Redis, and together they crawl as one crawler.

One small module per concept, as scrapy-redis lays them out (whose connection helper we use; its pickle
queue, per-URL dupefilter and spider-idle seeding we replace):

- ``defaults``: every key name and default, in one place;
- ``connection``: a Redis client that retries with backoff through a Redis restart;
- ``serializer``: requests as small JSON entries, never pickle; hostile entries are dropped;
- ``queue``: the shared priority queue, with leases so a killed worker loses no page;
- ``dupefilter``: an exact set of fingerprints (default) or a Bloom filter on a plain bitmap;
- ``scheduler``: the Scrapy scheduler that batches all of it, one round trip per batch, reaps expired
  leases, publishes this worker's figures for ``backlinks status`` and closes an idle worker after
  ``BACKLINKS_IDLE_TIMEOUT``;
- ``politeness``: a per-host delay that holds across all workers.
"""
