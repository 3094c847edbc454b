"""Reading an archive file: where it comes from, its records one at a time, what each one is, and counts.

A source is a local path or an http(s) URL. Either is read as a stream (an HTTP response is fed to the WARC
parser as it arrives), so memory stays constant in the file's size and nothing is written to disk.
A gzip file (one member per record, as Common Crawl ships WARC and WAT files) is inflated as read; any
other file is read as plain WARC.

Records are dispatched by type: ``response`` to ``warc``, ``metadata`` records holding JSON (a WAT file's)
to ``wat``, ``warcinfo`` names the archive, and the rest (``request``, ``revisit``, other ``metadata``
...) are skipped and counted under their type. A record that cannot become a page (a garbage URL or date,
no HTTP message) is skipped and counted under its reason. A file that is not WARC, is damaged, ends inside
a record (a cut download or gzip member) or cannot be fetched raises ``BadArchive`` with a one-line
message; the pages before the damage have been yielded by then.
"""

from __future__ import annotations

import http.client
import re
import urllib.error
import urllib.request
import zlib
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from fastwarc.warc import ArchiveIterator, WarcRecord, WarcRecordType

from backlinkspider import __version__
from backlinkspider.archives import warc, wat
from backlinkspider.archives.capture import (
    ArchivedPage,
    BadArchive,
    Capture,
    FetchFailed,
    Limits,
    Skip,
    capture_of,
)
from backlinkspider.crawl.extraction import Extracted

_WEB_SCHEMES = ("http://", "https://")
_CHUNK = 1 << 16  # bytes read from the source, and inflated from it, at a time
# A file name's archive suffixes, dropped to name the archive when nothing better is known.
_SUFFIXES = re.compile(r"(\.(warc|wat|arc|json|gz|zst|lz4))+$", re.IGNORECASE)
# Common Crawl's paths name their crawl: crawl-data/CC-MAIN-2025-43/segments/...
_CRAWL_IN_PATH = re.compile(r"crawl-data/([^/]+)/")


@dataclass(slots=True)
class Counts:
    """Progress of one source, updated as it is read (a progress display may read it at any time)."""

    records: int = 0
    pages: int = 0  # page items yielded (failed pages included)
    failed_pages: int = 0  # 4xx, 5xx ... as the crawl marks a page it could not fetch
    links: int = 0
    long_urls: int = 0  # links dropped by max_url_length, as the crawl's stats count them
    links_over_cap: int = 0
    skipped: Counter[str] = field(default_factory=Counter)  # records by kind or reason
    bytes_read: int = 0  # of the source as stored (compressed)
    size: int | None = None  # the source's size, when known (a file, an HTTP Content-Length)


# A record's page: from the record and its capture, or Skip.
PageReader = Callable[[WarcRecord, Capture, Limits], Extracted]


