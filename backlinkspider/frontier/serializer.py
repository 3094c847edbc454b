"""Frontier entries: a request as JSON, through Scrapy's own ``request_to_dict`` / ``request_from_dict``,
so any spider's requests cross Redis and come back with their callbacks, meta, headers and body.

Never pickle (scrapy-redis stores pickles: whoever can write to Redis runs code on every worker), and no
``_class`` (``request_from_dict`` would import and call whatever it names): a request comes back as a
plain ``Request``. Bytes (body, headers) are stored as Latin-1 text, which maps every byte to one
character, so they round-trip exactly. ``dont_filter`` is not stored: the push takes it apart (it decides
only whether the dupefilter is asked), and a popped request has no need of it (it would pass Scrapy's
offsite filter). Nor is what Scrapy's downloader middlewares added to a request that comes back as a retry
or a redirect (User-Agent, Accept-Encoding, Cookie and credentials headers, the environment's proxy, the
download timeout): the worker that fetches it sets them again from its own settings.

An entry is checked for its shape (size, nesting, URL text, integer depth and priority in range, known
keys, callbacks that are methods of the spider) and for what it asks of the fetch, since whoever can write
to Redis writes entries: a GET with no body or cookies, headers from ``ALLOWED_HEADERS`` only, and no meta
key of Scrapy's that changes where, whether or how a request is fetched (a proxy, robots.txt, size and time
limits, the local address, status codes handed to the spider, retries, redirects, cookies, credentials:
``DENIED_META``, ``DENIED_META_PREFIXES``). A request that fails a check is refused at push (``Unserializable``); an entry read back
that fails one raises ``BadEntry`` (the scheduler drops and counts it).
"""

from __future__ import annotations

import inspect
import json
import re
from typing import TYPE_CHECKING, Any

from scrapy import Request
from scrapy.utils.request import request_from_dict

from backlinkspider.frontier import defaults

if TYPE_CHECKING:
    from scrapy import Spider

LEASE_META = "frontier_lease"  # the lease token of a request a worker leased (never stored)
# Meta keys that describe one download, not the request, or that the worker fetching it sets again from
# its own settings (a retry or a redirect carries them): not stored.
_TRANSIENT_META = {LEASE_META, "download_latency", "download_slot", "download_timeout", "_auth_proxy"}
# Headers that Scrapy's downloader middlewares set at download (a retry carries them): not stored either.
_DOWNLOAD_HEADERS = {
    b"user-agent",
    b"accept-encoding",
    b"cookie",
    b"authorization",
    b"proxy-authorization",
}
_DEFAULTS: dict[str, Any] = {
    "method": "GET",
    "headers": {},
    "body": "",
    "cookies": {},
    "meta": {},
    "encoding": "utf-8",
    "priority": 0,
    "dont_filter": False,
    "flags": [],
    "cb_kwargs": {},
    "callback": None,
    "errback": None,
}
_KEYS = (set(Request.attributes) | {"callback", "errback"}) - {"dont_filter"}
# Headers a stored request may carry (lower case): what Scrapy's own middlewares set at yield time.
ALLOWED_HEADERS = frozenset({"referer", "accept", "accept-language"})
# Meta keys (and prefixes) of Scrapy's that change where, whether or how a request is fetched.
DENIED_META = frozenset(
    {
        "proxy",
        "bindaddress",
        "allow_offsite",
        "cookiejar",
        "max_retry_times",
        "referrer_policy",
        "cached_response",
        "autothrottle_dont_adjust_delay",
    }
)
DENIED_META_PREFIXES = ("dont_", "download_", "handle_httpstatus_", "http_", "ftp_", "_")
_METHOD_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]*")


class BadEntry(ValueError):
    """A queue entry that is not one this tool wrote."""


class Unserializable(ValueError):
    """A request the frontier cannot store (its meta, cb_kwargs or callback are not JSON or names)."""


