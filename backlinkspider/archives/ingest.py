"""Ingesting archive files into the index: each file's pages as ``CrawledPage`` records (the crawl's own
``crawl.items.crawled_page``: dates from WARC-Date, provenance from the archive's name, the server's IP),
written with the crawl's batch policy (``crawl.batches``). ``backlinks ingest`` (cli/ingest.py) runs it.

The seam, for a caller that hands out files itself (a cluster's queue): ``ingest_file(reader, sink,
options)`` reads one file (``ArchiveReader(source, options.limits)``) into an open ``Sink``
(``Sink.from_settings(index, settings, targets is not None)``, ``Options.from_settings``) and returns
the file's ``Counts`` once every page of it is written; it raises ``BadArchive`` (one line) for a file
that cannot be read, after writing the pages read before the damage (``reader.counts`` has them), and
``IndexFailed`` when the index cannot be written or read.

Several processes (``ingest(..., processes=N)``): extraction is the CPU work (HTML parsing, URL
resolution, public-suffix lookups), writing is not, and SQLite takes one writer at a time. So N worker
processes each read whole files, one at a time, and turn their pages into ``CrawledPage`` records
(``--targets`` applied there, so that dropped edges never cross); they send them in chunks over a bounded
queue to this process, which alone holds the index and writes every batch. The queue's bound keeps memory
constant when the index is slower than the readers (the workers wait), as the crawl's backlog pauses
its engine. A worker that dies fails its file (one line); the others go on. Workers start from a
forkserver (a clean process that imported this module once), as the crawl's extraction workers do.

``--targets``: only edges whose target's registered domain or host is listed are kept. A page left with
no edge is written only when the index already knows the page (``page_states``): there it is evidence
that its links to the targets are gone (marked lost, as a re-crawl does); elsewhere it would add one row
per page of the web to a watch-list's index. A page's edges to other domains are dropped before writing,
so an index of a watch-list should be given the same list every time (a page written with fewer edges
marks the others lost).
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import queue
import signal
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from scrapy.settings import BaseSettings

from backlinkspider.archives.capture import BadArchive, Limits
from backlinkspider.archives.reader import ArchiveReader, Counts
from backlinkspider.crawl.batches import BatchWriter, WritesFailed
from backlinkspider.crawl.items import MAX_ANCHOR, crawled_page
from backlinkspider.index import IndexUnavailable, LinkIndex
from backlinkspider.records import CrawledPage
from backlinkspider.standards.urls import use_suffix_list

logger = logging.getLogger(__name__)

CHUNK = 256  # pages a worker sends at a time
QUEUED_CHUNKS = 4  # chunks waiting per worker at most (then the worker waits for the writer)


class IndexFailed(Exception):
    """The index cannot be written (writes gave up) or read; the message is one line for a person."""


@dataclass(frozen=True, slots=True)
class Options:
    """What turns a file's pages into records, the same in every process."""

    limits: Limits = field(default_factory=Limits)
    keep_internal: bool = False
    targets: frozenset[str] | None = None  # registered domains and hosts; None: every edge
    psl_file: str | None = None  # BACKLINKS_PSL_FILE, for worker processes
    max_anchor: int = MAX_ANCHOR  # BACKLINKS_MAX_ANCHOR, as the crawl cuts anchors

    @classmethod
    def from_settings(cls, settings: BaseSettings, targets: frozenset[str] | None = None) -> Options:
        return cls(
            Limits.from_settings(settings),
            settings.getbool("BACKLINKS_KEEP_INTERNAL"),
            targets,
            settings.get("BACKLINKS_PSL_FILE") or None,
            settings.getint("BACKLINKS_MAX_ANCHOR"),
        )


def crawled_pages(reader: ArchiveReader, options: Options) -> Iterator[CrawledPage]:
    """The records of a file's pages, with only the targets' edges when ``options.targets`` is set.
    A page no index can take (``crawled_page`` raises) is logged and counted as ``not indexable``."""
    now = datetime.now(UTC)
    targets = options.targets
    for item in reader:
        try:
            page = crawled_page(item, options.keep_internal, now, options.max_anchor)
        except Exception as exc:  # a page item no index can take: counted, as the crawl's pipeline does
            logger.error("page not indexed: %r: %s", item.url, exc)
            reader.counts.skipped["not indexable"] += 1
            continue
        if targets is not None:
            kept = tuple(e for e in page.edges if e.target_domain in targets or e.target_host in targets)
            if len(kept) != len(page.edges):
                page = replace(page, edges=kept)
        yield page


