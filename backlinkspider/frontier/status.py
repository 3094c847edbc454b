"""The cluster's figures, read from Redis: what ``backlinks status`` prints and ``GET /api/v1/status``
returns. The one place that knows which keys hold them: the counters the frontier's scripts keep (a few
reads a shard) and the live workers' figures (the heartbeats name them), never a scan of the keyspace, so
its cost is O(workers + shards) whatever the frontier's size."""

from __future__ import annotations

from typing import Any

from backlinkspider.archives import filequeue
from backlinkspider.frontier import defaults
from backlinkspider.frontier.dupefilter import from_settings
from backlinkspider.frontier.queue import cluster_shards, status


def figures(server: Any, settings: Any) -> dict[str, Any]:
    """Frontier size (requests queued, on how many hosts), URLs seen, leased requests, dropped entries,
    entries refused or dropped over their host's budget and each live worker's figures (pages, links,
    errors, pages_per_s), workers sorted by name."""
    shards = cluster_shards(server, settings.getint("BACKLINKS_FRONTIER_SHARDS"))
    names = sorted(name.decode() for name in server.zrange(defaults.HEARTBEATS_KEY, 0, -1))
    pipe = server.pipeline(transaction=False)
    for name in names:
        pipe.hgetall(defaults.WORKER_KEY % name)
    workers = []
    for name, reply in zip(names, pipe.execute() if names else [], strict=True):
        fields = {k.decode(): v.decode() for k, v in reply.items()}
        if fields:  # its figures expire with its heartbeat: a silent worker has none
            workers.append(
                {
                    "name": name,
                    "pages": int(fields["pages"]),
                    "links": int(fields["links"]),
                    "errors": int(fields["errors"]),
                    "pages_per_s": float(fields["pages_per_s"]),
                }
            )
    queue = status(server, shards)
    return {
        "queue": queue["queued"],
        "hosts": queue["hosts"],
        "seen": from_settings(settings).seen(server, shards),
        "leased": queue["leased"],
        "dropped": queue["dropped"],
        "over_budget": queue["over_budget"],
        "workers": workers,
    }


def ingest_figures(server: Any) -> dict[str, Any] | None:
    """The ingest queue's files (``archives.filequeue.status``: queued, leased, done, failed, workers) and
    up to 10 failed files with why; None when there is no ingest queue."""
    files: dict[str, Any] | None = filequeue.status(server)
    if files is not None:
        files["failures"] = filequeue.failures(server) if files["failed"] else {}
    return files
