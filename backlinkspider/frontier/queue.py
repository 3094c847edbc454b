"""The shared frontier: per-host queues with a next-allowed time, and leases a live worker keeps.

The model of Heritrix's and URLFrontier's queues and of Scrapy's own downloader slots:

- each host has a queue (``q:HOST``, lowest depth first) and, while it holds entries, a place in
  ``hosts`` scored by the time (Redis' clock) its next request may start; a host entering ``hosts`` is
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
- a page's lease is completed by the push of its links (one script), so a worker killed before that push
  leaves the lease to be reaped and the page fetched again, never a page indexed without its links
  queued.

Every entry is checked where it is read: the pop script drops (counts, never leases) any entry that is
too big, nested too deeply, not an http(s) URL, or whose depth or priority is not an integer in range, and
hands the worker a compact entry (``serializer``) with its URLs made absolute from the queue's host; the
worker checks the rest (``serializer.loads``) and drops a bad one with ``drop``, which clears its lease in
the same script. Every script is safe to retry after a lost reply: a retried pop returns the leases the
first one made.
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
# default, 64, is below most compact entries). bench/frontier_bench.py and the README have the figures.
REDIS_ENCODINGS = {"zset-max-listpack-entries": "128", "zset-max-listpack-value": "256"}

# (marks, dont_filter, host, score, entry, lease token to complete or "")
PushItem = tuple[Sequence[bytes | int], bool, str, float, str, str]


def push_item(
    request: Request, spider: Spider | None, dupefilter: DupeFilter, fingerprint: bytes, token: str = ""
) -> PushItem:
    """What ``Frontier.push`` takes for a request; raises serializer.Unserializable."""
    entry = serializer.dumps(request, spider)
    host = urlsplit(request.url).hostname or ""
    if not host or len(host) > defaults.MAX_HOST_LENGTH:
        raise serializer.Unserializable(f"{request.url}: no host")
    return dupefilter.marks(fingerprint), request.dont_filter, host, -request.priority, entry, token


_COMMON = """
local HOSTS, LEASES, QUEUED, DROPPED = '$HOSTS', '$LEASES', '$QUEUED', '$DROPPED'
local function now_s()
  local t = redis.call('TIME')
  return tonumber(t[1]) + tonumber(t[2]) / 1000000
end
-- a host entering the ready set waits its turn: behind every host already waiting (now), or until
-- its next allowed time, whichever is later
local function enqueue(host, score, entry, now)
  if redis.call('ZADD', '$QPREFIX' .. host, score, entry) == 1 then redis.call('INCR', QUEUED) end
  if not redis.call('ZSCORE', HOSTS, host) then
    redis.call('ZADD', HOSTS, math.max(now, tonumber(redis.call('GET', '$NEXTPREFIX' .. host) or '0')), host)
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

# KEYS: seen (set or bitmap), held set of this worker, seen counter.
# ARGV: mode ("set" | "bloom"), c, c lease tokens to complete, then per item: n, n marks, dont_filter (0|1),
#       host, score, entry, token. The leases are completed after the items are queued: they are the
#       leases of the pages whose links these are (and, under OOM, the first write must be the one that
#       fails, so that nothing is done).
_PUSH = """
local mode = ARGV[1]
local now = now_s()
local ncomplete = tonumber(ARGV[2])
local i, added, duplicates, newbits = ncomplete + 3, 0, 0, 0
while i <= #ARGV do
  local n = tonumber(ARGV[i])
  local new = false
  for j = 1, n do
    if mode == 'set' then
      if redis.call('SADD', KEYS[1], ARGV[i + j]) == 1 then new = true end
    elseif redis.call('SETBIT', KEYS[1], ARGV[i + j], 1) == 0 then new = true end
  end
  if new and mode == 'bloom' then newbits = newbits + 1 end
  i = i + n + 1
  if new or ARGV[i] == '1' then
    enqueue(ARGV[i + 1], ARGV[i + 2], ARGV[i + 3], now)
    added = added + 1
  else
    duplicates = duplicates + 1
  end
  if ARGV[i + 4] ~= '' and redis.call('HDEL', LEASES, ARGV[i + 4]) == 1 then
    redis.call('SREM', KEYS[2], ARGV[i + 4])
  end
  i = i + 5
end
if newbits > 0 then redis.call('INCRBY', KEYS[3], newbits) end
local completed = 0
for j = 3, ncomplete + 2 do
  if redis.call('HDEL', LEASES, ARGV[j]) == 1 then
    redis.call('SREM', KEYS[2], ARGV[j])
    completed = completed + 1
  end
end
return {added, duplicates, completed}
"""

