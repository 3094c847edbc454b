"""``backlinks ingest``: web archives (WARC, WAT) into the index, on one machine (archives/ingest.py) or as
one worker of a cluster sharing a Redis queue of files (archives/filequeue.py)."""

from __future__ import annotations

import gzip
import logging
import signal
import time
from pathlib import Path

import click
from rich.console import Console
from rich.live import Live
from rich.text import Text
from scrapy.settings import Settings

from backlinkspider.archives.filequeue import FileQueue, QueueConfigError, run
from backlinkspider.archives.ingest import IndexFailed, Options, Sink, Totals, add, ingest, ingest_file
from backlinkspider.archives.reader import ArchiveReader
from backlinkspider.cli.options import Failure, index_option, set_option
from backlinkspider.cli.runs import check_settings, run_settings
from backlinkspider.crawl.extensions.progress import LOG_EVERY
from backlinkspider.frontier.connection import RedisFailed, RedisUnavailable
from backlinkspider.index import open_index
from backlinkspider.redact import redact
from backlinkspider.standards.urls import BadURL, normalize, normalize_host, use_suffix_list

_WEB_SCHEMES = ("http://", "https://")


@click.command("ingest")
@click.argument("sources", nargs=-1, metavar="FILE_OR_URL...")
@click.option(
    "--paths-file",
    type=click.Path(dir_okay=False),
    help="A file of paths or URLs, one a line; also Common Crawl's warc.paths.gz / wat.paths.gz.",
)
@click.option(
    "--base-url",
    metavar="URL",
    help="Prefix of the relative lines of --paths-file (Common Crawl's: https://data.commoncrawl.org/).",
)
@click.option(
    "--targets",
    "targets_file",
    type=click.Path(dir_okay=False),
    help="Keep only links to these registered domains or hosts (a file, one a line).",
)
@click.option(
    "--processes",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    help="Files read at once, one process each.",
)
@click.option(
    "--retry-failed",
    is_flag=True,
    help="With REDIS_URL: queue the cluster's failed files again first.",
)
@index_option
@set_option
def ingest_command(
    sources: tuple[str, ...],
    paths_file: str | None,
    base_url: str | None,
    targets_file: str | None,
    processes: int,
    retry_failed: bool,
    index: str,
    overrides: tuple[str, ...],
) -> None:
    """Index the links of WARC and WAT files (gzipped per record or not), local or http(s) URLs, read as
    streams.

    Each edge keeps the capture's date (WARC-Date) and the archive's name. A file that cannot be read is
    one error line and the others go on; the exit code is 0 only when every file was read and every page
    read is in the index.

    With REDIS_URL set, this process is a worker of the cluster's ingest queue: run the same command on
    every machine; each file is ingested once (README: "Ingest on a cluster").
    """
    settings = run_settings(overrides, LOG_LEVEL="WARNING", BACKLINKS_INDEX=index)
    check_settings(settings)
    try:
        use_suffix_list(settings.get("BACKLINKS_PSL_FILE") or None)
    except (OSError, ValueError) as exc:
        raise click.BadParameter(str(exc), param_hint="BACKLINKS_PSL_FILE") from None
    if base_url and not paths_file:
        raise click.UsageError("--base-url prefixes the lines of --paths-file, and there is none")
    files = [*sources, *(read_paths_file(paths_file, base_url) if paths_file else ())]
    if not files:
        raise click.UsageError("no files: give one or more paths or URLs, or --paths-file")
    targets = read_targets(targets_file) if targets_file else None
    logging.basicConfig(
        level=settings.get("LOG_LEVEL"), format="%(asctime)s [%(name)s] %(levelname)s: %(message)s"
    )
    options = Options.from_settings(settings, targets)
    queue = cluster_queue(settings, files, processes, retry_failed) if settings.get("REDIS_URL") else None
    display = ProgressDisplay()
    with open_index(settings["BACKLINKS_INDEX"]) as idx:
        idx.check_writable()  # before reading anything: no file is read that cannot be kept
        display.start()
        # SIGTERM as Ctrl-C: what was read is written and the worker processes are stopped.
        previous = signal.signal(signal.SIGTERM, _interrupt)
        try:
            sink = Sink.from_settings(idx, settings, targets is not None)
            if queue is not None:
                totals = ingest_on_cluster(queue, sink, options, display)
            else:
                totals = ingest(
                    files, sink, options, processes, progress=display.update, on_failed=display.failed
                )
        finally:
            signal.signal(signal.SIGTERM, previous)
            display.stop()
    click.echo(f"backlinks: {summary(totals)}", err=True)
    problems = []
    if totals.index_failure:
        problems.append(f"{totals.index_failure} (in {redact(settings['BACKLINKS_INDEX'])})")
    if totals.failed:
        problems.append(f"{len(totals.failed)} of {totals.files} files failed")
    if totals.pages_not_indexed:
        problems.append(f"{totals.pages_not_indexed:,} pages read were not indexed")
    if problems:
        raise Failure("; ".join(problems))


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def read_paths_file(path: str, base_url: str | None) -> list[str]:
    """The sources a paths file lists (gzipped or not), relative lines joined to ``base_url``."""
    try:
        data = Path(path).read_bytes()
        if data.startswith(b"\x1f\x8b"):
            data = gzip.decompress(data)
        text = data.decode("utf-8")
    except (OSError, EOFError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise click.BadParameter(f"cannot read {path}: {reason}", param_hint="--paths-file") from None
    sources = []
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith(_WEB_SCHEMES) or line.startswith("/"):
            sources.append(line)
        elif base_url:
            sources.append(f"{base_url.rstrip('/')}/{line}")
        else:
            raise click.BadParameter(
                f"line {number} of {path} is relative ({line!r}): give --base-url, e.g."
                " https://data.commoncrawl.org/",
                param_hint="--paths-file",
            )
    return sources


def read_targets(path: str) -> frozenset[str]:
    """The registered domains or hosts a targets file lists (one a line, or a URL: its host), normalized
    as the index stores them."""
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise click.BadParameter(f"cannot read {path}: {reason}", param_hint="--targets") from None
    targets = set()
    for number, raw in enumerate(lines, 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        try:
            host = normalize(line).split("/")[2] if "://" in line else normalize_host(line)
        except BadURL as exc:
            raise click.BadParameter(f"line {number} of {path}: {exc}", param_hint="--targets") from None
        targets.add(host)
    if not targets:
        raise click.BadParameter(f"{path} lists no domain or host", param_hint="--targets")
    return frozenset(targets)


def summary(totals: Totals) -> str:
    """The run in one line: files, records, pages, links indexed, the rate, skips by reason."""
    counts = totals.counts()
    seconds = totals.seconds()
    line = (
        f"ingested {totals.files_done:,} of {totals.files:,} files in {seconds:,.1f} s: "
        f"{counts.records:,} records ({counts.records / max(seconds, 1e-9):,.0f}/s), "
        f"{counts.pages:,} pages, {totals.edges_written:,} links indexed"
    )
    skipped = ", ".join(f"{reason} {n:,}" for reason, n in sorted(counts.skipped.items()))
    return line + (f"; skipped: {skipped}" if skipped else "")


class ProgressDisplay:
    """Records, pages, links indexed, records/s and files done on stderr: redrawn every second on a
    terminal, a line every ``LOG_EVERY`` seconds elsewhere (as the crawl's progress line)."""

    def __init__(self) -> None:
        self.console = Console(stderr=True, soft_wrap=True)  # one line per message, never wrapped
        self.live = Live(console=self.console, auto_refresh=False) if self.console.is_terminal else None
        self.every = 1.0 if self.live is not None else LOG_EVERY
        self.next_at = time.monotonic() + self.every

    def start(self) -> None:
        if self.live is not None:
            self.live.start()

    def update(self, totals: Totals) -> None:
        now = time.monotonic()
        if now < self.next_at:
            return
        self.next_at = now + self.every
        counts = totals.counts()
        line = Text(
            f"files {totals.files_done + len(totals.failed):,}/{totals.files:,}  records {counts.records:,}"
            f"  pages {counts.pages:,}  links indexed {totals.edges_written:,}"
            f"  {counts.records / max(totals.seconds(), 1e-9):,.1f} records/s"
            + (f"  failed {len(totals.failed):,}" if totals.failed else "")
        )
        if self.live is not None:
            self.live.update(line, refresh=True)
        else:
            self.console.print(line)

    def failed(self, message: str) -> None:
        """One line for a file that failed (the run goes on)."""
        self.console.print(Text(f"backlinks: error: {message}"))

    def stop(self) -> None:
        if self.live is not None:
            self.live.stop()


# --- on a cluster ----------------------------------------------------------------------------------------


def cluster_queue(settings: Settings, files: list[str], processes: int, retry_failed: bool) -> FileQueue:
    """The cluster's ingest queue at ``REDIS_URL``, with these files queued (those it never had); one line
    when Redis cannot be reached or the cluster runs on another heartbeat TTL."""
    if processes > 1:
        raise click.UsageError(
            "--processes with REDIS_URL: on a cluster each `backlinks ingest` is one worker; start one per core"
        )
    try:
        queue = FileQueue.from_settings(settings)
        if retry_failed:
            click.echo(f"backlinks: {queue.requeue_failed():,} failed files queued again", err=True)
        added = queue.enqueue(files)
    except ValueError as exc:  # redis-py's word on a URL that is not Redis's
        raise click.BadParameter(str(exc), param_hint="REDIS_URL") from None
    except (RedisUnavailable, RedisFailed, QueueConfigError) as exc:
        raise Failure(str(exc)) from None
    known = len(files) - added
    click.echo(f"backlinks: {added:,} files queued on the cluster ({known:,} queued before)", err=True)
    return queue


def ingest_on_cluster(queue: FileQueue, sink: Sink, options: Options, display: ProgressDisplay) -> Totals:
    """Ingest the files this worker leases from the cluster's queue (``filequeue.run``) until none is
    queued or leased; ``Totals`` of this worker's files. The index failing stops the worker (its file goes
    back to the queue), as it stops a run on one machine."""
    totals = Totals(0)

    def on_page() -> None:
        totals.edges_written = sink.writer.edges_written
        display.update(totals)

    def ingest_one(source: str) -> None:
        totals.files += 1
        reader = ArchiveReader(source, options.limits)
        totals.reading[source] = reader.counts
        try:
            ingest_file(reader, sink, options, on_page)
        finally:
            add(totals.finished, totals.reading.pop(source))
        totals.files_done += 1

    try:
        tally = run(queue, ingest_one, on_failed=display.failed)
        totals.failed = list(tally.failed.values())
    except IndexFailed as exc:
        totals.index_failure = str(exc)
    except RedisFailed as exc:
        raise Failure(str(exc)) from None
    totals.edges_written = sink.writer.edges_written
    totals.pages_not_indexed = sink.writer.not_indexed
    return totals
