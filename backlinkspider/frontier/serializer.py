"""Frontier entries: a request as the JSON ``{"u": url, "d": depth, "p": priority}``.

Only what the backlinks spider's requests carry crosses Redis, so nothing in an entry can name code to
run (scrapy-redis stores pickles: whoever can write to Redis runs code on every worker). ``loads`` checks
every field and raises ``BadEntry`` for anything else.
"""

from __future__ import annotations

import json
from typing import Any

from backlinkspider.urls import BadURL, normalize


class BadEntry(ValueError):
    """A queue entry that is not one this tool wrote."""


def dumps(url: str, depth: int, priority: int) -> str:
    return json.dumps({"u": url, "d": depth, "p": priority}, separators=(",", ":"))


def loads(entry: bytes | str) -> tuple[str, int, int]:
    """(url, depth, priority) of an entry."""
    try:
        obj: Any = json.loads(entry)
    except (ValueError, UnicodeDecodeError) as exc:
        raise BadEntry(f"not JSON: {exc}") from None
    if not isinstance(obj, dict) or set(obj) != {"u", "d", "p"}:
        raise BadEntry("not a frontier entry")
    url, depth, priority = obj["u"], obj["d"], obj["p"]
    if not isinstance(url, str) or type(depth) is not int or type(priority) is not int or depth < 0:
        raise BadEntry("bad field types")
    try:
        if normalize(url) != url:
            raise BadEntry("URL not in normal form")
    except BadURL as exc:
        raise BadEntry(str(exc)) from None
    return url, depth, priority
