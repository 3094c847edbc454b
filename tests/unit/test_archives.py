"""The archive readers (backlinkspider/archives): WARC and WAT files give the page items the crawl gives.

WARC files are written with warcio (tests/support/webarchives.py; an implementation apart from FastWARC,
which reads them) from the real pages of ../shared/corpus and from hand-written pages for the edge cases.
Each page read from a WARC is compared with what the crawl's extraction gives for the same response (``extract_in_worker``, the
function the crawl's extraction workers run) and, for the corpus, with the expected links. WAT files are
written from the same pages in the shape of real Common Crawl records (ia-web-commons' fields, before and
after December 2024) and must differ from the WARC pages only by the departures ``wat`` documents.
"""

from __future__ import annotations

import gzip
import http.server
import io
import json
import random
import threading
import tracemalloc
import zlib
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from warcio.warcwriter import WARCWriter
from webarchives import (
    CAPTURED,
    CORPUS,
    DATE,
    IP,
    NO_LIMITS,
    Resp,
    corpus_pages,
    corpus_responses,
    html,
    write_warc,
    write_wat,
)

from backlinkspider.archives import ArchivedPage, ArchiveReader, BadArchive, Limits
from backlinkspider.archives import wat as wat_module
from backlinkspider.archives.reader import archive_name_from_path
from backlinkspider.standards.extract import IMAGE, TEXT, Link, Page

# The corpus page whose expected file breaks the URL rules (tests/test_corpus.py says why).
CORPUS_KNOWN_DIFFERENCES = {"0210"}


def read(source: str | Path, limits: Limits | None = None) -> tuple[list[ArchivedPage], ArchiveReader]:
    reader = ArchiveReader(source, limits)
    return list(reader), reader


def plain(page: Page) -> Page:
    """The crawl's item fields of a page item (what the crawl would have yielded)."""
    return Page(page.url, page.links, page.nofollow, page.failed)


# --- the pages -------------------------------------------------------------------------------------------


LONG = "word " * 40
EDGE_PAGES = [
    # Rel flags, an image link, an area, a canonical, a refresh, a base, a long anchor.
    Resp(
        "http://www.greenleaf.co.uk/links",
        b'<html><head><base href="http://cdn.greenleaf.co.uk/dir/"><link rel="Canonical" href="/links">'
        b'<meta http-equiv="refresh" content="5; url=http://www.greenleaf.co.uk/next"></head><body>'
        b'<a href="a" rel="nofollow">A</a> <a href="b" rel="UGC sponsored">B</a>'
        b'<a href="http://img.example/x"><img src="p.png" alt="Picture"></a>'
        b'<a href="http://both.example/"><img src="q.png" alt="Q"></a><a href="http://both.example/">Both</a>'
        b'<map><area href="/area" alt="Area alt"></map>'
        b'<a href="/long">' + LONG.encode() + b"</a>"
        b'<svg><a xlink:href="http://svg.example/">svg</a></svg>'
        b'<a href="mailto:x@y">mail</a><a href="#top">top</a></body></html>',
    ),
    # A windows-1252 page whose encoding only its <meta charset> says: the query is encoded in it.
    Resp(
        "http://www.blueleaf.co.uk/latin",
        '<html><head><meta charset="windows-1252"></head><body><a href="/s?q=café">Café</a>'
        '<a href="http://bob.github.io/café">naïve</a></body></html>'.encode("cp1252"),
    ),
    # The same, declared by the HTTP header and by http-equiv: a WAT knows the encoding then.
    Resp(
        "http://www.blueleaf.co.uk/latin-header",
        '<a href="/s?q=café">Café</a>'.encode("cp1252"),
        headers=[("Content-Type", "text/html; charset=iso-8859-1")],
    ),
    Resp(
        "http://www.blueleaf.co.uk/latin-equiv",
        '<html><head><meta http-equiv="Content-Type" content="text/html; charset=latin1"></head>'
        '<body><a href="/s?q=café">Café</a></body></html>'.encode("cp1252"),
    ),
    # Nofollow for the whole page, by meta robots (after the links) and by X-Robots-Tag.
    Resp(
        "http://news.example-times.com/meta",
        html('<a href="http://a.example/">a</a><meta name="robots" content="noindex, nofollow">'),
    ),
    Resp(
        "http://news.example-times.com/header",
        html('<a href="http://a.example/" rel="ugc">a</a>'),
        headers=[
            ("Content-Type", "text/html"),
            ("X-Robots-Tag", "noarchive"),
            ("X-Robots-Tag", "googlebot: none"),
        ],
    ),
    # A redirect, an error, a non-HTML page.
    Resp("http://old.example.org/", status=301, headers=[("Location", "//new.example.org/page")]),
    Resp("http://www.blueleaf.co.uk/gone", html('<a href="http://a.example/">a</a>'), status=404),
    Resp(
        "http://docs.blueleaf.co.uk/report.pdf",
        b"%PDF-1.4 <a href=http://a.example/>",
        headers=[("Content-Type", "application/pdf")],
    ),
]


