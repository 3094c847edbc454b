"""Fuzzing the extractor: generated HTML, tag soup and raw bytes never make ``extract`` raise, and what it
returns always keeps the extraction rules' invariants. A few seconds here; bench/fuzz_bench.py runs the
same property for minutes (and atheris, when installed)."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scrapy.http import HtmlResponse

from backlinkspider.crawl.extraction import limit_links, page_of
from backlinkspider.records import LINK_TYPES, Page
from backlinkspider.standards.urls import normalize

BASES = ["http://www.example.com/dir/page.html", "https://bücher.example/a/b?q=1", "http://[::1]:8080/"]
TAGS = ["a", "area", "base", "link", "meta", "div", "p", "svg", "template", "script", "table", "img", "b"]
ATTRS = ["href", "rel", "alt", "name", "content", "http-equiv", "charset", "xlink:href", "src"]
# Pieces hrefs are made of: schemes, hosts, escapes, whitespace, dots, odd characters.
HREF_PARTS = [
    "http://",
    "https://",
    "//",
    "javascript:",
    "mailto:",
    "data:,",
    "ftp://",
    "#",
    "?",
    "/",
    "\\",
    "..",
    ".",
    "%",
    "%zz",
    "%41",
    "@",
    ":",
    ":80",
    " ",
    "\t",
    "\n",
    "[::1]",
    "xn--",
    "ß",
    "é",
    "日本",
    "\u200b",
    "0x7f.1",
    "a",
    "B",
    "0",
    "&amp;",
    "&#0;",
    "nofollow",
    "ugc sponsored",
    "0; url=",
    "robots",
    "none",
]

hrefs = st.lists(st.sampled_from(HREF_PARTS), max_size=8).map("".join) | st.text(max_size=30)
attribute = st.tuples(st.sampled_from(ATTRS), hrefs)


def _element(children: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    def render(tag: str, attrs: list[tuple[str, str]], inner: list[str], closed: bool) -> str:
        quoted = "".join(f' {k}="{v.replace(chr(34), "&quot;")}"' for k, v in attrs)
        return f"<{tag}{quoted}>{''.join(inner)}" + (f"</{tag}>" if closed else "")

    return st.builds(
        render,
        st.sampled_from(TAGS),
        st.lists(attribute, max_size=3),
        st.lists(children, max_size=4),
        st.booleans(),
    )


html_fragments = st.recursive(
    st.text(max_size=20) | st.sampled_from(["<!--", "-->", "<", ">", "</a>", "<![CDATA[", "&", "\0"]),
    _element,
    max_leaves=12,
)
documents = st.tuples(st.sampled_from(BASES), st.lists(html_fragments, max_size=8).map("".join))


def check_page(url: str, body: bytes, headers: dict[str, str] | None = None) -> Page:
    """Extract a page and assert what must hold for any input (the fuzzing property)."""
    response = HtmlResponse(url=url, body=body, headers=headers or {"Content-Type": "text/html"})
    page = page_of(response)
    assert page.url == url
    seen = set()
    for link in page.links:
        assert link.link_type in LINK_TYPES
        assert link.target_url.startswith(("http://", "https://")) and "#" not in link.target_url
        assert normalize(link.target_url) == link.target_url  # already in canonical form
        assert (link.target_url, link.link_type) not in seen
        seen.add((link.target_url, link.link_type))
    capped = limit_links(page, 3, 40).page
    assert len(capped.links) <= 3 and all(len(link.target_url) <= 40 for link in capped.links)
    return page


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(documents)
def test_extract_holds_on_generated_html(doc):
    base, markup = doc
    check_page(base, markup.encode("utf-8", "surrogatepass"))


@settings(max_examples=200, deadline=None)
@given(
    st.binary(max_size=300),
    st.sampled_from(["text/html", "text/html; charset=shift_jis", "text/html; charset=utf-16"]),
)
def test_extract_holds_on_raw_bytes(body, content_type):
    check_page(BASES[0], body, {"Content-Type": content_type})


def test_the_inputs_fuzzing_found():
    """Once a crash (an SVG ``<base xlink:href>`` matched ``base[href]`` and had no ``href``)."""
    check_page(BASES[0], b'<svg><base xlink:href="http://x.example/"></svg><a href="a">a</a>')