class ArchiveReader:
    """The page items of one WARC or WAT file, a path or an http(s) URL, in record order.

    Iterate once; ``counts`` and ``archive`` follow the reading.
    """

    def __init__(self, source: str | Path, limits: Limits | None = None, timeout: float = 60.0) -> None:
        self.source = str(source)
        self.limits = limits or Limits()
        self.timeout = timeout
        self.counts = Counts()
        self.archive = archive_name_from_path(self.source)

    def __iter__(self) -> Iterator[ArchivedPage]:
        with self._open() as stream:
            unpacked = _Unpacked(stream, self.counts)
            records = ArchiveIterator(unpacked, parse_http=False, stream_detect=False)
            try:
                for record in records:
                    self.counts.records += 1
                    length = record.content_length
                    kind = record.record_type
                    if kind == WarcRecordType.warcinfo:
                        self.archive = _is_part_of(record) or self.archive
                        self.counts.skipped["warcinfo"] += 1
                    elif kind == WarcRecordType.response:
                        yield from self._page(record, length, warc.response_page, _warc_headers(record))
                    elif kind == WarcRecordType.metadata and wat.is_wat_record(record):
                        yield from self._wat_page(record, length)
                    else:
                        self.counts.skipped[str(kind)] += 1
                    check_complete(record, length)
                if unpacked.damage:
                    raise (FetchFailed if unpacked.broke_off else BadArchive)(unpacked.damage)
                if not self.counts.records:
                    raise BadArchive("not a WARC file (no WARC record in it)")
            except BadArchive as exc:
                failed = FetchFailed if unpacked.broke_off else BadArchive
                raise failed(f"{self.source}: {unpacked.damage or exc}") from None
            except OSError as exc:
                raise BadArchive(
                    f"{self.source}: not a WARC file, or damaged near byte {self.counts.bytes_read:,} ({exc})"
                ) from None

    def _wat_page(self, record: WarcRecord, length: int) -> Iterator[ArchivedPage]:
        try:
            envelope = wat.envelope(record, self.limits)
        except Skip as skip:
            self.counts.skipped[str(skip)] += 1
            return
        yield from self._page(record, length, envelope.page, envelope.warc_headers)

    def _page(
        self,
        record: WarcRecord,
        length: int,
        read: PageReader,
        warc_headers: Callable[[str], str | None],
    ) -> Iterator[ArchivedPage]:
        try:
            capture = capture_of(warc_headers)
            extracted = read(record, capture, self.limits)
        except Skip as skip:
            self.counts.skipped[str(skip)] += 1
            return
        check_complete(record, length)  # no page from a cut record
        page = extracted.page
        counts = self.counts
        counts.pages += 1
        counts.failed_pages += page.failed
        counts.links += len(page.links)
        counts.long_urls += extracted.long_urls
        counts.links_over_cap += extracted.over_cap
        yield ArchivedPage(
            url=page.url,
            links=page.links,
            nofollow=page.nofollow,
            failed=page.failed,
            captured_at=capture.captured_at,
            ip_address=capture.ip_address,
            archive=self.archive,
        )

    @contextmanager
    def _open(self) -> Iterator[IO[bytes]]:
        if self.source.startswith(_WEB_SCHEMES):
            request = urllib.request.Request(
                self.source, headers={"User-Agent": f"backlinkspider/{__version__}"}
            )
            try:
                response = urllib.request.urlopen(request, timeout=self.timeout)
            except urllib.error.HTTPError as exc:
                # A server error or "slow down" (Common Crawl's S3 answers 503 under load) may pass.
                passes = exc.code >= 500 or exc.code in (408, 429)
                failed = FetchFailed if passes else BadArchive
                raise failed(f"{self.source}: HTTP {exc.code} {exc.reason}") from None
            except urllib.error.URLError as exc:
                raise FetchFailed(f"{self.source}: cannot fetch ({exc.reason})") from None
            except ValueError as exc:  # not a URL urllib can fetch
                raise BadArchive(f"{self.source}: cannot fetch ({exc})") from None
            except OSError as exc:  # a timeout, a reset connection
                raise FetchFailed(f"{self.source}: cannot fetch ({exc})") from None
            length = response.headers.get("Content-Length")
            self.counts.size = int(length) if length and length.isdigit() else None
            with response:
                yield response
            return
        try:
            file = open(self.source, "rb")  # noqa: SIM115 (closed by the with below)
        except OSError as exc:
            raise BadArchive(f"{self.source}: cannot open ({exc.strerror})") from None
        with file:
            self.counts.size = Path(self.source).stat().st_size
            yield file


