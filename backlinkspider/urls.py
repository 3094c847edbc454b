"""URLs as browsers see them, and the site each one belongs to.

Resolution and serialization follow the WHATWG URL Standard (via Ada, the parser Node.js uses), so a link
means here what it means in a browser: lower-case scheme and host, IDN hosts in punycode, default port
dropped, dot segments resolved, an empty path as ``/``. Fragments are dropped: they never reach a server.

Sites are registered domains from the public suffix list *with* its private section, read from
tldextract's bundled snapshot and never fetched: ``alice.github.io`` and ``bob.github.io`` are two sites,
``shop.greenleaf.co.uk`` and ``greenleaf.co.uk`` one.
"""

from __future__ import annotations

from functools import lru_cache

import ada_url
import tldextract

_PSL = tldextract.TLDExtract(suffix_list_urls=(), include_psl_private_domains=True, cache_dir=None)
_WEB_SCHEMES = ("http://", "https://")


class BadURL(ValueError):
    """A string that is not an absolute http(s) URL."""


def resolve(base: str, href: str) -> str | None:
    """The absolute http(s) URL that ``href`` names on a page whose base URL is ``base``, or None.

    None for anything a crawler cannot follow: unparsable hrefs and other schemes (javascript:,
    mailto:, tel:, data:, ftp: ...).
    """
    try:
        url = ada_url.join_url(base, href)
    except ValueError:
        return None
    if not url.startswith(_WEB_SCHEMES):
        return None
    # In a serialized URL the first '#' can only start the fragment: every other one is escaped.
    return url.split("#", 1)[0]


def normalize(url: str) -> str:
    """The canonical spelling of an absolute http(s) URL; raises BadURL for anything else."""
    text = url.strip()
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
    text = text.strip()
    if not text or any(c in text for c in "/?#@ "):
        raise BadURL(f"not a host name: {text!r}")
    return host_of(normalize(f"http://{text}/"))


@lru_cache(maxsize=65536)
def registered_domain(host: str) -> str:
    """The registered domain (eTLD+1) of a host; the host itself when it has none (IPs, ``localhost``)."""
    return _PSL(host).top_domain_under_public_suffix or host