# KEYS: held set of this worker, this pop's answer key, busy workers, heartbeats.
# ARGV: count, worker, delay, token prefix, seconds a heartbeat or busy mark stays fresh,
#       entry bytes, JSON depth, URL length, depth, priority (the bounds).
# Returns {token, entry, token, entry, ...}, dropped, seconds until a host is ready (-1: none queued),
# hosts queued, work elsewhere (fresh busy marks of other workers + leases of workers gone silent).
_POP = """
local count, worker, delay, prefix = tonumber(ARGV[1]), ARGV[2], tonumber(ARGV[3]), ARGV[4]
local fresh = tonumber(ARGV[5])
local maxbytes, maxjson, maxurl = tonumber(ARGV[6]), tonumber(ARGV[7]), tonumber(ARGV[8])
local maxdepth, maxprio = tonumber(ARGV[9]), tonumber(ARGV[10])
local now = now_s()
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
local done = redis.call('GET', KEYS[2])
if done then  -- a retried pop: answer what the first one leased
  for n = 1, tonumber(done) do
    local rec = redis.call('HGET', LEASES, prefix .. n)
    if rec then
      local a = string.find(rec, '\\t', 1, true)
      local b = string.find(rec, '\\t', a + 1, true)
      local c = string.find(rec, '\\t', b + 1, true)
      out[#out + 1] = prefix .. n
      out[#out + 1] = checked(string.sub(rec, 1, a - 1), string.sub(rec, c + 1))
    end
  end
else
  local n = 0
  repeat
    local progress = false
    local ready = redis.call('ZRANGEBYSCORE', HOSTS, '-inf', now, 'LIMIT', 0, count - n)
    for _, host in ipairs(ready) do
      local q = '$QPREFIX' .. host
      local popped = redis.call('ZPOPMIN', q)
      if #popped > 0 then
        redis.call('DECR', QUEUED)
        progress = true
        local entry = checked(host, popped[1])
        if entry then
          n = n + 1
          redis.call('HSET', LEASES, prefix .. n, host .. '\\t' .. popped[2] .. '\\t' .. worker .. '\\t' .. popped[1])
          redis.call('SADD', KEYS[1], prefix .. n)
          out[#out + 1] = prefix .. n
          out[#out + 1] = entry
          if redis.call('EXISTS', q) == 1 then
            redis.call('ZADD', HOSTS, now + delay, host)
          else
            redis.call('ZREM', HOSTS, host)
            if delay > 0 then
              redis.call('SET', '$NEXTPREFIX' .. host, string.format('%.6f', now + delay), 'PX', math.ceil(delay * 1000) + 1000)
            end
          end
        else
          dropped = dropped + 1
          if redis.call('EXISTS', q) == 0 then redis.call('ZREM', HOSTS, host) end
        end
      else
        redis.call('ZREM', HOSTS, host)
      end
      if n >= count then break end
    end
  until n >= count or not progress or delay > 0
  if n > 0 then
    redis.call('SET', KEYS[2], n, 'EX', 600)
    redis.call('ZADD', KEYS[3], now, worker)
  end
  if dropped > 0 then redis.call('INCRBY', DROPPED, dropped) end
end
local wait = -1
local first = redis.call('ZRANGE', HOSTS, 0, 0, 'WITHSCORES')
if #first > 0 then wait = math.max(0, tonumber(first[2]) - now) end
local elsewhere = 0
for _, w in ipairs(redis.call('ZRANGEBYSCORE', KEYS[3], now - fresh, '+inf')) do
  if w ~= worker then elsewhere = elsewhere + 1 end
end
for _, w in ipairs(redis.call('ZRANGEBYSCORE', KEYS[4], '-inf', '(' .. (now - fresh))) do
  elsewhere = elsewhere + redis.call('SCARD', '$HELDPREFIX' .. w)
end
return {out, dropped, string.format('%.3f', wait), redis.call('ZCARD', HOSTS), elsewhere}
"""

# KEYS: held set of this worker. ARGV: token.
_DROP = """
if redis.call('HDEL', LEASES, ARGV[1]) == 1 then redis.call('SREM', KEYS[1], ARGV[1]) end
return redis.call('INCR', DROPPED)
"""

