"""Frontier entries: the common request in a compact form, any other as JSON.

The compact form is the request ``BacklinksSpider.request`` makes (a GET to ``parse`` / ``on_error``,
meta ``depth`` and ``verbatim_url``, priority ``-depth``) with at most its Referer header, as one line of
ASCII with no control characters::

    TAG DEPTH " " URL [" " REFERER]

``TAG`` ``s`` (``p``): ``URL`` is relative to ``https://`` (``http://``) and the host whose queue holds
the entry, and starts with ``/``; ``u``: ``URL`` is absolute (a port, userinfo, no path). ``REFERER``
starting with ``/`` is relative to the same origin (a link within a site, most of a big host's queue),
else absolute. A 64-character link within a site is stored in 39 bytes (46 with its Referer), where its
JSON took 167: below ``zset-max-listpack-value`` as the README sizes it, so a host's queue can be a
listpack rather than a skiplist (bench/frontier_bench.py has the bytes). The pop script checks a compact
entry (the pattern above, a depth in range, http(s) URLs) and hands the worker its ``u`` form (``loads``
reads only that one), so the worker needs no host to read it. The form has no room to ask anything else
of the fetch.

Any other request is stored as JSON (it starts with ``{``), through Scrapy's own ``request_to_dict`` /
``request_from_dict``, so any spider's requests cross Redis and come back with their callbacks, meta,
headers and body.

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
``DENIED_META``, ``DENIED_META_PREFIXES``). A request that fails a check is refused at push
(``Unserializable``); an entry read back that fails one raises ``BadEntry`` (the scheduler drops and counts
it).
"""

from __future__ import annotations

import inspect
import json
import re
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

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
# The compact form (see the module docstring): the callbacks and meta it stands for, its text, and the
# form the worker reads (the pop script's ``u`` form: absolute URLs).
COMPACT_CALLBACKS = {"callback": "parse", "errback": "on_error"}
_COMPACT_KEYS = {"url", "callback", "errback", "meta", "priority", "headers"}
_COMPACT_TEXT = re.compile(r"https?://[!-~]+")
_COMPACT_ENTRY = re.compile(r"u([0-9]{1,7}) (https?://[!-~]+)(?: (https?://[!-~]+))?")


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
    compact = _compact(d)
    if compact is not None:
        return compact
    try:
        entry = json.dumps(d, separators=(",", ":"), allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise Unserializable(f"{request.url}: meta, cb_kwargs or cookies are not JSON: {exc}") from None
    try:
        check(d, entry)
    except BadEntry as exc:
        raise Unserializable(f"{request.url}: {exc}") from None
    return entry


def _compact(d: dict[str, Any]) -> str | None:
    """The compact entry of a request (as ``dumps`` cleaned it), or None when it needs the JSON form."""
    meta, url = d.get("meta", {}), d["url"]
    depth = meta.get("depth")
    if not (
        set(d) <= _COMPACT_KEYS
        and all(d.get(k) == v for k, v in COMPACT_CALLBACKS.items())
        and _int_in(depth, 0, defaults.MAX_DEPTH)
        and meta == {"depth": depth, "verbatim_url": True}
        and d.get("priority", 0) == -depth
    ):
        return None
    headers = d.get("headers", {})
    refs = headers.get("Referer", [])
    if set(headers) - {"Referer"} or len(refs) > 1:
        return None
    ref = refs[0] if refs else ""
    if len(url) + len(ref) + 10 > defaults.MAX_ENTRY_BYTES or not all(
        len(x) <= defaults.MAX_URL_LENGTH and _COMPACT_TEXT.fullmatch(x) for x in (url, *refs)
    ):
        return None
    tag, scheme = ("s", "https://") if url.startswith("https://") else ("p", "http://")
    origin = f"{scheme}{urlsplit(url).hostname}"  # the host of the queue (``queue.push_item``)
    if not url.startswith(f"{origin}/"):
        return f"u{depth} {url}" + (f" {ref}" if ref else "")
    if ref.startswith(f"{origin}/"):
        ref = ref[len(origin) :]
    return f"{tag}{depth} {url[len(origin) :]}" + (f" {ref}" if ref else "")


def loads(entry: bytes | str, spider: Spider | None) -> Request:
    """The request of an entry, JSON or the compact ``u`` form the pop script hands out; raises BadEntry
    for anything ``dumps`` would not have written."""
    if len(entry) > defaults.MAX_ENTRY_BYTES:
        raise BadEntry(f"entry of {len(entry)} bytes")
    if entry[:1] in (b"u", "u"):
        return _loads_compact(entry, spider)
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


def _loads_compact(entry: bytes | str, spider: Spider | None) -> Request:
    text = entry.decode("ascii", "replace") if isinstance(entry, bytes) else entry
    match = _COMPACT_ENTRY.fullmatch(text)
    if match is None:
        raise BadEntry("not a frontier entry")
    depth, url, ref = int(match[1]), match[2], match[3]
    if depth > defaults.MAX_DEPTH:
        raise BadEntry("depth not an integer in range")
    if max(len(url), len(ref or "")) > defaults.MAX_URL_LENGTH:
        raise BadEntry("bad URL")
    if not all(_is_spider_method(spider, name) for name in COMPACT_CALLBACKS.values()):
        raise BadEntry("callback or errback is not a method of the spider")
    callbacks = {k: getattr(spider, name) for k, name in COMPACT_CALLBACKS.items()}
    try:
        return Request(
            url,
            **callbacks,
            meta={"depth": depth, "verbatim_url": True},
            priority=-depth,
            headers={"Referer": ref} if ref else None,
        )
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
