"""URLs as browsers see them, and the site each one belongs to.

Resolution and serialization follow the WHATWG URL Standard (via Ada, the parser Node.js uses), so a link
means here what it means in a browser: lower-case scheme and host, IDN hosts in punycode, default port
dropped, dot segments resolved, an empty path as ``/``. Fragments are dropped: they never reach a server.

Sites are registered domains from the public suffix list *with* its private section, never fetched: the
copy shipped in ``backlinkspider/data`` or the file ``BACKLINKS_PSL_FILE`` names. ``alice.github.io`` and
``bob.github.io`` are two sites, ``shop.greenleaf.co.uk`` and ``greenleaf.co.uk`` one, and a TLD the list
lacks (``.internal``, a new gTLD) is a public suffix by the list's implicit ``*`` rule.
"""

from __future__ import annotations

import os
import re
from functools import lru_cache
from importlib import resources
from pathlib import Path

import ada_url
from publicsuffixlist import PublicSuffixList

from backlinkspider.standards.encoding import ASCII_UNSAFE, UTF8, encode_query

_WEB_SCHEMES = ("http://", "https://")
_ASCII_WS = " \t\n\r\f"  # trimmed from typed URLs and hosts (a subset of what the parser trims)
_C0_OR_SPACE = "".join(map(chr, range(0x21)))
_TAB_NEWLINE = str.maketrans("", "", "\t\n\r")


class BadURL(ValueError):
    """A string that is not an absolute http(s) URL."""


def resolve(base: str, href: str, encoding: str = UTF8) -> str | None:
    """The absolute http(s) URL that ``href`` names on a page whose base URL is ``base``, or None.

    None for anything a crawler cannot follow: unparsable hrefs and other schemes (javascript:,
    mailto:, tel:, data:, ftp: ...). ``encoding`` is the page's: the query is percent-encoded in it.
    """
    if encoding != UTF8 and (not href.isascii() or encoding in ASCII_UNSAFE):
        href = _encode_query_in(href, encoding)
    try:
        url = ada_url.join_url(base, href)
    except ValueError:
        return None
    if not url.startswith(_WEB_SCHEMES):
        return None
    # In a serialized URL the first '#' can only start the fragment: every other one is escaped.
    return url.split("#", 1)[0]


def _encode_query_in(href: str, encoding: str) -> str:
    """``href`` with its query percent-encoded in ``encoding`` (Ada, like the rest, takes only UTF-8).

    The URL parser's own first steps come first (trim C0 controls and spaces, drop tabs and newlines) so
    that the query is the one the parser would see: from the first ``?`` to the first ``#``.
    """
    href = href.strip(_C0_OR_SPACE).translate(_TAB_NEWLINE)
    start, end = href.find("?") + 1, href.find("#")
    if end < 0:
        end = len(href)
    if not start or start > end:
        return href  # no query, or the '?' is in the fragment
    return href[:start] + encode_query(href[start:end], encoding) + href[end:]


def normalize(url: str) -> str:
    """The canonical spelling of an absolute http(s) URL; raises BadURL for anything else."""
    text = url.strip(_ASCII_WS)
    try:
        out = ada_url.normalize_url(text)
    except ValueError:
        out = None
    if out is None or not out.startswith(_WEB_SCHEMES) or "://" not in text:
        raise BadURL(f"not an absolute http(s) URL: {url!r}")
    return out.split("#", 1)[0]


def host_of(url: str) -> str:
    """The host of a normalized URL: ``http://[::1]:8080/x`` -> ``[::1]``."""
    authority = url.split("/", 3)[2]
    authority = authority.rsplit("@", 1)[-1]
    if authority.startswith("["):
        return authority[: authority.index("]") + 1]
    return authority.split(":", 1)[0]


def normalize_host(text: str) -> str:
    """A host name as the URL parser serializes it (``Bücher.DE`` -> ``xn--bcher-kva.de``)."""
    text = text.strip(_ASCII_WS)
    if not text or any(c in text for c in "/?#@ "):
        raise BadURL(f"not a host name: {text!r}")
    return host_of(normalize(f"http://{text}/"))


def use_suffix_list(path: str | Path | None = None) -> None:
    """Read sites from this public suffix list file (None: ``BACKLINKS_PSL_FILE``, else the shipped
    copy). Raises OSError, or ValueError for a file that holds no rules."""
    global _suffix_list
    path = path or os.environ.get("BACKLINKS_PSL_FILE") or None
    if path is None:
        text = resources.files("backlinkspider").joinpath("data/public_suffix_list.dat").read_text("utf-8")
    else:
        text = Path(path).read_text(encoding="utf-8")
    if not re.search(r"^com\s*$", text, re.MULTILINE):
        raise ValueError(f"not a public suffix list (no rule for .com): {path}")
    _suffix_list = PublicSuffixList(text, accept_unknown=True)
    registrable_domain.cache_clear()


_suffix_list: PublicSuffixList | None = None


@lru_cache(maxsize=65536)
def registrable_domain(host: str) -> str | None:
    """The registrable domain (eTLD+1) of a normalized host by the public suffix list, or None for a
    public suffix itself (``co.uk``, ``localhost``) and for IP addresses."""
    if _suffix_list is None:
        use_suffix_list()
    if host.startswith("[") or host.rsplit(".", 1)[-1].isdigit():
        return None  # an IPv6 or (the parser made it so) an IPv4 address
    assert _suffix_list is not None
    return _suffix_list.privatesuffix(host)


def registered_domain(host: str) -> str:
    """The site a host belongs to: its registrable domain, else the host itself (IPs, ``localhost``)."""
    return registrable_domain(host) or host
