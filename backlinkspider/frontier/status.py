"""The cluster's figures, read from Redis: what ``backlinks status`` prints and ``GET /api/v1/status``
returns. The one place that knows which keys hold them."""

from __future__ import annotations

from typing import Any

from backlinkspider.archives import filequeue
from backlinkspider.frontier import defaults
from backlinkspider.frontier.dupefilter import from_settings
from backlinkspider.frontier.queue import status


def figures(server: Any, settings: Any) -> dict[str, Any]:
    """Frontier size (requests queued, on how many hosts), URLs seen, leased requests, dropped entries and each live worker's figures
    (pages, links, errors, pages_per_s), workers sorted by name."""
    workers = []
    for key in sorted(server.scan_iter(match=defaults.WORKERS_PATTERN)):
        fields = {k.decode(): v.decode() for k, v in server.hgetall(key).items()}
        if fields:
            workers.append(
                {
                    "name": key.decode().split(":", 2)[2],
                    "pages": int(fields["pages"]),
                    "links": int(fields["links"]),
                    "errors": int(fields["errors"]),
                    "pages_per_s": float(fields["pages_per_s"]),
                }
            )
    queue = status(server)
    return {
        "queue": queue["queued"],
        "hosts": queue["hosts"],
        "seen": from_settings(settings).seen(server),
        "leased": queue["leased"],
        "dropped": queue["dropped"],
        "workers": workers,
    }


def ingest_figures(server: Any) -> dict[str, Any] | None:
    """The ingest queue's files (``archives.filequeue.status``: queued, leased, done, failed, workers) and
    up to 10 failed files with why; None when there is no ingest queue."""
    files: dict[str, Any] | None = filequeue.status(server)
    if files is not None:
        files["failures"] = filequeue.failures(server) if files["failed"] else {}
    return files
