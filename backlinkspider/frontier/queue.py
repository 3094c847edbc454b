"""The shared frontier: per-host queues with a next-allowed time, and leases a live worker keeps.

The model of Heritrix's and URLFrontier's queues and of Scrapy's own downloader slots:

- each host has a queue (lowest depth first) and, while it holds entries, a place in its shard's ready
  set (``hosts``) scored by the time (Redis' clock) its next request may start; a host entering it is
  scored at the later of now and its next-allowed time, so it waits behind every host already waiting
  (never at 0, ahead of them: new hosts arrive faster than pops on the web, and would starve old ones);
- ``pop`` takes the hosts that are ready now, the longest-waiting first (round robin), one entry from
  each, and moves each host's next-allowed time ``BACKLINKS_HOST_DELAY`` ahead: the cluster-wide delay
  decides what is popped, nobody sleeps holding a download slot, and a host with 90% of the frontier gets
  one request per delay like any other;
- a popped entry is *leased* under a random token to the worker that popped it, and ``complete`` removes
  it only if that token still holds it (compare-and-delete), so a late completion by a worker that lost
  its lease touches nothing;
- a lease lives as long as its worker's heartbeat (``heartbeat`` renews all of them at once); a worker
  whose heartbeat has been missing for ``BACKLINKS_HEARTBEAT_TTL`` seconds *while the reaping worker saw
  Redis up the whole time* is dead, and its leases go back to the queues. After an outage of any length,
  or a stall (the reaper's own previous heartbeat over TTL/2 old: Redis blocked, or the reaper), every
  reaper waits one TTL of its own timely beats before reaping, and live workers renew first: nobody is
  taken for dead because Redis was. Heartbeats go through a connection of their own, never behind a
  worker's page traffic;
- a page's lease is completed after the push of its links (by the same script when they share its
  shard), so a worker killed before that push leaves the lease to be reaped and the page fetched again,
  never a page indexed without its links queued;
- a host's queue holds at most its remaining page budget (``BACKLINKS_MAX_PAGES_PER_HOST`` less the
  pages the cluster fetched from it, see ``crawl/downloadermiddlewares/hostbudget.py``): a new URL
  beyond that is not queued (nor marked seen, so it may be queued when room frees up) and is counted
  ``over_budget``; the queue is dropped, counted too, when the budget is spent. The budget is kept for
  the crawl, i.e. the frontier's life.

**Shards.** The keys are partitioned by a hash of the host into ``BACKLINKS_FRONTIER_SHARDS`` shards
(``defaults``), each under one hash tag, so that the same scripts run on one Redis or on a Redis Cluster,
each script in one hash slot: the shard scripts (push, pop, drop, release, reap) touch one shard's keys,
the global ones (heartbeat, presence, agreement) the ``{g}`` slot's. The shard's per-host keys (a host's
queue, next-allowed time and budget) are named inside the pop and push scripts, which choose the hosts:
they are built from the prefix of the shard's declared keys, so they are always in the slot the script
runs in (Redis requires that a script's keys be in its slot; a key of the same hash tag is:
https://redis.io/docs/latest/develop/interact/programmability/eval-intro/#script-parameterization).
A worker pops across the shards, a rotating one first, so no shard waits behind another; a host is in
one shard only, and its politeness (its next-allowed time) with it, so the delay holds cluster-wide
whichever worker pops. robots.txt is each worker's own (Scrapy's RobotsTxtMiddleware, spaced by its
download slot): a host a worker meets costs that worker one robots.txt fetch. A push is one script per
shard its requests go to, the completions of the pages whose links they are last: with the last shard's
push when it is theirs, otherwise one more script for theirs. Dead workers are found in the global slot
and their leases put back shard by shard; the worker is forgotten only after every shard is done, so a
reaper that dies halfway leaves the rest for the next.

Every entry is checked where it is read: the pop script drops (counts, never leases) any entry that is
too big, nested too deeply, not an http(s) URL, or whose depth or priority is not an integer in range, and
hands the worker a compact entry (``serializer``) with its URLs made absolute from the queue's host; the
worker checks the rest (``serializer.loads``) and drops a bad one with ``drop``, which clears its lease in
the same script. Every script is safe to retry after a lost reply: a retried pop returns the leases the
first one made, a retried push finds its URLs seen (a retry with ``dont_filter`` is the same queue member).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from backlinkspider.frontier import defaults, serializer

if TYPE_CHECKING:
    import redis
    from scrapy import Request, Spider

    from backlinkspider.frontier.dupefilter import DupeFilter

# The encodings a frontier's Redis should have (redis.conf or CONFIG SET: the operator's): a host queue
# stays a listpack (~85 bytes an entry rather than ~190 as a skiplist) up to 128 entries (Redis' default:
# past it a listpack's ZADD + ZPOPMIN costs 8 to 30 us, a skiplist's 0.8) of up to 256 bytes (Redis'
# default, 64, is below most compact entries); so does a one-entry hash, whose values are entries too
# (Redis' default of 512 fields is kept: a bucket holds ~60 hosts at 1M on 16 shards).
# bench/frontier_bench.py and the README have the figures.
REDIS_ENCODINGS = {
    "zset-max-listpack-entries": "128",
    "zset-max-listpack-value": "256",
    "hash-max-listpack-value": "256",
}

# (marks, dont_filter, host, score, entry, lease token to complete or "")
PushItem = tuple[Sequence[bytes | int], bool, str, float, str, str]


def push_item(
    request: Request, spider: Spider | None, dupefilter: DupeFilter, fingerprint: bytes, token: str = ""
) -> PushItem:
    """What ``Frontier.push`` takes for a request; raises serializer.Unserializable."""
    entry = serializer.dumps(request, spider)
    host = queue_host(request.url)
    if not host or len(host) > defaults.MAX_HOST_LENGTH:
        raise serializer.Unserializable(f"{request.url}: no host")
    return dupefilter.marks(fingerprint), request.dont_filter, host, -request.priority, entry, token


def queue_host(url: str) -> str:
    """The host whose queue, shard and budget a URL belongs to."""
    return urlsplit(url).hostname or ""


def token_shard(token: str) -> int:
    """The shard a lease token was made in (its first field: ``shard:worker:nonce:n``)."""
    return int(token.split(":", 1)[0])


# Every shard script's KEYS start with the shard's ready set (its top: bucket -> earliest time), leases,
# queued and dropped counters.
#
# The layout is sized for a broad crawl's frontier, where most hosts have one URL queued (bytes a URL:
# bench/frontier_bench.py, the README's "Sizing the frontier's Redis"):
# - the ready set is ``defaults.READY_BUCKETS`` small sorted sets a shard (``hosts:B``, host -> the time
#   in ms, Redis' clock, its next request may start; B from the host's SHA-1), each kept as a listpack
#   (compact while it holds <= 128 hosts), under a top sorted set (``hosts``: bucket -> its earliest
#   time), so the longest-waiting host is the top's first bucket's first host;
# - a host with one entry queued keeps it in its bucket's hash (``one:B``, host -> "score entry"), not in
#   a key of its own (a key costs ~90 bytes before its value); its second entry moves both to its sorted
#   set (``q:HOST``, score -priority), which it keeps until the set empties. Never both at once.
_COMMON = """
local HOSTS, LEASES, QUEUED, DROPPED = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
-- the shard's per-host keys: under the prefix (and so the hash tag) of its declared keys, in this slot
local SHARD = string.sub(HOSTS, 1, #HOSTS - #'$HOSTS')
local READY = SHARD .. '$READY'
local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
local function bucket(host)
  return tostring(tonumber(string.sub(redis.sha1hex(host), 1, 8), 16) % $BUCKETS)
end
-- the ready set: a host's time in its bucket, the bucket's earliest in the top
local function top_of(b)
  local first = redis.call('ZRANGE', SHARD .. '$HOSTBUCKET' .. b, 0, 0, 'WITHSCORES')
  if #first == 0 then redis.call('ZREM', HOSTS, b) else redis.call('ZADD', HOSTS, first[2], b) end
end
local function ready_at(host, b, t)
  if redis.call('ZADD', SHARD .. '$HOSTBUCKET' .. b, t, host) == 1 then redis.call('INCR', READY) end
  top_of(b)
end
local function unready(host, b)
  if redis.call('ZREM', SHARD .. '$HOSTBUCKET' .. b, host) == 1 then
    redis.call('DECR', READY)
    top_of(b)
  end
end
-- a host's queue: its bucket's one-entry hash, or its sorted set
-- {entry, score} of a one-entry hash value (a value not of that form: as an entry, to be dropped at pop)
local function split(had)
  local score, entry = string.match(had, '^(%-?[%d.e+-]+) (.*)$')
  if not tonumber(score) then return {had, '0'} end
  return {entry, score}
end
local function q_add(host, b, score, entry)
  local q = SHARD .. '$QUEUE' .. host
  if redis.call('EXISTS', q) == 1 then return redis.call('ZADD', q, score, entry) end
  local one = SHARD .. '$ONE' .. b
  local had = redis.call('HGET', one, host)
  if had then had = split(had) end
  if not had or had[1] == entry then
    redis.call('HSET', one, host, score .. ' ' .. entry)
    return had and 0 or 1
  end
  redis.call('HDEL', one, host)
  redis.call('ZADD', q, had[2], had[1], score, entry)
  return 1
end
-- {entry, score, entries left} of the host's first entry, taken off its queue, or nil
local function q_pop(host, b)
  local q = SHARD .. '$QUEUE' .. host
  local popped = redis.call('ZPOPMIN', q)
  if #popped > 0 then return {popped[1], popped[2], redis.call('ZCARD', q)} end
  local one = SHARD .. '$ONE' .. b
  local had = redis.call('HGET', one, host)
  if not had then return nil end
  redis.call('HDEL', one, host)
  popped = split(had)
  popped[3] = 0
  return popped
end
local function q_len(host, b)
  return redis.call('ZCARD', SHARD .. '$QUEUE' .. host) + redis.call('HEXISTS', SHARD .. '$ONE' .. b, host)
end
-- a host entering the ready set waits its turn: behind every host already waiting (now), or until
-- its next allowed time, whichever is later
local function enqueue(host, score, entry, now, b)
  b = b or bucket(host)
  if q_add(host, b, score, entry) == 1 then redis.call('INCR', QUEUED) end
  if not redis.call('ZSCORE', SHARD .. '$HOSTBUCKET' .. b, host) then
    ready_at(host, b, math.max(now, tonumber(redis.call('GET', SHARD .. '$NEXT' .. host) or '0')))
  end
end
-- a lease record: host TAB score TAB worker TAB entry
local function requeue(token, now)
  local rec = redis.call('HGET', LEASES, token)
  if not rec then return 0 end
  local a = string.find(rec, '\\t', 1, true)
  local b = string.find(rec, '\\t', a + 1, true)
  local c = string.find(rec, '\\t', b + 1, true)
  enqueue(string.sub(rec, 1, a - 1), string.sub(rec, a + 1, b - 1), string.sub(rec, c + 1), now)
  redis.call('HDEL', LEASES, token)
  return 1
end
"""

# KEYS: (common), seen (set or bitmap), held set of this worker, seen counter, over-budget counter.
# ARGV: mode ("set" | "bloom"), host budget (0: none), c, c lease tokens to complete, then per item: n,
#       n marks, dont_filter (0|1), host, score, entry, token. The leases are completed after the items
#       are queued: they are the leases of the pages whose links these are (and, under OOM, the first
#       write must be the one that fails, so that nothing is done). A new URL of a host whose queue holds
#       its remaining budget is neither queued nor marked seen.
_PUSH = """
local mode, budget = ARGV[1], tonumber(ARGV[2])
local now = now_ms()
local ncomplete = tonumber(ARGV[3])
local i, added, duplicates, newbits, capped = ncomplete + 4, 0, 0, 0, 0
while i <= #ARGV do
  local n = tonumber(ARGV[i])
  local dont, host = ARGV[i + n + 1], ARGV[i + n + 2]
  local b = bucket(host)
  local room = true
  if budget > 0 and dont ~= '1' then
    room = q_len(host, b) + redis.call('SCARD', SHARD .. '$BUDGET' .. host) < budget
  end
  local new = false
  if room then
    for j = 1, n do
      if mode == 'set' then
        if redis.call('SADD', KEYS[5], ARGV[i + j]) == 1 then new = true end
      elseif redis.call('SETBIT', KEYS[5], ARGV[i + j], 1) == 0 then new = true end
    end
  end
  if new and mode == 'bloom' then newbits = newbits + 1 end
  i = i + n + 1
  if not room then
    capped = capped + 1
  elseif new or dont == '1' then
    enqueue(host, ARGV[i + 2], ARGV[i + 3], now, b)
    added = added + 1
  else
    duplicates = duplicates + 1
  end
  if ARGV[i + 4] ~= '' and redis.call('HDEL', LEASES, ARGV[i + 4]) == 1 then
    redis.call('SREM', KEYS[6], ARGV[i + 4])
  end
  i = i + 5
end
if newbits > 0 then redis.call('INCRBY', KEYS[7], newbits) end
if capped > 0 then redis.call('INCRBY', KEYS[8], capped) end
local completed = 0
for j = 4, ncomplete + 3 do
  if redis.call('HDEL', LEASES, ARGV[j]) == 1 then
    redis.call('SREM', KEYS[6], ARGV[j])
    completed = completed + 1
  end
end
return {added, duplicates, completed, capped}
"""

# KEYS: (common), held set of this worker.
# ARGV: count, worker, delay, token prefix, entry bytes, JSON depth, URL length, depth, priority (the
#       bounds). A prefix is new to every pop (its retries reuse it): leases already named by it in this
#       worker's held set are a first try's, whose reply was lost, and are the answer, however long
#       after (an answer kept under a TTL could expire in a long outage and orphan them).
# Returns {token, entry, token, entry, ...}, dropped, seconds until a host is ready (-1: none queued),
# hosts queued.
_POP = """
local count, worker, prefix = tonumber(ARGV[1]), ARGV[2], ARGV[4]
local delay = math.floor(tonumber(ARGV[3]) * 1000 + 0.5)  -- ms
local maxbytes, maxjson, maxurl = tonumber(ARGV[5]), tonumber(ARGV[6]), tonumber(ARGV[7])
local maxdepth, maxprio = tonumber(ARGV[8]), tonumber(ARGV[9])
local now = now_ms()
local out, dropped = {}, 0
local function int_in(v, lo, hi)
  return type(v) == 'number' and v == math.floor(v) and v >= lo and v <= hi
end
local function http(url)
  return #url <= maxurl and (string.sub(url, 1, 7) == 'http://' or string.sub(url, 1, 8) == 'https://')
end
local origins = {s = 'https://', p = 'http://', u = ''}
-- a compact entry (serializer.py): TAG DEPTH SP URL [SP REFERER], printable ASCII; its u form (absolute
-- URLs, what the worker reads), or nil
local function compact(host, entry)
  if string.find(entry, '[^!-~ ]') then return nil end
  local tag, depth, url, ref = string.match(entry, '^(%a)(%d+) (%S+) (%S+)$')
  if not tag then tag, depth, url = string.match(entry, '^(%a)(%d+) (%S+)$') end
  local origin = origins[tag or '']
  if not origin or #depth > 7 or tonumber(depth) > maxdepth then return nil end
  if origin ~= '' then
    origin = origin .. host
    if string.sub(url, 1, 1) ~= '/' then return nil end
    url = origin .. url
    if ref and string.sub(ref, 1, 1) == '/' then ref = origin .. ref end
  end
  if not http(url) or (ref and not http(ref)) then return nil end
  local out = 'u' .. depth .. ' ' .. url
  if ref then out = out .. ' ' .. ref end
  if #out > maxbytes then return nil end
  return out
end
-- the entry as the worker reads it, or nil: the bounds every entry keeps, or it is dropped
local function checked(host, entry)
  if #entry > maxbytes or #host > $MAXHOST or string.find(host, '[%s]') then return nil end
  if string.sub(entry, 1, 1) ~= '{' then return compact(host, entry) end
  local ok, obj = pcall(cjson.decode, entry)
  if not ok or type(obj) ~= 'table' then return nil end
  local url = obj.url
  if type(url) ~= 'string' or not http(url) then return nil end
  local meta = obj.meta
  if meta ~= nil then
    if type(meta) ~= 'table' then return nil end
    if meta.depth ~= nil and not int_in(meta.depth, 0, maxdepth) then return nil end
  end
  if obj.priority ~= nil and not int_in(obj.priority, -maxprio, maxprio) then return nil end
  return entry
end
pcall(cjson.decode_max_depth, maxjson)
local mine = {}
for _, token in ipairs(redis.call('SMEMBERS', KEYS[5])) do
  if string.sub(token, 1, #prefix) == prefix then mine[#mine + 1] = tonumber(string.sub(token, #prefix + 1)) end
end
if #mine > 0 then  -- a retried pop: answer what the first one leased
  table.sort(mine)
  for _, n in ipairs(mine) do
    local rec = redis.call('HGET', LEASES, prefix .. n)
    if rec then
      local a = string.find(rec, '\\t', 1, true)
      local b = string.find(rec, '\\t', a + 1, true)
      local c = string.find(rec, '\\t', b + 1, true)
      out[#out + 1] = prefix .. n
      out[#out + 1] = checked(string.sub(rec, 1, a - 1), string.sub(rec, c + 1))
    end
  end
elseif count > 0 then  -- (0: a retry asking only for the first try's answer)
  -- the longest-waiting host ready now, one entry at a time: a host popped waits the delay again (with
  -- no delay, it is behind those that waited longer: round robin)
  local n = 0
  while n < count do
    local top = redis.call('ZRANGE', HOSTS, 0, 0, 'WITHSCORES')
    if #top == 0 or tonumber(top[2]) > now then break end
    local b = top[1]
    local host = redis.call('ZRANGE', SHARD .. '$HOSTBUCKET' .. b, 0, 0)[1]
    local popped = host and q_pop(host, b)
    if not host then  -- a bucket gone behind the scripts' back (they never leave one empty in the top)
      redis.call('ZREM', HOSTS, b)
    elseif popped then
      redis.call('DECR', QUEUED)
      local entry = checked(host, popped[1])
      if entry then
        n = n + 1
        redis.call('HSET', LEASES, prefix .. n, host .. '\\t' .. popped[2] .. '\\t' .. worker .. '\\t' .. popped[1])
        redis.call('SADD', KEYS[5], prefix .. n)
        out[#out + 1] = prefix .. n
        out[#out + 1] = entry
        if popped[3] > 0 then
          ready_at(host, b, now + delay)
        else
          unready(host, b)
          if delay > 0 then redis.call('SET', SHARD .. '$NEXT' .. host, now + delay, 'PX', delay + 1000) end
        end
      else
        dropped = dropped + 1
        if popped[3] == 0 then unready(host, b) end
      end
    else
      unready(host, b)
    end
  end
  if dropped > 0 then redis.call('INCRBY', DROPPED, dropped) end
end
local wait = -1
local first = redis.call('ZRANGE', HOSTS, 0, 0, 'WITHSCORES')
if #first > 0 then wait = math.max(0, tonumber(first[2]) - now) / 1000 end
return {out, dropped, string.format('%.3f', wait), tonumber(redis.call('GET', READY) or '0')}
"""

# KEYS: (common), held set of this worker. ARGV: token.
_DROP = """
if redis.call('HDEL', LEASES, ARGV[1]) == 1 then redis.call('SREM', KEYS[5], ARGV[1]) end
return redis.call('INCR', DROPPED)
"""

# KEYS: (common), a worker's held set. ARGV: tokens to put back, or none for all of them (a worker
# leaving, or reaped). Returns how many went back.
_RELEASE = """
local tokens = ARGV
if #tokens == 0 then tokens = redis.call('SMEMBERS', KEYS[5]) end
local now, n = now_ms(), 0
for _, token in ipairs(tokens) do
  n = n + requeue(token, now)
  redis.call('SREM', KEYS[5], token)
end
return n
"""

# KEYS: (common), the host's budget, the over-budget counter.
# ARGV: page (8 bytes of its URL's SHA-1), budget, host. Returns the pages spent before this one (0 for
# a page paid for already: fetched again after its worker died). The page that spends the budget drops
# the host's queue: nothing in it could be fetched.
_SPEND = """
if redis.call('SISMEMBER', KEYS[5], ARGV[1]) == 1 then return 0 end
local spent, budget = redis.call('SCARD', KEYS[5]), tonumber(ARGV[2])
if spent < budget then
  redis.call('SADD', KEYS[5], ARGV[1])
  if spent + 1 >= budget then
    local host = ARGV[3]
    local b = bucket(host)
    local left = q_len(host, b)
    if left > 0 then
      redis.call('DEL', SHARD .. '$QUEUE' .. host)
      redis.call('HDEL', SHARD .. '$ONE' .. b, host)
      redis.call('DECRBY', QUEUED, left)
      redis.call('INCRBY', KEYS[6], left)
    end
    unready(host, b)
  end
end
return spent
"""

# KEYS: heartbeats, busy workers, this worker's figures.
# ARGV: worker, TTL, Redis time since when this worker has seen Redis without a break (0: not yet),
#       Redis uptime (s), busy (0|1), then figures as field, value pairs.
# Returns {Redis time, since (the break-free time, as now judged), the dead workers to reap}.
# A worker whose own last heartbeat is over TTL/2 old (it beats every TTL/5) has not seen Redis without a
# break: Redis stalled, or this worker did, and the others' silence may be the same stall. It reaps nobody
# before a TTL of beats on time. The dead are only named here: their leases are in the shards (``_RELEASE``
# on each), and ``_FORGET`` removes them once every shard is done.
_HEARTBEAT = """
local worker, ttl, since = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3])
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local last = redis.call('ZSCORE', KEYS[1], worker)
if since == 0 or not last or now - tonumber(last) > ttl / 2 then since = now end
since = math.max(since, now - tonumber(ARGV[4]))
redis.call('ZADD', KEYS[1], now, worker)
if ARGV[5] == '1' then redis.call('ZADD', KEYS[2], now, worker) end
if #ARGV > 5 then
  redis.call('HSET', KEYS[3], unpack(ARGV, 6))
  redis.call('PEXPIRE', KEYS[3], math.ceil(ttl * 1000))  -- PEXPIRE: a TTL need not be whole seconds
end
local dead = {}
if now - since >= ttl then dead = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', '(' .. (now - ttl)) end
return {string.format('%.6f', now), string.format('%.6f', since), dead}
"""

# KEYS: heartbeats, busy workers. ARGV: TTL, workers whose leases every shard has put back. Forgets those
# still silent (one that beat meanwhile lost its leases, and stays: its completions touch nothing).
_FORGET = """
local t = redis.call('TIME')
local before = tonumber(t[1]) + tonumber(t[2]) / 1000000 - tonumber(ARGV[1])
local n = 0
for i = 2, #ARGV do
  local last = redis.call('ZSCORE', KEYS[1], ARGV[i])
  if last and tonumber(last) < before then
    redis.call('ZREM', KEYS[1], ARGV[i])
    redis.call('ZREM', KEYS[2], ARGV[i])
    n = n + 1
  end
end
return n
"""

# KEYS: heartbeats, busy workers, the scope set. ARGV: worker, seconds a heartbeat or busy mark stays
# fresh, busy (0|1: mark this worker busy now), members of the scope this worker has.
# Returns {work elsewhere (fresh busy marks of other workers + workers gone silent, whose leases are not
# back yet), the scope's members when this worker's count differs, else {}}.
_PRESENCE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local worker, fresh = ARGV[1], tonumber(ARGV[2])
if ARGV[3] == '1' then redis.call('ZADD', KEYS[2], now, worker) end
-- the workers of a list but the one asking (it is not silent, however late it beat)
local function others(workers)
  local n = 0
  for _, w in ipairs(workers) do
    if w ~= worker then n = n + 1 end
  end
  return n
end
local elsewhere = others(redis.call('ZRANGEBYSCORE', KEYS[2], now - fresh, '+inf'))
  + others(redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', '(' .. (now - fresh)))
local scope = {}
if redis.call('SCARD', KEYS[3]) ~= tonumber(ARGV[4]) then scope = redis.call('SMEMBERS', KEYS[3]) end
return {elsewhere, scope}
"""

# KEYS: heartbeats, busy workers, this worker's figures. ARGV: worker.
_LEAVE = """
redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('ZREM', KEYS[2], ARGV[1])
redis.call('DEL', KEYS[3])
return 1
"""

# KEYS: the frontier's configuration. ARGV: field, value pairs. Stores the fields not yet set (the first
# worker's values); returns "" when the cluster has these values, else "field=value ..." of the cluster's.
_AGREE = """
local differ = {}
for i = 1, #ARGV, 2 do
  redis.call('HSETNX', KEYS[1], ARGV[i], ARGV[i + 1])
  local have = redis.call('HGET', KEYS[1], ARGV[i])
  if have ~= ARGV[i + 1] then differ[#differ + 1] = ARGV[i] .. '=' .. have end
end
return table.concat(differ, ' ')
"""


def agree(client: redis.Redis, asked: Mapping[str, str], hint: str) -> None:
    """Store these settings as the cluster's (the first worker's or seed's), or raise FrontierConfigError
    when the cluster has others. ``hint``: what the person should do."""
    from backlinkspider.frontier.dupefilter import FrontierConfigError

    have = client.eval(_AGREE, 1, defaults.CONFIG_KEY, *(x for kv in asked.items() for x in kv))
    if have:
        mine = " ".join(f"{k}={v}" for k, v in asked.items())
        raise FrontierConfigError(
            f"the cluster's frontier runs with {have.decode()}; this one asks for {mine} ({hint})"
        )


def agree_shards(client: redis.Redis, shards: int) -> None:
    """The shard count decides where every host's keys are: one value for the cluster's life; and the
    keys' layout, this release's (stored with it, in the same script): a frontier an earlier release made
    (the count stored, no layout) would be read as garbage, so it is refused."""
    from backlinkspider.frontier.dupefilter import FrontierConfigError

    config = client.hmget(defaults.CONFIG_KEY, ["BACKLINKS_FRONTIER_SHARDS", "frontier_layout"])
    if config[0] is not None and config[1] is None:
        raise FrontierConfigError(
            "this Redis holds a frontier an earlier release made, whose keys have another layout:"
            " finish its crawl with that release, or use an empty Redis database"
        )
    agree(
        client,
        {"BACKLINKS_FRONTIER_SHARDS": str(shards), "frontier_layout": defaults.LAYOUT},
        "use the same BACKLINKS_FRONTIER_SHARDS everywhere, and the same release",
    )


def agree_pacing(client: redis.Redis, host_delay: float, heartbeat_ttl: float) -> None:
    """Store the cluster's host delay and heartbeat TTL (the first worker's), or raise FrontierConfigError
    when this worker's differ: two delays would break the politeness the frontier promises, and a worker
    beating on a longer TTL would be reaped alive by the others."""
    asked = {
        "BACKLINKS_HOST_DELAY": repr(float(host_delay)),
        "BACKLINKS_HEARTBEAT_TTL": repr(float(heartbeat_ttl)),
    }
    agree(client, asked, "use the same BACKLINKS_HOST_DELAY and BACKLINKS_HEARTBEAT_TTL everywhere")


def cluster_shards(client: redis.Redis, default: int) -> int:
    """The cluster's shard count (``default`` before any worker or seed fixed it)."""
    have = client.hget(defaults.CONFIG_KEY, "BACKLINKS_FRONTIER_SHARDS")
    return int(have) if have else default


def claim_recrawl(client: redis.Redis, identity: str) -> str:
    """Claim the cluster's ``--recrawl`` for this worker: "" when it is this worker's to queue, else the
    identity of the one that queued it (the marker is kept for the crawl: one recrawl a frontier)."""
    if client.set(defaults.RECRAWL_KEY, identity, nx=True):
        return ""
    holder = client.get(defaults.RECRAWL_KEY)
    return holder.decode() if isinstance(holder, bytes) else str(holder or "")


def add_scope(client: redis.Redis, domains: Iterable[str]) -> None:
    """Add the seeds' registered domains to the cluster's scope (``BACKLINKS_SCOPE=seeds``)."""
    if domains := list(domains):
        client.sadd(defaults.SCOPE_KEY, *domains)


def encodings_advice(client: redis.Redis) -> str:
    """One line for the log when this Redis keeps host queues in a costlier encoding than
    ``REDIS_ENCODINGS``, else "" (also when CONFIG GET is not allowed, as on some managed Redis)."""
    import redis as redis_

    try:
        have = {
            str(k): int(v or 0)
            for pattern in ("zset-max-listpack-*", "hash-max-listpack-*")
            for k, v in client.config_get(pattern).items()
        }
    except redis_.RedisError:
        return ""
    low = [
        f"{name} {have[name]}"
        for name, value in REDIS_ENCODINGS.items()
        if name in have and have[name] < int(value)
    ]
    if not low:
        return ""
    advised = " ".join(f"{k} {v}" for k, v in REDIS_ENCODINGS.items())
    return (
        f"Redis has {', '.join(low)}: host queues take about twice the memory;"
        f" set {advised} (redis.conf or CONFIG SET, see the README)"
    )


def _script(body: str) -> str:
    for name, value in (
        ("$HOSTBUCKET", defaults.HOST_BUCKET),
        ("$HOSTS", defaults.HOSTS),
        ("$READY", defaults.READY_HOSTS),
        ("$BUCKETS", str(defaults.READY_BUCKETS)),
        ("$ONE", defaults.ONE_ENTRY),
        ("$QUEUE", defaults.HOST_QUEUE),
        ("$NEXT", defaults.HOST_NEXT),
        ("$BUDGET", defaults.HOST_BUDGET),
        ("$MAXHOST", str(defaults.MAX_HOST_LENGTH)),
    ):
        body = body.replace(name, value)
    return body


def _shard_keys(shard: int) -> list[str]:
    """The keys every shard script starts with (``_COMMON``)."""
    return [
        defaults.shard_key(shard, name)
        for name in (defaults.HOSTS, defaults.LEASES, defaults.QUEUED, defaults.DROPPED)
    ]


class Frontier:
    """The scripts above, bound to one client; every method is one call of the Redis thread (run them off
    the reactor, through ``Connection.call``), a round trip per shard it touches."""

    def __init__(
        self, client: redis.Redis, worker: str, dupefilter: DupeFilter, shards: int, budget: int = 0
    ) -> None:
        self.client = client
        self.worker = worker
        self.dupefilter = dupefilter
        self.shards = shards
        self.budget = budget  # BACKLINKS_MAX_PAGES_PER_HOST: a host's queue is capped at what is left
        self._next_shard = 0  # the shard a pop starts with: the one after the last the last pop visited
        # The last pop: its prefix, the order it visits the shards in, the shards it asked (for its retry).
        self._last_pop: tuple[str, list[int], set[int]] = ("", [], set())
        self._push = client.register_script(_script(_COMMON + _PUSH))
        self._pop = client.register_script(_script(_COMMON + _POP))
        self._drop = client.register_script(_script(_COMMON + _DROP))
        self._release = client.register_script(_script(_COMMON + _RELEASE))
        self._spend = client.register_script(_script(_COMMON + _SPEND))
        self._heartbeat = client.register_script(_HEARTBEAT)
        self._forget = client.register_script(_FORGET)
        self._presence = client.register_script(_PRESENCE)
        self._leave = client.register_script(_LEAVE)

    def shard(self, host: str) -> int:
        return defaults.shard_of(host, self.shards)

    def held_key(self, shard: int, worker: str | None = None) -> str:
        return defaults.shard_key(shard, defaults.WORKER_LEASES + (worker or self.worker))

    def push(self, items: Iterable[PushItem], complete: Sequence[str] = ()) -> tuple[int, int, int, int]:
        """Queue the items new to the dupefilter, and those with dont_filter whatever it says, each in
        its host's shard (a new one only while its host's queue holds less than the budget left);
        complete the lease each names, then, once every item is queued, the leases ``complete`` names (of
        the pages whose links these are). Returns (queued, duplicates, leases completed, over budget)."""
        by_shard: dict[int, list[PushItem]] = {}
        for item in items:
            by_shard.setdefault(self.shard(item[2]), []).append(item)
        tokens: dict[int, list[str]] = {}
        for token in complete:
            tokens.setdefault(token_shard(token), []).append(token)
        calls: list[tuple[int, list[PushItem], list[str]]] = [(s, batch, []) for s, batch in by_shard.items()]
        if calls and calls[-1][0] in tokens:  # the last push completes its own shard's leases
            calls[-1] = (calls[-1][0], calls[-1][1], tokens.pop(calls[-1][0]))
        calls += [(shard, [], done) for shard, done in tokens.items()]
        totals = [0, 0, 0, 0]
        for shard, batch, done in calls:
            args: list[Any] = [self.dupefilter.kind, self.budget, len(done), *done]
            for marks, dont_filter, host, score, entry, token in batch:
                args += [len(marks), *marks, int(dont_filter), host, score, entry, token]
            keys = [
                *_shard_keys(shard),
                defaults.shard_key(shard, self.dupefilter.name),
                self.held_key(shard),
                defaults.shard_key(shard, defaults.SEEN_COUNT),
                defaults.shard_key(shard, defaults.OVER_BUDGET),
            ]
            for i, n in enumerate(self._push(keys=keys, args=args)):
                totals[i] += int(n)
        added, duplicates, completed, capped = totals
        return added, duplicates, completed, capped

    def pop(
        self, count: int, prefix: str, delay: float, shards: Sequence[int] | None = None
    ) -> tuple[list[tuple[str, bytes]], int, dict[int, tuple[float, int]]]:
        """Lease up to ``count`` entries from hosts ready now, visiting these shards (all by default)
        round robin: from the one after the last the previous pop visited, so that a shard with many
        hosts ready never keeps the others waiting. Tokens are ``shard:prefix n``. Returns ((token,
        entry) pairs, entries dropped, per shard visited (seconds until a host is ready (-1: nothing
        queued), hosts queued)). A retry (the same prefix: a lost reply, or an error in the call it is
        part of, such as the presence after it under OOM) visits the shards in the first try's order, and
        every shard the first try asked whatever the count: each shard finds the first try's leases by
        their prefix in this worker's held set, so every lease the first try made is answered (more than
        ``count`` when a shard it found empty has a host ready now), however long the outage; a lease
        left out would stay held, and its URL unfetched, until this worker leaves."""
        last, order, asked = self._last_pop
        if prefix != last:
            order = sorted(range(self.shards) if shards is None else shards)
            k = next((i for i, shard in enumerate(order) if shard >= self._next_shard), 0)
            order, asked = order[k:] + order[:k], set()
            self._last_pop = (prefix, order, asked)
        bounds = [
            defaults.MAX_ENTRY_BYTES,
            defaults.MAX_JSON_DEPTH,
            defaults.MAX_URL_LENGTH,
            defaults.MAX_DEPTH,
            defaults.MAX_PRIORITY,
        ]
        pairs: list[tuple[str, bytes]] = []
        dropped = 0
        seen: dict[int, tuple[float, int]] = {}
        for shard in order:
            full = len(pairs) >= count
            if full and shard not in asked:
                continue
            asked.add(shard)
            tokens = f"{shard}:{prefix}"
            keys = [*_shard_keys(shard), self.held_key(shard)]
            flat, lost, wait, hosts = self._pop(
                keys=keys, args=[max(0, count - len(pairs)), self.worker, delay, tokens, *bounds]
            )
            pairs += [(flat[i].decode(), flat[i + 1]) for i in range(0, len(flat), 2)]
            dropped += int(lost)
            seen[shard] = (float(wait), int(hosts))
            if not full and len(pairs) >= count:
                self._next_shard = shard + 1
        return pairs, dropped, seen

    def presence(self, fresh: float, busy: bool, scope: int) -> tuple[int, list[str]]:
        """Mark this worker busy (when it is), and learn what the others hold: (workers with work in
        hand or gone silent, the scope's members when there are not ``scope`` of them, else [])."""
        keys = [defaults.HEARTBEATS_KEY, defaults.BUSY_KEY, defaults.SCOPE_KEY]
        elsewhere, members = self._presence(keys=keys, args=[self.worker, fresh, int(busy), scope])
        return int(elsewhere), [m.decode() for m in members]

    def complete(self, tokens: Sequence[str]) -> int:
        """Remove the leases these tokens still hold; returns how many did."""
        return self.push([], tokens)[2]

    def drop(self, token: str) -> None:
        """A leased entry the worker found bad: counted, its lease cleared."""
        shard = token_shard(token)
        self._drop(keys=[*_shard_keys(shard), self.held_key(shard)], args=[token])

    def release(self, tokens: Sequence[str] | None = None) -> int:
        """Put leases back in the queues: these tokens, or (None) all this worker holds, and leave."""
        if tokens is not None:
            back = 0
            for shard in sorted({token_shard(t) for t in tokens}):
                mine = [t for t in tokens if token_shard(t) == shard]
                back += int(self._release(keys=[*_shard_keys(shard), self.held_key(shard)], args=mine))
            return back
        back = self._release_all(self.worker, self.client)
        keys = [defaults.HEARTBEATS_KEY, defaults.BUSY_KEY, defaults.WORKER_KEY % self.worker]
        self._leave(keys=keys, args=[self.worker])
        return back

    def _release_all(self, worker: str, client: redis.Redis) -> int:
        back = 0
        for shard in range(self.shards):
            keys = [*_shard_keys(shard), self.held_key(shard, worker)]
            back += int(self._release(keys=keys, args=[], client=client))
        return back

    def spend(self, host: str, page: bytes) -> int:
        """Pay for a page of ``host`` from its budget (see ``_SPEND``): the pages spent before it."""
        shard = self.shard(host)
        keys = [
            *_shard_keys(shard),
            defaults.shard_key(shard, defaults.HOST_BUDGET + host),
            defaults.shard_key(shard, defaults.OVER_BUDGET),
        ]
        return int(self._spend(keys=keys, args=[page, self.budget, host]))

    def heartbeat(
        self,
        ttl: float,
        since: float,
        busy: bool,
        figures: Mapping[str, Any],
        client: redis.Redis | None = None,
    ) -> tuple[float, int, int, float]:
        """Renew this worker's leases and figures, and reap dead workers' leases (when ``since``, the
        Redis time since which this worker has seen Redis without a break, is a TTL ago, and this
        worker's own heartbeats came on time). ``client``: the connection heartbeats go through, their
        own, so that they never wait behind page traffic. Returns (Redis time, leases put back, workers
        reaped, since as the script judged it)."""
        client = client or self.client
        keys = [defaults.HEARTBEATS_KEY, defaults.BUSY_KEY, defaults.WORKER_KEY % self.worker]
        flat = [x for kv in figures.items() for x in kv]
        args = [self.worker, ttl, since, uptime(client, defaults.HEARTBEATS_KEY), int(busy), *flat]
        now, since, dead = self._heartbeat(keys=keys, args=args, client=client)
        back = reaped = 0
        if dead:
            workers = [w.decode() for w in dead]
            back = sum(self._release_all(w, client) for w in workers)
            reaped = int(self._forget(keys=keys[:2], args=[ttl, *workers], client=client))
        return float(now), back, reaped, float(since)


def uptime(client: redis.Redis, key: str) -> int:
    """Seconds the Redis holding ``key`` has been up (on a cluster, the node serving the key's slot)."""
    from redis.cluster import RedisCluster

    if isinstance(client, RedisCluster):
        info = client.info("server", target_nodes=client.get_node_from_key(key))
    else:
        info = client.info("server")
    return int(info["uptime_in_seconds"])


def status(client: redis.Redis, shards: int) -> dict[str, int]:
    """The frontier's figures for ``backlinks status``, from the counters the scripts keep: a few reads a
    shard, whatever the frontier's size."""
    pipe = client.pipeline(transaction=False)
    for shard in range(shards):
        pipe.get(defaults.shard_key(shard, defaults.QUEUED))
        pipe.get(defaults.shard_key(shard, defaults.READY_HOSTS))
        pipe.hlen(defaults.shard_key(shard, defaults.LEASES))
        pipe.get(defaults.shard_key(shard, defaults.DROPPED))
        pipe.get(defaults.shard_key(shard, defaults.OVER_BUDGET))
    replies = pipe.execute()
    names = ("queued", "hosts", "leased", "dropped", "over_budget")
    return {
        name: sum(int(replies[i] or 0) for i in range(k, len(replies), len(names)))
        for k, name in enumerate(names)
    }