# --- WARC ------------------------------------------------------------------------------------------------


def test_corpus_warc_pages_are_the_crawls_and_the_expected_links(tmp_path):
    """461 real pages in one WARC (gzip per record): each page item equals what the crawl's extraction
    makes of the same response, field by field and in order, and its links are the expected ones."""
    responses = corpus_responses()
    pages, reader = read(write_warc(tmp_path / "corpus.warc.gz", responses), NO_LIMITS)
    assert [plain(p) for p in pages] == [r.crawl(NO_LIMITS) for r in responses]
    assert reader.counts.pages == len(pages) == 461
    assert reader.counts.skipped == {"warcinfo": 1, "request": 461}
    assert reader.counts.links == sum(len(p.links) for p in pages) > 45_000
    for page, info in zip(pages, corpus_pages(), strict=True):
        expected = [json.loads(line) for line in (CORPUS / info["expected"]).read_text().splitlines()]
        got = {(link.target_url, link.link_type): link for link in page.links}
        want = {(e["target_url"], e["link_type"]): e for e in expected}
        if info["id"] in CORPUS_KNOWN_DIFFERENCES:
            continue
        assert set(got) == set(want), info["id"]
        for key, link in got.items():
            fields = ("anchor_text", "nofollow", "ugc", "sponsored")
            assert {f: getattr(link, f) for f in fields} == {f: want[key][f] for f in fields}, key


def test_edge_case_pages_are_the_crawls(tmp_path):
    """Encodings, base, rel flags, robots, redirects, errors and non-HTML: as the crawl makes them, with
    the capture's date, IP and archive name beside."""
    pages, reader = read(write_warc(tmp_path / "edge.warc.gz", EDGE_PAGES))
    assert [plain(p) for p in pages] == [r.crawl() for r in EDGE_PAGES]
    by_url = {p.url: p for p in pages}
    assert by_url["http://old.example.org/"].links == [Link("http://new.example.org/page", "redirect")]
    assert by_url["http://www.blueleaf.co.uk/gone"].failed
    assert by_url["http://docs.blueleaf.co.uk/report.pdf"].links == []
    assert by_url["http://news.example-times.com/header"].nofollow
    assert (
        Link("http://www.blueleaf.co.uk/s?q=caf%E9", TEXT, "Café")
        in by_url["http://www.blueleaf.co.uk/latin"].links
    )
    assert {(p.captured_at, p.ip_address, p.archive) for p in pages} == {(CAPTURED, IP, "CC-MAIN-2025-43")}
    assert (reader.counts.pages, reader.counts.failed_pages) == (len(EDGE_PAGES), 1)


def test_uncompressed_warc_gives_the_same_pages(tmp_path):
    gz, _ = read(write_warc(tmp_path / "a.warc.gz", EDGE_PAGES))
    plain_warc, _ = read(write_warc(tmp_path / "a.warc", EDGE_PAGES, compress=False))
    assert plain_warc == gz


def test_encoded_bodies_are_decoded_as_the_crawl_decodes_them(tmp_path):
    """gzip Content-Encoding and chunked Transfer-Encoding (as archivers that keep the raw message store
    them) give the page of the decoded body; a body stored de-chunked under a chunked header too."""
    page = html('<a href="http://a.example/">a</a><a href="/b">b</a>')
    compressed = gzip.compress(page)
    chunked = b"%x\r\n%s\r\n0\r\n\r\n" % (len(compressed), compressed)
    headers = [("Content-Type", "text/html"), ("Content-Encoding", "gzip"), ("Transfer-Encoding", "chunked")]
    encoded = Resp("http://enc.example/", chunked, headers=headers)
    # De-chunked by the archiver, the header kept.
    dechunked = Resp(
        "http://enc.example/", page, headers=[("Content-Type", "text/html"), ("Transfer-Encoding", "chunked")]
    )
    pages, _ = read(write_warc(tmp_path / "enc.warc.gz", [encoded, dechunked]))
    assert [plain(p) for p in pages] == [Resp("http://enc.example/", page).crawl()] * 2
    assert len(pages[0].links) == 2


