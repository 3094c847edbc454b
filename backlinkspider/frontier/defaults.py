"""Key names and entry bounds of the cluster frontier (its settings and their defaults are in
backlinkspider/config.py).

The keys are in S + 1 hash slots (a Redis Cluster hashes only the ``{tag}`` of a key that has one:
https://redis.io/docs/latest/operate/oss_and_stack/reference/cluster-spec/#hash-tags). A host belongs to
shard ``shard_of(host, S)``, and every key of that shard (its ready set, its hosts' queues, leases, seen
set, budgets) is ``backlinks:{sN}:...``, so each script that touches a host touches one slot. The keys
of the whole cluster (workers, their heartbeats, the configuration, the scope, the recrawl marker) are
``backlinks:{g}:...``, one slot of their own.
"""

import hashlib
import zlib

PREFIX = "backlinks"


def shard_of(host: str, shards: int) -> int:
    """The shard of a host: CRC-32 of its name, stable across processes and Python versions."""
    return zlib.crc32(host.encode()) % shards


def bucket_of(host: str) -> int:
    """A host's bucket in its shard's ready set and one-entry hashes (the scripts compute the same)."""
    return int(hashlib.sha1(host.encode()).hexdigest()[:8], 16) % READY_BUCKETS


def shard_key(shard: int, name: str) -> str:
    """A key of one shard, under the shard's hash tag."""
    return f"{PREFIX}:{{s{shard}}}:{name}"


def bucket_key(shard: int, kind: str, host: str) -> str:
    """The key of ``host``'s bucket of a kind (``HOST_BUCKET``, ``ONE_ENTRY``) in its shard."""
    return shard_key(shard, f"{kind}{bucket_of(host)}")


# One shard's keys (names passed to shard_key); the per-host ones are built from the shard's prefix.
# The ready set (queue.py has why this shape): the hosts with entries queued, by the time (Redis' clock,
# ms) their next request may start, in READY_BUCKETS sorted sets a shard (``hosts:B``: B of ``bucket_of``)
# under a top one (``hosts``: bucket -> its earliest time). 1024 a shard keep each bucket a listpack
# (<= 128 hosts) up to ~1.5M hosts queued on 16 shards; past that, more shards.
HOSTS = "hosts"
HOST_BUCKET = "hosts:"  # + bucket: sorted set, host -> its next-allowed time (ms)
READY_BUCKETS = 1024
READY_HOSTS = "hosts:count"  # how many hosts the ready set holds
ONE_ENTRY = "one:"  # + bucket: hash, host -> "score entry" of a host with one entry queued
HOST_QUEUE = "q:"  # + host: sorted set of a host with more, score = -priority (depth first), member = entry
HOST_NEXT = "next:"  # + host: a host with nothing queued: when (ms) its next request may start
HOST_BUDGET = "budget:"  # + host: set of the pages the cluster fetched from it (kept for the crawl)
HOST_TRAPS = "trap:"  # + host: hash of URL shape -> least depth (crawl/spidermiddlewares/traps.py)
QUEUED = "queued"  # how many entries the shard's host queues hold
LEASES = "leases"  # hash: lease token -> "host TAB score TAB worker TAB entry"
WORKER_LEASES = "held:"  # + worker: set of the lease tokens one worker holds in this shard
DROPPED = "dropped"  # malformed or hostile queue entries dropped
OVER_BUDGET = "over_budget"  # entries not queued, or dropped from a queue, because the host's budget is spent
SEEN = "seen"  # set of 16-byte fingerprints
BLOOM = "seen:bloom"  # the Bloom filter's bitmap (each shard's is 1/S of the filter)
SEEN_COUNT = "seen:count"  # URLs the Bloom filter took as new

# The keys' layout, stored in CONFIG_KEY: 2 since the ready set's buckets and one-entry hashes (issue 20).
LAYOUT = "2"

GLOBAL = f"{PREFIX}:{{g}}"
HEARTBEATS_KEY = f"{GLOBAL}:heartbeats"  # sorted set: worker -> its last heartbeat (Redis clock, s)
BUSY_KEY = f"{GLOBAL}:busy"  # sorted set: worker -> the last time it had requests in hand
WORKER_KEY = f"{GLOBAL}:worker:%s"  # hash of one worker's figures, expiring with its heartbeat
# hash: dupefilter (set | bloom), fixed by the first worker or seed; BACKLINKS_FRONTIER_SHARDS likewise;
# BACKLINKS_HOST_DELAY and BACKLINKS_HEARTBEAT_TTL, fixed by the first worker
CONFIG_KEY = f"{GLOBAL}:config"
BLOOM_PARAMS_KEY = f"{GLOBAL}:seen:bloom:params"  # hash: capacity, error_rate, bits, hashes
SCOPE_KEY = f"{GLOBAL}:scope"  # set of the seeds' registered domains (BACKLINKS_SCOPE=seeds)
RECRAWL_KEY = f"{GLOBAL}:recrawl"  # who queued the cluster's --recrawl, and when: queued once

# Bounds of an entry, checked wherever one is read (the pop script and the worker).
MAX_ENTRY_BYTES = 64 * 1024
MAX_JSON_DEPTH = 16
MAX_URL_LENGTH = 32 * 1024
MAX_DEPTH = 1_000_000
MAX_PRIORITY = 2**31  # |priority| at most this: an exact float, a valid score
MAX_HOST_LENGTH = 255