class _Unpacked:
    """The source's WARC bytes: gunzipped member after member when it is gzip, as read otherwise.

    FastWARC can gunzip too, but it ends quietly where a file ends inside a gzip member (a cut download);
    here that is ``damage``, reported once the records before it are read (FastWARC reads ahead). zlib
    does the work, in bounded pieces (a gzip bomb inflates one piece at a time).
    """

    def __init__(self, raw: IO[bytes], counts: Counts) -> None:
        self._raw = raw
        self._counts = counts
        self._pending = self._read_raw()
        self._gzip = self._pending.startswith(b"\x1f\x8b")
        self._inflater: Any = None  # zlib's decompress object, while inside a member
        self._buffer = bytearray()
        self._done = False
        self.damage: str | None = None
        self.broke_off = False  # the damage is a download cut off, not the file's

    def read(self, size: int = -1) -> bytes:
        while (size < 0 or len(self._buffer) < size) and not self._done:
            self._fill()
        if size < 0 or size >= len(self._buffer):
            out = bytes(self._buffer)
            self._buffer.clear()
        else:
            out = bytes(self._buffer[:size])
            del self._buffer[:size]
        return out

    def _fill(self) -> None:
        data = self._pending or self._read_raw()
        self._pending = b""
        if not data:
            self._done = True
            if self._inflater is not None:
                self._buffer += self._inflater.flush()
                if not self._inflater.eof:
                    self.damage = "the file ends inside a gzip member: it is cut short"
            return
        if not self._gzip:
            self._buffer += data
            return
        if self._inflater is None:
            self._inflater = zlib.decompressobj(31)
        try:
            self._buffer += self._inflater.decompress(data, _CHUNK)
        except zlib.error as exc:
            self.damage = f"broken gzip data near byte {self._counts.bytes_read:,} ({exc})"
            self._done = True
            return
        if self._inflater.eof:
            self._pending = self._inflater.unused_data
            self._inflater = None
        else:
            self._pending = self._inflater.unconsumed_tail

    def _read_raw(self) -> bytes:
        """The next bytes of the source; none when a download breaks off (``damage``)."""
        counts = self._counts
        try:
            data = self._raw.read(_CHUNK)
        except (OSError, http.client.HTTPException) as exc:
            self.damage = f"the download broke off near byte {counts.bytes_read:,} ({exc!r})"
            self.broke_off = True
            return b""
        counts.bytes_read += len(data)
        if not data and counts.size is not None and counts.bytes_read < counts.size:
            # urllib ends quietly where a server hangs up before its Content-Length.
            self.damage = f"the download broke off at byte {counts.bytes_read:,} of {counts.size:,}"
            self.broke_off = True
        return data

    def tell(self) -> int:
        return self._counts.bytes_read

    def seek(self, offset: int, whence: int = 0) -> int:
        raise OSError("a stream read once")

    def close(self) -> None:
        """The source is closed by whoever opened it."""


def check_complete(record: WarcRecord, length: int) -> None:
    """Read the rest of a record whose block FastWARC first gave as ``length`` bytes; BadArchive if the
    file ends before the record's Content-Length does (a cut download), which FastWARC lets pass."""
    declared = (record.headers.get("Content-Length") or "").strip()
    if not declared.isdigit():
        raise BadArchive("a record has no Content-Length: the file is damaged or cut short")
    record.reader.consume()
    missing = int(declared) - (length - record.content_length + record.reader.tell())
    if missing > 0:
        raise BadArchive(f"a record ends {missing:,} bytes early: the file is cut short")


def archive_name_from_path(source: str) -> str:
    """The archive a file belongs to when its warcinfo does not say: Common Crawl's crawl when the path
    names it, else the file name without its archive suffixes."""
    found = _CRAWL_IN_PATH.search(source)
    if found:
        return found.group(1)
    name = source.split("?", 1)[0].rstrip("/").rsplit("/", 1)[-1]
    return _SUFFIXES.sub("", name) or name


def _is_part_of(record: WarcRecord) -> str | None:
    """The ``isPartOf`` field of a warcinfo record (``application/warc-fields``), if any."""
    for line in record.reader.read(64 * 1024).decode("utf-8", "replace").splitlines():
        name, _, value = line.partition(":")
        if name.strip().lower() == "ispartof" and value.strip():
            return value.strip()
    return None


def _warc_headers(record: WarcRecord) -> Callable[[str], str | None]:
    headers = record.headers
    return lambda name: headers.get(name)
