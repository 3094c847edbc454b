"""A test hook: run ``backlinks ingest`` (the real command, args from the command line) and SIGKILL it mid
file: right after the index has written a batch read from the file ``KILL_MID_FILE`` (env) names, while
more of that file is still to come (the batch was written from ``BatchWriter.add``, not the file's last
flush), once the file ``KILL_GATE`` (env) exists: the test opens the gate when the other workers are
ready. Part of the file's edges are then in the index and its lease is still held (its heartbeat thread
beats on while the gate is shut, as a worker busy with a long file does)."""

from __future__ import annotations

import os
import signal
import sys
import time
from pathlib import Path

from backlinkspider.archives.reader import ArchiveReader
from backlinkspider.cli import main
from backlinkspider.crawl.batches import BatchWriter

VICTIM = os.environ["KILL_MID_FILE"]
GATE = Path(os.environ["KILL_GATE"])
reading: list[str] = []
reader_init = ArchiveReader.__init__
writer_add = BatchWriter.add


def init(self: ArchiveReader, source: object, *args: object, **kwargs: object) -> None:
    reading[:] = [str(source)]
    reader_init(self, source, *args, **kwargs)  # type: ignore[arg-type]


def add(self: BatchWriter, page: object) -> None:
    written = self.written
    writer_add(self, page)  # type: ignore[arg-type]
    if reading == [VICTIM] and self.written > written:
        while not GATE.exists():
            time.sleep(0.02)
        os.kill(os.getpid(), signal.SIGKILL)


ArchiveReader.__init__ = init  # type: ignore[method-assign]
BatchWriter.add = add  # type: ignore[method-assign]
sys.exit(main(sys.argv[1:]))