class Sink:
    """One open index being written from archive files: the batch writer, and with ``--targets`` the
    pages left without an edge, written only if the index knows them (see the module docstring)."""

    def __init__(self, index: LinkIndex, writer: BatchWriter, targets: bool) -> None:
        self.index = index
        self.writer = writer
        self.targets = targets
        self.edgeless: list[CrawledPage] = []  # with targets: to be looked up

    @classmethod
    def from_settings(cls, index: LinkIndex, settings: BaseSettings, targets: bool) -> Sink:
        """A sink writing with the crawl's batch settings (``BACKLINKS_BATCH_SIZE`` ...)."""
        writer = BatchWriter(
            index,
            settings.getint("BACKLINKS_BATCH_SIZE"),
            settings.getfloat("BACKLINKS_FLUSH_SECONDS"),
            settings.getfloat("BACKLINKS_WRITE_RETRY_SECONDS"),
            settings.getint("BACKLINKS_LOST_AFTER_FAILURES"),
        )
        return cls(index, writer, targets)

    def add(self, page: CrawledPage) -> None:
        if self.targets and not page.edges:
            self.edgeless.append(page)
            if len(self.edgeless) >= self.writer.collector.batch_size:
                self.flush()
        else:
            self.writer.add(page)

    def flush(self) -> None:
        """Write everything added so far; ``IndexFailed`` when the index cannot take it."""
        try:
            self.writer.flush()  # first: a page just written is known
            if self.edgeless:
                known = self.index.page_states(p.url for p in self.edgeless)
                for page in self.edgeless:
                    if page.url in known:
                        self.writer.add(page)
                self.edgeless.clear()
                self.writer.flush()
        except (WritesFailed, IndexUnavailable) as exc:
            raise IndexFailed(str(exc)) from None


def ingest_file(
    reader: ArchiveReader, sink: Sink, options: Options, on_page: Callable[[], None] | None = None
) -> Counts:
    """Ingest one file into ``sink`` (the seam; see the module docstring). ``on_page`` is called after
    each page (for a progress display: ``reader.counts`` follows the reading)."""
    try:
        for page in crawled_pages(reader, options):
            sink.add(page)
            if on_page is not None:
                on_page()
    finally:
        sink.flush()  # the pages before a damaged part are kept
    return reader.counts


# --- a run over many files -------------------------------------------------------------------------------


@dataclass
class Totals:
    """A run's progress: the counts of the files finished and of those being read."""

    files: int
    started: float = field(default_factory=time.monotonic)
    files_done: int = 0
    failed: list[str] = field(default_factory=list)  # one line per failed file
    finished: Counts = field(default_factory=Counts)
    reading: dict[str, Counts] = field(default_factory=dict)
    edges_written: int = 0
    pages_not_indexed: int = 0
    index_failure: str | None = None  # the run stopped: the index could not be written

    def counts(self) -> Counts:
        """Every file's counts, summed (those being read included)."""
        total = Counts()
        for counts in [self.finished, *self.reading.values()]:
            add(total, counts)
        return total

    def seconds(self) -> float:
        return time.monotonic() - self.started


def add(total: Counts, counts: Counts) -> None:
    """Add a file's counts to ``total``."""
    total.records += counts.records
    total.pages += counts.pages
    total.failed_pages += counts.failed_pages
    total.links += counts.links
    total.long_urls += counts.long_urls
    total.links_over_cap += counts.links_over_cap
    total.skipped.update(counts.skipped)
    total.bytes_read += counts.bytes_read


Progress = Callable[[Totals], None]


def ingest(
    sources: Iterable[str],
    sink: Sink,
    options: Options,
    processes: int = 1,
    progress: Progress | None = None,
    on_failed: Callable[[str], None] | None = None,
) -> Totals:
    """Ingest every file into ``sink``, ``processes`` at a time. A file that fails is one line
    (``on_failed``, and ``Totals.failed``) and the others go on; when the index fails the run stops
    (``Totals.index_failure``)."""
    sources = list(sources)
    totals = Totals(len(sources))
    try:
        if processes == 1:
            _in_process(sources, sink, options, totals, progress, on_failed)
        else:
            _in_workers(sources, sink, options, processes, totals, progress, on_failed)
    except IndexFailed as exc:
        totals.index_failure = str(exc)
    totals.edges_written = sink.writer.edges_written
    totals.pages_not_indexed = sink.writer.not_indexed
    return totals


def _failed(totals: Totals, message: str, on_failed: Callable[[str], None] | None) -> None:
    totals.failed.append(message)
    if on_failed is not None:
        on_failed(message)


def _in_process(
    sources: list[str],
    sink: Sink,
    options: Options,
    totals: Totals,
    progress: Progress | None,
    on_failed: Callable[[str], None] | None,
) -> None:
    def on_page() -> None:
        if progress is not None:
            totals.edges_written = sink.writer.edges_written
            progress(totals)

    for source in sources:
        reader = ArchiveReader(source, options.limits)
        totals.reading[source] = reader.counts
        try:
            ingest_file(reader, sink, options, on_page)
        except BadArchive as exc:
            _failed(totals, str(exc), on_failed)
        else:
            totals.files_done += 1
        add(totals.finished, totals.reading.pop(source))


