"""The extraction rules, one by one, on small documents and on Scrapy responses."""

from __future__ import annotations

import pytest
from scrapy.http import Headers, HtmlResponse, Response, TextResponse

from backlinkspider.crawl.extraction import page_of
from backlinkspider.crawl.items import page_edges
from backlinkspider.standards.extract import Link, extract_html, refresh_url, robots_says_nofollow

PAGE = "http://www.example.com/dir/page.html"


def links(body: str, url: str = PAGE) -> list[Link]:
    return extract_html(url, body).links


def targets(body: str) -> list[tuple[str, str]]:
    return [(link.target_url, link.link_type) for link in links(body)]


def test_a_and_area_hrefs_are_links_in_document_order():
    body = '<a href="/a">A</a><map><area href="b" alt=" Area  B "></map><a href="http://other.org/c">C</a>'
    assert [(x.target_url, x.link_type, x.anchor_text) for x in links(body)] == [
        ("http://www.example.com/a", "text", "A"),
        ("http://www.example.com/dir/b", "text", "Area B"),
        ("http://other.org/c", "text", "C"),
    ]


@pytest.mark.parametrize(
    "href",
    [
        "javascript:alert(1)",
        "JavaScript:void(0)",
        "mailto:a@b.c",
        "tel:+1",
        "data:text/html,<a>",
        "#top",
        " #x",
        "",
        "   ",
        "ftp://f.example.com/",
        "http://[broken/",
    ],
)
def test_non_links(href):
    assert links(f'<a href="{href}">x</a>') == []


def test_comments_scripts_and_templates_hold_no_links():
    body = (
        '<!-- <a href="/c">c</a> --><script>var a = \'<a href="/s">s</a>\';</script>'
        '<template><a href="/t">t</a></template><style>a[href="/y"]{}</style><a href="/real">r</a>'
    )
    assert targets(body) == [("http://www.example.com/real", "text")]


def test_urls_are_resolved_and_normalized_as_browsers_do():
    body = (
        '<a href="HTTP://WWW.Example.COM:80/a/./b/../c?q=2&a=1#frag">1</a>'
        '<a href="//Bücher.DE/x">2</a><a href="../up">3</a><a href="https://h.org:443">4</a>'
        '<a href="  /padded\n">5</a><a href="http://h.org/a b">6</a>'
    )
    assert [t for t, _ in targets(body)] == [
        "http://www.example.com/a/c?q=2&a=1",  # the query stays as written
        "http://xn--bcher-kva.de/x",
        "http://www.example.com/up",
        "https://h.org/",
        "http://www.example.com/padded",
        "http://h.org/a%20b",
    ]


def test_first_base_href_wins_and_resolves_relative_links():
    body = (
        '<base href="https://cdn.example.org/s/"><base href="http://no/"><a href="x">x</a><a href="/y">y</a>'
    )
    assert [t for t, _ in targets(body)] == ["https://cdn.example.org/s/x", "https://cdn.example.org/y"]


def test_relative_base_resolves_against_the_page():
    assert targets('<base href="/other/"><a href="x">x</a>') == [("http://www.example.com/other/x", "text")]


def test_anchor_text_is_dom_text_with_whitespace_collapsed():
    body = '<a href="/a">  Hello <b>big</b>\n\t<!-- no -->world&amp;co </a>'
    assert links(body)[0].anchor_text == "Hello big world&co"


def test_image_links_take_the_first_img_alt():
    body = (
        '<a href="/i"><img alt=" Our  logo "><img alt="second"></a>'
        '<a href="/t">Text <img alt="not used"></a>'
        '<a href="/n"><img src="x.png"></a>'
        '<a href="/e"></a>'
    )
    assert [(x.link_type, x.anchor_text) for x in links(body)] == [
        ("image", "Our logo"),
        ("text", "Text"),
        ("image", ""),
        ("text", ""),
    ]


def test_canonical_and_meta_refresh():
    body = (
        '<head><link rel="Canonical" href="/canon"><meta http-equiv="REFRESH" content="5;url=\'/next\'">'
        '<link rel="stylesheet" href="/s.css"></head>'
    )
    assert [(x.target_url, x.link_type, x.anchor_text) for x in links(body)] == [
        ("http://www.example.com/canon", "canonical", ""),
        ("http://www.example.com/next", "redirect", ""),
    ]