def test_limits_are_the_crawls(tmp_path):
    """The link cap and URL length limit, and DOWNLOAD_MAXSIZE: an HTML body over it is a failed page (the
    crawl's download fails), a larger non-HTML body still a page with no links."""
    many = Resp("http://many.example/", html("".join(f'<a href="/{i}">{i}</a>' for i in range(10))))
    long_url = Resp("http://long.example/", html(f'<a href="/{"x" * 100}">x</a><a href="/y">y</a>'))
    big = Resp("http://big.example/", html("x" * 5000))
    big_pdf = Resp(
        "http://big.example/a.pdf", b"%PDF" + b"x" * 5000, headers=[("Content-Type", "application/pdf")]
    )
    limits = Limits(max_links=3, max_url_length=50, max_size=4000)
    pages, reader = read(write_warc(tmp_path / "l.warc.gz", [many, long_url, big, big_pdf]), limits)
    assert [len(p.links) for p in pages[:2]] == [3, 1]
    assert [plain(p) for p in pages[:2]] == [many.crawl(limits), long_url.crawl(limits)]
    assert (reader.counts.links_over_cap, reader.counts.long_urls) == (7, 1)
    assert pages[2] == ArchivedPage(
        url="http://big.example/", failed=True, captured_at=CAPTURED, ip_address=IP, archive="CC-MAIN-2025-43"
    )
    assert (pages[3].links, pages[3].failed) == ([], False)


def test_skipped_records_are_counted_by_kind_and_reason(tmp_path):
    """Truncated HTML (the crawl never parses a partial body) and garbage URLs or dates are skips with a
    reason; a truncated PDF or redirect is read as usual (its body does not matter)."""
    responses = [
        Resp("http://t.example/", html('<a href="http://a.example/">a</a>'), **{"WARC-Truncated": "length"}),
        Resp(
            "http://t.example/a.pdf",
            b"%PDF",
            headers=[("Content-Type", "application/pdf")],
            **{"WARC-Truncated": "length"},
        ),
        Resp("http://t.example/r", status=302, headers=[("Location", "/s")], **{"WARC-Truncated": "time"}),
        Resp("http://t.example/date", html(""), **{"WARC-Date": "yesterday"}),
        Resp("http://t.example/naive", html(""), **{"WARC-Date": "2025-10-12T08:30:15"}),
        Resp("http://t.example/ip", html(""), **{"WARC-IP-Address": "not-an-ip"}),
        Resp("http://[bad/", html("")),
        Resp("dns:t.example", html("")),
    ]
    path = write_warc(tmp_path / "s.warc.gz", responses)
    with path.open("ab") as out:  # a metadata and a revisit record, as Common Crawl and Heritrix write them
        writer = WARCWriter(out, gzip=True)
        writer.write_record(
            writer.create_warc_record(
                "http://t.example/",
                "metadata",
                payload=io.BytesIO(b"fetchTimeMs: 12\r\n"),
                warc_content_type="application/warc-fields",
            )
        )
        revisit = writer.create_revisit_record("http://t.example/", "sha1:AAAA", "http://t.example/", DATE)
        writer.write_record(revisit)
    pages, reader = read(path)
    assert [p.url for p in pages] == ["http://t.example/a.pdf", "http://t.example/r", "http://t.example/ip"]
    assert pages[1].links == [Link("http://t.example/s", "redirect")]
    assert pages[2].ip_address is None
    assert reader.counts.skipped == {
        "warcinfo": 1,
        "request": 8,
        "truncated": 1,
        "bad date": 2,
        "bad url": 2,
        "metadata": 1,
        "revisit": 1,
    }
    assert reader.counts.records == 1 + 16 + 2


# --- bad input -------------------------------------------------------------------------------------------