def _in_workers(
    sources: list[str],
    sink: Sink,
    options: Options,
    processes: int,
    totals: Totals,
    progress: Progress | None,
    on_failed: Callable[[str], None] | None,
) -> None:
    """The parent's side (see the module docstring): hand out files, write what comes back."""
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload([__name__])
    tasks: Any = context.Queue()
    results: Any = context.Queue(maxsize=QUEUED_CHUNKS * processes)
    for source in sources:
        tasks.put(source)
    workers = [
        context.Process(target=_worker, args=(tasks, results, options, os.getpid()), daemon=True)
        for _ in range(min(processes, len(sources)))
    ]
    parent = _Parent(sink, totals, progress, on_failed)
    running = len(workers)
    try:
        for worker in workers:
            tasks.put(None)  # one stop sign each
            worker.start()
        while running:
            try:
                message = results.get(timeout=1.0)
            except queue.Empty:
                running -= parent.check(workers)
                continue
            running -= parent.handle(*message)
    except KeyboardInterrupt:
        sink.flush()  # what was read is kept, as the crawl indexes the pages in flight
        raise
    finally:
        for worker in (w for w in workers if w.pid is not None):  # those started
            if worker.is_alive():
                worker.terminate()  # our own workers: after a failed index, or an interrupt
            worker.join(timeout=10)


class _Parent:
    """What the parent does with the workers' messages: ``(kind, pid, source, payload, counts)``."""

    def __init__(
        self,
        sink: Sink,
        totals: Totals,
        progress: Progress | None,
        on_failed: Callable[[str], None] | None,
    ) -> None:
        self.sink = sink
        self.totals = totals
        self.progress = progress
        self.on_failed = on_failed
        self.reading: dict[int, str] = {}  # worker pid -> the file it reads
        self.dead: set[int] = set()

    def handle(self, kind: str, pid: int, source: str, payload: Any, counts: Counts | None) -> int:
        """Act on one message; 1 when it says the worker stopped."""
        totals = self.totals
        if kind == "stop":
            return 1
        if kind == "start":
            self.reading[pid] = source
            return 0
        assert counts is not None
        totals.reading[source] = counts
        if kind == "pages":
            for page in payload:
                self.sink.add(page)
            if self.progress is not None:
                totals.edges_written = self.sink.writer.edges_written
                self.progress(totals)
            return 0
        self.sink.flush()  # the file is done only when its pages are written
        self.reading.pop(pid, None)
        add(totals.finished, totals.reading.pop(source))
        if kind == "done":
            totals.files_done += 1
        else:
            _failed(totals, payload, self.on_failed)
        return 0

    def check(self, workers: list[Any]) -> int:
        """Fail the file of each worker that died (a crash, the OOM killer) since the last look; the
        number of them."""
        died = 0
        for worker in workers:
            if worker.exitcode in (None, 0) or worker.pid in self.dead:
                continue
            self.dead.add(worker.pid)
            died += 1
            source = self.reading.pop(worker.pid, None)
            if source is not None:
                add(self.totals.finished, self.totals.reading.pop(source, Counts()))
                message = f"{source}: its worker process died (exit code {worker.exitcode})"
                _failed(self.totals, message, self.on_failed)
        return died


def _worker(tasks: Any, results: Any, options: Options, parent: int) -> None:
    """A worker process: read files until the stop sign, sending their pages to the parent."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the whole group: the parent stops us
    use_suffix_list(options.psl_file)
    pid = os.getpid()

    def send(*message: Any) -> None:
        """Put a message on the bounded queue; exit if the parent died (killed: no one reads it)."""
        while True:
            try:
                results.put(message, timeout=5.0)
                return
            except queue.Full:
                try:
                    os.kill(parent, 0)
                except ProcessLookupError:
                    os._exit(1)

    while (source := tasks.get()) is not None:
        send("start", pid, source, None, None)
        reader = ArchiveReader(source, options.limits)
        chunk: list[CrawledPage] = []
        try:
            for page in crawled_pages(reader, options):
                chunk.append(page)
                if len(chunk) >= CHUNK:
                    send("pages", pid, source, chunk, reader.counts)
                    chunk = []
        except BadArchive as exc:
            send("pages", pid, source, chunk, reader.counts)
            send("failed", pid, source, str(exc), reader.counts)
            continue
        send("pages", pid, source, chunk, reader.counts)
        send("done", pid, source, None, reader.counts)
    send("stop", pid, None, None, None)
