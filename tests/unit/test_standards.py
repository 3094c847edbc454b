"""Public test suites, every case run through the project's own functions (../shared/standards; its README
names sources and licences): WPT's URL parser tests, its query percent-encoding tests, its host-to-ASCII
tests, and the Public Suffix List's own tests.

Each suite's expected answer is passed through the project's deliberate departures below, each with its
reason, and must then equal what the project computes; a case that departs in any other way fails.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest
from scrapy.http import Headers, HtmlResponse

from backlinkspider.crawl.extraction import page_of
from backlinkspider.standards.encoding import decode_html, encode_query
from backlinkspider.standards.extract import extract_html
from backlinkspider.standards.urls import BadURL, normalize, normalize_host, registrable_domain, resolve

STANDARDS = Path(
    os.environ.get("BACKLINKS_STANDARDS", Path(__file__).resolve().parents[3] / "shared" / "standards")
)

# Deliberate departures from the URL Standard, and why.
DEPARTURES = {
    "http(s) only": "a crawler follows web links: other schemes (file:, mailto:, javascript:, data:, "
    "non-special ones) resolve to no link (None)",
    "fragments dropped": "a fragment never reaches the server; URLs that differ only there are one page",
    "typed URLs need ://": "normalize() reads URLs a person types (seeds, query targets): 'http:example.com', "
    "which the standard reads as http://example.com/, is refused as a likely typo (links on pages go "
    "through resolve(), which has no such rule)",
    "empty and fragment-only hrefs": "href='' and href='#x' name the page itself: not a link (rule 1 of "
    "extract.py); resolve() itself follows the standard",
    "no null host": "the PSL tests' checkPublicSuffix(null, null) has no counterpart: a URL always has a host",
}


def _cases(name: str) -> list[dict]:
    path = STANDARDS / name
    if not path.is_file():
        return []
    return [case for case in json.loads(path.read_text(encoding="utf-8")) if isinstance(case, dict)]


def _ours(href: str | None) -> str | None:
    """The standard's serialization as the project answers it: http(s) only, fragment dropped."""
    if href is None or not href.startswith(("http://", "https://")):
        return None  # departure: http(s) only
    return href.split("#", 1)[0]  # departure: fragments dropped


def _char_refs(text: str) -> str:
    """Text as HTML character references: the document is then ASCII in every encoding tested."""
    return "".join(f"&#{ord(c)};" for c in text)


URL_CASES = _cases("urltestdata.json")
PERCENT_CASES = [
    (case["input"], encoding, output)
    for case in _cases("percent-encoding.json")
    for encoding, output in case["output"].items()
]
TOASCII_CASES = _cases("toascii.json")


def _psl_cases() -> list[tuple[str | None, str | None]]:
    path = STANDARDS / "test_psl.txt"
    if not path.is_file():
        return []
    found = re.findall(
        r"^checkPublicSuffix\((null|'[^']*'), (null|'[^']*')\);$",
        path.read_text(encoding="utf-8"),
        re.MULTILINE,
    )
    return [tuple(None if v == "null" else v[1:-1] for v in pair) for pair in found]  # type: ignore[misc]


PSL_CASES = _psl_cases()


def test_the_suites_are_there():
    counts = (len(URL_CASES), len(PERCENT_CASES), len(TOASCII_CASES), len(PSL_CASES))
    assert counts == (891, 16, 87, 78), f"the suites are expected at {STANDARDS} (set BACKLINKS_STANDARDS)"


@pytest.mark.parametrize("case", URL_CASES, ids=[str(i) for i in range(len(URL_CASES))])
def test_url_parsing(case):
    href, base = (None if case.get("failure") else case["href"]), case.get("base")
    want = _ours(href)
    text = case["input"]
    if base is None:
        if "://" not in text:
            want = None  # departure: typed URLs need ://
        try:
            got = normalize(text)
        except BadURL:
            got = None
        assert got == want
        return
    assert resolve(base, text) == want
    # The same href on a page at `base`, through the extractor.
    stripped = text.strip(" \t\n\r\f")
    if not stripped or stripped.startswith("#"):
        want = None  # departure: empty and fragment-only hrefs
    links = extract_html(base, f'<a href="{_char_refs(text)}">x</a>').links
    assert (links[0].target_url if links else None) == want


@pytest.mark.parametrize(
    "text, encoding, output", PERCENT_CASES, ids=[f"{e}-{i}" for i, (_, e, _) in enumerate(PERCENT_CASES)]
)
def test_query_percent_encoding(text, encoding, output):
    """As WPT runs it: a page declaring the encoding holds a link with the text in its query (and
    fragment, which we drop), read from the bytes as the crawler reads a page."""
    body = f'<meta charset="{encoding}"><a href="https://doc.example/?{_char_refs(text)}#{_char_refs(text)}">x</a>'
    response = HtmlResponse(
        "https://doc.example/", headers=Headers({"Content-Type": "text/html"}), body=body.encode()
    )
    assert [link.target_url for link in page_of(response).links] == [f"https://doc.example/?{output}"]
    assert decode_html(body.encode())[0] == body  # ASCII bytes: no encoding changes the document


@pytest.mark.parametrize("case", TOASCII_CASES, ids=[str(i) for i in range(len(TOASCII_CASES))])
def test_host_to_ascii(case):
    try:
        got = normalize_host(case["input"])
    except BadURL:
        got = None
    assert got == case["output"]


@pytest.mark.parametrize("host, site", PSL_CASES, ids=[str(i) for i in range(len(PSL_CASES))])
def test_public_suffix_list(host, site):
    if host is None:
        return  # departure: no null host
    assert registrable_domain(normalize_host(host)) == (normalize_host(site) if site else None)


# Python's codecs stand in for the Encoding Standard's. Where they are known to differ, encoding.py follows
# the standard; each such point is checked here. Known departures that remain (not covered by the suites
# above and not verified code point by code point, as the standard's index files are not here): Python's
# big5hkscs, cp949, cp932, euc_jp and gb18030 tables are not the standard's indexes, so rare code points
# (HKSCS additions, GB18030-2022's re-mapped PUA code points, vendor extensions) may decode or encode
# differently from a browser.
@pytest.mark.parametrize(
    "text, encoding, output",
    [
        ("\x81\x8d\x8f\x90\x9d", "windows-1252", "%81%8D%8F%90%9D"),  # cp1252 leaves these unassigned
        ("\x0e\x0f\x1b", "iso-2022-jp", "%26%2365533%3B" * 3),  # the standard's encoder refuses them
        ("\ue5e5", "gb18030", "%26%2358853%3B"),  # GB18030-2005 maps it, the standard does not
        ("€", "gbk", "%80"),  # gbk's one single-byte extra
    ],
)
def test_where_python_codecs_differ_the_standard_wins(text, encoding, output):
    assert encode_query(text, encoding) == output


def test_where_python_decoders_differ_the_standard_wins():
    assert (
        decode_html(b"\x81\x8d\x8f\x90\x9d\x80", "text/html; charset=windows-1252")[0]
        == "\x81\x8d\x8f\x90\x9d€"
    )
    # gbk pages are decoded by gb18030's decoder, four-byte sequences included.
    assert decode_html("€𝄞".encode("gb18030"), "text/html; charset=gbk")[0] == "€𝄞"