@pytest.mark.parametrize(
    "content, url",
    [
        ("0; url=http://a.org/", "http://a.org/"),
        ("0;URL='http://a.org/x'", "http://a.org/x"),
        ('3, url = "/q" trailing', "/q"),
        ("0 http://a.org/y", "http://a.org/y"),
        ("0; u=/z", "u=/z"),
        (".5; url=/half", "/half"),
        ("5", None),
        ("5;", None),
        ("x; url=/bad", None),
        ("", None),
        ("0; url=", None),
    ],
)
def test_refresh_url_follows_the_html_standard(content, url):
    assert refresh_url(content) == url


def test_rel_flags_are_case_insensitive_tokens():
    body = (
        '<a href="/1" rel="NoFollow">1</a><a href="/2" rel="ugc Sponsored">2</a>'
        '<a href="/3" rel="nofollowx noopener">3</a>'
    )
    assert [(x.nofollow, x.ugc, x.sponsored) for x in links(body)] == [
        (True, False, False),
        (False, True, True),
        (False, False, False),
    ]


@pytest.mark.parametrize("content", ["nofollow", "noindex, NOFOLLOW", "none", "googlebot: nofollow"])
def test_meta_robots_nofollow_applies_to_every_link(content):
    body = f'<meta name="Robots" content="{content}"><a href="/a">a</a><link rel=canonical href="/c">'
    page = extract_html(PAGE, body)
    assert page.nofollow and all(x.nofollow for x in page.links) and len(page.links) == 2


@pytest.mark.parametrize(
    "value, says",
    [
        ("noindex", False),
        ("index, follow", False),
        ("NONE", True),
        ("noarchive, nofollow", True),
        ("", False),
    ],
)
def test_robots_directives(value, says):
    assert robots_says_nofollow(value) is says


def test_duplicates_keep_the_first_occurrence():
    body = '<a href="/d">first</a><a href="/d#x" rel="nofollow">second</a><a href="/d"><img alt="img"></a>'
    assert [(x.link_type, x.anchor_text, x.nofollow) for x in links(body)] == [
        ("text", "first", False),
        ("image", "img", False),
    ]


def html_response(body: bytes, status: int = 200, headers: dict | None = None, url: str = PAGE) -> Response:
    h = Headers({"Content-Type": "text/html", **(headers or {})})
    return HtmlResponse(url=url, status=status, headers=h, body=body)


def test_x_robots_tag_header_makes_the_page_nofollow():
    page = page_of(html_response(b'<a href="/a">a</a>', headers={"X-Robots-Tag": "noindex, nofollow"}))
    assert page.nofollow and page.links[0].nofollow


def test_3xx_gives_a_redirect_edge_to_the_resolved_location():
    page = page_of(html_response(b"<a href='/ignored'>x</a>", 301, {"Location": "../moved#f"}))
    assert page.links == [Link("http://www.example.com/moved", "redirect")]
    assert page_of(html_response(b"", 302)).links == []  # no Location: nothing to link to


def test_only_2xx_html_is_parsed():
    body = b'<a href="http://other.org/">x</a>'
    assert page_of(html_response(body, 404)).links == []
    assert page_of(html_response(body, 500)).links == []
    assert page_of(Response(url=PAGE, body=body, headers={"Content-Type": "application/pdf"})).links == []
    assert page_of(TextResponse(url=PAGE, body=body, headers={"Content-Type": "text/plain"})).links == []


def test_windows_1252_is_decoded_as_scrapy_decodes_it():
    body = '<a href="/café">Crème – brûlée</a>'.encode("cp1252")
    page = page_of(html_response(body, headers={"Content-Type": "text/html; charset=windows-1252"}))
    assert (page.links[0].target_url, page.links[0].anchor_text) == (
        "http://www.example.com/caf%C3%A9",
        "Crème – brûlée",
    )


def test_broken_and_huge_pages_do_not_raise():
    assert extract_html(PAGE, "<a href='/x'><<<<>>>\x00\ufffd<a href=").links[0].target_url.endswith("/x")
    huge = "<p>" + '<a href="/l">x</a>' * 200_000
    assert len(extract_html(PAGE, huge).links) == 1


