"""The cluster frontier: with ``REDIS_URL`` set, every ``scrapy crawl`` process shares per-host queues,
one dupefilter and one per-host politeness delay in Redis, and together they crawl as one crawler.

One small module per concept, as scrapy-redis lays them out (whose pickle queue, per-URL dupefilter and
spider-idle seeding we replace):

- ``addon``: the Scrapy add-on that installs the scheduler (and the defaults of our settings);
- ``defaults``: every key name, default and bound, in one place;
- ``connection``: the process's one Redis client (or Redis Cluster client; heartbeats have their own), called off the reactor,
  retrying through outages and the error replies that pass (OOM, BUSY, a failover), stopping the crawl on
  any other;
- ``serializer``: requests as JSON through Scrapy's request_to_dict, never pickle; an entry asking more
  than a plain GET, or malformed, refused;
- ``queue``: per-host queues with a next-allowed time, token leases, heartbeats and reaping (Lua), in
  shards by host, each script in one hash slot, so one Redis or a Redis Cluster serves them;
- ``dupefilter``: an exact set of fingerprints (default) or a Bloom filter on a plain bitmap;
- ``scheduler``: the Scrapy scheduler that drives all of it without blocking the reactor.
"""
