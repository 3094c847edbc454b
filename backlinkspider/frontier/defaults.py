"""Key names and defaults of the cluster frontier (the settings are documented in settings.py)."""

PREFIX = "backlinks"
QUEUE_KEY = f"{PREFIX}:queue"  # sorted set: score = -priority, member = JSON entry
LEASES_KEY = f"{PREFIX}:leases"  # sorted set: score = lease expiry (Redis time), member = URL
LEASE_ENTRIES_KEY = f"{PREFIX}:leased"  # hash: URL -> JSON entry, to put back when a lease expires
SEEN_KEY = f"{PREFIX}:seen"  # set of 16-byte fingerprints
BLOOM_KEY = f"{PREFIX}:seen:bloom"  # the Bloom filter's bitmap
SEEN_COUNT_KEY = f"{PREFIX}:seen:count"  # URLs the Bloom filter took as new
BUDGET_KEY = f"{PREFIX}:budget:%s"  # pages fetched from a host by the cluster (expires after a day)
HOST_KEY = f"{PREFIX}:host:%s"  # the earliest time the next request to a host may start
WORKER_KEY = f"{PREFIX}:worker:%s"  # hash of one worker's figures, expiring with its heartbeat
WORKERS_PATTERN = f"{PREFIX}:worker:*"
DROPPED_KEY = f"{PREFIX}:dropped"  # malformed or hostile queue entries dropped

IDLE_TIMEOUT = 300
LEASE_SECONDS = 300
HOST_DELAY = 1.0
DUPEFILTER = "set"
BLOOM_CAPACITY = 100_000_000
BLOOM_ERROR_RATE = 0.001
BATCH_SIZE = 500
HEARTBEAT_SECONDS = 5
