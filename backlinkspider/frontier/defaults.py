"""Key names and defaults of the cluster frontier (the settings are documented in settings.py)."""

PREFIX = "backlinks"
HOSTS_KEY = f"{PREFIX}:hosts"  # sorted set: host -> the time (Redis clock, s) its next request may start
HOST_QUEUE_KEY = f"{PREFIX}:q:%s"  # sorted set per host: score = -priority (depth first), member = entry
HOST_NEXT_KEY = f"{PREFIX}:next:%s"  # a host with nothing queued: when its next request may start
QUEUED_KEY = f"{PREFIX}:queued"  # how many entries all host queues hold
LEASES_KEY = f"{PREFIX}:leases"  # hash: lease token -> "host TAB score TAB worker TAB entry"
WORKER_LEASES_KEY = f"{PREFIX}:held:%s"  # set of the lease tokens one worker holds
HEARTBEATS_KEY = f"{PREFIX}:heartbeats"  # sorted set: worker -> its last heartbeat (Redis clock, s)
BUSY_KEY = f"{PREFIX}:busy"  # sorted set: worker -> the last time it had requests in hand
POPPED_KEY = f"{PREFIX}:popped:%s"  # a pop's answer, kept a while so a retried pop leases nothing twice
SEEN_KEY = f"{PREFIX}:seen"  # set of 16-byte fingerprints
BLOOM_KEY = f"{PREFIX}:seen:bloom"  # the Bloom filter's bitmap
BLOOM_PARAMS_KEY = f"{PREFIX}:seen:bloom:params"  # hash: capacity, error_rate, bits, hashes
SEEN_COUNT_KEY = f"{PREFIX}:seen:count"  # URLs the Bloom filter took as new
CONFIG_KEY = f"{PREFIX}:config"  # hash: dupefilter (set | bloom), fixed by the first worker or seed
BUDGET_KEY = f"{PREFIX}:budget:%s"  # set of the pages fetched from a host by the cluster (kept a day)
WORKER_KEY = f"{PREFIX}:worker:%s"  # hash of one worker's figures, expiring with its heartbeat
WORKERS_PATTERN = f"{PREFIX}:worker:*"
DROPPED_KEY = f"{PREFIX}:dropped"  # malformed or hostile queue entries dropped

IDLE_TIMEOUT = 300
HEARTBEAT_TTL = 15
REDIS_BACKOFF_MAX = 5.0
HOST_DELAY = 1.0
DUPEFILTER = "set"
BLOOM_CAPACITY = 100_000_000
BLOOM_ERROR_RATE = 0.001
BATCH_SIZE = 500

# Bounds of an entry, checked wherever one is read (the pop script and the worker).
MAX_ENTRY_BYTES = 64 * 1024
MAX_JSON_DEPTH = 16
MAX_URL_LENGTH = 32 * 1024
MAX_DEPTH = 1_000_000
MAX_PRIORITY = 2**31  # |priority| at most this: an exact float, a valid score
MAX_HOST_LENGTH = 255
