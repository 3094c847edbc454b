"""A Redis client from ``REDIS_URL`` that rides out a Redis restart: every command is retried with
exponential backoff (up to about a minute) before it fails."""

from __future__ import annotations

from typing import Any

import redis
from redis.backoff import ExponentialBackoff
from redis.retry import Retry
from scrapy_redis.connection import get_redis

from backlinkspider.redact import redact


class RedisUnavailable(Exception):
    """Redis cannot be reached; the message is one line for a person."""


def connect(url: str) -> redis.Redis:
    """A client for ``url`` (``redis://``, ``rediss://`` for TLS, with a password in the URL if any) that
    retries through outages; Redis must be reachable now (checked once, without retries)."""
    connect_once(url).close()
    params: dict[str, Any] = {
        "url": url,
        "retry": Retry(ExponentialBackoff(cap=10, base=0.2), retries=12),
        "retry_on_error": [redis.ConnectionError, redis.TimeoutError],
        "socket_timeout": 30,
        "socket_connect_timeout": 5,
        "health_check_interval": 30,
    }
    return get_redis(**params)


def connect_once(url: str) -> redis.Redis:
    """A client that fails at once instead of retrying: for start-up checks and the CLI."""
    server = get_redis(url=url, socket_connect_timeout=3, socket_timeout=10)
    try:
        server.ping()
    except redis.RedisError as exc:
        raise RedisUnavailable(f"cannot reach Redis at {redact(url)}: {' '.join(str(exc).split())}") from None
    return server