def one_line_error(source: str | Path) -> tuple[str, int]:
    reader = ArchiveReader(source)
    pages = 0
    with pytest.raises(BadArchive) as raised:
        for _ in reader:
            pages += 1
    message = str(raised.value)
    assert "\n" not in message and message.startswith(str(source))
    return message, pages


def test_bad_files_end_in_one_line_errors_after_the_good_pages(tmp_path):
    not_warc = tmp_path / "notes.warc.gz"
    not_warc.write_bytes(b"just some text\n" * 50)
    assert "not a WARC file" in one_line_error(not_warc)[0]
    gzipped_text = tmp_path / "text.warc.gz"
    gzipped_text.write_bytes(gzip.compress(b"<html>not a warc</html>"))
    assert "not a WARC file" in one_line_error(gzipped_text)[0]
    assert "cannot open (No such file or directory)" in one_line_error(tmp_path / "missing.warc.gz")[0]

    good = write_warc(tmp_path / "good.warc.gz", EDGE_PAGES[:3]).read_bytes()
    # The file cut anywhere inside its last gzip member (the third response): an error after the pages
    # before it; the third page too when only the member's end (its last bytes, checksum) is missing.
    start = len(good) - len(split_members(good)[-1])
    for cut in range(start + 1, len(good), 9):
        cut_file = tmp_path / "cut.warc.gz"
        cut_file.write_bytes(good[:cut])
        message, pages = one_line_error(cut_file)
        assert pages == 2 or (pages == 3 and cut > len(good) - 30), (cut, message)
    # An uncompressed file cut anywhere in its last record, its WARC headers included.
    good = write_warc(tmp_path / "good.warc", EDGE_PAGES[:3], compress=False).read_bytes()
    for cut in range(good.rindex(b"WARC/1.") + 1, len(good) - 4, 9):  # (not the closing CRLFs)
        cut_file = tmp_path / "cut.warc"
        cut_file.write_bytes(good[:cut])
        message, pages = one_line_error(cut_file)
        assert pages == 2, message


def test_damaged_files_never_end_in_a_traceback(tmp_path):
    """Random bytes changed, cut out or put in, in a WARC and a WAT file: pages, counted skips or one
    BadArchive, never another exception."""
    rng = random.Random(17)
    originals = [
        write_warc(tmp_path / "f.warc", EDGE_PAGES, compress=False).read_bytes(),
        gzip.decompress(write_wat(tmp_path / "f.wat.gz", EDGE_PAGES).read_bytes()),
    ]
    damaged = tmp_path / "damaged.warc"
    for _ in range(300):
        data = bytearray(rng.choice(originals))
        for _ in range(rng.randint(1, 8)):
            pos = rng.randrange(len(data))
            if rng.random() < 0.5:
                data[pos] = rng.randrange(256)
            elif rng.random() < 0.5:
                del data[pos : pos + rng.randint(1, 50)]
            else:
                data[pos:pos] = rng.randbytes(rng.randint(1, 20))
        damaged.write_bytes(data)
        try:
            for _ in ArchiveReader(damaged):
                pass
        except BadArchive as exc:
            assert "\n" not in str(exc)


def split_members(data: bytes) -> list[bytes]:
    """The gzip members of a file, one per WARC record."""
    members = []
    while data:
        decompressor = zlib.decompressobj(31)
        decompressor.decompress(data)
        used = len(data) - len(decompressor.unused_data)
        members.append(data[:used])
        data = data[used:]
    return members


# --- http(s) sources --------------------------------------------------------------------------------------


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """A local HTTP server on a free loopback port over tmp_path."""
    handler = lambda *a: _QuietHandler(*a, directory=str(tmp_path))  # noqa: E731
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", tmp_path
    finally:
        server.shutdown()
        server.server_close()


def test_a_url_is_streamed_and_gives_the_files_pages(served):
    base, directory = served
    path = write_warc(directory / "CC-MAIN-20251012-00001.warc.gz", EDGE_PAGES, is_part_of="CC-MAIN-2025-43")
    from_file, _ = read(path)
    from_url, reader = read(f"{base}/{path.name}")
    assert from_url == from_file
    assert reader.counts.size == reader.counts.bytes_read == path.stat().st_size
    assert "HTTP 404" in one_line_error(f"{base}/missing.warc.gz")[0]
    assert "cannot fetch" in one_line_error("http://127.0.0.1:9/x.warc.gz")[0]