def test_external_is_decided_by_registered_domain():
    body = (
        '<a href="http://shop.example.com/">same site</a><a href="https://alice.github.io/">a</a>'
        '<a href="https://bob.github.io/">b</a><a href="http://shop.x.co.uk/">c</a><a href="http://x.co.uk/">d</a>'
    )
    edges = page_edges(extract_html("https://alice.github.io/post", body), keep_internal=True)
    assert [(e.target_domain, e.external) for e in edges] == [
        ("example.com", True),
        ("alice.github.io", False),
        ("bob.github.io", True),
        ("x.co.uk", True),
        ("x.co.uk", True),
    ]
    edges = page_edges(extract_html("http://www.x.co.uk/", body), keep_internal=False)
    assert [e.target_url for e in edges] == [
        "http://shop.example.com/",
        "https://alice.github.io/",
        "https://bob.github.io/",
    ]


def test_every_synthetic_page_extracts_to_its_ground_truth(web):
    """Each page of the synthetic web on its own, without a crawl: pinpoints a rule that breaks."""
    from scrapy.responsetypes import responsetypes

    truth: dict[str, set] = {}
    for e in web.edges:
        truth.setdefault(e.source_url, set()).add(e)
    for key, res in web.resources.items():
        url = f"http://{key}"
        if "/private/" in url:
            continue  # robots.txt keeps the crawler out: its links are not in the ground truth
        # Header values as the server sends them: latin-1 bytes (http.server's encoding).
        raw = {name: value.encode("latin-1") for name, value in res.headers.items()}
        headers = Headers({"Content-Type": res.content_type, **raw})
        cls = responsetypes.from_args(headers=headers, url=url, body=res.body)
        page = page_of(cls(url=url, status=res.status, headers=headers, body=res.body))
        got = {
            (
                e.source_url,
                e.target_url,
                e.link_type,
                e.anchor_text,
                e.nofollow,
                e.ugc,
                e.sponsored,
                e.source_domain,
                e.target_domain,
            )
            for e in page_edges(page, keep_internal=True)
        }
        want = {
            (
                e.source_url,
                e.target_url,
                e.link_type,
                e.anchor_text,
                e.nofollow,
                e.ugc,
                e.sponsored,
                e.source_domain,
                e.target_domain,
            )
            for e in truth.get(url, ())
        }
        assert got == want, url


# --- decoding, as the HTML Standard sniffs an encoding ------------------------------------------------


def anchors(body: bytes, content_type: str = "text/html") -> list[str]:
    return [x.anchor_text for x in page_of(html_response(body, headers={"Content-Type": content_type})).links]


def test_an_undeclared_western_page_is_windows_1252_not_a_guess():
    # A detector reads these bytes as cp1250 ("Açăo"); the standard's default for them is windows-1252.
    assert anchors('<a href="/p">Ação – São Paulo</a>'.encode("cp1252")) == ["Ação – São Paulo"]


def test_an_undeclared_page_that_is_valid_utf8_is_utf8():
    assert anchors('<a href="/p">Ação – 日本</a>'.encode()) == ["Ação – 日本"]


def test_meta_utf16_on_an_ascii_compatible_page_means_utf8():
    assert anchors('<meta charset="utf-16"><a href="/p">café</a>'.encode()) == ["café"]


def test_sniffing_order_bom_then_content_type_then_meta():
    body = '<meta charset="koi8-r"><a href="/p">é</a>'
    assert anchors(b"\xef\xbb\xbf" + body.encode(), "text/html; charset=windows-1252") == ["é"]  # BOM
    assert anchors(body.encode("cp1252"), "text/html; charset=windows-1252") == ["é"]  # header
    assert anchors('<meta charset="koi8-r"><a href="/p">Жж</a>'.encode("koi8-r")) == ["Жж"]  # meta
    # Encoding Standard labels: iso-8859-1 is windows-1252 (0x80 is the euro sign).
    assert anchors(b'<a href="/p">\x80</a>', "text/html; charset=ISO-8859-1") == ["€"]
    assert anchors(
        b'<meta http-equiv="Content-Type" content="text/html; charset=latin1"><a href="/p">\x80</a>'
    ) == ["€"]


def test_a_meta_charset_past_the_first_1024_bytes_still_counts():
    # Browsers reparse when the parser meets it (the standard's "change the encoding").
    body = b"<!-- " + b"x" * 2000 + b' --><meta charset="iso-8859-2"><a href="/p">\xb1</a>'
    assert anchors(body) == ["ą"]