def dumps(request: Request, spider: Spider | None) -> str:
    """The entry of a request; raises Unserializable."""
    try:
        d = request.to_dict(spider=spider)
    except ValueError as exc:  # a callback that is not a method of the spider
        raise Unserializable(f"{request.url}: {exc}") from None
    d.pop("_class", None)
    d.pop("dont_filter", None)
    if d["meta"].get("_scheme_proxy"):  # HttpProxyMiddleware's, from the environment: set again at download
        d["meta"] = {k: v for k, v in d["meta"].items() if k not in ("proxy", "_scheme_proxy")}
    d["meta"] = {k: v for k, v in d["meta"].items() if k not in _TRANSIENT_META}
    d["body"] = d["body"].decode("latin-1")
    d["headers"] = {
        k.decode("latin-1"): [v.decode("latin-1") for v in vs]
        for k, vs in d["headers"].items()
        if k.lower() not in _DOWNLOAD_HEADERS
    }
    d = {k: v for k, v in d.items() if k not in _DEFAULTS or v != _DEFAULTS[k]}
    try:
        entry = json.dumps(d, separators=(",", ":"), allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise Unserializable(f"{request.url}: meta, cb_kwargs or cookies are not JSON: {exc}") from None
    try:
        check(d, entry)
    except BadEntry as exc:
        raise Unserializable(f"{request.url}: {exc}") from None
    return entry


def loads(entry: bytes | str, spider: Spider | None) -> Request:
    """The request of an entry; raises BadEntry for anything ``dumps`` would not have written."""
    if len(entry) > defaults.MAX_ENTRY_BYTES:
        raise BadEntry(f"entry of {len(entry)} bytes")
    try:
        obj = json.loads(entry)
    except (ValueError, RecursionError) as exc:  # UnicodeDecodeError is a ValueError
        raise BadEntry(f"not JSON: {type(exc).__name__}") from None
    check(obj, entry)
    if not all(_is_spider_method(spider, obj.get(name)) for name in ("callback", "errback")):
        raise BadEntry("callback or errback is not a method of the spider")
    obj["body"] = obj.get("body", "").encode("latin-1")
    obj["headers"] = {
        k.encode("latin-1"): [v.encode("latin-1") for v in vs] for k, vs in obj.get("headers", {}).items()
    }
    try:
        return request_from_dict(obj, spider=spider)
    except Exception as exc:  # whatever a hostile entry makes Request() raise
        raise BadEntry(f"not a request: {exc}") from None


def check(obj: Any, entry: bytes | str) -> None:
    """Raise BadEntry unless ``obj`` (decoded from ``entry``) is a request as ``dumps`` writes it."""
    _check_shape(obj, entry)
    _check_fields(obj)
    _check_fetch(obj)


def _check_shape(obj: Any, entry: bytes | str) -> None:
    if len(entry) > defaults.MAX_ENTRY_BYTES:
        raise BadEntry(f"entry of {len(entry)} bytes")
    if _depth(obj) > defaults.MAX_JSON_DEPTH:
        raise BadEntry("JSON nested too deeply")
    if not isinstance(obj, dict) or not set(obj) <= _KEYS:
        raise BadEntry("not a frontier entry")
    url = obj.get("url")
    if not isinstance(url, str) or len(url) > defaults.MAX_URL_LENGTH or not _is_text(url):
        raise BadEntry("bad URL")
    if not url.startswith(("http://", "https://")):
        raise BadEntry("not an http(s) URL")


def _check_fields(obj: dict[str, Any]) -> None:
    meta = obj.get("meta", {})
    if not isinstance(meta, dict):
        raise BadEntry("bad meta")
    if not _int_in(meta.get("depth", 0), 0, defaults.MAX_DEPTH):
        raise BadEntry("depth not an integer in range")
    if not _int_in(obj.get("priority", 0), -defaults.MAX_PRIORITY, defaults.MAX_PRIORITY):
        raise BadEntry("priority not an integer in range")
    for name in ("callback", "errback"):
        value = obj.get(name)
        if value is not None and not (isinstance(value, str) and _METHOD_NAME.fullmatch(value)):
            raise BadEntry(f"bad {name}")
    headers = obj.get("headers", {})
    if not isinstance(headers, dict) or not all(
        _is_latin1(k) and isinstance(vs, list) and all(_is_latin1(v) for v in vs) for k, vs in headers.items()
    ):
        raise BadEntry("bad headers")
    if not _is_latin1(obj.get("body", "")):
        raise BadEntry("bad body")


def _check_fetch(obj: dict[str, Any]) -> None:
    """What the entry asks of the fetch (the module docstring says what may be asked)."""
    if obj.get("method", "GET") != "GET":
        raise BadEntry(f"method {obj['method']!r}, not GET")
    if obj.get("body") or obj.get("cookies"):
        raise BadEntry("a body or cookies")
    for name in obj.get("headers", {}):
        if name.lower() not in ALLOWED_HEADERS:
            raise BadEntry(f"header {name!r} not allowed")
    for key in obj.get("meta", {}):
        if key in DENIED_META or key.startswith(DENIED_META_PREFIXES):
            raise BadEntry(f"meta {key!r} changes the fetch")


def _is_spider_method(spider: Spider | None, name: str | None) -> bool:
    return name is None or (spider is not None and inspect.ismethod(getattr(spider, name, None)))


def _depth(obj: Any) -> int:
    """Nesting depth, without recursion (a hostile entry could nest thousands of levels)."""
    deepest, stack = 0, [(obj, 1)]
    while stack:
        node, level = stack.pop()
        if isinstance(node, dict | list | tuple):
            deepest = max(deepest, level)
            if level > defaults.MAX_JSON_DEPTH:
                break
            stack.extend((child, level + 1) for child in (node.values() if isinstance(node, dict) else node))
    return deepest


def _int_in(value: Any, low: int, high: int) -> bool:
    return type(value) is int and low <= value <= high


def _is_text(value: str) -> bool:
    """Encodable as UTF-8: no lone surrogates."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _is_latin1(value: Any) -> bool:
    if not isinstance(value, str):
        return False
    try:
        value.encode("latin-1")
    except UnicodeEncodeError:
        return False
    return True