class _BreakingOffHandler(http.server.BaseHTTPRequestHandler):
    """Announces more than it sends, then hangs up: a download broken off."""

    body = b""

    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Length", str(len(self.body) + 10_000))
        self.end_headers()
        self.wfile.write(self.body)
        self.close_connection = True

    def log_message(self, format: str, *args: Any) -> None:
        pass


def test_a_download_broken_off_is_one_line_after_the_pages_read(tmp_path):
    _BreakingOffHandler.body = write_warc(tmp_path / "a.warc.gz", EDGE_PAGES[:3]).read_bytes()
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _BreakingOffHandler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        message, pages = one_line_error(f"http://127.0.0.1:{server.server_address[1]}/a.warc.gz")
    finally:
        server.shutdown()
        server.server_close()
    assert pages == 3
    assert "the download broke off" in message


def test_memory_stays_constant_in_the_file_size(served):
    """A 24 MB WARC read from a URL: the reader holds one record at a time, not the file."""
    base, directory = served
    filler = b"<p>" + b"lorem ipsum dolor sit amet " * 400 + b"</p>"  # 11 kB a page
    pages = [
        Resp(
            f"http://m.example/{i}",
            html(f'<a href="/{i + 1}">next</a>').replace(b"<body>", b"<body>" + filler),
        )
        for i in range(2000)
    ]
    path = write_warc(directory / "big.warc", pages, compress=False)
    assert path.stat().st_size > 20_000_000
    tracemalloc.start()
    try:
        count = sum(1 for _ in ArchiveReader(f"{base}/big.warc"))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert count == 2000
    assert peak < 3_000_000, peak


def test_archive_names():
    assert (
        archive_name_from_path(
            "https://data.commoncrawl.org/crawl-data/CC-MAIN-2025-43/segments/1/wat/x.warc.wat.gz"
        )
        == "CC-MAIN-2025-43"
    )
    assert archive_name_from_path("/data/site-2024.warc.gz") == "site-2024"
    assert archive_name_from_path("http://h/archives/x.wat?download=1") == "x"


# --- WAT -------------------------------------------------------------------------------------------------


def differences(warc_page: Page, wat_page: Page, body: bytes) -> dict[tuple[str, str, str], str]:
    """Every link in which the WAT page differs from the WARC page, as (target_url, link_type, "warc" /
    "wat" / "both": where it is) -> the documented departure that explains it, or "unexplained"."""
    assert (wat_page.url, wat_page.nofollow, wat_page.failed) == (
        warc_page.url,
        warc_page.nofollow,
        warc_page.failed,
    )
    warc = {(link.target_url, link.link_type): link for link in warc_page.links}
    wat = {(link.target_url, link.link_type): link for link in wat_page.links}
    found = {}
    for key in warc.keys() | wat.keys():
        target, link_type = key
        a, b = warc.get(key), wat.get(key)
        if a == b:
            continue
        where = "both" if a is not None and b is not None else "warc" if a is not None else "wat"
        if a is not None and b is not None:
            if b.anchor_text == " ".join(a.anchor_text[:128].split()) and len(a.anchor_text) > 128:
                reason = "anchor-cap"
            elif b.anchor_text == "" and (target, IMAGE) in warc:
                reason = "image-link"
            elif b.anchor_text == "" and b"<area" in body.lower():
                reason = "area-alt"
            else:
                reason = "unexplained"
        elif (link_type == IMAGE and (target, TEXT) in wat) or (
            link_type == TEXT and (target, IMAGE) in warc
        ):
            reason = "image-link"
        elif any(k[0].split("?")[0] == target.split("?")[0] and k[0] != target for k in (wat if a else warc)):
            reason = "query-encoding"
        elif a is not None and b"xlink:href" in body:
            reason = "svg-xlink"
        else:
            reason = "unexplained"
        found[(target, link_type, where)] = reason
    return found


def departures(warc_page: Page, wat_page: Page, body: bytes) -> set[str]:
    """The departures that explain how the WAT page differs from the WARC page ("unexplained": one that
    none does)."""
    return set(differences(warc_page, wat_page, body).values())