# KEYS: held set of this worker, heartbeats, busy workers, this worker's figures.
# ARGV: tokens to put back, or none for all of them and the worker's departure.
_RELEASE = """
local tokens = ARGV
if #tokens == 0 then tokens = redis.call('SMEMBERS', KEYS[1]) end
local now, n = now_s(), 0
for _, token in ipairs(tokens) do
  n = n + requeue(token, now)
  redis.call('SREM', KEYS[1], token)
end
if #ARGV == 0 then
  local worker = string.sub(KEYS[1], #'$HELDPREFIX' + 1)
  redis.call('DEL', KEYS[1], KEYS[4])
  redis.call('ZREM', KEYS[2], worker)
  redis.call('ZREM', KEYS[3], worker)
end
return n
"""

# KEYS: heartbeats, busy workers, this worker's figures.
# ARGV: worker, TTL, Redis time since when this worker has seen Redis without a break (0: not yet),
#       Redis uptime (s), busy (0|1), then figures as field, value pairs.
# Returns {Redis time, leases put back, workers reaped, since (the break-free time, as now judged)}.
# A worker whose own last heartbeat is over TTL/2 old (it beats every TTL/5) has not seen Redis without a
# break: Redis stalled, or this worker did, and the others' silence may be the same stall. It reaps nobody
# before a TTL of beats on time.
_HEARTBEAT = """
local worker, ttl, since = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3])
local now = now_s()
local last = redis.call('ZSCORE', KEYS[1], worker)
if since == 0 or not last or now - tonumber(last) > ttl / 2 then since = now end
since = math.max(since, now - tonumber(ARGV[4]))
redis.call('ZADD', KEYS[1], now, worker)
if ARGV[5] == '1' then redis.call('ZADD', KEYS[2], now, worker) end
if #ARGV > 5 then
  redis.call('HSET', KEYS[3], unpack(ARGV, 6))
  redis.call('EXPIRE', KEYS[3], ttl)
end
local back, reaped = 0, 0
if now - since >= ttl then
  for _, w in ipairs(redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', '(' .. (now - ttl))) do
    local held = '$HELDPREFIX' .. w
    for _, token in ipairs(redis.call('SMEMBERS', held)) do back = back + requeue(token, now) end
    redis.call('DEL', held)
    redis.call('ZREM', KEYS[1], w)
    redis.call('ZREM', KEYS[2], w)
    reaped = reaped + 1
  end
end
return {string.format('%.6f', now), back, reaped, string.format('%.6f', since)}
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


def agree_pacing(client: redis.Redis, host_delay: float, heartbeat_ttl: float) -> None:
    """Store the cluster's host delay and heartbeat TTL (the first worker's), or raise FrontierConfigError
    when this worker's differ: two delays would break the politeness the frontier promises, and a worker
    beating on a longer TTL would be reaped alive by the others."""
    from backlinkspider.frontier.dupefilter import FrontierConfigError

    asked = {
        "BACKLINKS_HOST_DELAY": repr(float(host_delay)),
        "BACKLINKS_HEARTBEAT_TTL": repr(float(heartbeat_ttl)),
    }
    have = client.eval(_AGREE, 1, defaults.CONFIG_KEY, *(x for kv in asked.items() for x in kv))
    if have:
        mine = " ".join(f"{k}={v}" for k, v in asked.items())
        raise FrontierConfigError(
            f"the cluster's frontier runs with {have.decode()}; this worker asks for {mine}"
            " (use the same BACKLINKS_HOST_DELAY and BACKLINKS_HEARTBEAT_TTL everywhere)"
        )


def encodings_advice(client: redis.Redis) -> str:
    """One line for the log when this Redis keeps host queues in a costlier encoding than
    ``REDIS_ENCODINGS``, else "" (also when CONFIG GET is not allowed, as on some managed Redis)."""
    import redis as redis_

    try:
        have = {str(k): int(v or 0) for k, v in client.config_get("zset-max-listpack-*").items()}
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
        ("$HOSTS", defaults.HOSTS_KEY),
        ("$LEASES", defaults.LEASES_KEY),
        ("$QUEUED", defaults.QUEUED_KEY),
        ("$DROPPED", defaults.DROPPED_KEY),
        ("$QPREFIX", defaults.HOST_QUEUE_KEY % ""),
        ("$NEXTPREFIX", defaults.HOST_NEXT_KEY % ""),
        ("$HELDPREFIX", defaults.WORKER_LEASES_KEY % ""),
        ("$MAXHOST", str(defaults.MAX_HOST_LENGTH)),
    ):
        body = body.replace(name, value)
    return body


class Frontier:
    """The scripts above, bound to one client; every method is one round trip (run them off the reactor,
    through ``Connection.call``)."""

    def __init__(self, client: redis.Redis, worker: str, dupefilter: DupeFilter) -> None:
        self.client = client
        self.worker = worker
        self.dupefilter = dupefilter
        self.held_key = defaults.WORKER_LEASES_KEY % worker
        self._push = client.register_script(_script(_COMMON + _PUSH))
        self._pop = client.register_script(_script(_COMMON + _POP))
        self._drop = client.register_script(_script(_COMMON + _DROP))
        self._release = client.register_script(_script(_COMMON + _RELEASE))
        self._heartbeat = client.register_script(_script(_COMMON + _HEARTBEAT))

    def push(self, items: Iterable[PushItem], complete: Sequence[str] = ()) -> tuple[int, int, int]:
        """Queue the items new to the dupefilter, and those with dont_filter whatever it says; complete
        the lease each names, then the leases ``complete`` names (of the pages whose links these are).
        Returns (queued, duplicates, leases completed)."""
        args: list[Any] = [self.dupefilter.kind, len(complete), *complete]
        for marks, dont_filter, host, score, entry, token in items:
            args += [len(marks), *marks, int(dont_filter), host, score, entry, token]
        if len(args) == 2:
            return 0, 0, 0
        keys = [self.dupefilter.key, self.held_key, defaults.SEEN_COUNT_KEY]
        added, duplicates, completed = self._push(keys=keys, args=args)
        return int(added), int(duplicates), int(completed)

    def pop(
        self, count: int, prefix: str, delay: float, fresh: float
    ) -> tuple[list[tuple[str, bytes]], int, float, int, int]:
        """Lease up to ``count`` entries from hosts ready now under tokens ``prefix + n``. Returns
        ((token, entry) pairs, entries dropped, seconds until a host is ready (-1: nothing queued), hosts
        with queued entries, work elsewhere in the cluster)."""
        keys = [self.held_key, defaults.POPPED_KEY % prefix, defaults.BUSY_KEY, defaults.HEARTBEATS_KEY]
        bounds = [
            defaults.MAX_ENTRY_BYTES,
            defaults.MAX_JSON_DEPTH,
            defaults.MAX_URL_LENGTH,
            defaults.MAX_DEPTH,
            defaults.MAX_PRIORITY,
        ]
        flat, dropped, wait, hosts, elsewhere = self._pop(
            keys=keys, args=[count, self.worker, delay, prefix, fresh, *bounds]
        )
        pairs = [(flat[i].decode(), flat[i + 1]) for i in range(0, len(flat), 2)]
        return pairs, int(dropped), float(wait), int(hosts), int(elsewhere)

    def complete(self, tokens: Sequence[str]) -> int:
        """Remove the leases these tokens still hold; returns how many did."""
        return self.push([], tokens)[2]

    def drop(self, token: str) -> None:
        """A leased entry the worker found bad: counted, its lease cleared."""
        self._drop(keys=[self.held_key], args=[token])

    def release(self, tokens: Sequence[str] | None = None) -> int:
        """Put leases back in the queues: these tokens, or (None) all this worker holds, and leave."""
        keys = [self.held_key, defaults.HEARTBEATS_KEY, defaults.BUSY_KEY, defaults.WORKER_KEY % self.worker]
        if tokens is not None and not tokens:
            return 0
        return int(self._release(keys=keys, args=list(tokens or [])))

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
        uptime = client.info("server")["uptime_in_seconds"]
        keys = [defaults.HEARTBEATS_KEY, defaults.BUSY_KEY, defaults.WORKER_KEY % self.worker]
        flat = [x for kv in figures.items() for x in kv]
        now, back, reaped, since = self._heartbeat(
            keys=keys, args=[self.worker, ttl, since, uptime, int(busy), *flat], client=client
        )
        return float(now), int(back), int(reaped), float(since)


def status(client: redis.Redis) -> dict[str, int]:
    """The frontier's figures for ``backlinks status``."""
    pipe = client.pipeline(transaction=False)
    pipe.get(defaults.QUEUED_KEY)
    pipe.zcard(defaults.HOSTS_KEY)
    pipe.hlen(defaults.LEASES_KEY)
    pipe.get(defaults.DROPPED_KEY)
    queued, hosts, leased, dropped = pipe.execute()
    return {"queued": int(queued or 0), "hosts": hosts, "leased": leased, "dropped": int(dropped or 0)}