# --- query percent-encoding in the page's encoding ------------------------------------------------------


def page_in(encoding: str, body: str, content_type: str | None = None) -> list[tuple[str, str]]:
    headers = {"Content-Type": content_type or f"text/html; charset={encoding}"}
    page = page_of(html_response(body.encode(encoding), headers=headers, url="http://site.example/dir/"))
    return [(x.target_url, x.link_type) for x in page.links]


def test_queries_are_percent_encoded_in_the_page_encoding():
    assert page_in("windows-1252", '<a href="/s?q=café&e=€">x</a>') == [
        ("http://site.example/s?q=caf%E9&e=%80", "text")
    ]
    # The path is UTF-8 on every page; only the query takes the page's encoding.
    assert page_in("windows-1252", '<a href="/café?café">x</a>') == [
        ("http://site.example/caf%C3%A9?caf%E9", "text")
    ]
    # Shift_JIS: 日本 is 93 FA 96 7B; "{" is not in the URL Standard's query percent-encode set.
    assert page_in("shift_jis", '<a href="/s?q=日本">x</a>') == [
        ("http://site.example/s?q=%93%FA%96{", "text")
    ]
    # A character the encoding lacks becomes the character reference &#26085;, percent-encoded.
    assert page_in("windows-1252", '<a href="/s?q=&#26085;">x</a>') == [
        ("http://site.example/s?q=%26%2326085%3B", "text")
    ]
    # A UTF-8 page keeps UTF-8 queries, and the fragment (dropped) is never re-encoded.
    assert page_in("utf-8", '<a href="/s?q=café#é">x</a>') == [("http://site.example/s?q=caf%C3%A9", "text")]


def test_base_canonical_and_refresh_use_the_page_encoding_too():
    body = (
        '<base href="http://base.example/b/?é"><link rel="canonical" href="/c?q=é">'
        '<meta http-equiv="refresh" content="0; url=/r?q=é"><a href="?q=ü">x</a>'
    )
    assert page_in("windows-1252", body) == [
        ("http://base.example/c?q=%E9", "canonical"),
        ("http://base.example/r?q=%E9", "redirect"),
        ("http://base.example/b/?q=%FC", "text"),
    ]
    body = '<base href="/b/?x=é"><a href="">self</a><a href="y">y</a>'
    assert page_in("windows-1252", body) == [("http://site.example/b/y", "text")]


def test_a_location_header_with_raw_bytes_is_percent_encoded_as_they_are():
    def location(raw: bytes) -> str:
        return page_of(html_response(b"", 301, {"Location": raw})).links[0].target_url

    assert location(b"/caf\xe9") == "http://www.example.com/caf%E9"  # latin-1 bytes, as browsers send them
    assert location(b"/s?q=caf\xe9") == "http://www.example.com/s?q=caf%E9"
    assert location("/café".encode()) == "http://www.example.com/caf%C3%A9"  # UTF-8 stays UTF-8
    assert location(b"/caf\xc3\xa9\xe9") == "http://www.example.com/caf%C3%A9%E9"


# --- SVG -------------------------------------------------------------------------------------------------


def test_svg_base_is_not_the_document_base():
    body = '<svg><base href="http://svg.example/"></base></svg><a href="x">x</a>'
    assert targets(body) == [("http://www.example.com/dir/x", "text")]
    # An HTML base after it (or inside foreignObject, which is HTML again) counts.
    assert targets(
        '<svg><base href="http://svg.example/"/></svg><base href="http://html.example/"><a href="x">x</a>'
    ) == [("http://html.example/x", "text")]
    body = '<svg><foreignObject><base href="http://fo.example/"></foreignObject></svg><a href="x">x</a>'
    assert targets(body) == [("http://fo.example/x", "text")]


def test_svg_links_are_links():
    body = (
        '<svg xmlns:xlink="http://www.w3.org/1999/xlink"><a xlink:href="/old"><text>Old</text></a>'
        '<a href="/new" xlink:href="/ignored"><text>New</text></a></svg>'
        '<a xlink:href="/html">an HTML a has only href</a>'
    )
    assert [(x.target_url, x.anchor_text) for x in links(body)] == [
        ("http://www.example.com/old", "Old"),
        ("http://www.example.com/new", "New"),
    ]