def test_wat_departs_from_warc_only_as_documented(tmp_path):
    """The same pages as WARC and as WAT (real record shapes): every difference is a documented departure.
    The hand-written pages show each departure the tests' WAT writer can produce."""
    responses = corpus_responses() + EDGE_PAGES
    warc_pages, _ = read(write_warc(tmp_path / "p.warc.gz", responses), NO_LIMITS)
    wat_pages, wat_reader = read(write_wat(tmp_path / "p.warc.wat.gz", responses), NO_LIMITS)
    assert [p.url for p in wat_pages] == [p.url for p in warc_pages]
    seen: dict[str, set[str]] = {}
    for warc_page, wat_page, resp in zip(warc_pages, wat_pages, responses, strict=True):
        for reason in departures(warc_page, wat_page, resp.body):
            seen.setdefault(reason, set()).add(resp.url)
    assert "unexplained" not in seen, seen.get("unexplained")
    assert set(seen) <= set(wat_module.DEPARTURES)
    edge = {reason for reason, urls in seen.items() if urls & {r.url for r in EDGE_PAGES}}
    assert edge == {"image-link", "area-alt", "anchor-cap", "query-encoding", "svg-xlink"}
    # Pages declaring their encoding in a header or http-equiv have none.
    assert not any(
        url.startswith("http://www.blueleaf.co.uk/latin-") for urls in seen.values() for url in urls
    )
    for reason in wat_module.DEPARTURES:
        assert f"``{reason}``" in (wat_module.__doc__ or "")
    # Capture facts from the envelope; the name from the path, a WAT's warcinfo names no crawl.
    assert {(p.captured_at, p.ip_address, p.archive) for p in wat_pages} == {(CAPTURED, IP, "p")}
    assert wat_reader.counts.skipped == {"warcinfo": 2, "request": len(responses)}
    assert wat_reader.counts.pages == len(responses)


def test_every_difference_between_wat_and_warc_is_listed_with_its_reason(tmp_path):
    """The hand-written pages as WARC and as WAT: each link that differs, where it is (only in the WARC,
    only in the WAT, or in both with another anchor) and the departure that explains it."""
    warc_pages, _ = read(write_warc(tmp_path / "e.warc.gz", EDGE_PAGES), NO_LIMITS)
    wat_pages, _ = read(write_wat(tmp_path / "e.warc.wat.gz", EDGE_PAGES), NO_LIMITS)
    listed = {
        (resp.url, *key): reason
        for warc_page, wat_page, resp in zip(warc_pages, wat_pages, EDGE_PAGES, strict=True)
        for key, reason in differences(warc_page, wat_page, resp.body).items()
    }
    links, latin = "http://www.greenleaf.co.uk/links", "http://www.blueleaf.co.uk/latin"
    assert listed == {
        # <a><img alt=Q></a> then <a>Both</a> to one URL: the WARC has an image and a text link, the WAT
        # one text link (the first, with no anchor); an <a> holding only an image: text, empty anchor.
        (links, "http://both.example/", "image", "warc"): "image-link",
        (links, "http://both.example/", "text", "both"): "image-link",
        (links, "http://img.example/x", "image", "warc"): "image-link",
        (links, "http://img.example/x", "text", "wat"): "image-link",
        (links, "http://cdn.greenleaf.co.uk/area", "text", "both"): "area-alt",  # no alt in the WAT
        (links, "http://cdn.greenleaf.co.uk/long", "text", "both"): "anchor-cap",  # cut at 128
        (links, "http://svg.example/", "text", "warc"): "svg-xlink",  # xlink:href unread
        # The query of a page whose encoding only <meta charset> declares: UTF-8 in the WAT.
        (latin, "http://www.blueleaf.co.uk/s?q=caf%E9", "text", "warc"): "query-encoding",
        (latin, "http://www.blueleaf.co.uk/s?q=caf%C3%A9", "text", "wat"): "query-encoding",
    }


def test_wat_before_december_2024_reads_the_same(tmp_path):
    """Repeated headers were one value before December 2024, lists after: both shapes read."""
    new, _ = read(write_wat(tmp_path / "new.wat.gz", EDGE_PAGES, since_2024_12=True))
    old, _ = read(write_wat(tmp_path / "old.wat.gz", EDGE_PAGES, since_2024_12=False))
    header_page = {p.url: p for p in new}["http://news.example-times.com/header"]
    assert header_page.nofollow  # "googlebot: none", the second of two X-Robots-Tag values
    assert [plain(p) for p in old if p.url != header_page.url] == [
        plain(p) for p in new if p.url != header_page.url
    ]


