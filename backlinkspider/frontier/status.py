"""The cluster's figures, read from Redis: what ``backlinks status`` prints and ``GET /api/v1/status``
returns. The one place that knows which keys hold them."""

from __future__ import annotations

from typing import Any

from backlinkspider.frontier import defaults
from backlinkspider.frontier.dupefilter import from_settings


def figures(server: Any, settings: Any) -> dict[str, Any]:
    """Frontier size, URLs seen, leased requests, dropped entries and each live worker's figures
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
    return {
        "queue": server.zcard(defaults.QUEUE_KEY),
        "seen": from_settings(server, settings).seen(),
        "leased": server.zcard(defaults.LEASES_KEY),
        "dropped": int(server.get(defaults.DROPPED_KEY) or 0),
        "workers": workers,
    }
