"""Seed URLs, from the command line and from a seeds file, read one way by the spider and the CLI.

A seeds file holds one URL a line. Blank lines and ``#`` comments (a whole line, or after whitespace at
the end of a line: ``http://a.org/#top`` keeps its fragment) are skipped; a UTF-8 byte order mark is
accepted. A bad line (not an absolute http(s) URL, not UTF-8) does not stop the crawl: it is reported
with its line number and the other lines are crawled. A bad URL given on the command line is a usage
error, as the person who typed it is there to fix it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from backlinkspider.standards.urls import BadURL, normalize, normalize_host

_COMMENT = re.compile(r"(^|\s)#.*$")


@dataclass
class Seeds:
    """Normalized, deduplicated seed URLs in the order given, and one message per bad seeds-file line."""

    urls: list[str] = field(default_factory=list)
    bad_lines: list[str] = field(default_factory=list)


def read_seeds(urls: str | Iterable[str] | None = None, seeds_file: str | None = None) -> Seeds:
    """Seeds from URLs (a list, or one comma-separated string as ``-a seeds=`` gives) and a seeds file.

    Raises BadURL for a bad URL in ``urls`` and OSError for a file that cannot be read.
    """
    if isinstance(urls, str):
        urls = urls.split(",")
    seeds = Seeds()
    for url in urls or ():
        if url.strip():
            seeds.urls.append(seed_url(url))
    if seeds_file:
        data = Path(seeds_file).read_bytes().removeprefix(b"\xef\xbb\xbf")
        for number, raw in enumerate(data.split(b"\n"), start=1):
            try:
                line = _COMMENT.sub("", raw.decode("utf-8")).strip()
                if line:
                    seeds.urls.append(seed_url(line))
            except UnicodeDecodeError:
                seeds.bad_lines.append(f"{seeds_file}:{number}: not UTF-8 text")
            except BadURL as exc:
                seeds.bad_lines.append(f"{seeds_file}:{number}: {exc}")
    seeds.urls = list(dict.fromkeys(seeds.urls))
    return seeds


def seed_url(text: str) -> str:
    """A normalized seed URL; BadURL says what is wrong, and suggests ``http://`` for a bare host."""
    try:
        return normalize(text)
    except BadURL as exc:
        text = text.strip()
        if "://" not in text:
            try:
                normalize_host(text.split("/", 1)[0])
            except BadURL:
                pass
            else:
                raise BadURL(f"{exc} (did you mean http://{text}?)") from None
        raise