def test_a_real_common_crawl_wat_record(tmp_path):
    """A record as Common Crawl published it (2019; links trimmed): the canonical in Head.Link, a
    scheme-less canonical href (resolved as a browser would: a relative path), relative links."""
    envelope = {
        "Format": "WARC",
        "WARC-Header-Metadata": {
            "WARC-Type": "response",
            "WARC-IP-Address": "128.199.40.232",
            "WARC-Target-URI": "http://004-ford-f-2.wiring-diagram.klymburn.co.uk/post/save-your-ears-8211-a-noise-meter-circuit",
            "WARC-Date": "2019-05-19T07:25:24Z",
            "Content-Type": "application/http; msgtype=response",
        },
        "Payload-Metadata": {
            "HTTP-Response-Metadata": {
                "Headers": {
                    "X-Crawler-Content-Encoding": "gzip",
                    "Content-Length": "24390",
                    "Content-Type": "text/html",
                },
                "Response-Message": {"Status": "200", "Version": "HTTP/1.1", "Reason": "OK"},
                "HTML-Metadata": {
                    "Head": {
                        "Metas": [{"name": "viewport", "content": "width=device-width, initial-scale=1"}],
                        "Title": "Save Your Ears 8211 A Noise Meter Circuit - Auto Electrical Wiring Diagram",
                        "Link": [
                            {
                                "path": "LINK@/href",
                                "rel": "canonical",
                                "url": "004-ford-f-2.wiring-diagram.klymburn.co.uk/save-your-ears-8211-a-noise-meter-circuit",
                            },
                            {
                                "path": "LINK@/href",
                                "rel": "stylesheet",
                                "type": "text/css",
                                "url": "/style.css",
                            },
                        ],
                    },
                    "Links": [
                        {"path": "A@/href", "text": "Wiring Diagram", "url": "/"},
                        {"path": "A@/href", "rel": "v:url", "text": "Home", "url": "/"},
                        {
                            "path": "A@/href",
                            "text": "x5 fuse diagram",
                            "url": "http://004-ford-f-2.wiring-diagram.klymburn.co.uk/post/x5-fuse-diagram",
                        },
                        {
                            "path": "SCRIPT@/src",
                            "url": "https://ajax.googleapis.com/ajax/libs/jquery/3.3.1/jquery.min.js",
                        },
                    ],
                },
            }
        },
    }
    path = tmp_path / "CC-MAIN-20190519.warc.wat.gz"
    with path.open("wb") as out:
        writer = WARCWriter(out, gzip=True)
        payload = io.BytesIO(json.dumps({"Envelope": envelope}).encode())
        writer.write_record(
            writer.create_warc_record("x", "metadata", payload=payload, warc_content_type="application/json")
        )
    (page,), _ = read(path)
    host = "http://004-ford-f-2.wiring-diagram.klymburn.co.uk"
    assert page.links == [
        Link(
            f"{host}/post/004-ford-f-2.wiring-diagram.klymburn.co.uk/save-your-ears-8211-a-noise-meter-circuit",
            "canonical",
        ),
        Link(f"{host}/", TEXT, "Wiring Diagram"),
        Link(f"{host}/post/x5-fuse-diagram", TEXT, "x5 fuse diagram"),
    ]
    assert (page.captured_at, page.ip_address) == (
        datetime(2019, 5, 19, 7, 25, 24, tzinfo=UTC),
        "128.199.40.232",
    )


def test_bad_wat_records_are_counted_skips(tmp_path):
    path = tmp_path / "bad.wat.gz"
    with path.open("wb") as out:
        writer = WARCWriter(out, gzip=True)
        for payload in (
            b"{not json",
            b"[1, 2]",
            json.dumps(
                {
                    "Envelope": {
                        "WARC-Header-Metadata": {
                            "WARC-Type": "response",
                            "WARC-Target-URI": "http://x.example/",
                            "WARC-Date": DATE,
                        }
                    }
                }
            ).encode(),
        ):
            writer.write_record(
                writer.create_warc_record(
                    "x", "metadata", payload=io.BytesIO(payload), warc_content_type="application/json"
                )
            )
    pages, reader = read(path)
    assert pages == []
    assert reader.counts.skipped == {"bad wat record": 2, "not http": 1}
